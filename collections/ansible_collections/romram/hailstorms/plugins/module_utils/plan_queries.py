# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a load host reads from a plan: its slice (`host_slice`), each core's clients and their
intervals of activity (`core_intervals`), each client's request slots on the lattice
(`request_times`), the open model's arrivals (`core_arrivals`) and a stage's whole seconds
(`stage_window`), with the curve of active clients a staged plan follows (`transitions`).

Pure Python (no Ansible, no Locust), imports nothing of the collection: every load host runs it
(runtime/hailstorm_runtime/plan_queries.py is a symlink to this file). The plan itself is made by
planner.py (the lattice and the curve planner) from the run's settings (run_settings.py);
plan_preview.py draws it for a person. The load hosts get planner.py too (the runtime's
calibration plans one core), not run_settings.py or plan_preview.py.
"""
from __future__ import annotations

import bisect
import heapq
import math
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

# A run is recorded, merged on the controller and drawn second by second (a cell per label and
# second on every core): a week is 604,800 of them, the longest run (a LoadTestShape must end
# within it too: shapes.MAX_SECONDS); a longer soak is several runs.
MAX_DURATION = 7 * 24 * 3600  # run_settings.py refuses longer runs, the runtime's shapes.py longer shapes
# the golden ratio: the phase multiplier is near U x GOLDEN (planner.py); the runtime's ClassPicker
# spreads the clients over the user classes with it too (schedule.py)
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class PlanError(ValueError):
    """A setting that cannot be planned; the message names the setting and the fix."""


class Client(NamedTuple):
    client_id: int
    start: float
    phase: float
    stop: float


# --- stages: a run along any piecewise-linear curve --------------------------------------------
#
# The stages draw the rate rate(t), linear in each stage, from 0 at t = 0; the peak R is the run's
# rps and U = R x P its clients as for the trapezoid. Active clients A(t) = rate(t) x P = U rate(t) / R.
# Client k (start order, the same golden-ratio phases) is active wherever A(t) >= k + 1/2: the
# clients active at any moment are a prefix of the start order, so they stay evenly spread over
# the pace (the prefix rule that makes the trapezoid exact). The set where A >= k + 1/2 is a union
# of intervals [start, stop): a client stops on a fall and starts again on a later rise. Half-open
# at a moment where A is exactly k + 1/2: the client is active there when A is flat or rising just
# after it, not when A falls, so the active clients are round(A(t)) with .5 rounded up where the
# curve is flat or rising and down where it falls. A step (a stage of 0s) starts or stops a block
# of clients at once. Each interval sends on its client's lattice slots phase + n P inside it.

class Segment(NamedTuple):
    """One stage with a duration, in clients: A(t) goes linearly from `at_start` (just after
    `start`) to `at_stop` (just before `stop` = start + duration); a step between two segments is
    the jump from one's at_stop to the next's at_start."""

    start: float
    stop: float
    duration: float
    at_start: float
    at_stop: float


def curve_segments(stages: Sequence[Mapping[str, Any]], clients: int, peak: float) -> list[Segment]:
    """The curve of active clients of `stages` (A = clients x rate / peak), stages of 0s folded
    into the steps they make."""
    segments = []
    start, rate = 0.0, 0.0
    for stage in stages:
        duration, rps = float(stage["duration"]), float(stage["rps"])
        if duration > 0:
            stop = start + duration
            segments.append(Segment(start, stop, duration, clients * (rate / peak), clients * (rps / peak)))
            start = stop
        rate = rps
    return segments


def plan_segments(plan: Mapping[str, Any]) -> list[Segment]:
    """The curve of active clients of a staged plan (`plan["stages"]`)."""
    return curve_segments(plan["stages"], int(plan["clients"]), float(plan["rps"]))


def active_prefix(level: float, inclusive: bool, clients: int) -> int:
    """How many clients k have k + 1/2 <= level (inclusive) or < level: the prefix of the start
    order that is active at that level."""
    count = math.floor(level + 0.5) if inclusive else math.ceil(level - 0.5)
    return min(clients, max(0, count))


def crossing(segment: Segment, client: int) -> float:
    """When A crosses client `client`'s level k + 1/2 inside `segment` (rising: the client starts
    there; falling: it stops there): the inverse of the linear piece, clamped to the segment."""
    level = client + 0.5
    if segment.at_stop > segment.at_start:
        moment = segment.start + (level - segment.at_start) * (segment.duration / (segment.at_stop - segment.at_start))
    else:
        moment = segment.start + (segment.at_start - level) * (segment.duration / (segment.at_start - segment.at_stop))
    return min(max(moment, segment.start), segment.stop)


# (time or None, starts, first client, end client (exclusive), segment or None)
Transition = tuple


def transitions(segments: Sequence[Segment], clients: int) -> list[Transition]:
    """Every change of the active clients, in time order, as blocks [lo, hi) of the start order:
    (time, starts, lo, hi, None) where a segment begins (a step, or the start of a fall for the
    client exactly at the level it falls from) or the curve ends, all at `time`; and
    (None, starts, lo, hi, segment) inside a rising (starts) or falling (stops) segment, client k
    at `crossing(segment, k)` (later for a larger k on a rise, earlier on a fall). The active
    clients just after a segment's start are those with k + 1/2 <= at_start (< at_start if it
    falls), just before its stop k + 1/2 < at_stop if it rises (<= at_stop otherwise); all stop
    at the end of the curve."""
    out: list[Transition] = []
    before = 0
    for segment in segments:
        rising, falling = segment.at_stop > segment.at_start, segment.at_stop < segment.at_start
        after = active_prefix(segment.at_start, not falling, clients)
        if after != before:
            out.append((segment.start, after > before, min(before, after), max(before, after), None))
        if rising:
            lo, hi = after, active_prefix(segment.at_stop, False, clients)
        else:
            lo, hi = active_prefix(segment.at_stop, True, clients), after
        if hi > lo:
            out.append((None, rising, lo, hi, segment))
        before = active_prefix(segment.at_stop, not rising, clients)
    if before and segments:
        out.append((segments[-1].stop, False, 0, before, None))
    return out


def core_intervals(plan: Mapping[str, Any], core: Mapping[str, Any]) -> list[Client]:
    """One core's clients' intervals of activity as Client tuples (client_id, start, phase, stop),
    in the order they start (ties in client order): the runtime starts a client (its on_start)
    at `start` and stops it (its on_stop) at `stop`; a client of a staged plan may come again in
    a later interval. The requests of each are `request_times(interval, pace)`. For the trapezoid
    this is `core_clients` (one interval per client)."""
    if "stages" not in plan:
        return core_clients(plan, core)
    clients, pace = int(plan["clients"]), float(plan["pace"])
    unit = pace / clients
    first, step, count = int(core["first_client"]), int(core["client_step"]), int(core["clients"])
    phase_first, phase_step = int(core["phase_first"]), int(core["phase_step"])
    out: list[list[Any]] = []
    opened: dict[int, int] = {}
    for moment, starts, lo, hi, segment in transitions(plan_segments(plan), clients):
        for j in range(max(0, -((first - lo) // step)), min(count, -((first - hi) // step))):
            k = first + j * step
            t = moment if segment is None else crossing(segment, k)
            if starts:
                opened[k] = len(out)
                out.append([k, t, ((phase_first + j * phase_step) % clients) * unit, t])
            else:
                out[opened.pop(k)][3] = t
    return [Client(k, start, phase, stop) for k, start, phase, stop in out if start < stop]


# The open model's arrivals are gathered a window at a time: every slot of the window from the
# intervals due in it, sorted once. A heap of the intervals (or heapq.merge of the clients' slots)
# costs a Python-level step per arrival, ~6 µs at 3,000 clients, on the load host's hot path.
ARRIVAL_WINDOW = 0.1  # seconds; at 10,000 arrivals/s a window is 1,000 slots, gathered in under a ms


def core_arrivals(plan: Mapping[str, Any], core: Mapping[str, Any]) -> Iterator[tuple[float, int]]:
    """One core's request slots in time order, as (offset from the shared start, client_id): the
    union of `request_times` of its `core_intervals` (what an open model hands out as arrivals;
    ties in client order)."""
    return arrivals(core_intervals(plan, core), float(plan["pace"]))


def arrivals(intervals: Sequence[Client], pace: float, window: float = ARRIVAL_WINDOW) -> Iterator[tuple[float, int]]:
    """The union of `request_times` of `intervals` in time order, as (offset, client_id), ties in
    client order. Lazy, a window of `window` seconds at a time: the slots of each interval due in
    the window are computed as `request_times` computes them (the same floats) and the window's
    slots sorted; an interval waits in the bucket of the window of its next slot, so a window
    touches only the intervals with a slot in it."""
    ceil, floor = math.ceil, math.floor
    pending = []  # (window, first slot, client_id, slots in all) of the intervals not begun, earliest last
    for client in intervals:
        if client.start < client.stop:
            first = first_slot(client.start, client.phase, pace)
            paced = ceil((client.stop - first) / pace - 1e-9)
            if paced > 0:
                pending.append((floor(first / window), first, client.client_id, paced))
    pending.sort(reverse=True)
    buckets: dict[int, list[list[Any]]] = {}  # window: [first, client_id, next n, paced] of each interval in it
    windows: list[int] = []  # the buckets' windows, a heap
    while pending or buckets:
        # the next window with a slot: a slot is in window floor(t / window), the one test used throughout
        k = windows[0] if windows else pending[-1][0]
        if pending and pending[-1][0] < k:
            k = pending[-1][0]
        due = buckets.pop(k, None)
        if due is None:
            due = []
        else:
            heapq.heappop(windows)
        while pending and pending[-1][0] == k:
            _k, first, client_id, paced = pending.pop()
            due.append([first, client_id, 0, paced])
        out: list[tuple[float, int]] = []
        for state in due:
            first, client_id, n, paced = state
            t = first + n * pace
            later = floor(t / window)
            while later <= k:
                out.append((t, client_id))
                n += 1
                if n >= paced:
                    break
                t = first + n * pace
                later = floor(t / window)
            if n < paced:
                state[2] = n
                bucket = buckets.get(later)
                if bucket is None:
                    bucket = buckets[later] = []
                    heapq.heappush(windows, later)
                bucket.append(state)
        out.sort()
        yield from out


def stage_window(plan: Mapping[str, Any], stage: Any) -> tuple[int, int] | None:
    """The whole seconds [from, to) of the run inside one stage of a staged plan, the stage given
    by its number (from 1, as the messages and the preview count) or its name; None when the stage
    holds no whole second. Refused, naming the stages, when there is no such stage."""
    stages = plan.get("stages") or []
    names = [entry.get("name") for entry in stages]
    if isinstance(stage, str) and stage in names:
        index = names.index(stage)
    elif not isinstance(stage, bool) and str(stage).strip().isdigit() and 1 <= int(str(stage).strip()) <= len(stages):
        index = int(str(stage).strip()) - 1
    else:
        known = ", ".join(f"{n}" + (f" ({name})" if name else "") for n, name in enumerate(names, 1))
        raise PlanError(f"no stage {stage!r} in the plan; its stages are {known or '(none: the run has no stages)'}: "
                        "give a stage's number (from 1) or its name")
    entry = stages[index]
    first, last = math.ceil(float(entry["start"])), math.floor(float(entry["start"]) + float(entry["duration"]))
    return (first, last) if last > first else None


def host_slice(plan: Mapping[str, Any], hostname: str) -> dict[str, Any]:
    """What one load host needs: the global figures, its index and its own cores."""
    if hostname not in plan["hosts"]:
        raise PlanError(f"host {hostname!r} is not in the plan; planned hosts: {', '.join(plan['hosts'])}")
    figures = {key: value for key, value in plan.items() if key != "hosts"}
    host = plan["hosts"][hostname]
    return {"host": hostname, "host_index": host["index"], "hosts": len(plan["hosts"]),
            "plan": figures, "cores": host["cores"]}


def core_clients(plan: Mapping[str, Any], core: Mapping[str, Any]) -> list[Client]:
    """Expand one core's arithmetic description into its clients, in start order."""
    return [Client._make(client) for client in _expand(int(plan["clients"]), float(plan["pace"]), core)]


