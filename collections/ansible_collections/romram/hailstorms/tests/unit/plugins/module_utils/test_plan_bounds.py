"""A plan's cost follows its size, not its curve's length (issue 24, defect 4): the staged planner
against the per-second reference it replaced, the limits of a run, the preview's sampling."""
from __future__ import annotations

import hashlib
import json
import math
import random
import tracemalloc

import pytest
import yaml
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_preview, plan_queries, run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils import planner, report
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    empty_cell, Histogram, merge_cell, plan_phases)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import (
    label_cells, latency_figures, stage_figures)
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

TARGET = "http://127.0.0.1:3456"


def resolve(**given_settings):
    return run_settings.resolve_settings({"default": {"target": TARGET, **given_settings}})


# --- the per-second reference: the planner's scoring as it was before (every segment scanned for
# every second, every interval for every window) -------------------------------------------------

def reference_second_mean(segments, pace, second):
    for segment in segments:
        if segment.start <= second and second + 1 <= segment.stop:
            low, high = sorted((segment.at_start / pace, segment.at_stop / pace))
            i = second - segment.start
            if segment.at_stop >= segment.at_start:
                return low + (high - low) * (i + 0.5) / segment.duration
            return low + (high - low) * (1 - (i + 0.5) / segment.duration)
    total = 0.0
    for segment in segments:
        lo, hi = max(second, segment.start), min(second + 1, segment.stop)
        if hi > lo:
            slope = (segment.at_stop - segment.at_start) / segment.duration
            total += (2 * segment.at_start + slope * (lo + hi - 2 * segment.start)) / 2 * (hi - lo)
    return total / pace


def reference_sides(clients, pace, segments):
    sides, taken = [], 0
    end = math.ceil(segments[-1].stop) if segments else 0
    for segment in segments:
        flat = segment.at_start == segment.at_stop
        if flat and plan_queries.active_prefix(segment.at_start, True, clients) in (0, clients):
            continue
        first, last = max(taken, int(segment.start)), min(end, math.ceil(segment.stop))
        if last > first:
            sides.append([(float(first), [reference_second_mean(segments, pace, s) for s in range(first, last)])])
            taken = last
    return sides


def reference_overlaps(sides, intervals):
    return [[[(k, max(base, start), min(stop, base + len(line))) for k, start, stop in intervals
              if start < base + len(line) and stop > base] for base, line in side] for side in sides]


def reference_side_errors(clients, pace, sides, overlaps, multiplier, offset):
    unit = pace / clients
    out = []
    for side, side_spans in zip(sides, overlaps):
        errors = []
        for (base, line), spans in zip(side, side_spans):
            bins = [0] * len(line)
            for k, begin, stop in spans:
                phase = ((k * multiplier + offset) % clients) * unit
                t = phase + math.ceil((begin - phase) / pace - 1e-9) * pace
                while t < stop:
                    bins[int(t - base)] += 1
                    t += pace
            errors.extend(count - expected for count, expected in zip(bins, line))
        out.append(errors)
    return out


