"""The progress line: one line whatever the number of hosts, as a person reads it."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils import planner, thresholds
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
