"""Unit tests of what a load host reads from a plan (plan_queries.py): its slice, each client's
first slot and request times. The staged plans' intervals, arrivals and stage windows:
test_stages.py."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, planner
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import Client, PlanError

TRAPEZOID = {"clients": 12, "rps": 6.0, "pace": 2.0, "rampup": 6.0, "constant": 4.0, "rampdown": 3.0}


def test_first_slot_is_the_first_lattice_slot_at_or_after_the_start():
    for start, phase, expected in [(0.0, 0.0, 0.0), (0.3, 0.2, 1.2), (5.0, 0.99, 5.99), (2.0, 0.5, 2.5),
                                   (0.7000000000000001, 0.7, 0.7)]:
        slot = plan_queries.first_slot(start, phase, 1.0)
        assert slot == pytest.approx(expected)
        assert start - 1e-9 <= slot < start + 1.0


def test_request_times_are_the_lattice_slots_from_the_start_to_the_stop():
    assert list(plan_queries.request_times(Client(0, 0.3, 0.2, 4.0), 1.0)) == pytest.approx([1.2, 2.2, 3.2])
    assert list(plan_queries.request_times(Client(0, 0.3, 0.2, 1.2), 1.0)) == []  # its first slot is its stop
    assert list(plan_queries.request_times(Client(0, 2.0, 0.5, 2.0), 1.0)) == []  # never active


def test_a_host_slice_holds_the_global_figures_and_only_its_own_cores():
    plan = planner.make_plan(TRAPEZOID, [("a", 2), ("b", 1)])
    one = plan_queries.host_slice(plan, "b")
    assert (one["host"], one["host_index"], one["hosts"]) == ("b", 1, 2)
    assert one["cores"] == plan["hosts"]["b"]["cores"] and "hosts" not in one["plan"]
    assert one["plan"]["expected_requests"] == plan["expected_requests"]
    clients = [c.client_id for core in one["cores"] for c in plan_queries.core_clients(one["plan"], core)]
    assert clients == list(range(one["cores"][0]["first_client"], 12, 3))  # every third client: b's one core


def test_a_host_not_in_the_plan_is_refused_naming_the_planned_hosts():
    plan = planner.make_plan(TRAPEZOID, [("a", 2), ("b", 1)])
    with pytest.raises(PlanError, match="host 'c' is not in the plan; planned hosts: a, b"):
        plan_queries.host_slice(plan, "c")


def test_arrivals_are_every_slot_of_every_interval_in_time_order_whatever_the_window():
    import random

    rng = random.Random(29)
    for _trial in range(200):
        pace = rng.choice([0.013, 0.5, 1.0, 1.7, 60.0])
        intervals = []
        for _round in range(rng.randint(0, 30)):
            start = rng.uniform(-1.0, 20.0)
            intervals.append(Client(rng.randint(0, 20), start, rng.uniform(0.0, pace), start + rng.uniform(-1.0, 30.0)))
        union = sorted((t, c.client_id) for c in intervals for t in plan_queries.request_times(c, pace))
        for window in (0.1, 0.37, 5.0):
            assert list(plan_queries.arrivals(intervals, pace, window)) == union


def test_arrivals_are_gathered_a_window_at_a_time_so_a_week_of_clients_starts_at_once():
    import itertools

    # 3,000 clients for a week at a pace of 1 s: 1.8 billion arrivals, which only a lazy union can start
    week = plan_queries.MAX_DURATION
    intervals = [Client(k, k / 3000, (k * plan_queries.GOLDEN) % 1.0, week) for k in range(3000)]
    first = list(itertools.islice(plan_queries.arrivals(intervals, 1.0), 6000))
    assert first == sorted(first) and first[0][0] >= 0.0 and first[-1][0] < 3.0
    assert len({k for _t, k in first}) == 3000
