"""The launch's timing decisions (arm, then fire), message by message."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import launch
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


def test_the_lead_covers_the_signal_trip_not_the_start_up():
    # every process is armed already: the stop check, three round trips of the copy, and a margin
    assert launch.start_lead(0.05) == pytest.approx(2.7)
    assert launch.start_lead(2.0) == pytest.approx(10.5)
    assert launch.start_lead(10_000) == launch.MAX_LEAD


def test_a_given_lead_wins_and_is_checked():
    assert launch.start_lead(0.05, "12") == 12.0
    with pytest.raises(PlanError, match=r"hailstorm_start_lead: must be between 0.1 and 600 seconds, got '0'"):
        launch.start_lead(0.05, "0")
    with pytest.raises(PlanError, match=r"hailstorm_start_lead: expected seconds such as 10, got 'soon'"):
        launch.start_lead(0.05, "soon")


def test_limits_cover_arming_the_lead_the_plan_and_the_grace():
    assert launch.armed_wait(300) == 360
    assert launch.run_time_limit(100, 10, 300) == 360 + 600 + 100 + 10 + 30
    with pytest.raises(PlanError, match="hailstorm_arm_timeout: must be at least 1 seconds, got 0"):
        launch.armed_wait(0)
    with pytest.raises(PlanError, match="hailstorm_deadline_grace: expected seconds such as 10, got 'x'"):
        launch.run_time_limit(100, "x", 300)


def test_a_signal_in_time_passes():
    assert launch.signal_verdict(1000.0, 999.0, 1.2) is None
    assert launch.signal_verdict(1000.0, 1000.9, 1.2) is None  # the processes accept up to 1 s late


def test_a_late_signal_fails_and_names_a_lead_that_works():
    message = launch.signal_verdict(1000.0, 1004.0, 1.2)
    assert message.startswith("the start signal reached the load hosts 4.00 s after the shared start time")
    assert "-e hailstorm_start_lead=13" in message  # took 5.2 s: twice that and the margin, rounded up


@given(st.floats(0.1, 100), st.floats(1.01, 200))
def test_the_suggested_lead_would_have_covered_the_trip_and_is_valid(lead, late):
    start = 10_000.0
    suggestion = launch.suggested_lead(start, start + late, lead)
    assert launch.start_lead(0.0, suggestion) == suggestion  # valid as given
    took = lead + late
    assert suggestion >= min(launch.MAX_LEAD, took)


def test_a_process_that_ended_before_it_was_armed_is_the_reason_said_at_once():
    cores = [{"core": 0, "state": "failed", "reason": "exited at import after 9.1 s: RuntimeError: no database"},
             {"core": 1, "state": "armed"}, {"core": 2, "state": "missing"},
             {"core": 3, "state": "failed", "reason": "no start signal within 5 s of being armed"},
             {"core": 4, "state": "lost"}]
    lines = launch.not_armed("lh1", cores, 300)
    assert lines[:3] == ["lh1 core 0 exited at import after 9.1 s: RuntimeError: no database",
                         "lh1 core 3 ended before it was armed: no start signal within 5 s of being armed",
                         "lh1 core 4 was lost before it was armed: its status stopped changing (killed?)"]
    assert lines[3].startswith("no load was sent") and "hailstorm_arm_timeout" not in " ".join(lines)


def test_processes_still_loading_at_the_timeout_are_said_with_their_states():
    assert launch.not_armed("lh1", [{"core": 0, "state": "armed"}, {"core": 1, "state": "armed"}], 300) == []
    lines = launch.not_armed("lh1", [{"core": 0, "state": "armed"}, {"core": 1, "state": "missing"}], 300)
    assert lines == ["lh1: load processes not armed within hailstorm_arm_timeout=300 s (states armed 1, missing 1); "
                     "no load was sent. Raise hailstorm_arm_timeout if the backend is only slow; the processes that "
                     "were armed exit by themselves, or run playbooks/stop.yml."]


def test_processes_stopped_by_stop_yml_while_they_armed_are_said_so_first():
    cores = [{"core": 0, "state": "armed"}, {"core": 1, "state": "missing"}]
    assert launch.not_armed("lh1", cores, 300, stopped=True) == [
        "lh1: its load processes were stopped by playbooks/stop.yml while they armed; no load was sent"]
