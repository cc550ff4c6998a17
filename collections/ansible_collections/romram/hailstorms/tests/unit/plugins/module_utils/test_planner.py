"""Unit and property tests of the planner (pure Python): the lattice, the ramps, the core cycle, the
request counts. The settings: test_run_settings.py; what a load host reads: test_plan_queries.py."""
from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, planner, run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

TARGET = "http://127.0.0.1:3456"


def plan_for(clients, rps, rampup, hosts, constant=0.0, rampdown=None):
    settings = run_settings.resolve_settings(
        {"default": {"target": TARGET, "rps": rps, "clients": clients, "rampup": rampup,
                     "constant": constant, "rampdown": rampdown}})[0]
    return planner.make_plan(settings, hosts)


def all_clients(plan):
    return sorted((c for host in plan["hosts"].values() for core in host["cores"]
                   for c in plan_queries.core_clients(plan, core)), key=lambda c: c.client_id)


def where(plan):
    """client_id -> (host index, core index)."""
    return {c.client_id: (host["index"], core["index"]) for host in plan["hosts"].values()
            for core in host["cores"] for c in plan_queries.core_clients(plan, core)}


hosts_strategy = st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=5).map(
    lambda cores: [(f"h{i}", c) for i, c in enumerate(cores)])


@st.composite
def plans(draw):
    hosts = draw(hosts_strategy)
    total = sum(c for _name, c in hosts)
    clients = draw(st.integers(min_value=total, max_value=total * 40 + 50))
    rps = clients / draw(st.sampled_from([0.5, 1.0, 2.0, 2.5, 4.0]))
    rampup = draw(st.sampled_from([5.0, 10.0, 20.0, 60.0, 180.0]))
    constant = draw(st.sampled_from([0.0, 10.0, 30.0]))
    rampdown = draw(st.sampled_from([0.0, 5.0, 20.0]))
    return plan_for(clients, rps, rampup, hosts, constant, rampdown)


# --- the seed example -------------------------------------------------------------------------

def test_seed_example_reproduces_the_original_spacing():
    plan = plan_for(181, 20, "3m", [("slave1", 7), ("slave2", 7)])
    a, b = plan["hosts"]["slave1"], plan["hosts"]["slave2"]
    assert sorted([a["clients"], b["clients"]]) == [90, 91]
    counts = Counter(core["clients"] for host in (a, b) for core in host["cores"])
    assert counts == {13: 13, 12: 1}
    assert b["cores"][0]["first_start"] - a["cores"][0]["first_start"] == pytest.approx(0.9945, abs=1e-3)
    assert a["cores"][1]["first_start"] - a["cores"][0]["first_start"] == pytest.approx(1.989, abs=1e-3)
    assert a["cores"][0]["start_step"] == pytest.approx(13.92, abs=1e-2)
    assert plan["pace"] == pytest.approx(9.05)
    assert plan["duration"] == 360


# --- properties -------------------------------------------------------------------------------

@hsettings(max_examples=60, deadline=None)
@given(plans())
def test_every_client_planned_once_and_cores_balanced(plan):
    ids = [c.client_id for c in all_clients(plan)]
    assert ids == list(range(plan["clients"]))
    counts = [core["clients"] for host in plan["hosts"].values() for core in host["cores"]]
    assert max(counts) - min(counts) <= 1


@hsettings(max_examples=60, deadline=None)
@given(plans())
def test_starts_evenly_spaced_and_each_core_evenly_spaced(plan):
    clients = all_clients(plan)
    for k, client in enumerate(clients):
        assert client.start == pytest.approx((k + 0.5) * plan["gap"])  # the middle of its share
    for host in plan["hosts"].values():
        for core in host["cores"]:
            starts = [c.start for c in plan_queries.core_clients(plan, core)]
            steps = {round(b - a, 9) for a, b in zip(starts, starts[1:])}
            assert len(steps) <= 1


@hsettings(max_examples=60, deadline=None)
@given(hosts_strategy, st.integers(min_value=1, max_value=8))
def test_cores_interleaved_across_hosts(hosts, rounds):
    total = sum(c for _name, c in hosts)
    plan = plan_for(total * rounds, total * rounds, 10, hosts)
    placed = where(plan)
    # every core gets its share, and each host's share follows its core count within one client
    per_host = Counter(h for h, _core in placed.values())
    for index, (_name, cores) in enumerate(hosts):
        assert per_host[index] == cores * rounds
    if len({c for _name, c in hosts}) == 1 and len(hosts) > 1:
        # equal hosts: consecutive clients always go to different hosts, host 0 core 0, host 1 core 0, ...
        for k in range(len(placed) - 1):
            assert placed[k][0] != placed[k + 1][0]
        assert placed[1] == (1, 0)


