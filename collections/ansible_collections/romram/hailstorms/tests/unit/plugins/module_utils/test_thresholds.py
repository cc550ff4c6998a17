"""Thresholds: every refusal names the key, the value and a fix; verdicts both ways, per label and overall."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils import planner, thresholds
from ansible_collections.romram.hailstorms.plugins.module_utils.records import Histogram, stats_record
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import (
    merge, phase_figures, phase_window, planned_in_window)
from ansible_collections.romram.hailstorms.plugins.module_utils.thresholds import ThresholdError, check, evaluate


def test_no_thresholds_is_empty_and_checks():
    for given in (None, {}, ""):
        assert check(given) == {"limits": {}, "labels": {}, "phase": "constant"}
    assert thresholds.is_empty(check({}))


def test_canonical_form_converts_strings_and_units():
    checked = check({"p95_ms": "250", "p99_ms": "0.5s", "max_ms": "900ms", "failure_rate": "1%",
                     "rps_ratio": "95%", "overruns": "0", "late_clients": 2.0,
                     "labels": {"/api": {"p50_ms": 20, "failure_rate": 0}}}, "all")
    assert checked == {"limits": {"p95_ms": 250.0, "p99_ms": 500.0, "max_ms": 900.0, "failure_rate": 0.01,
                                  "rps_ratio": 0.95, "overruns": 0, "late_clients": 2},
                       "labels": {"/api": {"p50_ms": 20.0, "failure_rate": 0.0}}, "phase": "all"}


@pytest.mark.parametrize("given,phase,message", [
    ({"p96_ms": 100}, "constant",
     "hailstorm_thresholds: unknown key 'p96_ms' (value 100); the keys are p50_ms, p90_ms, p95_ms, p99_ms, "
     "p999_ms, mean_ms, max_ms, each latency key also from schedule (p99_from_schedule_ms), failure_rate, rps_ratio, "
     "overruns, late_clients, exceptions, dropped, labels"),
    ({"p95_ms": "fast"}, "constant",
     "hailstorm_thresholds.p95_ms: cannot read 'fast' as a number; give a number, e.g. "
     "hailstorm_thresholds.p95_ms: 250 (ms) or '250ms' or '0.25s'"),
    ({"p95_ms": True}, "constant", "hailstorm_thresholds.p95_ms: expected a number, got True"),
    ({"p95_ms": [1]}, "constant", "hailstorm_thresholds.p95_ms: expected a number, got a list, [1]"),
    ({"p95_ms": 0}, "constant", "hailstorm_thresholds.p95_ms: a latency limit must be > 0 ms, got 0"),
    ({"p95_ms": "5%"}, "constant", "hailstorm_thresholds.p95_ms: the unit '%' of '5%' does not fit p95 latency"),
    ({"failure_rate": 5}, "constant",
     "hailstorm_thresholds.failure_rate: a failure rate is between 0 and 1, got 5; give a number, e.g. "
     "hailstorm_thresholds.failure_rate: 0.01 or '1%'"),
    ({"failure_rate": "20ms"}, "constant", "hailstorm_thresholds.failure_rate: the unit 'ms' of '20ms' does not fit"),
    ({"rps_ratio": 0}, "constant", "hailstorm_thresholds.rps_ratio: the minimum ratio of achieved to target rate "
                                   "must be > 0, got 0"),
    ({"overruns": 1.5}, "constant", "hailstorm_thresholds.overruns: a maximum count is a whole number >= 0, got 1.5"),
    ({"late_clients": -1}, "constant", "hailstorm_thresholds.late_clients: a maximum count is a whole number >= 0"),
    ({"p99_ms": "nan"}, "constant", "hailstorm_thresholds.p99_ms: cannot read 'nan' as a number"),
    ({"p99_ms": float("inf")}, "constant", "hailstorm_thresholds.p99_ms: expected a finite number, got inf"),
    ([1, 2], "constant", "hailstorm_thresholds: expected a mapping such as {p95_ms: 250, failure_rate: 0.01}, "
                         "got a list, [1, 2]"),
    ({"labels": ["/a"]}, "constant", "hailstorm_thresholds.labels: expected a mapping of label to limits"),
    ({"labels": {"/a": 5}}, "constant", "hailstorm_thresholds.labels['/a']: expected a mapping of limits such as "
                                        "{p95_ms: 250}, got 5"),
    ({"labels": {"/a": {"rps_ratio": 1}}}, "constant",
     "hailstorm_thresholds.labels['/a']: unknown key 'rps_ratio' (value 1) (rps_ratio applies to the whole run "
     "only: set it at the top of hailstorm_thresholds); the keys are p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, "
     "mean_ms, max_ms, each latency key also from schedule (p99_from_schedule_ms), failure_rate"),
    ({"labels": {"/a": {"p95": 1}}}, "constant", "hailstorm_thresholds.labels['/a']: unknown key 'p95' (value 1)"),
    ({}, "", "hailstorm_thresholds_phase: '' is not a phase; use one of constant, all, or with hailstorm_stages a "
             "stage's number (1 = the first) or its name"),
    ({}, 0, "hailstorm_thresholds_phase: 0 is not a phase"),
])
def test_refusals_name_the_key_the_value_and_a_fix(given, phase, message):
    with pytest.raises(ThresholdError) as error:
        check(given, phase)
    assert message in str(error.value)


class _AnsibleTaggedStr(str):
    """What Ansible hands a filter for a string it templated (its class name must not be shown)."""


class _AnsibleLazyTemplateList(list):
    """What Ansible hands a filter for a list."""


@pytest.mark.parametrize("given,message", [
    (_AnsibleTaggedStr("p95"), "hailstorm_thresholds: expected a mapping such as {p95_ms: 250, failure_rate: 0.01}, "
                               "got a string, 'p95'"),
    ({"p95_ms": _AnsibleLazyTemplateList([1])}, "hailstorm_thresholds.p95_ms: expected a number, got a list, [1]; "
                                                "give a number, e.g. hailstorm_thresholds.p95_ms: 250 (ms)"),
    ({"labels": _AnsibleTaggedStr("/a")}, "hailstorm_thresholds.labels: expected a mapping of label to limits such "
                                          "as {'/api/{id}': {p99_ms: 800}}, got a string, '/a'"),
])
def test_refusals_say_what_was_given_in_a_users_words(given, message):
    with pytest.raises(ThresholdError) as error:
        check(given)
    assert message in str(error.value) and "_Ansible" not in str(error.value)


# --- verdicts on real merged figures -----------------------------------------------------------

PLAN = {"rps": 10.0, "rampup": 2.0, "constant": 4.0, "rampdown": 2.0, "expected_requests": 60, "clients": 10}


def _cell(ms: list[float], failures: int = 0, kind: str = "HTTP 500") -> dict:
    hist = Histogram()
    for value in ms:
        hist.record_ms(value)
    return {"requests": len(ms), "failures": failures, "bytes": 0, "time_us": int(sum(ms) * 1000),
            "errors": {kind: failures} if failures else {}, "hist": hist.to_json()}


def merged_run() -> dict:
    """A run whose ramps are slow (500 ms) and whose constant phase is fast: /a at 10 ms, /b at 40 ms
    with one failure in ten."""
    seconds = {}
    for sec in range(8):
        if 2 <= sec < 6:
            seconds[sec] = {"/a": _cell([10.0] * 5), "/b": _cell([40.0] * 5, failures=1 if sec % 2 else 0)}
        else:
            seconds[sec] = {"/a": _cell([500.0] * 3)}
    records = [stats_record(seconds, overruns={3: 2}, late={7: 0.2}, started=10)]
    return merge([records])


def figures(phase: str = "constant") -> dict:
    return phase_figures(merged_run(), PLAN, phase)


def test_constant_phase_figures_leave_out_the_ramps():
    fig = figures()
    assert fig["window"] == [2, 6] and fig["description"] == "constant phase 2-6 s"
    assert fig["overall"]["requests"] == 40 and fig["overall"]["failures"] == 2
    assert fig["labels"]["/a"]["max_ms"] == pytest.approx(10.0, rel=0.01)
    # the rate achieved counts what succeeded: 40 requests of which 2 failed, over 4 s at 10 rps
    assert fig["rps_ratio"] == 0.95 and fig["overruns"] == 2 and fig["late_clients"] == 1
    whole = figures("all")
    assert whole["overall"]["requests"] == 52 and whole["labels"]["/a"]["max_ms"] == pytest.approx(500, rel=0.01)
    assert whole["rps_ratio"] == pytest.approx(50 / 60, abs=1e-4)


def test_thresholds_a_run_meets_pass():
    checked = check({"p95_ms": 50, "max_ms": 45, "failure_rate": 0.05, "rps_ratio": 0.95, "overruns": 2,
                     "late_clients": 1, "labels": {"/a": {"p99_ms": 11}, "/b": {"failure_rate": 0.1}}})
    verdicts = evaluate(checked, figures())
    assert [v["passed"] for v in verdicts] == [True] * 8
    assert thresholds.broken(verdicts) == []


def test_new_latency_keys_and_the_exceptions_count_are_judged():
    merged = merged_run()
    merged["exceptions"] = {"ValueError: x": {"count": 3, "traceback": ""}}
    fig = phase_figures(merged, PLAN, "constant")
    checked = check({"p90_ms": 41, "p999_ms": "0.05s", "mean_ms": 20, "exceptions": 2})
    verdicts = {v["threshold"]: v for v in evaluate(checked, fig)}
    assert verdicts["p90_ms"]["passed"] and verdicts["p999_ms"]["passed"]
    assert not verdicts["mean_ms"]["passed"] and verdicts["mean_ms"]["measured"] == pytest.approx(25.0, rel=0.01)
    assert verdicts["exceptions"]["message"] == ("exceptions (all labels): locustfile exceptions 3 > limit 2 over "
                                                 "the whole run - BROKEN")
    assert thresholds.allowed_failures(checked) == {"all": False, "labels": [], "exceptions": True, "dropped": 0}


def test_broken_thresholds_say_threshold_limit_measured_and_label():
    checked = check({"p99_ms": 30, "failure_rate": "1%", "rps_ratio": 1.5, "overruns": 1, "late_clients": 0,
                     "labels": {"/b": {"p50_ms": 20, "failure_rate": 0.05}, "/a": {"p99_ms": 100}}})
    verdicts = evaluate(checked, figures())
    assert [(v["threshold"], v["label"], v["passed"]) for v in verdicts] == [
        ("p99_ms", "all", False), ("failure_rate", "all", False), ("rps_ratio", "all", False),
        ("overruns", "all", False), ("late_clients", "all", False),
        ("p50_ms", "/b", False), ("failure_rate", "/b", False), ("p99_ms", "/a", True)]
    messages = thresholds.broken(verdicts)
    assert messages[0] == ("p99_ms (all labels): p99 latency 40.05 ms > limit 30 ms over the constant phase 2-6 s"
                           " - BROKEN")
    assert messages[1] == ("failure_rate (all labels): failure rate 0.05 (5.00 %) > limit 0.01 (1.00 %) over the "
                           "constant phase 2-6 s - BROKEN")
    assert messages[2] == ("rps_ratio (all labels): succeeded / target rate 0.95 (95.00 %) < limit 1.5 (150.00 %) "
                           "over the constant phase 2-6 s - BROKEN")
    assert messages[3] == "overruns (all labels): pacing overruns 2 > limit 1 over the whole run - BROKEN"
    assert messages[4] == "late_clients (all labels): clients started late 1 > limit 0 over the whole run - BROKEN"
    assert messages[5] == "p50_ms of label /b: p50 latency 40.05 ms > limit 20 ms over the constant phase 2-6 s - BROKEN"
    assert messages[6].startswith("failure_rate of label /b: failure rate 0.1 (10.00 %) > limit 0.05 (5.00 %)")


def test_the_phase_decides_what_is_judged():
    checked = check({"max_ms": 100}, "constant")
    assert thresholds.broken(evaluate(checked, figures("constant"))) == []
    broken = thresholds.broken(evaluate(check({"max_ms": 100}, "all"), figures("all")))
    assert broken == ["max_ms (all labels): max latency 500.5 ms > limit 100 ms over the whole run - BROKEN"]


def test_a_label_without_requests_breaks_its_threshold_and_lists_the_labels_seen():
    verdicts = evaluate(check({"labels": {"/typo": {"p95_ms": 100}}}), figures())
    assert thresholds.broken(verdicts) == [
        "p95_ms of label /typo: limit 100 ms, measured none (no request of label /typo was recorded over the "
        "constant phase 2-6 s; labels seen: /a, /b)"]


def test_without_a_constant_phase_the_whole_run_is_judged():
    plan = dict(PLAN, constant=0.5)
    fig = phase_figures(merged_run(), plan, "constant")
    assert fig["window"] is None and "no whole second of constant phase" in fig["description"]
    assert fig["overall"]["requests"] == 52


def test_profiles_thresholds_stack_under_hailstorm_thresholds():
    profiles = {"default": {"rps": 5, "thresholds": {"p95_ms": 300, "labels": {"/a": {"p99_ms": 900}}}},
                "strict": {"thresholds": {"p95_ms": 200, "failure_rate": 0, "labels": {"/a": {"p50_ms": 50}}}},
                "long": {"constant": "1h"}}
    assert thresholds.stack(profiles, "default+strict+long", {"failure_rate": "1%"}) == {
        "p95_ms": 200, "failure_rate": "1%", "labels": {"/a": {"p99_ms": 900, "p50_ms": 50}}}
    assert thresholds.stack(profiles, "default") == {"p95_ms": 300, "labels": {"/a": {"p99_ms": 900}}}
    assert thresholds.stack({"default": {}}, "default", {}) == {}
    assert check(thresholds.stack(profiles, "strict"))["limits"] == {"p95_ms": 200.0, "failure_rate": 0.0}
    with pytest.raises(ThresholdError) as error:
        thresholds.stack({"default": {"thresholds": [1]}}, "default")
    assert "hailstorm_profiles.default.thresholds: expected a mapping" in str(error.value)
    with pytest.raises(ThresholdError) as error:
        thresholds.stack({"default": {"thresholds": {"p95": 1}}}, "default")
    assert "hailstorm_profiles.default.thresholds: unknown key 'p95' (value 1)" in str(error.value)


def test_the_planner_leaves_a_profiles_thresholds_to_them():
    profiles = {"default": {"target": "http://127.0.0.1:1", "rps": 10, "rampup": 10, "thresholds": {"p95_ms": 300}}}
    settings, _warnings = run_settings.resolve_settings(profiles, "default")
    assert "thresholds" not in settings
    with pytest.raises(plan_queries.PlanError) as error:
        run_settings.resolve_settings({"default": {"threshold": {}}}, "default")
    assert "unknown key(s) threshold; a profile may set" in str(error.value) and "and thresholds" in str(error.value)


def test_a_label_names_one_method_or_every_method_of_a_name():
    """Results are kept per method and name (as Locust keeps them): "POST /x" judges the POSTs
    only, "/x" the GETs and POSTs together."""
    seconds = {2: {"GET /x": _cell([10.0] * 8), "POST /x": _cell([90.0] * 2, failures=1)}}
    fig = phase_figures(merge([[stats_record(seconds)]]), PLAN, "all")
    verdicts = evaluate(check({"labels": {"GET /x": {"max_ms": 20, "failure_rate": 0},
                                          "POST /x": {"failure_rate": 0.4},
                                          "/x": {"max_ms": 50, "failure_rate": 0.05}}}), fig)
    assert [(v["label"], v["threshold"], v["passed"]) for v in verdicts] == [
        ("GET /x", "max_ms", True), ("GET /x", "failure_rate", True), ("POST /x", "failure_rate", False),
        ("/x", "max_ms", False), ("/x", "failure_rate", False)]
    assert fig["names"]["/x"]["requests"] == 10 and fig["labels"]["POST /x"]["requests"] == 2


STAGED = {"rps": 20.0, "expected_requests": 300, "clients": 20, "pace": 1.0, "stages": [
    {"start": 0.0, "duration": 4.0, "from_rps": 0.0, "rps": 20.0, "name": "ramp"},
    {"start": 4.0, "duration": 6.0, "from_rps": 20.0, "rps": 20.0, "name": "hold"},
    {"start": 10.0, "duration": 0.0, "from_rps": 20.0, "rps": 10.0},
    {"start": 10.0, "duration": 5.0, "from_rps": 10.0, "rps": 10.0}]}


def test_a_staged_plan_is_judged_on_a_stage_by_name_or_number_and_its_constant_phase_is_its_longest_flat_stage():
    assert phase_window(STAGED, "constant") == ((4, 10), "constant phase 4-10 s")
    assert phase_window(STAGED, "hold") == ((4, 10), "stage hold 4-10 s")
    assert phase_window(STAGED, 4) == ((10, 15), "stage 4 10-15 s")
    assert phase_window(STAGED, "1") == ((0, 4), "stage ramp 0-4 s")
    assert phase_window(STAGED, "all") == (None, "whole run")
    with pytest.raises(ValueError, match=r"'ramp' is no phase of this plan; use constant or all"):
        phase_window(PLAN, "ramp")
    with pytest.raises(ValueError, match=r"no stage 'soak' in the plan; its stages are 1 \(ramp\), 2 \(hold\), 3, 4"):
        phase_window(STAGED, "soak")
    # the rate a stage asks for: the integral of the curve over its whole seconds
    assert planned_in_window(STAGED, (0, 4)) == pytest.approx(40.0)
    assert planned_in_window(STAGED, (9, 12)) == pytest.approx(20 + 10 + 10)


def test_an_abort_threshold_is_checked_naming_the_key_and_a_fix():
    checked = thresholds.check({"failure_rate": {"limit": "1%", "abort": True, "after": "5s"}, "p95_ms": 250})
    assert checked["limits"] == {"failure_rate": 0.01, "p95_ms": 250.0} and checked["abort"] == {"failure_rate": 5.0}
    assert thresholds.check({"failure_rate": {"limit": 0.02}})["limits"] == {"failure_rate": 0.02}
    assert "abort" not in thresholds.check({"failure_rate": {"limit": 0.02, "abort": False}})
    for bad, said in (({"failure_rate": {"limit": "1%", "abort": "yes"}}, "failure_rate.abort: expected true or false"),
                      ({"p95_from_schedule_ms": {"limit": 250, "abort": True}},
                       "p95_from_schedule_ms.abort: stopping the run mid-way"),
                      ({"rps_ratio": {"limit": 0.9, "abort": True}}, "rps_ratio.abort: stopping the run mid-way"),
                      ({"labels": {"/x": {"p95_ms": {"limit": 250, "abort": True}}}}, "at the top of"),
                      ({"failure_rate": {"limit": "1%", "abort": True, "after": "soon"}}, "cannot read 'soon'"),
                      ({"failure_rate": {"abort": True}}, "(no limit)"),
                      ({"failure_rate": {"limit": 0, "when": 1}}, "unknown key 'when'"),
                      ({"failure_rate": {"limit": "1%", "after": "5s"}}, "means nothing without abort: true"),
                      ({"failure_rate": {"limit": "1%", "abort": True, "after": -1}}, "must be >= 0 s"),
                      ({"labels": {"/x": {"failure_rate": {"limit": 0, "abort": True}}}}, "at the top of")):
        with pytest.raises(thresholds.ThresholdError) as error:
            thresholds.check(bad)
        assert said in str(error.value) and "hailstorm_thresholds." in str(error.value)
        # an example that works: "e.g. hailstorm_thresholds.<name>: {limit: ..., abort: true, after: ...}"
        where, example = str(error.value).rsplit("e.g. ", 1)[1].split(": ", 1)
        assert where.startswith("hailstorm_thresholds.") and "abort: true, after: " in example
        assert thresholds.check({where.rsplit(".", 1)[1]: yaml.safe_load(example)})["abort"]


def test_the_latency_from_schedule_cannot_abort_and_the_message_names_the_one_that_can():
    with pytest.raises(thresholds.ThresholdError) as error:
        thresholds.check({"p99_from_schedule_ms": {"limit": 800, "abort": True}})
    assert "hailstorm_thresholds.p99_from_schedule_ms.abort" in str(error.value)
    assert "use p99_ms" in str(error.value) and "p95_ms, p99_ms" in str(error.value)


def test_latency_limits_may_abort_the_run():
    checked = thresholds.check({"p95_ms": {"limit": 500, "abort": True, "after": "10s"}, "mean_ms": 100,
                                "max_ms": {"limit": "2s", "abort": True}})
    assert checked["limits"] == {"p95_ms": 500.0, "mean_ms": 100.0, "max_ms": 2000.0}
    assert checked["abort"] == {"p95_ms": 10.0, "max_ms": 0.0}


def test_the_run_aborts_once_the_threshold_stayed_broken_for_after():
    checked = thresholds.check({"failure_rate": {"limit": "1%", "abort": True, "after": "5s"}})
    since, threshold, reason = thresholds.abort_verdict(checked, {"from": 8, "at": 10, "requests": 400, "failures": 0}, None)
    assert (since, threshold, reason) == ({}, None, None)
    # broken over the interval 10-12 s: broken since its start, not yet for 5 s
    since, threshold, reason = thresholds.abort_verdict(checked, {"from": 10, "at": 12, "requests": 400, "failures": 40}, since)
    assert (since, threshold, reason) == ({"failure_rate": 10.0}, None, None)
    assert thresholds.abort_verdict(checked, {"from": 12, "at": 14, "requests": 0, "failures": 0}, since) == (
        {"failure_rate": 10.0}, None, None)
    assert thresholds.abort_verdict(checked, {"from": 12, "at": 15, "requests": 400, "failures": 1}, since) == ({}, None, None)
    since, threshold, reason = thresholds.abort_verdict(
        checked, {"from": 12, "at": 15, "requests": 400, "failures": 40, "planned_rps": 40}, since)
    assert since == {"failure_rate": 10.0} and threshold == "failure_rate"
    assert reason.startswith("failure_rate: failure rate 0.1 (10.00 %) > limit 0.01 (1.00 %)")
    assert "broken since 10 s for 5 s" in reason and "planned 40 rps" in reason
    assert thresholds.abort_verdict(thresholds.check({"failure_rate": 0.01}),
                                    {"from": 0, "at": 25, "requests": 400, "failures": 40}, None) == ({}, None, None)


def test_a_latency_abort_is_judged_on_the_last_interval_and_each_threshold_keeps_its_own_time():
    """"Ramp to 5,000 rps; stop when p95 > 500 ms for 10 s", and a failure rate over 1 % for 30 s beside it."""
    checked = thresholds.check({"p95_ms": {"limit": 500, "abort": True, "after": "10s"},
                                "failure_rate": {"limit": "1%", "abort": True, "after": "30s"}})

    def interval(start, p95, failures=0, planned=3000):
        return {"from": start, "at": start + 2, "requests": 4000, "failures": failures, "planned_rps": planned,
                "latency": {"p95_ms": p95, "p99_ms": 2 * p95}}

    since, threshold, reason = thresholds.abort_verdict(checked, interval(20, 120.0, failures=400), None)
    assert since == {"failure_rate": 20.0} and reason is None
    since, threshold, reason = thresholds.abort_verdict(checked, interval(22, 600.0, failures=400), since)
    assert since == {"failure_rate": 20.0, "p95_ms": 22.0} and reason is None
    # an interval without latency figures (no histogram) neither breaks nor heals the latency limit
    since, threshold, reason = thresholds.abort_verdict(
        checked, {"from": 24, "at": 26, "requests": 4000, "failures": 400, "latency": {"p95_ms": None}}, since)
    assert since == {"failure_rate": 20.0, "p95_ms": 22.0} and reason is None
    since, threshold, reason = thresholds.abort_verdict(checked, interval(26, 510.0, failures=400), since)
    assert reason is None
    since, threshold, reason = thresholds.abort_verdict(checked, interval(30, 612.5, failures=400, planned=4200), since)
    assert threshold == "p95_ms" and since == {"failure_rate": 20.0, "p95_ms": 22.0}
    assert reason == ("p95_ms: p95 latency 612.5 ms > limit 500 ms over the last interval, broken since 22 s "
                      "for 10 s (abort after 10 s) at a planned 4200 rps")
    # healed: a latency at the limit is not over it
    since, threshold, reason = thresholds.abort_verdict(checked, interval(32, 500.0), since)
    assert (since, threshold, reason) == ({}, None, None)


# --- an abort's `after` against the run's duration ----------------------------------------------------------
TARGET = {"target": "http://10.0.0.5:8080"}


@pytest.mark.parametrize("profile, shape", [
    ({"rps": 10, "rampup": "30s", "constant": "1m", "rampdown": "10s"}, None),
    ({"rps": 10, "rampup": "30s", "constant": 0}, None),
    ({"rps": 10, "rampup": 5, "model": "open"}, None),
    ({"stages": [{"duration": "10s", "rps": 20}, {"duration": 0, "rps": 40}, {"duration": "5s", "rps": 40},
                 {"duration": "3s", "rps": 0}, {"duration": 0, "rps": 0}]}, None),
    ({"rps": 10, "rampup": 5}, {"name": "Steps", "points": [[0, 0], [3, 10], [7, 10], [7, 20], [10, 20], [10, 0]]}),
])
def test_the_runs_duration_from_its_settings_is_the_plans(profile, shape):
    stack = ({"default": {**TARGET, **profile}}, "default", {})
    resolved = run_settings.resolve_shaped_settings(*stack, shape) if shape else run_settings.resolve_settings(*stack)
    settings = resolved[0]
    assert thresholds.run_duration(settings) == pytest.approx(planner.make_plan(settings, [("a", 2)])["duration"])


def trapezoid(seconds: float) -> dict:
    return run_settings.resolve_settings({"default": {**TARGET, "rps": 10, "rampup": seconds / 2,
                                                      "rampdown": seconds / 2, "constant": 0}})[0]


@pytest.mark.parametrize("after", ["60s", "2m", 61])
def test_an_abort_whose_after_is_not_shorter_than_the_run_is_refused_with_a_fix_that_works(after):
    given = {"p95_ms": {"limit": 500, "abort": True, "after": after}, "failure_rate": "1%"}
    with pytest.raises(ThresholdError) as error:
        thresholds.check_abort_after(check(given), trapezoid(60))
    message = str(error.value)
    seconds = run_settings.parse_duration(after, "after")
    assert message == (
        f"hailstorm_thresholds.p95_ms.after: {seconds:g} s is not shorter than the run, which lasts 60 s (rampup + "
        "constant + rampdown): the threshold must stay broken for `after` before it stops the run, so it can never "
        "stop it; give an after below 60 s, e.g. hailstorm_thresholds.p95_ms: {limit: 500, abort: true, after: 30s}, "
        "or remove abort: true to judge it at the end only")
    fixed = yaml.safe_load(message.split("e.g. hailstorm_thresholds.", 1)[1].split(", or remove", 1)[0])
    thresholds.check_abort_after(check({**given, **fixed}), trapezoid(60))  # the fix is accepted


def test_every_abort_too_long_is_named_with_the_shape_or_stages_the_run_lasts():
    given = {"p95_ms": {"limit": 500, "abort": True, "after": "20s"},
             "failure_rate": {"limit": 0.01, "abort": True, "after": "1m"}}
    stages = run_settings.resolve_settings({"default": {**TARGET, "stages": [{"duration": "15s", "rps": 10}]}})[0]
    with pytest.raises(ThresholdError) as error:
        thresholds.check_abort_after(check(given), stages)
    assert str(error.value).count("is not shorter than the run, which lasts 15 s (its stages)") == 2
    assert "hailstorm_thresholds.failure_rate: {limit: 0.01, abort: true, after: 7s}" in str(error.value)
    shaped = {**stages, "shape": "Steps"}
    with pytest.raises(ThresholdError, match=r"lasts 15 s \(the LoadTestShape Steps\)"):
        thresholds.check_abort_after(check(given), shaped)


def test_an_abort_shorter_than_the_run_and_thresholds_without_abort_pass():
    thresholds.check_abort_after(check({"p95_ms": {"limit": 500, "abort": True, "after": "59.9s"}}), trapezoid(60))
    thresholds.check_abort_after(check({"p95_ms": 500, "failure_rate": {"limit": 0.01}}), trapezoid(1))
    thresholds.check_abort_after(check(None), trapezoid(1))
    with pytest.raises(ThresholdError, match="after: 0s}"):  # a run under 2 s: the fix is 0 s (fires at once)
        thresholds.check_abort_after(check({"p95_ms": {"limit": 500, "abort": True, "after": 1}}), trapezoid(1))
