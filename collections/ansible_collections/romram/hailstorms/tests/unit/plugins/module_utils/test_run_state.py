"""How a run ended: each state and each reason, as a user reads them."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state, state_lines

PLAN = {"clients": 40, "expected_requests": 500,
        "hosts": {"h1": {"cores": [{"index": 0}, {"index": 1}]}, "h2": {"cores": [{"index": 0}]}}}


def summary(ends=("done", "done", "done"), requests=500, started=40, **core_fields):
    hosts = [("h1", 0), ("h1", 1), ("h2", 0)]
    cores = [{"host": h, "core": c, "end": e, **core_fields} for (h, c), e in zip(hosts, ends)]
    return {"cores": cores, "requests": requests, "expected_requests": 500,
            "starts": {"clients_planned": 40, "clients_started": started}}


def test_a_run_as_planned_is_completed():
    verdict = run_state(summary(requests=497), PLAN)  # a few short of the exact plan is normal
    assert verdict == {"state": "completed", "reasons": []}
    assert state_lines(verdict) == ["run state: completed"]


def test_a_stopped_process_makes_the_run_aborted():
    verdict = run_state(summary(ends=("done", "signal SIGTERM", "done"), requests=300), PLAN)
    assert verdict["state"] == "aborted"
    assert verdict["reasons"][0] == "h1 core 1: stopped (signal SIGTERM) before its planned end"
    assert "300 requests sent, 500 planned (60.0 %)" in verdict["reasons"]
    assert state_lines(verdict)[0] == "run state: ABORTED"


def test_a_killed_process_makes_the_run_incomplete_and_says_what_is_lost():
    verdict = run_state(summary(ends=("done", "done", "missing (process killed?)")), PLAN)
    assert verdict["state"] == "incomplete"
    assert verdict["reasons"] == ["h2 core 0: no end record (killed, lost or out of disk); requests sent after its "
                                  "last flush are not counted"]


def test_a_host_without_results_makes_the_run_incomplete():
    s = summary()
    s["cores"] = s["cores"][:2]
    verdict = run_state(s, PLAN)
    assert verdict["state"] == "incomplete"
    assert verdict["reasons"][0].startswith("h2 core 0: no results at all")


def test_clients_stuck_at_the_deadline_are_counted_and_named():
    verdict = run_state(summary(ends=("deadline", "done", "done"), active_at_end=34), PLAN)
    assert verdict["state"] == "degraded"
    assert verdict["reasons"] == ["h1 core 0: ended by its deadline with 34 client(s) still inside a task "
                                  "(a task that never returns?)"]


def test_missing_clients_and_requests_degrade_the_run():
    verdict = run_state(summary(started=0, requests=0), PLAN)
    assert verdict["state"] == "degraded"
    assert verdict["reasons"] == ["40 of 40 planned clients never started", "0 requests sent, 500 planned (0.0 %)"]


def test_the_worst_state_wins_and_its_reasons_come_first():
    verdict = run_state(summary(ends=("error", "signal SIGINT", "missing (process killed?)")), PLAN)
    assert verdict["state"] == "incomplete"
    assert [r.split(":")[0] for r in verdict["reasons"]] == ["h2 core 0", "h1 core 1", "h1 core 0"]


def test_a_generator_limited_core_degrades_the_run():
    s = summary()
    s["generator_limited"] = ["results from h1 core 0 are generator-limited; plan fewer rps per core (CPU 97 %)"]
    verdict = run_state(s, PLAN)
    assert verdict == {"state": "degraded", "reasons": s["generator_limited"]}


def test_a_locustfile_exit_code_degrades_the_run_naming_host_and_core():
    s = summary()
    s["cores"][2]["locustfile_exit_code"] = 1
    verdict = run_state(s, PLAN)
    assert verdict == {"state": "degraded",
                       "reasons": ["h2 core 0: the locustfile set environment.process_exit_code = 1"]}


def test_the_plan_counts_task_iterations_when_the_records_count_them():
    """Three requests per iteration must not hide iterations that were never run, and a task that
    sends no request on some iterations is no shortfall."""
    many = {**summary(requests=900), "iterations": 300}
    assert run_state(many, PLAN)["reasons"] == ["300 task iterations run, 500 planned (60.0 %)"]
    few = {**summary(requests=250), "iterations": 499}
    assert run_state(few, PLAN) == {"state": "completed", "reasons": []}