@hsettings(max_examples=60, deadline=None)
@given(plans())
def test_constant_phase_arrivals_form_the_lattice(plan):
    """With every client active, arrivals are exactly 1/rps apart (within float noise)."""
    pace, clients = plan["pace"], all_clients(plan)
    phases = sorted(c.phase for c in clients)
    expected = [i * pace / plan["clients"] for i in range(plan["clients"])]
    assert phases == pytest.approx(expected, abs=1e-9)
    # the same seen through the request times of one full pace after everyone is paced
    window_start = plan["rampup"] + 1.5 * pace
    if plan["rampup"] + plan["constant"] >= window_start + pace:
        times = sorted(t for c in clients for t in plan_queries.request_times(c, pace)
                       if window_start <= t < window_start + pace)
        assert len(times) == plan["clients"]
        gaps = [b - a for a, b in zip(times, times[1:])] or [pace]
        assert max(gaps) == pytest.approx(1 / plan["rps"], abs=1e-6)
        assert min(gaps) == pytest.approx(1 / plan["rps"], abs=1e-6)


@hsettings(max_examples=60, deadline=None)
@given(plans())
def test_any_prefix_of_clients_is_spread_over_the_pace(plan):
    """Three-gap property: the largest hole in any prefix of phases is at most 3x the mean."""
    pace, clients = plan["pace"], all_clients(plan)
    for m in sorted({2, 3, 5, len(clients) // 3, len(clients) // 2, len(clients)}):
        if not 2 <= m <= len(clients):
            continue
        phases = sorted(c.phase for c in clients[:m])
        holes = [b - a for a, b in zip(phases, phases[1:])] + [phases[0] + pace - phases[-1]]
        assert max(holes) <= 3.0 * pace / m + 1e-9


@hsettings(max_examples=60, deadline=None)
@given(plans())
def test_stops_on_a_straight_line_last_started_first(plan):
    clients = all_clients(plan)
    ramp_end = plan["rampup"] + plan["constant"]
    for client in clients:
        assert client.stop == pytest.approx(ramp_end + (plan["clients"] - client.client_id - 0.5) * plan["stop_gap"])
        assert client.stop > client.start
    assert max(c.stop for c in clients) == pytest.approx(plan["duration"] - plan["stop_gap"] / 2)


@hsettings(max_examples=40, deadline=None)
@given(plans(), st.floats(min_value=0, max_value=1))
def test_active_clients_matches_the_client_windows(plan, fraction):
    offset = fraction * plan["duration"] * 1.0000001
    expected = sum(1 for c in all_clients(plan) if c.start <= offset + 1e-9 and offset < c.stop - 1e-9)
    assert abs(planner.active_clients(plan, offset) - expected) <= 1


def test_naive_pacing_bursts_but_the_plan_does_not():
    """ramp 20 s, 200 clients, 100 rps: pacing from the start slot fires 10 at once."""
    plan = plan_for(200, 100, 20, [("a", 2), ("b", 2)], constant=20)
    clients, pace = all_clients(plan), plan["pace"]
    window = (25.0, 35.0)
    naive = Counter(round((c.start + n * pace) % 10, 6) for c in clients for n in range(20)
                    if window[0] <= c.start + n * pace < window[1])
    assert max(naive.values()) >= 10
    bins = Counter(math.floor(t * 10) for c in clients for t in plan_queries.request_times(c, pace)
                   if window[0] <= t < window[1])
    assert set(bins.values()) == {10}  # 100 rps in 100 ms bins: exactly 10 in every bin


def test_ramp_rate_rises_smoothly_at_100ms():
    plan = plan_for(600, 100, 60, [("a", 3), ("b", 3)], constant=10)
    clients, pace = all_clients(plan), plan["pace"]
    bins = Counter(math.floor(t * 10) for c in clients for t in plan_queries.request_times(c, pace) if t < 60)
    deviations = []
    for b in range(100, 600):  # from 10 s: compare every 100 ms bin with the line rps t / rampup
        planned = plan["rps"] * (b + 0.5) / 10 / plan["rampup"] / 10
        deviations.append(bins[b] - planned)
    # each active client adds 1 / pace from its start: the bins sit on the line, no bin strays
    # more than 2 requests from it (a 100 ms bin holds 1.7 to 10 requests here)
    mean = sum(deviations) / len(deviations)
    assert abs(mean) < 0.1
    assert max(abs(d) for d in deviations) <= 2.0


def test_the_phase_pair_search_keeps_the_closest_pair_and_the_first_of_equals():
    """One search for the trapezoid's ramps and a staged plan's curve: the mean square error of
    each side (empty sides ignored, more than two scaled to two) plus a quarter of the worst
    second's square; a plan that affords fewer than two pairs is not searched."""
    sides = {(1, 0): [[1.0, -1.0], []], (2, 0): [[0.5, 0.5]], (3, 0): [[0.5], [-0.5]], (4, 0): [[2.0]]}
    assert planner._closest_pair(list(sides), sides.__getitem__) == (2, 0)  # 0.25 + 0.0625 against 1.25, 0.5625, 5
    three = {(1, 0): [[1.0], [1.0], [1.0]], (2, 0): [[1.0], [1.0]]}  # scaled to two sides: equal, the first wins
    assert planner._closest_pair(list(three), three.__getitem__) == (1, 0)
    assert len(planner._phase_pairs(1000, list(range(1, 20)), 1.0)) == planner.PHASE_MULTIPLIERS * planner.PHASE_OFFSETS
    assert planner._phase_pairs(1000, list(range(1, 20)), planner.PHASE_SCORING_BUDGET / 1.5) == []


def ramp_line_bounds(rps):
    """What issue 7 asks of every plan with at least 10 clients per second of ramp-up: each whole
    second of the ramp within max(2 requests, 2 % of rps) of the line, and an RMS over the ramp
    of at most 1 % of rps. A second holds a whole number of requests and the line rarely does:
    below 50 rps a whole request is 2 % of rps, so there the RMS may reach 1 request."""
    return max(2.0, 0.02 * rps) + 1e-9, max(0.01 * rps, 1.0) + 1e-9


def measured_ramp_errors(plan):
    """Planned requests per whole second of the ramp-up (from the shared start) and of the
    ramp-down (from its start), minus the straight line, counted from every client's request
    times (not from planner.ramp_errors, which the planner itself uses to choose its phases)."""
    rps, rampup, rampdown = plan["rps"], plan["rampup"], plan["rampdown"]
    ramp_end = rampup + plan["constant"]
    up, down = Counter(), Counter()
    for client in all_clients(plan):
        for t in plan_queries.request_times(client, plan["pace"]):
            if t < int(rampup):
                up[math.floor(t)] += 1
            if ramp_end <= t < ramp_end + int(rampdown):
                down[math.floor(t - ramp_end)] += 1
    return ([up[i] - rps * (i + 0.5) / rampup for i in range(int(rampup))],
            [down[i] - rps * (1 - (i + 0.5) / rampdown) for i in range(int(rampdown))])


def rms(errors):
    return math.sqrt(sum(e * e for e in errors) / len(errors))


@pytest.mark.parametrize("clients, rps, rampup", [(200, 100, 20), (1000, 100, 10), (6000, 1000, 60)])
def test_the_issue_plans_ramp_on_the_straight_line(clients, rps, rampup):
    """The three plans measured before the schedule changed (RMS 5.5 %, 64.5 %, 5.2 % of rps)."""
    plan = plan_for(clients, rps, rampup, [("a", 2), ("b", 3)], constant=5)
    worst_bound, rms_bound = ramp_line_bounds(rps)
    for errors in measured_ramp_errors(plan):
        assert max(abs(e) for e in errors) <= worst_bound
        assert rms(errors) <= 0.01 * rps


@st.composite
def ramp_plans(draw):
    """Plans with at least 10 clients per second of ramp-up, paces from 0.2 s to past the ramp."""
    hosts = draw(hosts_strategy)
    rampup = draw(st.integers(min_value=1, max_value=40))
    pace = draw(st.sampled_from([0.2, 0.5, 1.0, 1.3, 2.0, 3.7, 5.0, 10.0, 20.0, 60.0]))
    clients = draw(st.integers(min_value=max(10 * rampup, sum(c for _n, c in hosts), math.ceil(pace * 10)),
                               max_value=max(10 * rampup, 20_000)))
    clients = min(clients, int(pace * 3000))  # at most 3,000 rps: the test walks every request
    if clients < max(10 * rampup, sum(c for _n, c in hosts)):
        clients = max(10 * rampup, sum(c for _n, c in hosts))
    rampdown = draw(st.sampled_from([1, 5, rampup]))
    return plan_for(clients, clients / pace, rampup, hosts, constant=draw(st.sampled_from([0, 3])),
                    rampdown=rampdown)


@hsettings(max_examples=80, deadline=None)
@given(ramp_plans())
def test_requests_per_second_follow_the_straight_line_on_both_ramps(plan):
    worst_bound, rms_bound = ramp_line_bounds(plan["rps"])
    up, down = measured_ramp_errors(plan)
    for errors in (up, down):
        if errors and plan["clients"] / max(plan["rampup"], 1) >= 10:
            assert max(abs(e) for e in errors) <= worst_bound, errors
            # the RMS bound is over a ramp of seconds; a one-second ramp's RMS is its one error,
            # which the bound of each second holds (hypothesis found a 1 s ramp-down at 16.7 rps:
            # 7 requests where the line has 8.33)
            if len(errors) > 1:
                assert rms(errors) <= rms_bound, errors


@hsettings(max_examples=40, deadline=None)
@given(ramp_plans())
def test_every_request_lies_on_the_arrival_lattice(plan):
    step = 1 / plan["rps"]
    for client in all_clients(plan)[:200]:
        for t in plan_queries.request_times(client, plan["pace"]):
            assert client.start - 1e-6 <= t < client.stop
            assert abs(t / step - round(t / step)) < 1e-6


def test_a_big_plan_is_no_bigger_than_a_small_one_on_the_same_cores():
    """The plan describes each core arithmetically: its size follows the cores, not the clients.
    (How long planning takes is a figure of benchmarks/planning.py.)"""
    hosts = [(f"load{i:04d}", 64) for i in range(1000)]
    ramps = {"pace": 10, "rampup": 600, "constant": 600, "rampdown": 600}
    plan = planner.make_plan({"clients": 1_000_000, "rps": 100_000, **ramps}, hosts)
    small = planner.make_plan({"clients": 64_000, "rps": 6_400, **ramps}, hosts)  # one client per core
    assert sum(h["clients"] for h in plan["hosts"].values()) == 1_000_000
    assert plan["expected_requests"] == 1_000_000 * 120  # each client lives 1200 s at a pace of 10 s
    # 15.6 times the clients, the same cores: a few more digits per number (1.02 times the bytes)
    assert len(json.dumps(plan)) < 1.05 * len(json.dumps(small))
    one = plan_queries.host_slice(plan, "load0500")
    assert len(one["cores"]) == 64 and one["host_index"] == 500


def test_unequal_hosts_share_by_core_count():
    plan = plan_for(600, 100, 30, [("big", 4), ("small", 2)])
    assert plan["hosts"]["big"]["clients"] == 400
    assert plan["hosts"]["small"]["clients"] == 200
    cycle = [where(plan)[k][0] for k in range(6)]
    assert cycle.count(1) == 2 and cycle[0] == 0 and cycle[1] == 1


def test_fewer_clients_than_cores_is_refused_with_the_numbers():
    settings = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 5, "rampup": 5}})[0]
    with pytest.raises(PlanError, match=r"5 clients cannot keep 14 usable cores busy .* at least 14 clients"):
        planner.make_plan(settings, [("a", 7), ("b", 7)])