def _expand(clients: int, pace: float, core: Mapping[str, Any]) -> Iterator[tuple[int, float, float, float]]:
    """(client_id, start, phase, stop) of one core's clients, as plain tuples (cheap in bulk)."""
    unit = pace / clients
    first_client, client_step = core["first_client"], core["client_step"]
    first_start, start_step = core["first_start"], core["start_step"]
    phase_first, phase_step = core["phase_first"], core["phase_step"]
    first_stop, stop_step = core["first_stop"], core["stop_step"]
    for j in range(core["clients"]):
        yield (first_client + j * client_step, first_start + j * start_step,
               ((phase_first + j * phase_step) % clients) * unit, first_stop + j * stop_step)


def first_slot(start: float, phase: float, pace: float) -> float:
    """The first time on the client's phase lattice (phase + n pace) at or after `start`."""
    n = math.ceil((start - phase) / pace - 1e-9)
    return phase + n * pace


def request_times(client: Client, pace: float) -> Iterator[float]:
    """Every planned task request time of one client (offsets from the shared start)."""
    if client.start >= client.stop:
        return
    first = first_slot(client.start, client.phase, pace)
    for n in range(max(0, math.ceil((client.stop - first) / pace - 1e-9))):
        yield first + n * pace


# --- scenarios: several curves at once (planner.make_plan plans each; their sum is the run's) ----

