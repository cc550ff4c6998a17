"""junit.xml as CI reads it: a testcase per run-state check and per threshold, the failure message
equal to the verdict line, every user-supplied text escaped."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.romram.hailstorms.plugins.module_utils.junit import junit_xml
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state

PLAN = {"clients": 4, "expected_requests": 10, "hosts": {"h1": {"cores": [{"index": 0}]}}}


def summary_with(failures_by_kind):
    return {"cores": [{"host": "h1", "core": 0, "end": "done"}], "requests": 10, "expected_requests": 10,
            "starts": {"clients_planned": 4, "clients_started": 4}, "failures_by_kind": failures_by_kind,
            "latency": {"labels": {}}}


def test_each_check_and_threshold_is_a_testcase_and_a_broken_one_says_its_verdict():
    summary = summary_with({'HTTP 500 <"&>': 2})
    summary.update(run_state(summary, PLAN))
    verdict = ("p95_ms of label GET /a?x=<b>&c: p95 latency 312.5 ms > limit 250 ms over the constant phase "
               "20-50 s - BROKEN")
    summary["thresholds"] = {"verdicts": [
        {"threshold": "p95_ms", "label": "GET /a?x=<b>&c", "passed": False, "message": verdict},
        {"threshold": "failure_rate", "label": "all", "passed": True, "message": "ok"}]}
    root = ET.fromstring(junit_xml(summary, "run-1", 12.5))
    suite = root.find("testsuite")
    assert suite.get("name") == "romram.hailstorms run-1" and suite.get("tests") == "9" and suite.get("failures") == "2"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert cases["threshold: p95_ms (GET /a?x=<b>&c)"].find("failure").get("message") == verdict
    assert cases["threshold: failure_rate (all labels)"].find("failure") is None
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failed == ["run: failures (no failed request beyond what the thresholds allow)",
                      "threshold: p95_ms (GET /a?x=<b>&c)"]
    message = cases[failed[0]].find("failure").get("message")
    assert message.startswith('run state: FAILED - 2 of 10 requests failed (20.00 %): HTTP 500 <"&> x2')


def test_a_run_that_passed_has_no_failure():
    summary = summary_with({})
    summary.update(run_state(summary, PLAN))
    root = ET.fromstring(junit_xml(summary, "ok"))
    assert root.get("failures") == "0" and len(root.findall("testsuite/testcase")) == 7
