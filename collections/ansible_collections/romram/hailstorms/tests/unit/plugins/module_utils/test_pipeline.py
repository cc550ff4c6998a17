"""The results pipeline (pipeline.build, then pipeline.write) over a results directory as collect
leaves it: plan.json and one directory per load host holding the host.jsonl that host's own
writer (hostfile.write_host_file) made from its cores' core-N.jsonl (records.py's records)."""
from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import (
    contract, pipeline, plan_queries, planner, run_settings, thresholds)
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import write_host_file
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    Histogram, end_record, meta_record, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import EXIT_CODES

SETTINGS = {"target": "http://127.0.0.1:1", "rps": 10, "clients": 4, "rampup": 1, "constant": 4, "rampdown": 1}
START = 1_795_000_000.0
MS = 20.0  # every response time
FAILED_SECOND = 3  # with `fail`, one request of each core fails in this second


def the_plan() -> dict:
    settings, _warnings = run_settings.resolve_settings({"default": SETTINGS})
    plan = planner.make_plan(settings, [("h1", 1), ("h2", 1)])
    return {**plan, "run_id": "r1", "target": settings["target"], "profile": "default", "warnings": []}


def core_lines(plan: dict, host: str, fail: bool) -> list[str]:
    """One core's core-N.jsonl as the runtime writes it: a request at every planned slot."""
    core = plan["hosts"][host]["cores"][0]
    seconds: dict = {}
    active: dict = {}
    iterations = 0
    for client in plan_queries.core_intervals(plan, core):
        for sec in range(math.floor(client[1]), math.ceil(client[3])):
            if client[1] <= sec + 0.5 < client[3]:
                active[sec] = active.get(sec, 0) + 1
        for at in plan_queries.request_times(client, float(plan["pace"])):
            iterations += 1
            cell = seconds.setdefault(math.floor(at), {}).setdefault("GET /x", {
                "requests": 0, "failures": 0, "bytes": 0, "time_us": 0, "errors": {}, "hist": {}})
            failed = fail and math.floor(at) == FAILED_SECOND and not cell["failures"]
            hist = Histogram(cell["hist"])
            hist.record_ms(MS)
            cell.update(requests=cell["requests"] + 1, failures=cell["failures"] + failed, bytes=cell["bytes"] + 100,
                        time_us=cell["time_us"] + int(MS * 1000), hist=hist.to_json())
            if failed:
                cell["errors"]["HTTP 500"] = 1
    records = [meta_record(host=host, core=0, start_time=START, clients=core["clients"], start_delay=0.0004),
               stats_record(seconds, active, started=core["clients"], iterations=iterations,
                            time=START + plan["duration"]),
               end_record("done", process_exit_code=None)]
    return [json.dumps(record) for record in records]


def results_dir(tmp_path: Path, fail: bool = False) -> Path:
    """A results directory after collect: plan.json, each host's fetched host.jsonl."""
    plan = the_plan()
    run_dir = tmp_path / "results" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / contract.PLAN_FILE).write_text(json.dumps(plan))
    for host in plan["hosts"]:
        work = tmp_path / "work" / host  # the load host's run directory
        work.mkdir(parents=True)
        (work / "core-0.jsonl").write_text("\n".join(core_lines(plan, host, fail)) + "\n")
        (work / "core-0.log").write_text(f"{host} core 0 ran\n")
        (run_dir / host).mkdir()
        write_host_file(work, run_dir / host / contract.HOST_FILE)  # what the collect role fetches
    return run_dir


@pytest.fixture(name="run_dir")
def fixture_run_dir(tmp_path: Path) -> Path:
    return results_dir(tmp_path)


def built(run_dir: Path, given_thresholds=None):
    plan = json.loads((run_dir / contract.PLAN_FILE).read_text())
    checked = pipeline.chosen_thresholds(plan, given_thresholds, None)
    return plan, pipeline.build(str(run_dir), plan, checked)