def curve_stages(curve: Mapping[str, Any], start: float = 0.0) -> list[dict[str, float]]:
    """One curve as stages from the run's start: `start` seconds at 0 first, then its stages (or
    its trapezoid as three stages: the ramp-up to its rps, the hold, the ramp-down to 0)."""
    lead = [{"duration": float(start), "rps": 0.0}] if start > 0 else []
    if curve.get("stages"):
        return lead + [{"duration": float(s["duration"]), "rps": float(s["rps"])} for s in curve["stages"]]
    rps = float(curve["rps"])
    return lead + [{"duration": float(curve["rampup"]), "rps": rps}, {"duration": float(curve["constant"]), "rps": rps},
                   {"duration": float(curve["rampdown"]), "rps": 0.0}]


def _rate_pieces(stages: Sequence[Mapping[str, Any]]) -> list[tuple[float, float, float, float]]:
    """(start, stop, rate at start, rate at stop) of each stage with a duration."""
    pieces, start, rate = [], 0.0, 0.0
    for stage in stages:
        duration, rps = float(stage["duration"]), float(stage["rps"])
        if duration > 0:
            pieces.append((start, start + duration, rate, rps))
            start += duration
        rate = rps
    return pieces


def _rate_near(pieces: Sequence[tuple[float, float, float, float]], moment: float, right: bool,
               starts: Sequence[float] | None = None) -> float:
    """A curve's rate just after (`right`) or just before `moment` (0 outside the curve); `starts`
    (the pieces' starts) finds the piece by bisection."""
    starts = [piece[0] for piece in pieces] if starts is None else starts
    index = (bisect.bisect_right(starts, moment) if right else bisect.bisect_left(starts, moment)) - 1
    if index >= 0:
        start, stop, at_start, at_stop = pieces[index]
        if moment < stop if right else moment <= stop:
            return at_start + (at_stop - at_start) * (moment - start) / (stop - start)
    return 0.0


def summed_stages(curves: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, float]]:
    """The stages of the sum of several curves (each as stages from the run's start: `curve_stages`):
    a stage ends at every moment where any curve bends or steps (the sum is linear in between),
    a step of the sum is a stage of 0 s. Rates rounded to 1e-9."""
    pieces = [_rate_pieces(stages) for stages in curves]
    starts = [[piece[0] for piece in each] for each in pieces]
    moments = sorted({0.0} | {edge for each in pieces for start, stop, _a, _b in each for edge in (start, stop)})
    out: list[dict[str, float]] = []
    before = 0.0
    for moment in moments:
        left = round(sum(_rate_near(each, moment, False, first) for each, first in zip(pieces, starts)), 9)
        right = round(sum(_rate_near(each, moment, True, first) for each, first in zip(pieces, starts)), 9)
        if moment > before:
            out.append({"duration": round(moment - before, 9), "rps": left})
        if right != left or (moment == 0 and right):
            out.append({"duration": 0.0, "rps": right})
        before = moment
    return out
