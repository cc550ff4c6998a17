"""Scheduling of the runtime against a fake clock: exact slots, catch-up, stops, deadline."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from hailstorm_runtime import plan_queries, planner
from hailstorm_runtime.schedule import WAKE_GRID, ClassPicker, PacedWait, Pacer, next_tick, on_grid, run_starts

T0 = 1_795_000_000.0


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep_until(self, when: float) -> None:
        self.sleeps.append(when)
        self.now = max(self.now, when)

    def seconds_until(self, when: float) -> float:
        return max(0.0, when - self.now)


class Stop(Exception):
    pass


def simulate(client: plan_queries.Client, pace: float, task_seconds=lambda i: 0.0, begin: float | None = None,
             on_start_seconds: float = 0.0):
    """One user as the runtime runs it under Locust: on_start at the start, then wait_time()
    (the paced wait of PacedDefaultTaskSet.on_start) before the first task and after every task.
    Returns (task request times, pacer, clock) with the time the user stopped in clock.now."""
    clock = FakeClock(T0 + client.start if begin is None else begin)
    pacer = Pacer(T0, client, pace)
    pacer.begin(clock.now)
    clock.now += on_start_seconds
    overrun_ids: list[int] = []
    tally = SimpleNamespace(iterations=0)
    wait = PacedWait(pacer, clock, Stop, overrun_ids.append, tally)
    times = []
    i = 0
    while True:
        try:
            clock.sleep_until(clock.now + wait())  # Locust sleeps what wait_time returns
        except Stop:
            break
        times.append(clock.now)
        clock.now += task_seconds(i)
        i += 1
        assert i < 100_000
    assert len(overrun_ids) == pacer.overruns
    assert tally.iterations == len(times) == wait.ran  # every task iteration handed a slot is counted, once
    assert wait.stopped  # ended by its planned stop, not by itself
    return times, pacer, clock


def test_exact_slots_match_the_plan():
    client = plan_queries.Client(client_id=3, start=0.3, phase=0.7, stop=20.0)
    times, pacer, clock = simulate(client, pace=1.0)
    expected = [T0 + t for t in plan_queries.request_times(client, 1.0)]
    assert times == pytest.approx(expected, abs=1e-9)
    assert times[0] == pytest.approx(T0 + 0.7)  # the first slot of its lattice at or after its start
    assert times[1] == pytest.approx(T0 + 1.7)
    assert clock.now == T0 + 20.0  # stopped at its stop slot, not at its last request
    assert pacer.overruns == 0


def test_first_task_waits_for_the_first_slot_on_the_lattice():
    client = plan_queries.Client(client_id=0, start=0.5, phase=0.4, stop=5.0)
    times = simulate(client, pace=1.0)[0]
    assert times == pytest.approx([T0 + 1.4, T0 + 2.4, T0 + 3.4, T0 + 4.4])


def test_a_slot_at_the_start_itself_is_kept_after_an_instant_on_start():
    client = plan_queries.Client(client_id=0, start=0.4, phase=0.4, stop=3.0)
    times, pacer = simulate(client, pace=1.0, on_start_seconds=0.003)[:2]
    assert times == pytest.approx([T0 + 0.403, T0 + 1.4, T0 + 2.4])
    assert pacer.overruns == 0


def test_an_on_start_past_the_first_slot_skips_it_and_counts_an_overrun():
    client = plan_queries.Client(client_id=0, start=0.0, phase=0.3, stop=4.0)
    times, pacer = simulate(client, pace=1.0, on_start_seconds=0.5)[:2]
    assert times == pytest.approx([T0 + 1.3, T0 + 2.3, T0 + 3.3])
    assert pacer.overruns == 1


def test_a_client_with_no_slot_before_its_stop_sends_nothing_and_ends_at_its_stop():
    client = plan_queries.Client(client_id=0, start=1.0, phase=0.9, stop=1.5)
    times, pacer, clock = simulate(client, pace=1.0)
    assert times == [] and list(plan_queries.request_times(client, 1.0)) == []
    assert clock.now == pytest.approx(T0 + 1.5)


def test_overrun_skips_to_next_lattice_slot_and_is_counted():
    client = plan_queries.Client(client_id=5, start=0.0, phase=0.0, stop=10.0)
    slow = {2}  # the third request takes 1.5 paces
    times, pacer = simulate(client, pace=1.0, task_seconds=lambda i: 1.5 if i in slow else 0.01)[:2]
    assert times == pytest.approx([T0, T0 + 1, T0 + 2, T0 + 4, T0 + 5, T0 + 6, T0 + 7, T0 + 8, T0 + 9])
    assert len(times) == len(list(plan_queries.request_times(client, 1.0))) - 1  # the one slot skipped
    assert pacer.overruns == 1


def test_stop_ends_the_user_at_its_stop_time_even_mid_pace():
    client = plan_queries.Client(client_id=1, start=0.0, phase=0.5, stop=3.2)
    times, clock = simulate(client, pace=1.0)[::2]
    assert times == pytest.approx([T0 + 0.5, T0 + 1.5, T0 + 2.5])
    assert clock.now == pytest.approx(T0 + 3.2)


def test_late_client_lands_on_its_lattice_without_an_overrun():
    client = plan_queries.Client(client_id=2, start=1.0, phase=0.25, stop=30.0)
    times, pacer = simulate(client, pace=1.0, begin=T0 + 4.6)[:2]  # started 3.6 s late
    assert times[0] == pytest.approx(T0 + 5.25)  # the first lattice slot at or after the late start
    assert all(abs(((t - T0 - 0.25) % 1.0)) < 1e-9 or abs(((t - T0 - 0.25) % 1.0) - 1) < 1e-9 for t in times)
    assert pacer.overruns == 0


def test_starts_on_absolute_slots():
    clock = FakeClock(T0 - 2.0)
    clients = [plan_queries.Client(k, k * 0.5, 0.0, 10.0) for k in range(4)]
    started = []
    run_starts(clients, T0, clock, lambda c, late: started.append((c.client_id, clock.now, late)))
    assert started == [(0, T0, 0.0), (1, T0 + 0.5, 0.0), (2, T0 + 1.0, 0.0), (3, T0 + 1.5, 0.0)]


def test_catch_up_starts_overdue_clients_at_once_and_reports_lateness():
    clock = FakeClock(T0 + 1.2)  # the process came up 1.2 s after the shared start
    clients = [plan_queries.Client(k, k * 0.5, 0.0, 10.0) for k in range(5)]
    started = []
    run_starts(clients, T0, clock, lambda c, late: started.append((c.client_id, clock.now, round(late, 6))))
    assert started == [(0, T0 + 1.2, 1.2), (1, T0 + 1.2, 0.7), (2, T0 + 1.2, 0.2),
                       (3, T0 + 1.5, 0.0), (4, T0 + 2.0, 0.0)]


def test_clients_past_their_stop_or_the_deadline_are_not_started():
    clock = FakeClock(T0 + 6.0)
    clients = [plan_queries.Client(0, 0.0, 0.0, 5.0), plan_queries.Client(1, 1.0, 0.0, 8.0),
               plan_queries.Client(2, 7.0, 0.0, 9.0), plan_queries.Client(3, 2.0, 0.0, 2.0)]
    started = []
    run_starts(clients, T0, clock, lambda c, late: started.append(c.client_id), deadline=T0 + 6.5)
    assert started == [1]  # 0 stopped already, 2 is after the deadline, 3 never runs (stop == start)


@settings(max_examples=60, deadline=None)
@given(clients=st.integers(1, 60), rps=st.sampled_from([1, 2.5, 10, 37, 100]),
       rampup=st.floats(1, 60), constant=st.floats(0, 30), rampdown=st.floats(0, 60),
       cores=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_every_client_sends_exactly_its_planned_requests(clients, rps, rampup, constant, rampdown, cores):
    clients = max(clients, sum(cores), math.ceil(rps * 0.1))  # the planner refuses a pace under 0.1 s
    settings_ = {"clients": clients, "rps": rps, "pace": clients / rps, "rampup": rampup,
                 "constant": constant, "rampdown": rampdown}
    plan = planner.make_plan(settings_, [(f"h{i}", c) for i, c in enumerate(cores)])
    seen = set()
    for host in plan["hosts"]:
        part = plan_queries.host_slice(plan, host)
        for core in part["cores"]:
            for client in plan_queries.core_clients(part["plan"], core):
                seen.add(client.client_id)
                if client.stop <= client.start:
                    continue
                times, pacer, clock = simulate(client, plan["pace"])
                expected = [T0 + t for t in plan_queries.request_times(client, plan["pace"])]
                # a slot within rounding of the stop may fall either side of it
                near_stop = T0 + client.stop - 1e-6
                assert [t for t in times if t < near_stop] == pytest.approx(
                    [t for t in expected if t < near_stop], abs=1e-6)
                assert clock.now == pytest.approx(T0 + client.stop)
                assert pacer.overruns == 0
    assert seen == set(range(clients))


def test_class_picker_is_deterministic_and_weighted():
    picker = ClassPicker([("A", 3, 0), ("B", 1, 0)])
    picks = [picker.pick(k) for k in range(1000)]
    assert picks == [ClassPicker([("A", 3, 0), ("B", 1, 0)]).pick(k) for k in range(1000)]
    assert abs(picks.count("A") - 750) <= 3
    # any run of consecutive ids is spread by weight too
    assert abs(picks[:40].count("A") - 30) <= 2


def test_class_picker_fixed_count_first():
    picker = ClassPicker([("Admin", 1, 2), ("Shopper", 1, 0)])
    assert [picker.pick(k) for k in range(4)] == ["Admin", "Admin", "Shopper", "Shopper"]


def test_next_tick_is_the_next_half_second_after_t0():
    assert next_tick(T0, T0 - 0.7) == T0 - 0.5
    assert next_tick(T0, T0 + 0.5) == T0 + 1.5
    assert next_tick(T0, T0 + 3.2) == T0 + 3.5
    assert math.isclose(next_tick(T0, T0 + 3.6), T0 + 4.5)


def test_user_objects_are_prepared_ahead_of_their_slot():
    clock = FakeClock(T0 - 1.0)
    clients = [plan_queries.Client(k, k * 0.5, 0.0, 10.0) for k in range(3)]
    events = []
    run_starts(clients, T0, clock, lambda c, late: events.append(("start", c.client_id, clock.now)),
               prepare=lambda c: events.append(("prepare", c.client_id, clock.now)), lead=0.05)
    assert events == [("prepare", 0, T0 - 0.05), ("start", 0, T0), ("prepare", 1, T0 + 0.45),
                      ("start", 1, T0 + 0.5), ("prepare", 2, T0 + 0.95), ("start", 2, T0 + 1.0)]


def test_a_slot_exactly_at_the_start_is_kept_despite_epoch_rounding():
    # start 1.8 == phase 1.8; T0 + 1.8 is not exact in floats
    client = plan_queries.Client(client_id=14, start=1.8000000000000003, phase=1.8, stop=4.1)
    times = simulate(client, pace=2.2)[0]
    assert times == pytest.approx([T0 + 1.8, T0 + 4.0], abs=1e-6)
    assert len(times) == len(list(plan_queries.request_times(client, 2.2)))


def test_a_start_a_few_ms_late_keeps_the_planned_slots():
    client = plan_queries.Client(client_id=1, start=0.0, phase=0.5, stop=3.0)
    times, pacer = simulate(client, pace=1.0, begin=T0 + 0.004)[:2]
    assert times == pytest.approx([T0 + 0.5, T0 + 1.5, T0 + 2.5])
    assert pacer.overruns == 0


def test_an_iteration_is_counted_when_it_ran_not_when_its_slot_was_handed_out():
    client = plan_queries.Client(client_id=0, start=0.5, phase=0.4, stop=50.0)
    clock = FakeClock(T0 + client.start)
    pacer = Pacer(T0, client, 1.0)
    pacer.begin(clock.now)
    tally = SimpleNamespace(iterations=0)
    wait = PacedWait(pacer, clock, Stop, None, tally)
    clock.sleep_until(clock.now + wait())  # the first slot, 1.4
    clock.now += 0.1  # the task
    clock.sleep_until(clock.now + wait())  # the second slot handed out (2.4): the first iteration counted
    assert tally.iterations == 1
    clock.now += 0.1
    wait()  # the third slot (3.4) handed out; the run is aborted while the client waits for it
    wait.finish(T0 + 2.9)
    assert tally.iterations == 2  # the iteration of 3.4 never ran
    wait.finish(T0 + 10.0)
    assert tally.iterations == 2  # idempotent


def test_a_client_ended_inside_its_task_counts_that_iteration():
    client = plan_queries.Client(client_id=0, start=0.5, phase=0.4, stop=50.0)
    clock = FakeClock(T0 + client.start)
    pacer = Pacer(T0, client, 1.0)
    pacer.begin(clock.now)
    tally = SimpleNamespace(iterations=0)
    wait = PacedWait(pacer, clock, Stop, None, tally)
    clock.sleep_until(clock.now + wait())  # 1.4: the task begins and is still running at the end
    wait.finish(T0 + 1.6)
    assert tally.iterations == 1


def test_a_client_that_stops_itself_is_told_apart_from_one_at_its_planned_stop():
    """What names clients that raised StopUser: the wait's iterations run, and no planned stop yet."""
    client = plan_queries.Client(client_id=0, start=0.5, phase=0.4, stop=50.0)
    clock = FakeClock(T0 + client.start)
    pacer = Pacer(T0, client, 1.0)
    pacer.begin(clock.now)
    wait = PacedWait(pacer, clock, Stop, None, SimpleNamespace(iterations=0))
    for _round in range(4):
        clock.sleep_until(clock.now + wait())
        clock.now += 0.1
    wait.finish(clock.now)  # the user ended after its fourth task (its own StopUser)
    assert (wait.ran, wait.stopped) == (4, False)


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=T0, max_value=T0 + 86_400 * 365))
def test_a_wake_up_on_the_grid_is_never_early_and_at_most_one_grid_step_late(when):
    woken = on_grid(when)
    assert when <= woken <= when + WAKE_GRID
    assert on_grid(woken) == woken  # a grid point stays where it is: clients due in one step wake together


def test_slots_in_one_grid_step_wake_together_and_the_next_step_apart():
    step = math.ceil(T0 / WAKE_GRID) * WAKE_GRID
    assert on_grid(step - WAKE_GRID * 0.9) == on_grid(step - WAKE_GRID * 0.1) == on_grid(step) == step
    assert on_grid(step + WAKE_GRID * 0.1) == pytest.approx(step + WAKE_GRID)