def test_build_counts_every_planned_request_and_writes_every_file(run_dir):
    plan, (summary, outputs) = built(run_dir)
    assert summary["requests"] == plan["expected_requests"] == summary["iterations"]
    assert summary["failures"] == 0
    assert summary["latency"]["overall"]["p99_ms"] == pytest.approx(MS, rel=0.01)
    assert [core["host"] for core in summary["cores"]] == ["h1", "h2"]
    assert summary["state"] == "completed" and summary["exit_code"] == 0
    assert not list(run_dir.glob(contract.SUMMARY_FILE))  # build writes nothing

    changed, written = pipeline.write(str(run_dir), outputs)
    assert changed and sorted(written) == sorted(outputs)
    names = {path.name for path in run_dir.iterdir()}
    assert {contract.SUMMARY_FILE, contract.JUNIT_FILE, contract.REPORT_FILE,
            *(contract.CSV_PREFIX + suffix for suffix in contract.CSV_SUFFIXES)} <= names
    assert json.loads((run_dir / contract.SUMMARY_FILE).read_text())["requests"] == summary["requests"]
    stats = list(csv.DictReader(io.StringIO((run_dir / (contract.CSV_PREFIX + "_stats.csv")).read_text())))
    assert [(row["Name"], int(row["Request Count"]), int(row["Failure Count"])) for row in stats] == [
        ("/x", summary["requests"], 0), ("Aggregated", summary["requests"], 0)]
    suite = ET.parse(run_dir / contract.JUNIT_FILE).getroot()
    assert int(suite.get("failures") or suite.find("testsuite").get("failures")) == 0
    assert "GET /x" in (run_dir / contract.REPORT_FILE).read_text()
    assert (run_dir / "h1" / "core-0.log").exists() is False  # unpacking is the module's, before build
    assert pipeline.write(str(run_dir), outputs)[1] == written  # the same results again
    assert json.loads((run_dir / contract.SUMMARY_FILE).read_text()) == summary


def test_failed_requests_fail_the_run_as_in_locust(tmp_path):
    run_dir = results_dir(tmp_path, fail=True)
    _plan, (summary, outputs) = built(run_dir)
    assert summary["failures"] == 2  # one per core
    assert summary["failures_by_kind"] == {"HTTP 500": 2}
    assert summary["state"] == "failed" and summary["exit_code"] == 1
    lines = pipeline.result_lines(str(run_dir), summary)
    assert lines[-2] == "exit code 1 (run state failed)"
    assert lines[0] == lines[-1] == "FAIL: exit code 1 - run failed, no thresholds"  # one verdict opens and ends
    failures = outputs[contract.CSV_PREFIX + "_failures.csv"]
    assert "HTTP 500" in failures and ",2," in failures


def test_a_broken_threshold_sets_the_exit_code_and_fails_its_testcase(run_dir):
    _plan, (summary, outputs) = built(run_dir, {"p99_ms": 5})  # every response took 20 ms
    assert summary["state"] == "completed"  # the run itself went as planned
    assert summary["thresholds"]["passed"] is False
    assert summary["exit_code"] == EXIT_CODES["thresholds broken"] == 10
    broken = thresholds.broken(summary["thresholds"]["verdicts"])
    assert len(broken) == 1 and "p99" in broken[0]
    lines = pipeline.result_lines(str(run_dir), summary)
    assert "thresholds over the constant phase 1-5 s: 1 of 1 broken" in lines
    assert lines[-2] == "exit code 10 (1 threshold(s) broken)"
    assert lines[0] == lines[-1] == "FAIL: exit code 10 - run completed, 1 of 1 thresholds broken"
    junit_xml = outputs[contract.JUNIT_FILE]
    assert "<failure" in junit_xml and "p99" in junit_xml


def test_an_abort_recorded_by_the_controller_makes_the_run_aborted(run_dir):
    (run_dir / contract.ABORT_FILE).write_text(json.dumps({"reason": "failure_rate over 0.5", "at": 3}))
    _plan, (summary, _outputs) = built(run_dir)
    assert summary["abort"]["reason"] == "failure_rate over 0.5"
    assert summary["state"] == "aborted" and summary["exit_code"] == EXIT_CODES["aborted"]


def test_steps_run_in_order_and_a_caller_may_add_one(run_dir):
    """The steps are a plain ordered list: a step added after the thresholds sees their verdicts
    and what it puts in the summary reaches summary.json."""
    def compare(run: pipeline.Build) -> None:
        run.summary["compared"] = {"passed": run.summary["thresholds"]["passed"]}

    steps = list(pipeline.STEPS)
    steps.insert(steps.index(pipeline.judge_thresholds) + 1, compare)
    plan = json.loads((run_dir / contract.PLAN_FILE).read_text())
    summary, outputs = pipeline.build(str(run_dir), plan, pipeline.chosen_thresholds(plan, None, None), steps=steps)
    assert json.loads(outputs[contract.SUMMARY_FILE])["compared"] == {"passed": True} == summary["compared"]


def test_no_results_is_a_clear_error(tmp_path):
    (tmp_path / "h1").mkdir()
    with pytest.raises(pipeline.ResultsError, match="no <host>/host.jsonl or <host>/core-\\*.jsonl files under"):
        pipeline.build(str(tmp_path), {}, thresholds.check({}, "constant"))
