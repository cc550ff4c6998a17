# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load planner: run settings in, one exact plan out.

Pure Python (no Ansible, no Locust): the filter plugin exposes it to playbooks. The run's
settings come from run_settings.py; what a load host reads from the plan (its slice, each core's
clients and their request slots) is in plan_queries.py, and plan_preview.py draws the plan for a
person. planner.py is shipped to the load hosts too (the runtime's calibration plans one core).

Vocabulary (one name for one idea):
  U clients, rps R, pace P = U / R (one request per client every P seconds),
  gap g = rampup / U (between two consecutive client starts), stop gap d = rampdown / U,
  D = rampup + constant (start of the ramp-down), duration = D + rampdown.

Client k (0-based, in start order):
  start  s_k = (k + 1/2) g                  the middle of the client's share of the ramp-up:
                                            the active clients, round(t / g), rise on the
                                            straight line t / g with no bias
  phase  phi_k = ((k a + b) mod U) P / U    a coprime to U, a / U near the golden ratio:
                                            any prefix of clients is spread evenly over the
                                            pace, and all U together form the arrival
                                            lattice, one request every 1 / R seconds; among
                                            such a and offsets b, the pair whose planned
                                            ramps are closest to the straight line
  stop   e_k = D + (U - k - 1/2) d          last started stops first: the clients still
                                            active are always a prefix of the start order,
                                            so they stay evenly spread while they fall
  requests: at phi_k + n P for every n with s_k <= phi_k + n P < e_k. The client becomes active
            at s_k (its on_start runs there) and sends its first task request at its first slot
            on the lattice; as each active client adds 1 / P to the rate from its start, the
            request rate at the target rises on the straight line R t / rampup (and falls on one
            in the ramp-down), and every request of the run lies on the lattice 1 / R apart.

Cores of all hosts form one cycle of C slots (interleaved, weighted by each host's core
count); client k runs on slot k mod C, so every core's clients are C g apart.

A run with stages (any piecewise-linear rate from 0) keeps U, P, the phases and the cycle, and
makes client k active wherever A(t) = rate(t) x P >= k + 1/2: see "stages" below.
"""
from __future__ import annotations

import bisect
import itertools
import math
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from .plan_queries import (GOLDEN, PlanError, Segment, active_prefix, crossing, curve_segments, curve_stages,
                           plan_segments, summed_stages, transitions)


def _largest_partial_quotient(numerator: int, denominator: int) -> int:
    worst = 0
    while numerator:
        quotient, remainder = divmod(denominator, numerator)
        worst = max(worst, quotient)
        denominator, numerator = numerator, remainder
    return worst


# Candidates of the phase multiplier and offset scored by their planned ramps, and the work spent
# on it: scoring one pair walks every planned request of both ramps (about rps x ramps / 2).
PHASE_MULTIPLIERS = 12
PHASE_OFFSETS = 8
PHASE_SCORING_BUDGET = 400_000


class Ramps(NamedTuple):
    """What the straight ramps of a plan depend on, besides the number of clients."""

    pace: float
    rampup: float
    constant: float
    rampdown: float


def _ranked_multipliers(clients: int) -> list[int]:
    """Multipliers a coprime to U near U x golden ratio, best first by the largest partial
    quotient of a / U (small ones bound the largest hole between the phases of any prefix of
    clients: three-gap theorem), keeping those at most one above the best (a larger one leaves
    holes between phases: bursts at 100 ms)."""
    if clients <= 2:
        return [1 if clients == 2 else 0]
    base = round(clients * GOLDEN)
    ranked: set[tuple[tuple[int, int], int]] = set()
    for delta in range(min(clients, 200)):
        for candidate in (base + delta, base - delta):
            if 0 < candidate < clients and math.gcd(candidate, clients) == 1:
                ranked.add(((_largest_partial_quotient(candidate, clients), delta), candidate))
    if not ranked:
        return [1]
    ordered = sorted(ranked)
    worst_kept = ordered[0][0][0] + 1
    return [candidate for (quotient, _delta), candidate in ordered if quotient <= worst_kept]


def phase_multiplier(clients: int, ramps: Ramps | None = None) -> tuple[int, int]:
    """The multiplier a and offset b of the phase sequence (k a + b) mod U.

    Any such pair makes the U phases a permutation of the lattice (constant phase exact) and
    spreads any prefix of clients evenly (the offset only turns the circle). Given the plan's
    `ramps`, the pairs of the best-ranked multipliers and a few offsets are scored by their
    planned ramps (`ramp_errors`: requests per whole second against the straight line) and the
    closest wins: this avoids the pairs that resonate with rampup / pace (a systematic error of
    several requests per second), which matters most for small plans. Plans whose ramps hold too
    many requests to score keep the best-ranked multiplier and offset 0: their errors are a far
    smaller share of their rate.
    """
    candidates = _ranked_multipliers(clients)
    if ramps is None or clients <= 2:
        return candidates[0], 0
    rps = clients / ramps.pace
    pairs = _phase_pairs(clients, candidates, clients + rps * (int(ramps.rampup) + int(ramps.rampdown)) / 2 + 1)
    if not pairs:
        return candidates[0], 0
    return _closest_pair(pairs, lambda pair: ramp_errors(clients, ramps, *pair))


def _phase_pairs(clients: int, candidates: Sequence[int], work: float) -> list[tuple[int, int]]:
    """The (multiplier, offset) pairs the phase-pair search scores: the PHASE_MULTIPLIERS
    best-ranked `candidates` (`_ranked_multipliers`) with each of PHASE_OFFSETS offsets evenly
    spread over the circle, as many as PHASE_SCORING_BUDGET affords when scoring one pair walks
    `work` requests; none when it affords fewer than two (the plan keeps the best-ranked
    multiplier and offset 0)."""
    offsets = sorted({round(i * clients / min(clients, PHASE_OFFSETS)) % clients
                      for i in range(min(clients, PHASE_OFFSETS))})
    pairs = [(a, b) for b in offsets for a in candidates[:PHASE_MULTIPLIERS]]
    pairs = pairs[:int(PHASE_SCORING_BUDGET // work)]
    return pairs if len(pairs) >= 2 else []


def _closest_pair(pairs: Sequence[tuple[int, int]],
                  errors: Callable[[tuple[int, int]], Sequence[Sequence[float]]]) -> tuple[int, int]:
    """The pair whose planned requests are closest to the line or curve: `errors(pair)` gives the
    planned requests minus the line per whole second of each side (a ramp, or a part of the curve);
    the score is the mean square error of each side (a short side weighs as much as a long one),
    the sides' sum scaled to two sides when there are more, plus a quarter of the worst second's
    square. The first of equal scores wins (the pairs' order)."""
    def score(pair: tuple[int, int]) -> float:
        sides = [side for side in errors(pair) if side]
        if not sides:
            return 0.0
        return (sum(sum(e * e for e in side) / len(side) for side in sides) * min(2, len(sides)) / len(sides)
                + max(abs(e) for side in sides for e in side) ** 2 / 4)

    return min(pairs, key=score)


def ramp_errors(clients: int, ramps: Ramps, multiplier: int, offset: int = 0) -> tuple[list[float], list[float]]:
    """Planned requests minus the straight line, per whole second of the ramp-up (seconds from the
    shared start: the line is rps (i + 0.5) / rampup) and of the ramp-down (seconds from its
    start D: rps (1 - (i + 0.5) / rampdown)). Walks every request of both ramps."""
    pace, rampup, rampdown = ramps.pace, ramps.rampup, ramps.rampdown
    rps = clients / pace
    unit = pace / clients
    gap = rampup / clients
    ceil = math.ceil
    up = [0] * int(rampup)
    end_up = len(up)
    for k in range(clients):
        start = (k + 0.5) * gap
        if start >= end_up:
            break
        phase = ((k * multiplier + offset) % clients) * unit
        t = phase + ceil((start - phase) / pace - 1e-9) * pace
        while t < end_up:
            up[int(t)] += 1
            t += pace
    down = [0] * int(rampdown)
    ramp_end = rampup + ramps.constant
    stop_gap = rampdown / clients
    end_down = ramp_end + len(down)
    if down:
        for k in range(clients):
            stop = min(ramp_end + (clients - k - 0.5) * stop_gap, end_down)
            phase = ((k * multiplier + offset) % clients) * unit
            begin = max(ramp_end, (k + 0.5) * gap)
            t = phase + ceil((begin - phase) / pace - 1e-9) * pace
            while t < stop:
                down[int(t - ramp_end)] += 1
                t += pace
    return ([count - rps * (i + 0.5) / rampup for i, count in enumerate(up)],
            [count - rps * (1 - (i + 0.5) / rampdown) for i, count in enumerate(down)])


def core_cycle(hosts: Sequence[tuple[str, int]]) -> list[tuple[int, int]]:
    """Order all (host_index, core) pairs so that hosts alternate, weighted by core count."""
    pairs = [(h, c) for h, (_name, cores) in enumerate(hosts) for c in range(cores)]
    return sorted(pairs, key=lambda hc: ((hc[1] + 0.5) / hosts[hc[0]][1], hc[0]))


def make_plan(settings: Mapping[str, Any], hosts: Sequence[tuple[str, int]] | Mapping[str, int]) -> dict[str, Any]:
    """The whole plan: global figures plus, per host, an arithmetic description of each core.

    `hosts` is a sequence of (inventory hostname, usable cores) in inventory order (or a mapping
    in that order). O(cores) time and size, whatever the number of clients.
    """
    host_list = list(hosts.items()) if isinstance(hosts, Mapping) else [tuple(h) for h in hosts]
    if not host_list:
        raise PlanError("no load hosts: put at least one host in the inventory group load_hosts")
    for name, cores in host_list:
        if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
            raise PlanError(f"hailstorm_cores on {name}: must be a whole number >= 1, got {cores!r}")
    if settings.get("scenarios"):  # several curves: a plan per scenario over the same cores
        return _scenario_plan(settings, host_list)
    clients = int(settings["clients"])
    rps = float(settings["rps"])
    pace = float(settings["pace"])
    total_cores = sum(cores for _name, cores in host_list)
    if clients < total_cores:
        raise PlanError(
            f"hailstorm_clients: {clients} clients cannot keep {total_cores} usable cores busy "
            f"({', '.join(f'{n}: {c}' for n, c in host_list)}); raise hailstorm_rps or hailstorm_pace to reach "
            f"at least {total_cores} clients, or lower hailstorm_cores on the hosts so that at most {clients} "
            "cores are used in total"
        )
    if settings.get("model") == "open":  # the same slots, handed out as arrivals (runtime pool.py)
        closed = {key: value for key, value in settings.items() if key not in ("model", "max_clients")}
        return {**make_plan(closed, host_list), "model": "open", "max_clients": int(settings["max_clients"])}
    if settings.get("stages"):
        return _staged_plan(settings, host_list)
    rampup = float(settings["rampup"])
    constant = float(settings["constant"])
    rampdown = float(settings["rampdown"])
    gap = rampup / clients
    stop_gap = rampdown / clients
    ramp_end = rampup + constant
    multiplier, offset = phase_multiplier(clients, Ramps(pace, rampup, constant, rampdown))
    cycle = core_cycle(host_list)
    per_host: dict[str, dict[str, Any]] = {
        name: {"index": h, "cores": [None] * cores} for h, (name, cores) in enumerate(host_list)
    }
    for slot, (h, core) in enumerate(cycle):
        count = (clients - slot + total_cores - 1) // total_cores
        per_host[host_list[h][0]]["cores"][core] = {
            "index": core,
            "slot": slot,
            "clients": count,
            "first_client": slot,
            "client_step": total_cores,
            "first_start": (slot + 0.5) * gap,
            "start_step": total_cores * gap,
            "last_start": (slot + (count - 1) * total_cores + 0.5) * gap,
            "phase_first": (slot * multiplier + offset) % clients,
            "phase_step": (total_cores * multiplier) % clients,
            "first_stop": ramp_end + (clients - slot - 0.5) * stop_gap,
            "stop_step": -total_cores * stop_gap,
        }
    for host in per_host.values():
        for core in host["cores"]:
            core["requests"] = core_requests(clients, pace, core)
        host["clients"] = sum(core["clients"] for core in host["cores"])
        host["requests"] = sum(core["requests"] for core in host["cores"])
    return {
        "clients": clients,
        "rps": rps,
        "pace": pace,
        "gap": gap,
        "stop_gap": stop_gap,
        "rampup": rampup,
        "constant": constant,
        "rampdown": rampdown,
        "duration": ramp_end + rampdown,
        "expected_requests": sum(host["requests"] for host in per_host.values()),
        "phase_multiplier": multiplier,
        "phase_offset": offset,
        "cores_total": total_cores,
        "hosts": per_host,
    }


# --- the curve planner: a staged plan's phase pair and counts ----------------------------------
#
# The curve of active clients itself (Segment, transitions: which client is active when) is read by
# the load hosts too, so it is in plan_queries.py; what follows only plans.

def _staged_counts(segments: Sequence[Segment], clients: int, pace: float, multiplier: int, offset: int,
                   cycle: int) -> tuple[list[int], list[int]]:
    """Intervals and requests of each slot of the core cycle: what `core_intervals` and
    `request_times` give, summed per slot in one pass over the transitions (an interval's requests
    are counted at its stop, from the first slot after its start). The arithmetic is the one of
    `crossing` and `request_times`, inlined (this runs once per interval of the whole plan)."""
    unit = pace / clients
    ceil = math.ceil
    began = [0.0] * clients
    intervals = [0] * cycle
    requests = [0] * cycle
    for moment, starts, lo, hi, segment in transitions(segments, clients):
        if starts:
            if segment is None:
                began[lo:hi] = [moment] * (hi - lo)
            else:
                base, stop, level0 = segment.start, segment.stop, segment.at_start
                step = segment.duration / (segment.at_stop - segment.at_start)
                for k in range(lo, hi):
                    t = base + ((k + 0.5) - level0) * step
                    began[k] = base if t < base else stop if t > stop else t
            continue
        if segment is None:
            base = stop = level0 = step = 0.0
        else:
            base, stop, level0 = segment.start, segment.stop, segment.at_start
            step = segment.duration / (segment.at_start - segment.at_stop)
        for k in range(lo, hi):
            if segment is None:
                t = moment
            else:
                t = base + (level0 - (k + 0.5)) * step
                t = base if t < base else stop if t > stop else t
            start = began[k]
            if t > start:
                slot = k % cycle
                intervals[slot] += 1
                phase = ((k * multiplier + offset) % clients) * unit
                first = phase + ceil((start - phase) / pace - 1e-9) * pace
                paced = ceil((t - first) / pace - 1e-9)
                if paced > 0:
                    requests[slot] += paced
    return intervals, requests


def _all_intervals(segments: Sequence[Segment], clients: int) -> list[tuple[int, float, float]]:
    """(client, start, stop) of every interval of every client, in the order they start."""
    out: list[list[Any]] = []
    opened: dict[int, int] = {}
    for moment, starts, lo, hi, segment in transitions(segments, clients):
        for k in range(lo, hi):
            t = moment if segment is None else crossing(segment, k)
            if starts:
                opened[k] = len(out)
                out.append([k, t, t])
            else:
                out[opened.pop(k)][2] = t
    return [(k, start, stop) for k, start, stop in out if start < stop]


Window = tuple  # (base, expected requests per whole second from base on): one side's part


def _side_windows(clients: int, segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """The whole seconds [first, last) of each side the phase pair is scored on (`_sides`), without
    their lines: O(segments), whatever the curve's length."""
    windows: list[tuple[int, int]] = []
    taken = 0
    end = math.ceil(segments[-1].stop) if segments else 0
    for segment in segments:
        flat = segment.at_start == segment.at_stop
        if flat and active_prefix(segment.at_start, True, clients) in (0, clients):
            continue
        first, last = max(taken, int(segment.start)), min(end, math.ceil(segment.stop))
        if last > first:
            windows.append((first, last))
            taken = last
    return windows


def _sides(clients: int, pace: float, segments: Sequence[Segment],
           windows: Sequence[tuple[int, int]] | None = None) -> list[list[Window]]:
    """What the phase pair is scored on: the whole seconds of the run [i, i + 1) whose requests
    depend on the phases, against the curve's integral over each. A side per segment that is not
    flat at no client or at every client (the whole lattice): the seconds it touches that no
    earlier segment took (`_side_windows`). For the trapezoid with ramps of whole seconds these are
    the ramp-up's and the ramp-down's seconds, as `ramp_errors` scores them. A list per second of
    the sides: `curve_phase_pair` builds it only for sides of at most PHASE_SCORING_SECONDS."""
    windows = _side_windows(clients, segments) if windows is None else windows
    starts = [segment.start for segment in segments]
    return [[(float(first), [_second_mean(segments, pace, second, starts) for second in range(first, last)])]
            for first, last in windows]


def _second_mean(segments: Sequence[Segment], pace: float, second: int,
                 starts: Sequence[float] | None = None) -> float:
    """The curve's requests in the whole second [second, second + 1): inside one segment its rate
    at the middle of the second (written as `ramp_errors` writes its line), else the integral.
    `starts` (the segments' starts) finds the segment by bisection (O(log segments))."""
    starts = [segment.start for segment in segments] if starts is None else starts
    index = bisect.bisect_right(starts, second) - 1
    if index >= 0:
        segment = segments[index]
        if segment.start <= second and second + 1 <= segment.stop:
            low, high = sorted((segment.at_start / pace, segment.at_stop / pace))
            i = second - segment.start
            if segment.at_stop >= segment.at_start:
                return low + (high - low) * (i + 0.5) / segment.duration
            return low + (high - low) * (1 - (i + 0.5) / segment.duration)
    return _rate_integral(segments, pace, second, second + 1, starts)


def _rate_integral(segments: Sequence[Segment], pace: float, begin: float, end: float,
                   starts: Sequence[float] | None = None) -> float:
    """The requests the curve asks for in [begin, end): the integral of A(t) / pace, over the
    segments that overlap it (from the one `starts` places `begin` in, when given)."""
    total = 0.0
    first = max(0, bisect.bisect_right(starts, begin) - 1) if starts is not None else 0
    for segment in itertools.islice(segments, first, None):
        if segment.start >= end:
            break
        lo, hi = max(begin, segment.start), min(end, segment.stop)
        if hi > lo:
            slope = (segment.at_stop - segment.at_start) / segment.duration
            total += (2 * segment.at_start + slope * (lo + hi - 2 * segment.start)) / 2 * (hi - lo)
    return total / pace


def _window_parts(sides: Sequence[Sequence[Window]], intervals: Sequence[tuple[int, float, float]]
                  ) -> Iterator[tuple[int, float, list[tuple[int, float, float]]]]:
    """Per window (side by side, in time order): (its side's index, its base, the intervals that
    overlap it, in the intervals' order). One sweep: the windows follow each other in time and
    the intervals come in the order they start, so each interval is looked at once per window it
    overlaps, plus once: O(parts + intervals) time, and no more memory than the intervals that
    overlap one window (nothing else is kept from one window to the next)."""
    current: list[tuple[int, float, float]] = []
    i, count = 0, len(intervals)
    for index, side in enumerate(sides):
        for base, line in side:
            end = base + len(line)
            while i < count and intervals[i][1] < end:
                current.append(intervals[i])
                i += 1
            current = [interval for interval in current if interval[2] > base]
            yield index, base, current


def _window_part_count(sides: Sequence[Sequence[Window]], intervals: Sequence[tuple[int, float, float]],
                       limit: float = math.inf) -> float:
    """How many parts of intervals the windows hold (what one pair's score walks); the sweep stops
    as soon as there are more than `limit` (and returns math.inf)."""
    total = 0
    for _index, _base, current in _window_parts(sides, intervals):
        total += len(current)
        if total > limit:
            return math.inf
    return total


def _side_errors(clients: int, pace: float, sides: Sequence[Sequence[Window]],
                 intervals: Sequence[tuple[int, float, float]], multiplier: int, offset: int) -> list[list[float]]:
    """Planned requests minus the curve per second of each side, from the parts of the intervals
    inside each window (`_window_parts`)."""
    unit = pace / clients
    ceil = math.ceil
    out: list[list[float]] = [[] for _side in sides]
    windows = [window for side in sides for window in side]
    for (index, base, current), (_base, line) in zip(_window_parts(sides, intervals), windows):
        end = base + len(line)
        bins = [0] * len(line)
        for k, start, stop in current:
            begin, stop = max(base, start), min(stop, end)
            phase = ((k * multiplier + offset) % clients) * unit
            t = phase + ceil((begin - phase) / pace - 1e-9) * pace
            while t < stop:
                bins[int(t - base)] += 1
                t += pace
        out[index].extend(count - expected for count, expected in zip(bins, line))
    return out


def curve_errors(clients: int, pace: float, segments: Sequence[Segment], multiplier: int,
                 offset: int = 0) -> list[list[float]]:
    """Planned requests minus the curve per second of each side the phase pair is scored on
    (`_sides`)."""
    sides = _sides(clients, pace, segments)
    return _side_errors(clients, pace, sides, _all_intervals(segments, clients), multiplier, offset)


# Beyond the scoring budget (PHASE_SCORING_BUDGET: requests), a staged plan's phase pair is not
# scored either when its sides hold more whole seconds than this (a long curve at a low rate), or
# when its pairs would walk more parts of intervals than this (`_window_parts`): it keeps the
# best-ranked multiplier and offset 0, as a plan with too many requests to score does. Both
# bound the planning of any curve by the plan's size, not the curve's length.
# Parts cost about 1 to 3 µs each per pair (a second or two for the bound); the test curves of
# benchmarks/plan_identity.py walk at most 663,000 (96 pairs of 6,903), so they are all scored.
PHASE_SCORING_SECONDS = PHASE_SCORING_BUDGET
PHASE_SCORING_SPANS = 1_000_000


def _windows_requests(segments: Sequence[Segment], pace: float, windows: Sequence[tuple[int, int]]) -> float:
    """The curve's requests over the windows (the sum of their lines, to float rounding), from
    the segments alone: O(windows + segments)."""
    starts = [segment.start for segment in segments]
    return sum(_rate_integral(segments, pace, first, last, starts) for first, last in windows)


def curve_phase_pair(clients: int, pace: float, segments: Sequence[Segment]) -> tuple[int, int]:
    """The phase multiplier and offset of a staged plan, chosen against the whole curve as
    `phase_multiplier` chooses them against the ramps (the same search: `_phase_pairs`, `_closest_pair`, on
    `curve_errors`: the run's own whole seconds, so every part of the curve whose requests depend
    on the phases is scored, steps and stages shorter than a second too).

    Bounded by the plan's size: the sides' requests are first counted from the segments (a plan
    that cannot afford two pairs is not walked second by second), and sides longer than
    PHASE_SCORING_SECONDS or parts of intervals beyond PHASE_SCORING_SPANS are not scored."""
    candidates = _ranked_multipliers(clients)
    windows = _side_windows(clients, segments)
    if clients <= 2 or not windows:
        return candidates[0], 0
    half = PHASE_SCORING_BUDGET / 2
    estimate = clients + _windows_requests(segments, pace, windows) + 1
    if estimate - 1e-9 * estimate - 1e-6 > half or sum(last - first for first, last in windows) > PHASE_SCORING_SECONDS:
        return candidates[0], 0  # too many requests for two pairs (as below, counted exactly), or too long
    sides = _sides(clients, pace, segments, windows)
    pairs = _phase_pairs(clients, candidates, clients + sum(sum(line) for side in sides for _base, line in side) + 1)
    if not pairs:
        return candidates[0], 0
    intervals = _all_intervals(segments, clients)
    if _window_part_count(sides, intervals, PHASE_SCORING_SPANS / len(pairs)) > PHASE_SCORING_SPANS / len(pairs):
        return candidates[0], 0
    return _closest_pair(pairs, lambda pair: _side_errors(clients, pace, sides, intervals, *pair))


def _staged_plan(settings: Mapping[str, Any], host_list: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """make_plan for a run with stages: the plan's `stages` (each with its `start`, `duration`,
    `from_rps`, `rps` and its `name` if given) replace rampup, constant, rampdown, gap and
    stop_gap; a core has no start or stop figures (its clients' intervals follow from the curve:
    `core_intervals`) and counts its `intervals` beside its `requests`."""
    clients = int(settings["clients"])
    rps = float(settings["rps"])
    pace = float(settings["pace"])
    total_cores = sum(cores for _name, cores in host_list)
    segments = curve_segments(settings["stages"], clients, rps)
    multiplier, offset = curve_phase_pair(clients, pace, segments)
    cycle = core_cycle(host_list)
    intervals, requests = _staged_counts(segments, clients, pace, multiplier, offset, total_cores)
    per_host: dict[str, dict[str, Any]] = {
        name: {"index": h, "cores": [None] * cores} for h, (name, cores) in enumerate(host_list)
    }
    for slot, (h, core) in enumerate(cycle):
        per_host[host_list[h][0]]["cores"][core] = {
            "index": core,
            "slot": slot,
            "clients": (clients - slot + total_cores - 1) // total_cores,
            "first_client": slot,
            "client_step": total_cores,
            "phase_first": (slot * multiplier + offset) % clients,
            "phase_step": (total_cores * multiplier) % clients,
            "intervals": intervals[slot],
            "requests": requests[slot],
        }
    for host in per_host.values():
        host["clients"] = sum(core["clients"] for core in host["cores"])
        host["intervals"] = sum(core["intervals"] for core in host["cores"])
        host["requests"] = sum(core["requests"] for core in host["cores"])
    stages = plan_stages(settings["stages"])
    return {
        "clients": clients,
        "rps": rps,
        "pace": pace,
        "duration": segments[-1].stop,
        "expected_requests": sum(host["requests"] for host in per_host.values()),
        "phase_multiplier": multiplier,
        "phase_offset": offset,
        "cores_total": total_cores,
        "stages": stages,
        **({"shape": str(settings["shape"])} if settings.get("shape") else {}),
        **({"user_classes": list(settings["user_classes"])} if settings.get("user_classes") else {}),
        "hosts": per_host,
    }


def plan_stages(given: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A staged plan's `stages`: each of the settings' stages with its `start`, `duration`,
    `from_rps`, `rps` and its `name` if given."""
    stages = []
    start, rate = 0.0, 0.0
    for stage in given:
        duration, rps_to = float(stage["duration"]), float(stage["rps"])
        stages.append({"start": start, "duration": duration, "from_rps": rate, "rps": rps_to,
                       **({"name": stage["name"]} if stage.get("name") else {})})
        if duration > 0:
            start = start + duration
        rate = rps_to
    return stages


# --- scenarios: one plan per scenario over the same hosts and cores ----------------------------

SCENARIO_ONLY = ("user_classes", "start", "tags")  # a scenario's settings that its own plan does not take


def _scenario_plan(settings: Mapping[str, Any], host_list: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """make_plan for a run with scenarios (run_settings: `scenarios`, name to a run's settings with
    `user_classes` and `start`): each scenario planned by make_plan over all the hosts and cores,
    as a run of its own; its core cycle turned by its share of the cycle (scenario i of n starts on
    slot i C / n), so that the scenarios' first clients land on different cores and hosts.

    The plan's `scenarios` are the scenarios' plans without their hosts (with `start`, the
    offset of their curve from the shared start, `user_classes` and `tags`); each core of `hosts`
    holds under `scenarios` the description of its part of each scenario (what plan_queries reads
    with that scenario's plan), and the sums of its clients, intervals and requests. The plan's
    own figures are the sum's: `stages` (the summed curve), `rps` (its peak), `clients`, `pace`
    (clients / rps: the summed curve's active clients over it are its rate), `duration` and
    `expected_requests`."""
    cycle = core_cycle(host_list)
    total_cores = len(cycle)
    scenarios = settings["scenarios"]
    per_host: dict[str, dict[str, Any]] = {
        name: {"index": h, "cores": [{"index": c, "slot": None, "clients": 0, "intervals": 0, "requests": 0,
                                      "scenarios": {}} for c in range(cores)]}
        for h, (name, cores) in enumerate(host_list)}
    for slot, (h, core) in enumerate(cycle):
        per_host[host_list[h][0]]["cores"][core]["slot"] = slot
    planned: dict[str, dict[str, Any]] = {}
    for number, (name, each) in enumerate(scenarios.items()):
        try:
            plan = make_plan({key: value for key, value in each.items() if key not in SCENARIO_ONLY}, host_list)
        except PlanError as error:
            raise PlanError(f"hailstorm_scenarios.{name}: {error}") from None
        turn = number * total_cores // len(scenarios)
        for host in plan["hosts"].values():
            for core in host["cores"]:
                h, index = cycle[(int(core["slot"]) + turn) % total_cores]
                mine = per_host[host_list[h][0]]["cores"][index]
                mine["scenarios"][name] = {**core, "index": index}
                mine["clients"] += int(core["clients"])
                mine["intervals"] += int(core.get("intervals", core["clients"]))
                mine["requests"] += int(core["requests"])
        planned[name] = {**{key: value for key, value in plan.items() if key != "hosts"},
                         "start": float(each.get("start") or 0.0), "user_classes": list(each["user_classes"]),
                         **({"tags": list(each["tags"])} if each.get("tags") else {})}
    for host in per_host.values():
        for key in ("clients", "intervals", "requests"):
            host[key] = sum(core[key] for core in host["cores"])
    summed = settings.get("stages") or summed_stages(
        [curve_stages(each, float(each.get("start") or 0.0)) for each in scenarios.values()])
    clients = sum(int(plan["clients"]) for plan in planned.values())
    peak = max(max((float(stage["rps"]) for stage in summed), default=0.0), 1e-9)
    return {
        "clients": clients,
        "rps": float(settings.get("rps") or peak),
        "pace": clients / float(settings.get("rps") or peak),
        "duration": max(plan["start"] + float(plan["duration"]) for plan in planned.values()),
        "expected_requests": sum(int(plan["expected_requests"]) for plan in planned.values()),
        "cores_total": total_cores,
        "stages": plan_stages(summed),
        **({"shape": str(settings["shape"])} if settings.get("shape") else {}),
        "scenarios": planned,
        "hosts": per_host,
    }


def curve_requests(stages: Sequence[Mapping[str, Any]]) -> float:
    """The requests the stages ask for: the integral of the curve, the sum of (rate before + rps) / 2
    x duration (the plan's expected_requests, the exact count of its slots, is within a request of it)."""
    total, rate = 0.0, 0.0
    for stage in stages:
        total += (rate + float(stage["rps"])) / 2 * float(stage["duration"])
        rate = float(stage["rps"])
    return total


def core_requests(clients: int, pace: float, core: Mapping[str, Any]) -> int:
    """How many requests one core's clients send: one per slot of its phase lattice from its
    start to its stop (what `request_times` yields). This runs once per client of the plan, so
    plan_queries' `_expand`, `first_slot` and `request_times` are inlined here (the same arithmetic,
    about twice as fast); the unit tests hold the two to the same counts."""
    unit = pace / clients
    ceil = math.ceil
    first_start, start_step = core["first_start"], core["start_step"]
    phase_first, phase_step = core["phase_first"], core["phase_step"]
    first_stop, stop_step = core["first_stop"], core["stop_step"]
    total = 0
    for j in range(core["clients"]):
        start = first_start + j * start_step
        stop = first_stop + j * stop_step
        if start < stop:
            phase = ((phase_first + j * phase_step) % clients) * unit
            first = phase + ceil((start - phase) / pace - 1e-9) * pace
            paced = ceil((stop - first) / pace - 1e-9)
            if paced > 0:
                total += paced
    return total


# --- the planned curve of active clients (the progress line, the report, the preview) ----------

def active_clients(plan: Mapping[str, Any], offset: float) -> int:
    """Clients started and not yet stopped at `offset` seconds after the shared start (client k
    starts at (k + 1/2) gap and stops at D + (U - k - 1/2) stop_gap). In a staged plan: round(A(t)),
    .5 up where the curve is flat or rises just after `offset` and down where it falls (the clients
    k with k + 1/2 <= A(t), or < A(t) on a fall), 0 outside [0, duration). For many offsets of one
    plan, `active_counter(plan)` reads the curve once."""
    return active_counter(plan)(offset)


def active_counter(plan: Mapping[str, Any]) -> Callable[[float], int]:
    """`active_clients` of one plan as a function of the offset: a staged plan's curve is read once
    (O(stages)), each offset then costs O(log stages), so a chart or a preview of n points is
    O(stages + n log stages), not O(stages x n)."""
    if "stages" in plan:
        segments = plan_segments(plan)
        starts = [segment.start for segment in segments]
        clients = int(plan["clients"])
        return lambda offset: _staged_active(segments, starts, clients, offset)
    clients = int(plan["clients"])
    gap, stop_gap = float(plan["gap"]), float(plan["stop_gap"])
    ramp_end = float(plan["rampup"]) + float(plan["constant"])

    def trapezoid(offset: float) -> int:
        started = min(clients, max(0, math.floor(offset / gap + 0.5 + 1e-9)))
        if offset < ramp_end:
            stopped = 0
        elif stop_gap == 0:
            stopped = clients
        else:
            stopped = min(clients, max(0, math.floor((offset - ramp_end) / stop_gap + 0.5 + 1e-9)))
        return max(0, started - stopped)
    return trapezoid


def _staged_active(segments: Sequence[Segment], starts: Sequence[float], clients: int, offset: float) -> int:
    if not segments or offset < 0 or offset >= segments[-1].stop:
        return 0
    segment = segments[bisect.bisect_right(starts, offset) - 1]
    level = segment.at_start + (segment.at_stop - segment.at_start) * ((offset - segment.start) / segment.duration)
    return active_prefix(level, segment.at_stop >= segment.at_start, clients)
