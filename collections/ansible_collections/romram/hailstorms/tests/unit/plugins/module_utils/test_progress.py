"""The progress line: one line whatever the number of hosts, as a person reads it."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import planner, thresholds
from ansible_collections.romram.hailstorms.plugins.module_utils.records import Histogram
from ansible_collections.romram.hailstorms.plugins.module_utils.progress import abort_check, host_state, progress_line

SETTINGS = {"clients": 400, "rps": 400, "pace": 1.0, "rampup": 10, "constant": 60, "rampdown": 10}


def status(state="running", rps=10.0, active=10, requests=100, elapsed=30.0, cores=1, **extra):
    return {"states": {state: cores}, "rps": rps, "active": active, "requests": requests, "elapsed": elapsed,
            **extra}


def test_a_hundred_hosts_fit_in_one_line_that_names_the_furthest_behind():
    plan = planner.make_plan(SETTINGS, [(f"h{i:03d}", 1) for i in range(100)])  # 4 clients, 4 rps each
    hosts = {name: status(rps=4.0, active=4, requests=100) for name in plan["hosts"]}
    hosts["h007"] = status(rps=2.0, active=4, requests=100)
    hosts["h042"] = status(rps=3.0, active=4, requests=100)
    hosts["h099"] = status(state="failed", rps=0.0, active=0, requests=50)
    line = progress_line(plan, hosts, 30)
    assert line == ("   30/80 s: active 396/400, 393.0 rps (planned 400.0), 9950 requests; "
                    "hosts failed=1, running=99; behind their planned rate: h007 50 %, h042 75 %")


def test_totals_compare_with_the_plan_when_the_processes_wrote_them():
    plan = planner.make_plan(SETTINGS, [("a", 1), ("b", 1)])
    hosts = {"a": status(rps=100.0, active=100, elapsed=5.0), "b": status(rps=100.0, active=100, elapsed=5.2)}
    line = progress_line(plan, hosts, 6)
    # at 5.0 s 200 clients are active (half the ramp) and the second before ran at 180 rps
    assert line.startswith("    6/80 s: active 200/200, 200.0 rps (planned 180.0), 200 requests; hosts running=2")
    assert "behind" not in line


def test_the_plan_is_compared_with_task_iterations_when_the_hosts_report_them():
    plan = planner.make_plan(SETTINGS, [("a", 1), ("b", 1)])
    # three requests a task: 600 rps is on plan at 200 task iterations/s; b is behind in iterations
    hosts = {"a": status(rps=600.0, active=200, iteration_rate=200.0), "b": status(rps=300.0, active=200, iteration_rate=100.0)}
    line = progress_line(plan, hosts, 30)
    assert line.startswith("   30/80 s: active 400/400, 300.0 iterations/s (planned 400.0), 900.0 rps, 200 requests; ")
    assert line.endswith("behind their planned rate: b 50 %")


def test_hosts_are_counted_by_their_least_advanced_or_problem_state():
    assert host_state({"states": {"armed": 2}}) == "armed"
    assert host_state({"states": {"running": 1, "done": 1}}) == "running"
    assert host_state({"states": {"done": 2}}) == "done"
    assert host_state({"states": {"done": 1, "lost": 1}}) == "lost"
    assert host_state({}) == "unknown"


def test_generator_limited_cores_are_warned_about():
    plan = planner.make_plan(SETTINGS, [("a", 1)])
    message = "results from a core 0 are generator-limited; plan fewer rps per core"
    line = progress_line(plan, {"a": status(generator_limited=[message])}, 30)
    assert line.endswith(f"WARNING: {message}")


def test_the_open_model_line_says_arrivals_sent_and_dropped_and_the_pool():
    plan = {"clients": 10, "rps": 10.0, "pace": 1.0, "gap": 0.1, "stop_gap": 0.1, "rampup": 1.0, "constant": 10.0,
            "rampdown": 1.0, "duration": 12.0, "hosts": {"h1": {"clients": 10}}}
    hosts = {"h1": {"state": "running", "states": {"running": 1}, "elapsed": 5.0, "active": 7, "rps": 10.0,
                    "requests": 50, "iterations": 50, "iteration_rate": 10.0, "arrivals_sent": 48,
                    "arrivals_dropped": 2, "pool_size": 7, "pool_started": 9}}
    from ansible_collections.romram.hailstorms.plugins.module_utils.progress import progress_line

    assert "arrivals sent 48, dropped 2, pool 7 users (9 started); hosts" in progress_line(plan, hosts, 5.0)


def _abort_checks(checked, figures, plan):
    """abort_check called as the collect role does, once per interval: [(at, requests, failures)]
    cumulative totals of one host; returns what each call returned."""
    out, previous = [], {}
    for at, requests, failures in figures:
        previous = abort_check(plan, {"a": status(requests=requests, failures=failures, elapsed=at)}, checked,
                               previous, at)
        out.append(previous)
    return out


def test_an_abort_threshold_broken_for_less_than_after_does_not_stop_the_run():
    plan = planner.make_plan(SETTINGS, [("a", 1)])
    checked = thresholds.check({"failure_rate": {"limit": "1%", "abort": True, "after": "5s"}})
    # 40 requests a second; 4 s of 50 % failures (20-24 s), then none again: never 5 s in a row
    figures = [(at, 40 * at, 20 * max(0, min(at, 24) - 20)) for at in range(10, 40, 2)]
    assert all(not check["reason"] for check in _abort_checks(checked, figures, plan))
    # the same breakage that lasts: broken over the interval 20-22 s, so since 20 s; stopped at the
    # first judgement at least 5 s later (26 s), within after + one interval of the breakage
    figures = [(at, 40 * at, 20 * max(0, at - 20)) for at in range(10, 40, 2)]
    checks = _abort_checks(checked, figures, plan)
    first = next(check for check in checks if check["reason"])
    assert first["at"] == 26 and first["broken_since"] == 20
    assert "broken since 20 s for 6 s (abort after 5 s) at a planned 400 rps" in first["reason"]
    # a stalled interval (no request) neither breaks nor heals
    figures = [(20, 800, 0), (22, 880, 40), (24, 880, 40), (26, 960, 80), (28, 1040, 120)]
    assert [c["broken_since"] for c in _abort_checks(checked, figures, plan)] == [None, 20, 20, 20, 20]
    assert [bool(c["reason"]) for c in _abort_checks(checked, figures, plan)] == [False] * 3 + [True] * 2


def _histogram(*pairs):
    """A status file's `hist`: (ms, count) pairs in records.py's buckets."""
    hist = Histogram()
    for ms, count in pairs:
        hist.record_ms(ms, count)
    return hist.to_json()


def test_the_line_says_the_failures_per_second_and_the_p95_of_the_last_interval_all_hosts_merged():
    plan = planner.make_plan(SETTINGS, [("a", 1), ("b", 1)])
    first = {"a": status(requests=4000, failures=0, elapsed=10.0, hist=_histogram((10, 4000)), time_us=40_000_000),
             "b": status(requests=4000, failures=0, elapsed=10.2, hist=_histogram((10, 4000)), time_us=40_000_000)}
    previous = abort_check(plan, first, None, {}, 10)
    # the next 2 s: 400 requests on each host, a's in 12 ms, b's in 200 ms; 30 failures in all
    second = {"a": status(requests=4400, failures=10, elapsed=12.0, hist=_histogram((10, 4000), (12, 400)),
                          time_us=44_800_000),
              "b": status(requests=4400, failures=20, elapsed=12.1, hist=_histogram((10, 4000), (200, 400)),
                          time_us=120_000_000)}
    figures = abort_check(plan, second, None, previous, 12)["interval"]
    assert (figures["from"], figures["at"], figures["seconds"]) == (10.0, 12.0, 2.0)
    assert (figures["requests"], figures["failures"], figures["failures_per_s"]) == (800, 30, 15.0)
    # over the interval alone half the requests took 12 ms and half 200 ms: the p95 is 200 ms (its
    # bucket's middle), where the totals so far say 12 ms
    assert figures["latency"]["p95_ms"] == pytest.approx(200.5) and figures["latency"]["p50_ms"] == pytest.approx(12.05)
    assert figures["latency"]["mean_ms"] == pytest.approx(106.0) and figures["latency"]["count"] == 800
    assert Histogram(second["b"]["hist"]).merge(second["a"]["hist"]).percentile(95) == pytest.approx(12.05)
    line = progress_line(plan, second, 12, figures)
    assert "8800 requests; last 2.0 s: 15.0 failures/s, p95 200.5 ms; hosts running=2" in line
    # the first line of a run has no interval before it; an interval without requests has no p95
    assert "last" not in progress_line(plan, first, 0, abort_check(plan, {}, None, {}, 0)["interval"])
    stalled = {name: {**host, "elapsed": host["elapsed"] + 2} for name, host in second.items()}
    idle = abort_check(plan, stalled, None, abort_check(plan, second, None, previous, 12), 14)["interval"]
    assert "last 2.0 s: 0.0 failures/s, p95 none; " in progress_line(plan, stalled, 14, idle)


def test_a_latency_threshold_stops_the_run_on_the_merged_histogram_of_the_last_interval():
    """"Stop when p95 > 500 ms for 10 s": one host of two slows down at 20 s; the merged p95 of
    each interval breaks the limit from then on, the totals so far would only later."""
    plan = planner.make_plan(SETTINGS, [("a", 1), ("b", 1)])
    checked = thresholds.check({"p95_ms": {"limit": 500, "abort": True, "after": "10s"}})
    previous, checks, slow = {}, [], 0
    for at in range(2, 40, 2):
        slow += 80 if at > 20 else 0  # b's requests take 800 ms after 20 s
        hosts = {"a": status(requests=40 * at, elapsed=at, hist=_histogram((5, 40 * at))),
                 "b": status(requests=40 * at, elapsed=at, hist=_histogram((5, 40 * at - slow), (800, slow)))}
        previous = abort_check(plan, hosts, checked, previous, at)
        checks.append(previous)
    first = next(check for check in checks if check["reason"])
    assert first["threshold"] == "p95_ms" and first["broken_since"] == 20 and first["at"] == 30
    assert first["reason"] == ("p95_ms: p95 latency 800.5 ms > limit 500 ms over the last interval, broken since 20 s "
                               "for 10 s (abort after 10 s) at a planned 400 rps")
    assert first["interval"]["latency"]["p95_ms"] == pytest.approx(800.5)
    assert all(not check["broken"] for check in checks if check["at"] <= 20)
