"""How a run ended: each state and each reason, as a user reads them."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils import run_state as run_state_module
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import EXIT_CODES, exit_code, state_lines


def run_state(*args, **kwargs):
    """The state and the reasons (the checks are tested on their own)."""
    verdict = run_state_module.run_state(*args, **kwargs)
    return {"state": verdict["state"], "reasons": verdict["reasons"]}


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


def test_a_locustfile_exit_code_fails_the_run_naming_host_and_core():
    s = summary()
    s["cores"][2]["locustfile_exit_code"] = 1
    verdict = run_state(s, PLAN)
    assert verdict == {"state": "failed",
                       "reasons": ["h2 core 0: the locustfile set environment.process_exit_code = 1"]}


def test_the_plan_counts_task_iterations_when_the_records_count_them():
    """Three requests per iteration must not hide iterations that were never run, and a task that
    sends no request on some iterations is no shortfall."""
    many = {**summary(requests=900), "iterations": 300}
    assert run_state(many, PLAN)["reasons"] == ["300 task iterations run, 500 planned (60.0 %)"]
    few = {**summary(requests=250), "iterations": 499}
    assert run_state(few, PLAN) == {"state": "completed", "reasons": []}


def failing(failures=3, exceptions=0, labels=None):
    s = summary()
    s["failures_by_kind"] = {"HTTP 500": failures - 1, "ConnectionRefusedError": 1} if failures else {}
    s["exceptions"] = [{"kind": "ValueError: no stock", "count": exceptions}] if exceptions else []
    s["latency"] = {"labels": labels or {"GET /a": {"failures": failures}, "GET /b": {"failures": 0}}}
    return s


def test_failed_requests_fail_the_run_as_locust_does_naming_counts_and_kinds():
    verdict = run_state(failing(3), PLAN)
    assert verdict["state"] == "failed"
    assert verdict["reasons"] == [
        "3 of 500 requests failed (0.60 %): HTTP 500 x2, ConnectionRefusedError x1; allow failures with "
        "hailstorm_thresholds {failure_rate: '1%'} (or hailstorm_exit_code_on_error: 0)"]
    assert exit_code(verdict["state"], False) == 1


def test_locustfile_exceptions_fail_the_run_unless_allowed():
    verdict = run_state(failing(0, exceptions=75), PLAN)
    assert verdict["state"] == "failed"
    assert verdict["reasons"][0].startswith("75 locustfile exceptions: ValueError: no stock x75;")
    allowed = {"all": False, "labels": [], "exceptions": True}
    assert run_state(failing(0, exceptions=75), PLAN, allowed)["state"] == "completed"


def test_thresholds_or_exit_code_on_error_0_allow_failures():
    assert run_state(failing(3), PLAN, {"all": True})["state"] == "completed"
    assert run_state(failing(3, exceptions=2), PLAN, None, 0)["state"] == "completed"
    assert run_state(failing(3), {**PLAN, "exit_code_on_error": 0})["state"] == "completed"
    # a label's own failure_rate allows that label's failures only
    labels = {"GET /a": {"failures": 2}, "POST /b": {"failures": 1}}
    verdict = run_state(failing(3, labels=labels), PLAN, {"all": False, "labels": ["/a"]})
    assert verdict["state"] == "failed" and verdict["reasons"][0].startswith("1 of 500 requests failed")
    assert "POST /b x1" in verdict["reasons"][0]


def test_iterations_that_send_nothing_or_more_than_planned_are_never_completed():
    s = summary(requests=0)
    s["iterations"] = 500
    s["cores"] = [dict(core, iterations=500 // 3) for core in s["cores"]]
    verdict = run_state(s, PLAN, None, 0)
    assert verdict["state"] == "degraded"
    assert verdict["reasons"] == ["500 task iterations ran and sent no request at all"]
    verdict = run_state(summary(requests=600), PLAN)
    assert verdict["state"] == "degraded"
    assert "600 requests sent, 500 planned: more than planned" in verdict["reasons"][0]


def test_each_check_is_kept_apart_for_junit():
    verdict = run_state_module.run_state(failing(3), PLAN)
    checks = {check["check"]: check for check in verdict["checks"]}
    assert [c["check"] for c in verdict["checks"]] == ["processes", "clients", "arrivals", "iterations", "generator", "failures",
                                                       "exceptions"]
    assert not checks["failures"]["passed"] and checks["failures"]["state"] == "failed"
    assert all(checks[name]["passed"] for name in ("processes", "clients", "iterations", "generator", "exceptions"))


def test_exit_codes_tell_the_outcomes_apart():
    assert exit_code("completed", False) == 0
    codes = {exit_code("completed", True), exit_code("degraded", False), exit_code("failed", False),
             exit_code("aborted", False), exit_code("incomplete", False)}
    assert len(codes) == 5 and 2 not in codes  # Ansible's own 2 stays for a failed task
    assert exit_code("failed", False, 3) == 3  # hailstorm_exit_code_on_error
    assert exit_code("failed", False, 1, locustfile_exit_code=7) == 7
    assert exit_code("degraded", True) == EXIT_CODES["degraded"]  # the worse outcome wins


def test_a_run_the_controller_stopped_on_an_abort_threshold_is_aborted_naming_why():
    abort = {"at": 25.3, "reason": "failure_rate: failure rate 0.1 (10.00 %) > limit 0.01 (1.00 %) over the last "
                                   "interval, broken since 20.2 s for 5.1 s (abort after 5 s) at a planned 40 rps"}
    stopped = summary(ends=("signal SIGTERM", "signal SIGTERM", "signal SIGTERM"), requests=300)
    verdict = run_state(stopped, PLAN, abort=abort)
    assert verdict["state"] == "aborted"
    assert verdict["reasons"][0] == f"stopped by the controller at 25.3 s: {abort['reason']}"
    assert exit_code(verdict["state"], True) == EXIT_CODES["aborted"] != EXIT_CODES["thresholds broken"]
    # a process left no end record: incomplete is worse and wins, the abort is still said
    verdict = run_state(summary(ends=("signal SIGTERM", "missing (killed?)", "signal SIGTERM"), requests=300),
                        PLAN, abort=abort)
    assert verdict["state"] == "incomplete" and any(r.startswith("stopped by the controller") for r in verdict["reasons"])


def decided(codes, failures=(1, 0, 0), exceptions=(0, 0, 0)):
    """A run whose cores' locustfiles set these environment.process_exit_code (None: not set), with
    these failed requests and locustfile exceptions per core (each core sent a third of 500)."""
    s = failing(sum(failures), exceptions=sum(exceptions))
    s["failures"] = sum(failures)
    for core, code, failed, raised in zip(s["cores"], codes, failures, exceptions):
        core.update(locustfile_exit_code=code, failures=failed, exceptions=raised, requests=500 // 3)
    return s


def test_the_locustfiles_verdict_of_0_on_every_core_decides_for_failures_as_in_locust():
    """Locust's CI gate: a quitting listener sets process_exit_code 0 under its own limit; one
    failed request of 500 then fails neither Locust nor the run, and the lines say who decided."""
    verdict = run_state_module.run_state(decided((0, 0, 0), exceptions=(2, 0, 0)), PLAN)
    assert (verdict["state"], verdict["reasons"]) == ("completed", [])
    assert verdict["locustfile_decided"] == (
        "the locustfile decided: environment.process_exit_code = 0 on every core (3) (1 of 500 requests failed, "
        "2 locustfile exceptions): its verdict outranks hailstorm_exit_code_on_error, as Locust's "
        "process_exit_code outranks --exit-code-on-error")
    assert state_lines(verdict) == ["run state: completed", "  " + verdict["locustfile_decided"]]
    assert exit_code(verdict["state"], False, 1, 0) == 0


def test_any_non_zero_verdict_fails_the_run_with_its_code():
    verdict = run_state_module.run_state(decided((0, 3, 0), failures=(0, 0, 0)), PLAN)
    assert verdict["state"] == "failed"
    assert verdict["reasons"] == ["h1 core 1: the locustfile set environment.process_exit_code = 3"]
    assert "process_exit_code = 3 on every core (3)" in verdict["locustfile_decided"]
    assert exit_code(verdict["state"], False, 1, 3) == 3


def test_a_core_without_a_verdict_is_judged_by_the_default_rule():
    """h1 core 0 decided 0 on its failure; h1 core 1 set none: its own failure fails the run."""
    verdict = run_state(decided((0, None, 0), failures=(1, 0, 0)), PLAN)
    assert verdict == {"state": "completed", "reasons": []}
    verdict = run_state_module.run_state(decided((0, None, 0), failures=(1, 2, 0)), PLAN)
    assert verdict["state"] == "failed"
    assert verdict["reasons"] == [
        "2 of 166 requests failed on the core(s) whose locustfile set no environment.process_exit_code (h1 core 1); "
        "allow failures with hailstorm_thresholds {failure_rate: '1%'}, or set process_exit_code on every core "
        "(or hailstorm_exit_code_on_error: 0)"]
    assert "on 2 of 3 cores" in verdict["locustfile_decided"]
    assert "the failures of the 1 core(s) that set none are judged by" in verdict["locustfile_decided"]
    raised = run_state(decided((0, None, 0), failures=(0, 0, 0), exceptions=(0, 4, 0)), PLAN)
    assert raised["state"] == "failed" and raised["reasons"][0].startswith("4 locustfile exceptions on the core(s)")
    # the default rule's allowances still hold for those cores
    assert run_state(decided((0, None, 0), failures=(1, 2, 0)), PLAN, {"all": True})["state"] == "completed"
    assert run_state(decided((0, None, 0), failures=(1, 2, 0)), PLAN, None, 0)["state"] == "completed"


def test_no_verdict_anywhere_keeps_the_default_rule_and_says_nothing_of_the_locustfile():
    verdict = run_state_module.run_state(decided((None, None, None)), PLAN)
    assert verdict["state"] == "failed" and verdict["reasons"][0].startswith("1 of 500 requests failed")
    assert verdict["locustfile_decided"] is None


def test_thresholds_are_judged_apart_from_the_locustfiles_verdict():
    """A verdict of 0 makes the run completed; a broken hailstorm_thresholds still exits 10."""
    verdict = run_state_module.run_state(decided((0, 0, 0)), PLAN)
    assert exit_code(verdict["state"], True, 1, 0) == EXIT_CODES["thresholds broken"]


def test_clients_that_stopped_themselves_are_named_when_the_run_falls_short():
    s = {**summary(requests=30), "iterations": 30,
         "ended_early": [{"how": "StopUser", "iterations": 3, "clients": 10}]}
    assert run_state(s, PLAN)["reasons"] == [
        "30 task iterations run, 500 planned (6.0 %); 10 clients stopped themselves with StopUser after 3 iterations"]
    s["ended_early"] = [{"how": "StopUser", "iterations": 1, "clients": 1},
                        {"how": "StopUser", "iterations": 4, "clients": 2},
                        {"how": "ValueError: no stock", "iterations": 0, "clients": 1}]
    assert run_state(s, PLAN)["reasons"][0].endswith(
        "; 3 clients stopped themselves with StopUser after 1 to 4 iterations"
        "; 1 client ended early by an exception (ValueError: no stock) after 0 iterations")
    # a run that kept to its plan says nothing of them
    assert run_state({**summary(), "iterations": 500, "ended_early": s["ended_early"]}, PLAN)["reasons"] == []


def test_a_staged_plans_restarts_count_among_the_planned_starts():
    s = summary(started=50)
    s["starts"]["starts_planned"] = 60
    assert run_state(s, PLAN)["reasons"] == [
        "10 of 60 planned client starts did not happen (40 clients, 20 restarts in later stages)"]
    s["starts"]["clients_started"] = 60
    assert run_state(s, PLAN)["reasons"] == []
