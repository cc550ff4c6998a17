"""The readable summary the collect role prints."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils.summary import summary_lines

SUMMARY = {
    "requests": 520, "failures": 2, "failure_rate": 2 / 520, "expected_requests": 500.0,
    "constant_phase": {"from": 6, "to": 14, "rps": 39.875, "target_rps": 40.0, "ratio": 0.9969},
    "failures_by_kind": {"HTTP 503": 2},
    "latency": {"overall": {"p50_ms": 4.2, "p95_ms": 69.7, "p99_ms": 83.0},
                "labels": {"/a": {"requests": 500, "failures": 2, "p50_ms": 3.4, "p95_ms": 11.7, "p99_ms": 24.8},
                           "/slow": {"requests": 20, "failures": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}}},
    "pacing": {"overruns": 3, "clients_affected": 1},
    "starts": {"clients_started": 40, "clients_planned": 40, "late_clients": 1, "max_late": 0.012},
    "cores": [{"end": "done"}, {"end": "deadline"}],
}


def test_summary_lines_show_what_a_user_checks():
    lines = summary_lines(SUMMARY)
    assert lines[0] == "520 requests (planned 500), 2 failed (0.38 %)"
    assert lines[1] == "constant phase 6-14 s: 39.88 rps against 40 target (99.7 %)"
    assert "failure x2: HTTP 503" in lines
    assert any(line.split() == ["/a", "500", "2", "3.4", "11.7", "24.8"] for line in lines)
    assert any(line.split() == ["/slow", "20", "0", "-", "-", "-"] for line in lines)
    assert any(line.split() == ["all", "520", "2", "4.2", "69.7", "83.0"] for line in lines)
    assert "pacing overruns: 3 (1 clients); clients started 40/40, 1 late (max 12 ms)" in lines
    assert lines[-1] == "load processes: 2, ended: deadline, done"


def test_no_constant_phase_no_line():
    lines = summary_lines({**SUMMARY, "constant_phase": None})
    assert not any(line.startswith("constant phase") for line in lines)


def test_the_iterations_and_a_warning_when_a_task_sends_other_than_one_request():
    from ansible_collections.romram.hailstorms.plugins.module_utils.summary import iteration_warning

    lines = summary_lines({**SUMMARY, "iterations": 260, "requests_per_iteration": 2.0,
                           "iteration_warning": iteration_warning(520, 260, 40.0)})
    assert lines[1] == "260 task iterations (the planned rps paces these): 2.00 requests per iteration on average"
    assert lines[-1] == ("WARNING: the locustfile sent 2.00 requests per task iteration on average (520 requests in "
                         "260 iterations): hailstorm_rps paces task iterations, so the target got 2.00 x the planned "
                         "rate; to plan requests per second, set hailstorm_rps to 20 for 40 requests per second, or "
                         "make each task send one request")
    assert iteration_warning(520, 500, 40.0) is None  # within 5 %: on_start requests, a failed task
    assert iteration_warning(0, 0, 40.0) is None
    assert "sent 0.00 requests per task iteration" in iteration_warning(0, 10, 40.0)


def test_a_stage_counts_task_requests_against_its_planned_iterations_with_on_start_and_on_stop_apart():
    stage = {"name": "hold", "start": 10.0, "end": 20.0, "planned_rps": 38.0, "planned_iterations": 380.0,
             "rps": 38.0, "requests": 400, "task_requests": 380, "other_requests": 20, "failures": 0,
             "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0}
    lines = summary_lines({**SUMMARY, "stages": [stage]})
    assert ("stage hold 10-20 s: 380 task requests against 380 planned iterations (38.00 rps against 38 planned), "
            "20 on_start/on_stop requests apart, 0 failed, p50/p95/p99 1.0/2.0/3.0 ms") in lines
    quiet = summary_lines({**SUMMARY, "stages": [{**stage, "requests": 380, "other_requests": 0}]})
    assert any(line.startswith("stage hold 10-20 s: 380 task requests against 380 planned iterations (38.00 rps "
                               "against 38 planned), 0 failed") for line in quiet)


def test_clients_started_again_in_a_later_stage_are_said_as_restarts():
    starts = {**SUMMARY["starts"], "clients_started": 60, "starts_planned": 60}
    lines = summary_lines({**SUMMARY, "starts": starts})
    assert ("pacing overruns: 3 (1 clients); clients started 60/60 (40 clients, 20 restarted in a later stage), "
            "1 late (max 12 ms)") in lines