def reference_pair(clients, pace, segments):
    candidates = planner._ranked_multipliers(clients)
    sides = reference_sides(clients, pace, segments)
    if clients <= 2 or not sides:
        return candidates[0], 0
    work = clients + sum(sum(line) for side in sides for _base, line in side) + 1
    offsets = sorted({round(i * clients / min(clients, planner.PHASE_OFFSETS)) % clients
                      for i in range(min(clients, planner.PHASE_OFFSETS))})
    pairs = [(a, b) for b in offsets for a in candidates[:planner.PHASE_MULTIPLIERS]]
    pairs = pairs[:int(planner.PHASE_SCORING_BUDGET // work)]
    if len(pairs) < 2:
        return candidates[0], 0
    overlaps = reference_overlaps(sides, planner._all_intervals(segments, clients))

    def score(pair):
        errors = [side for side in reference_side_errors(clients, pace, sides, overlaps, *pair) if side]
        if not errors:
            return 0.0
        return (sum(sum(e * e for e in side) / len(side) for side in errors) * min(2, len(errors)) / len(errors)
                + max(abs(e) for side in errors for e in side) ** 2 / 4)
    return min(pairs, key=score)


@st.composite
def small_curves(draw):
    """2-31 stages of steps, ramps and holds (durations from 0 to 9.5 s, some of part seconds) at
    rates from 0 to 150 rps, at paces from 0.2 to 10 s: small enough that the reference walks them."""
    pace = draw(st.sampled_from([0.2, 0.5, 1.0, 2.0, 3.7, 10.0]))
    top = 40 if pace == 10.0 else 150
    stages = draw(st.lists(st.fixed_dictionaries({
        "duration": st.sampled_from([0, 0, 0.3, 1, 2.5, 4, 9.5]),
        "rps": st.integers(min_value=0, max_value=top).map(float)}), min_size=1, max_size=30))
    stages.append({"duration": draw(st.sampled_from([0.5, 3.0])), "rps": float(draw(st.integers(1, top)))})
    peak = run_settings.stages_peak(stages)
    clients = max(3, round(peak * pace))
    return stages, clients, peak, clients / peak


@hsettings(max_examples=80, deadline=None)
@given(small_curves())
def test_the_bounded_scoring_equals_the_per_second_reference(curve):
    stages, clients, peak, pace = curve
    segments = plan_queries.curve_segments(stages, clients, peak)
    sides = planner._sides(clients, pace, segments)
    assert sides == reference_sides(clients, pace, segments)  # the same seconds, the same floats
    intervals = planner._all_intervals(segments, clients)
    parts = [[(k, max(base, start), min(stop, base + len(line))) for k, start, stop in current]
             for (_index, base, current), (_base, line) in zip(planner._window_parts(sides, intervals),
                                                               [w for side in sides for w in side])]
    assert parts == [spans for side in reference_overlaps(sides, intervals) for spans in side]
    assert planner._window_part_count(sides, intervals) == len([part for spans in parts for part in spans])
    for pair in ((1, 0), (planner._ranked_multipliers(clients)[0], clients // 2)):
        assert planner._side_errors(clients, pace, sides, intervals, *pair) == reference_side_errors(
            clients, pace, sides, reference_overlaps(sides, intervals), *pair)
    assert planner.curve_phase_pair(clients, pace, segments) == reference_pair(clients, pace, segments)
    lines = sum(sum(line) for side in sides for _base, line in side)
    windows = planner._side_windows(clients, segments)
    assert planner._windows_requests(segments, pace, windows) == pytest.approx(lines, rel=1e-9, abs=1e-6)


@hsettings(max_examples=60, deadline=None)
@given(small_curves(), st.lists(st.floats(min_value=-1, max_value=1.1), min_size=1, max_size=20))
def test_the_active_clients_read_once_equal_those_read_per_offset(curve, fractions):
    stages, clients, peak, pace = curve
    plan = planner.make_plan({"clients": clients, "rps": peak, "pace": pace, "stages": stages}, [("a", 1)])
    segments = plan_queries.plan_segments(plan)
    active_at = planner.active_counter(plan)
    for fraction in fractions:
        offset = fraction * plan["duration"]
        inside = [s for s in segments if s.start <= offset < s.stop]  # the reference: a scan of the segments
        expected = 0
        if inside:
            s = inside[-1]
            level = s.at_start + (s.at_stop - s.at_start) * ((offset - s.start) / s.duration)
            expected = plan_queries.active_prefix(level, s.at_stop >= s.at_start, clients)
        assert active_at(offset) == planner.active_clients(plan, offset) == expected


# A representative staged plan pinned (the spike of the integration test at the target: a ramp,
# a hold, two steps, a fall; its phase pair is scored among 96): the same before and after issue 24.
AT_TARGET = [{"duration": 4, "rps": 40, "name": "ramp"}, {"duration": 4, "rps": 40, "name": "hold"},
             {"duration": 0, "rps": 80}, {"duration": 4, "rps": 80, "name": "step"}, {"duration": 0, "rps": 120},
             {"duration": 3, "rps": 120, "name": "spike"}, {"duration": 5, "rps": 0}]


def test_a_representative_staged_plan_keeps_its_numbers():
    plan = planner.make_plan(resolve(stages=AT_TARGET, pace="0.5s")[0], [("a", 2), ("b", 1)])
    keys = ("clients", "rps", "pace", "duration", "expected_requests", "phase_multiplier", "phase_offset")
    assert {key: plan[key] for key in keys} == {
        "clients": 60, "rps": 120.0, "pace": 0.5, "duration": 20.0, "expected_requests": 1220,
        "phase_multiplier": 37, "phase_offset": 30}
    assert {name: (h["clients"], h["intervals"], h["requests"]) for name, h in plan["hosts"].items()} == {
        "a": (40, 40, 813), "b": (20, 20, 407)}
    # the whole plan, as the planner before issue 24 (/work/main at 4997fc5) wrote it
    digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    assert digest == "19cf10ddcd63337b156d43edcdc64b8fe992edb2e0c454f8cf36111ec3cc218b"


# --- bounded by the plan's size -----------------------------------------------------------------

def planning_peak_bytes(settings, hosts):
    tracemalloc.start()
    try:
        plan = planner.make_plan(settings, hosts)
        plan_preview.preview(plan, 12)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_week_long_stage_is_planned_without_a_list_per_second():
    """A stage of a week: the sides hold 604,800 seconds; the planner before issue 24 built a list of
    them (about 20 MB here, 24 GB for 1,000,000 h) before finding it could not afford to score."""
    settings = resolve(stages=[{"duration": plan_queries.MAX_DURATION, "rps": 10}], pace="2s")[0]
    assert planning_peak_bytes(settings, [("a", 2)]) < 1_000_000
    # a low rate over a week: few requests, but more seconds than PHASE_SCORING_SECONDS: not scored
    settings = resolve(stages=[{"duration": plan_queries.MAX_DURATION, "rps": 0.4}], pace="10s")[0]
    assert planning_peak_bytes(settings, [("a", 2)]) < 1_000_000
    assert planner.make_plan(settings, [("a", 2)])["phase_offset"] == 0


def test_ten_thousand_stages_plan_as_the_per_second_planner_planned_them():
    """The most stages a plan may have, a second each, scored over 10,000 windows: the plan the
    planner before issue 24 made in 70 s (/work/main at 4997fc5, json.dumps(plan, indent=1))."""
    stages = [{"duration": 1, "rps": 10 if i % 2 == 0 else 20} for i in range(run_settings.MAX_STAGES)]
    plan = planner.make_plan(resolve(stages=stages, pace="2s")[0], [("localhost", 1)])
    assert (plan["phase_multiplier"], plan["phase_offset"], plan["expected_requests"]) == (29, 0, 134991)
    digest = hashlib.sha256(json.dumps(plan, indent=1).encode()).hexdigest()
    assert digest == "7de7d3c19c989cc2f9d08ca419674a4cf387a93792dd9d8c9bbe0bdd13955f24"


def test_pairs_that_would_walk_too_many_interval_parts_are_not_scored():
    """Many clients at a long pace, each window crossed by most of them: few requests (so pairs are
    affordable), but PHASE_SCORING_SPANS interval parts would be walked per pair."""
    stages = [{"duration": 1, "rps": 10.0 if i % 2 == 0 else 9.9} for i in range(2000)]
    segments = plan_queries.curve_segments(stages, 20_000, 10.0)
    sides = planner._sides(20_000, 2000.0, segments)
    intervals = planner._all_intervals(segments, 20_000)
    # 200 clients start again on each rise, but about 19,900 cross every window: 40 M parts
    assert len(intervals) < 250_000 and planner._window_part_count(sides, intervals, 10 ** 6) == math.inf
    assert planner.curve_phase_pair(20_000, 2000.0, segments) == (planner._ranked_multipliers(20_000)[0], 0)


# --- the limits of a run ------------------------------------------------------------------------

def test_a_run_longer_than_a_week_is_refused_naming_the_setting_the_value_and_a_working_fix():
    with pytest.raises(PlanError) as error:
        resolve(stages=[{"duration": "1000000h", "rps": 10}])
    text = str(error.value)
    assert text.startswith("hailstorm_stages: the stages last 1000000:00:00.0 (3.6e+09 s) in total, over the "
                           "168:00:00.0 (604800 s, a week) a run may last; give stages of at most 604800 s in total")
    example = yaml.safe_load(text.split("e.g. ")[1].split(", and run")[0])
    assert resolve(stages=example)[0]["rps"] == 100  # the example is a valid week-long curve
    resolve(stages=[{"duration": plan_queries.MAX_DURATION, "rps": 10}])  # exactly a week is a run
    with pytest.raises(PlanError, match=r"^hailstorm_rampup \+ hailstorm_constant \+ hailstorm_rampdown = 3600 \+ "
                                        r"720000 \+ 3600 s = 202:00:00.0, over the 168:00:00.0 \(604800 s, a week\) a "
                                        r"run may last; shorten them, e.g. hailstorm_constant=597600"):
        resolve(rps=10, rampup="1h", constant="200h")
    assert resolve(rps=10, rampup="1h", constant=597600)[0]["constant"] == 597600
    with pytest.raises(PlanError, match=r"e.g. hailstorm_rampup=151200 hailstorm_rampdown=151200"):
        resolve(rps=10, rampup="1000000h")
    resolve(rps=10, rampup=151200, rampdown=151200)


def test_more_stages_than_a_plan_may_have_are_refused_with_the_count():
    stages = [{"duration": 1, "rps": 10}] * (run_settings.MAX_STAGES + 1)
    with pytest.raises(PlanError, match=r"^hailstorm_stages: 10001 stages, over the 10000 a plan may have; join stages "
                                        r"of the same slope"):
        resolve(stages=stages)
    most = run_settings.MAX_STAGES
    assert len(resolve(stages=[{"duration": 1, "rps": 10}] * most)[0]["stages"]) == most


def test_too_many_client_starts_are_refused_before_any_host_with_a_working_fix():
    sawtooth = [{"duration": 1, "rps": 1000 if i % 2 == 0 else 0} for i in range(run_settings.MAX_STAGES)]
    with pytest.raises(PlanError) as error:
        resolve(stages=sawtooth, pace="20s")
    assert str(error.value).startswith(
        "hailstorm_stages: their 10000 stages start the 20000 clients 100000000 times in all (a client starts again "
        "on every rise after a fall), over the 20000000 client starts a plan may have; give fewer rises and falls")
    fewer = int(str(error.value).split("hailstorm_clients=")[1].rstrip(")"))
    settings = resolve(stages=sawtooth, clients=fewer)[0]
    assert run_settings.staged_intervals(sawtooth, settings["clients"], settings["rps"]) <= run_settings.MAX_INTERVALS


def test_too_many_client_starts_per_core_are_refused_with_the_cores_that_carry_them():
    settings = resolve(stages=[{"duration": 1, "rps": 100 if i % 2 == 0 else 0} for i in range(10_000)],
                       pace="2s")[0]
    with pytest.raises(PlanError, match=r"^hailstorm_stages: their 10000 stages start the 200 clients 1000000 times in "
                                        r"all .* over the 200000 client starts per usable core a plan may have on 1 "
                                        r"cores; give fewer rises and falls \(join stages of the same slope\), or add "
                                        r"load hosts \(at least 5 usable cores\)$"):
        run_settings.check_capacity(settings, [("a", 1)])
    run_settings.check_capacity(settings, [("a", 3), ("b", 2)])


def test_the_limits_are_what_the_docs_say():
    assert (plan_queries.MAX_DURATION, run_settings.MAX_STAGES, run_settings.MAX_CLIENTS_PER_CORE,
            run_settings.MAX_INTERVALS, run_settings.MAX_INTERVALS_PER_CORE) == (604_800, 10_000, 20_000, 20_000_000,
                                                                                 200_000)


# --- the preview is sampled ---------------------------------------------------------------------

@pytest.mark.parametrize("count,points", [(10_000, 12), (10_000, 1), (13, 12), (500, 40), (12, 12), (3, 12)])
def test_the_preview_lists_at_most_preview_points_stages_and_their_curve(count, points):
    stages = [{"duration": 1, "rps": 10 if i % 2 == 0 else 20, **({"name": f"s{i}"} if i % 7 == 0 else {})}
              for i in range(count)]
    plan = planner.make_plan(resolve(stages=stages, pace="2s")[0], [("a", 1)])
    lines = plan_preview.preview(plan, points)
    table = lines.index(next(line for line in lines if line.startswith("host ")))
    rows = [line for line in lines[2:table] if line.split()[0].isdigit() and "not listed" not in line]
    curve = lines[lines.index(next(line for line in lines if line.strip().startswith("time "))) + 1:]
    listed = plan_preview.preview_stages(count, points)
    assert len(rows) == len(listed) == min(count, points)
    assert [int(row.split()[0]) for row in rows] == [i + 1 for i in listed]
    assert listed[0] == 0 and (points == 1 or listed[-1] == count - 1)
    assert len(curve) <= 2 * points + 1 and curve[-1].split()[1:] == ["0", "0.00"]
    assert len(lines) <= 3 * points + 8  # figures, headers, the host, the note: whatever the stages
    note = [line for line in lines if "stages not listed" in line]
    assert note == ([] if count <= points else
                    [f"{'':>5} {count - len(listed)} of the {count} stages not listed "
                     f"(hailstorm_preview_points={points}); plan.json holds every stage"])


# --- results: each stage merges its own seconds -------------------------------------------------

def test_stage_figures_equal_a_merge_of_every_second_per_stage():
    rng = random.Random(24)
    stages = [{"duration": rng.choice([0, 0.5, 1, 3]), "rps": float(rng.randint(0, 50))} for _stage in range(40)]
    stages.append({"duration": 2, "rps": 10.0})
    peak = run_settings.stages_peak(stages)
    plan = planner.make_plan({"clients": 50, "rps": peak, "pace": 50 / peak, "stages": stages}, [("a", 1)])
    merged = {"seconds": {}}
    for sec in rng.sample(range(-2, math.ceil(plan["duration"]) + 2), k=math.ceil(plan["duration"])):
        merged["seconds"][str(sec)] = {label: {**empty_cell(), "requests": rng.randint(0, 9),
                                               "failures": rng.randint(0, 2), "time_us": rng.randint(0, 10 ** 6),
                                               "hist": {str(rng.randint(1, 300)): 1}} for label in ("a", "b")}
    figures = stage_figures(merged, plan)
    for figure in figures:
        cell = empty_cell()
        window = tuple(figure["window"]) if figure["window"] else None
        for labels in (label_cells(merged, window).values() if window else []):
            merge_cell(cell, labels)
        assert (figure["requests"], figure["failures"]) == (cell["requests"], cell["failures"])
        assert figure["p95_ms"] == latency_figures(Histogram(cell["hist"]), cell["time_us"])["p95_ms"]
    assert sum(f["requests"] for f in figures) > 0


@hsettings(max_examples=60, deadline=None)
@given(small_curves(), st.lists(st.floats(min_value=-2, max_value=1.2), min_size=1, max_size=30))
def test_the_phase_under_the_pointer_is_found_by_bisection_as_by_a_scan(curve, fractions):
    stages, clients, peak, pace = curve
    plan = planner.make_plan({"clients": clients, "rps": peak, "pace": pace, "stages": stages}, [("a", 1)])
    trapezoid = planner.make_plan({"clients": 20, "rps": 10, "pace": 2, "rampup": 5, "constant": 0, "rampdown": 3},
                                  [("a", 1)])
    for phases in (plan_phases(plan), plan_phases(trapezoid), [("b", 5, 9), ("a", 0, 6)]):
        phase_at = report.phase_finder(phases)
        for x in [f * plan["duration"] for f in fractions] + [start for _name, start, _end in phases]:
            assert phase_at(x) == next((name for name, start, end in phases if start <= x < end), None)