def test_no_hosts_and_bad_core_counts_are_refused():
    settings = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 5, "rampup": 5}})[0]
    with pytest.raises(PlanError, match="no load hosts"):
        planner.make_plan(settings, [])
    with pytest.raises(PlanError, match="hailstorm_cores on a"):
        planner.make_plan(settings, [("a", 0)])


@hsettings(max_examples=60, deadline=None)
@given(plans())
def test_expected_requests_counts_what_the_clients_send(plan):
    for host in plan["hosts"].values():
        for core in host["cores"]:
            sent = sum(len(list(plan_queries.request_times(c, plan["pace"])))
                       for c in plan_queries.core_clients(plan, core))
            assert core["requests"] == sent
        assert host["requests"] == sum(core["requests"] for core in host["cores"])
    assert plan["expected_requests"] == sum(host["requests"] for host in plan["hosts"].values())
    # each client sends its active seconds / pace requests, give or take less than 1
    clients = all_clients(plan)
    model = sum(c.stop - c.start for c in clients) / plan["pace"]
    assert abs(plan["expected_requests"] - model) < len(clients)


def test_expected_requests_are_exact_when_rampup_resonates_with_the_phases():
    # rampup / pace = 24: CI once found the request count 2 % off an average model on this plan
    plan = plan_for(122, 48.8, 60, [("h0", 1), ("h1", 1)], constant=0, rampdown=0)
    sent = sum(len(list(plan_queries.request_times(c, plan["pace"]))) for c in all_clients(plan))
    assert sent == plan["expected_requests"]
    assert abs(sent - 48.8 * 60 / 2) <= 0.01 * 48.8 * 60 / 2  # the ramp-up triangle: rps x rampup / 2
