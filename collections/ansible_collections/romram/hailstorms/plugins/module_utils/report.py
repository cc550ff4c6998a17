# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's report: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

Pure Python (no Ansible). `render` takes the merged records (summary.merge), the run's summary
(summary.summarize), its plan (plan.json) and the threshold verdicts (thresholds.evaluate), and
returns the page. Charts are drawn here as SVG polylines, the plan beside the measurement and
the ramp-up / constant / ramp-down phases shaded; every chart carries data-points="N" (points
drawn) so that a browser test can check that each one drew data, and values on hover: a
transparent column per x value of the chart whose SVG <title> gives the time and every series'
value there (data-hover="N" columns; no script).

Response-time distribution: a label's requests counted per latency bucket, the buckets'
bounds LATENCY_EDGES_MS (1-2-5 steps). Each edge is a bound of the histograms' own buckets
(records.bucket_of keeps 3 significant digits of integer microseconds), so every recorded
request falls in exactly one bucket and a label's counts add up to its requests.
"""
from __future__ import annotations

import html
import math
from bisect import bisect_right
from typing import Any, Callable, Iterable, Mapping, Sequence

from ansible_collections.romram.hailstorms.plugins.module_utils.compare import (
    COMPARISON, SHOWN, change_text, show_number)
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import core_intervals, request_times
from ansible_collections.romram.hailstorms.plugins.module_utils.planner import active_counter
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    empty_cell, Histogram, merge_cell, plan_phases)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import (
    count_against_plan, failures_by_label, generator_queueing_note)
from ansible_collections.romram.hailstorms.plugins.module_utils.live_metrics import live_metrics_line
from ansible_collections.romram.hailstorms.plugins.module_utils.service_metrics import SERIES_DRAWN

SHORTFALL = 0.02  # a host or the constant phase short of its plan by more than this is degraded,
SLACK = 4  # and a host only when also more than this many requests short (a stop on a slot moves one)
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
PLAN_COLOR = "#555555"
PHASE_COLORS = {"ramp-up": "#fff4d6", "constant": "#e6f3e6", "ramp-down": "#e8eef8"}
STAGE_COLORS = ("#eef3fa", "#f8f1e4")
W, H = 900, 250
TOP_LABELS = 6  # labels drawn in the per-label latency chart
EXACT_PLAN = 300_000  # up to this many planned requests, the planned rate counts each one's time
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 22, 34
POOL_LINES = 8  # up to this many cores, the pool chart draws each core's pool size

LATENCY_COLUMNS = ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
# the settings table: plan.json's key, what it is, its unit ("" for none)
SETTING_ROWS = (("run_id", "run id", ""), ("profile", "profile", ""), ("target", "target", ""),
                ("locustfile", "locustfile", ""), ("model", "model (closed: a fixed set of clients; open: arrivals)", ""),
                ("rps", "rate, planned peak", "task iterations / s"), ("clients", "clients", "clients"),
                ("max_clients", "users at most per run (the open model's pool cap)", "users"),
                ("pace", "pace: each client's time between two task iterations", "s"),
                ("gap", "time between two client starts", "s"), ("rampup", "ramp-up", "s"),
                ("constant", "constant phase", "s"), ("rampdown", "ramp-down", "s"), ("stages", "stages", ""),
                ("shape", "LoadTestShape", ""), ("user_classes", "user classes", ""),
                ("duration", "duration", "s"), ("expected_requests", "planned task iterations", "iterations"),
                ("cores_total", "load processes (one per core)", "processes"))
# the versions table: summary.json's key (versions.py, summary.load_versions), what it is
VERSION_ROWS = (("collection", "romram.hailstorms"), ("ansible_core", "ansible-core (controller)"),
                ("controller_python", "Python (controller)"), ("locust", "Locust (load hosts)"),
                ("load_python", "Python (load hosts)"))

Series = tuple[str, str, Sequence[tuple[float, float]], bool]  # name, colour, points, dashed (plan)

# the response-time distribution's bucket bounds (ms): < 1, 1-2, 2-5, ... 5,000-10,000, >= 10,000
LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
_EDGES_US = tuple(1000 * edge for edge in LATENCY_EDGES_MS)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _nice(top: float) -> float:
    """A round upper bound for an axis (1, 2, 2.5 or 5 x 10^n) at or above `top`."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * power:
            return step * power
    return 10 * power  # pragma: no cover


# a y axis's top (x 10^n) and its gridlines: close above the data (a 100-client plan on 0-120,
# not 0-200), every gridline a round number
Y_TOPS = ((1, 5), (1.2, 6), (1.5, 5), (2, 4), (2.5, 5), (3, 6), (4, 4), (5, 5), (6, 6), (8, 4), (10, 5))


def y_axis(peak: float) -> tuple[float, int]:
    """(top, gridline intervals) of a y axis for data up to `peak`, with 5 % room above it."""
    top = peak * 1.05
    if top <= 0:
        return 1.0, 5
    power = 10 ** math.floor(math.log10(top))
    for multiple, divisions in Y_TOPS:
        if top <= multiple * power * (1 + 1e-9):
            return round(multiple * power, 12), divisions
    return 10 * power, 5  # pragma: no cover


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def value_text(value: float) -> str:
    """A chart's value as a hover shows it: whole numbers whole, else 4 significant digits."""
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4g}"


def when_text(x: float) -> str:
    """A point's time: the second it counts (points of per-second series sit at s + 0.5), else the instant."""
    if (x - 0.5).is_integer():
        return f"{x - 0.5:g}-{x + 0.5:g} s"
    return f"{x:g} s"


def _xs(series: Sequence[Series], x_range: tuple[float, float]) -> list[float]:
    return sorted({x for _n, _c, points, _d in series for x, _y in points if x_range[0] <= x <= x_range[1]})


def hover_titles(series: Sequence[Series], plan_phases: Sequence[tuple[str, float, float]],
                 x_range: tuple[float, float]) -> list[tuple[float, float, float, str]]:
    """Per x value in the chart's range: (x, left, right, title), the column from halfway to the
    previous x to halfway to the next, the title the time, the phase and each series' value there."""
    xs = _xs(series, x_range)
    values: dict[float, list[str]] = {x: [] for x in xs}
    for name, _color, points, _dashed in series:
        for x, y in points:
            if x in values:
                values[x].append(f"{name}: {value_text(y)}")
    out = []
    phase_at = phase_finder(plan_phases)
    for i, x in enumerate(xs):
        left = (xs[i - 1] + x) / 2 if i else x_range[0]
        right = (x + xs[i + 1]) / 2 if i + 1 < len(xs) else x_range[1]
        phase = phase_at(x)
        out.append((x, left, right, f"{when_text(x)}" + (f" ({phase})" if phase else "") + "\n"
                    + "\n".join(values[x])))
    return out


def phase_finder(plan_phases: Sequence[tuple[str, float, float]]) -> Callable[[float], str | None]:
    """x -> the name of the first phase [start, end) holding x, or None. The phases of a plan follow
    each other in time (records.plan_phases): the one holding x is then the last that starts at or
    before it, found by bisection (a chart of 10,000 seconds over 10,000 stages scanned 10^8)."""
    starts = [start for _name, start, _end in plan_phases]
    in_order = starts == sorted(starts) and all(
        b[1] >= a[2] for a, b in zip(plan_phases, plan_phases[1:]) if a[2] > a[1])
    if not in_order:
        return lambda x: next((name for name, start, end in plan_phases if start <= x < end), None)

    def find(x: float) -> str | None:
        index = bisect_right(starts, x) - 1
        return plan_phases[index][0] if index >= 0 and plan_phases[index][1] <= x < plan_phases[index][2] else None
    return find


def _hover_columns(series: Sequence[Series], plan_phases: Sequence[tuple[str, float, float]],
                   x_range: tuple[float, float], sx: Any) -> str:
    return "".join(f'<rect class="hover" x="{sx(left):.1f}" y="{TOP}" width="{max(sx(right) - sx(left), 0.1):.1f}" '
                   f'height="{H - TOP - BOTTOM}" fill="transparent"><title>{_e(title)}</title></rect>'
                   for _x, left, right, title in hover_titles(series, plan_phases, x_range))


def phases(plan: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """The shaded parts of the time axis: records.plan_phases (ramps and constant, or the stages)."""
    return plan_phases(plan)


def chart(chart_id: str, title: str, y_label: str, series: Sequence[Series],
          plan_phases: Sequence[tuple[str, float, float]], x_range: tuple[float, float],
          marks: Sequence[tuple[str, float]] = ()) -> str:
    """One line chart as an SVG figure with its legend; `marks` are moments (what, seconds since
    the start) drawn as red vertical lines, e.g. where the controller aborted the run."""
    x0, x1 = x_range
    x1 = max(x1, x0 + 1)
    top, divisions = y_axis(max([y for _n, _c, pts, _d in series for _x, y in pts] + [0]))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return TOP + ph - y / top * ph

    parts = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{_e(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">']
    for i, (name, start, end) in enumerate(plan_phases):
        a, b = sx(max(start, x0)), sx(min(end, x1))
        if b > a:  # a trapezoid's phases have their colours; stages alternate two shades
            fill = PHASE_COLORS.get(name) or STAGE_COLORS[i % len(STAGE_COLORS)]
            parts.append(f'<rect class="phase" x="{a:.1f}" y="{TOP}" width="{b - a:.1f}" height="{ph}" '
                         f'fill="{fill}"><title>{_e(name)} {start:g}-{end:g} s</title></rect>'
                         f'<text x="{a + 4:.1f}" y="{TOP + 12}" fill="#777">{_e(name)}</text>')
    for i in range(divisions + 1):
        y = top * i / divisions
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{_fmt(y)}</text>')
    step = _nice((x1 - x0) / 10)
    tick = math.ceil(x0 / step) * step
    while tick <= x1:
        parts.append(f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{TOP + ph}" y2="{TOP + ph + 4}" stroke="#999"/>'
                     f'<text x="{sx(tick):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{_fmt(tick)}</text>')
        tick += step
    parts.append(f'<text x="{LEFT + pw / 2}" y="{H - 2}" text-anchor="middle" fill="#555">seconds since the start</text>'
                 f'<text x="12" y="{TOP + ph / 2}" transform="rotate(-90 12 {TOP + ph / 2})" text-anchor="middle" '
                 f'fill="#555">{_e(y_label)}</text>'
                 f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    parts.append(_hover_columns(series, plan_phases, (x0, x1), sx))
    drawn = 0
    legend = []
    for name, color, points, dashed in series:
        if not points:
            continue
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<polyline class="series" data-series="{_e(name)}" data-points="{len(points)}" '
                     f'fill="none" stroke="{color}" stroke-width="{1.5 if not dashed else 2}"{dash} '
                     f'points="{coords}"><title>{_e(name)}</title></polyline>')
        if len(points) == 1:
            x, y = points[0]
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}">'
                         f'<title>{_e(name)}: {value_text(y)} at {when_text(x)}</title></circle>')
        drawn += len(points)
        legend.append(f'<span class="key"><span class="swatch{" plan" if dashed else ""}" '
                      f'style="border-color:{color}"></span>{_e(name)}</span>')
    for what, at in marks:
        if x0 <= at <= x1:
            parts.append(f'<line class="mark" x1="{sx(at):.1f}" x2="{sx(at):.1f}" y1="{TOP}" y2="{TOP + ph}" '
                         f'stroke="#c00" stroke-width="2"><title>{_e(what)} at {at:g} s</title></line>')
    parts.append("</svg>")
    empty = "" if drawn else '<p class="note">nothing recorded</p>'
    return (f'<figure class="chart" id="{_e(chart_id)}" data-points="{drawn}" data-hover="{len(_xs(series, (x0, x1)))}" '
            f'data-x-range="{x0:g} {x1:g}" data-y-top="{top:g}"><figcaption>{_e(title)}</figcaption>'
            f'<div class="legend">{"".join(legend)}</div>{"".join(parts)}{empty}</figure>')


def _seconds(merged: Mapping[str, Any], plan: Mapping[str, Any]) -> list[int]:
    keys = set(int(s) for s in merged.get("seconds", {})) | set(int(s) for s in merged.get("active", {}))
    duration = float(plan.get("duration", 0) or 0)
    first = min(keys | {0})
    last = max(keys | {math.ceil(duration) - 1 if duration else 0})
    return list(range(first, last + 1))


def planned_rate(plan: Mapping[str, Any], seconds: Sequence[int]) -> list[tuple[float, float]]:
    """Planned requests in each second: every planned request time counted (up to EXACT_PLAN
    requests), else the active clients at the middle of the second over the pace."""
    pace = float(plan["pace"])
    if int(plan.get("expected_requests") or 0) <= EXACT_PLAN and plan.get("hosts"):
        counts: dict[int, int] = {}
        # hailstorm_scenarios: each scenario's own plan and part of each core, from its start
        parts = ([(sub, float(sub.get("start") or 0.0), name) for name, sub in plan["scenarios"].items()]
                 if plan.get("scenarios") else [(plan, 0.0, None)])
        for host in plan["hosts"].values():
            for core in host["cores"]:
                for sub, start, name in parts:
                    for client in core_intervals(sub, core["scenarios"][name] if name else core):
                        for at in request_times(client, float(sub["pace"])):
                            sec = math.floor(at + start)
                            counts[sec] = counts.get(sec, 0) + 1
        return [(s + 0.5, float(counts.get(s, 0))) for s in seconds]
    active_at = active_counter(plan)  # a staged plan's curve read once, not once per second
    return [(s + 0.5, active_at(s + 0.5) / pace) for s in seconds]


def scenario_series(merged: Mapping[str, Any], plan: Mapping[str, Any], seconds: Sequence[int]) -> list[Series]:
    """Each scenario's planned requests per second (dashed; its own plan from its start, exact up to
    EXACT_PLAN requests, else its active clients over its pace) and measured (its requests)."""
    out: list[Series] = []
    for i, (name, sub) in enumerate(plan["scenarios"].items()):
        colour, start = COLORS[i % len(COLORS)], float(sub.get("start") or 0.0)
        if int(sub.get("expected_requests") or 0) <= EXACT_PLAN:
            counts: dict[int, int] = {}
            for host in plan["hosts"].values():
                for core in host["cores"]:
                    for client in core_intervals(sub, core["scenarios"][name]):
                        for at in request_times(client, float(sub["pace"])):
                            counts[math.floor(at + start)] = counts.get(math.floor(at + start), 0) + 1
            planned = [(s + 0.5, float(counts.get(s, 0))) for s in seconds]
        else:
            active_at = active_counter(sub)
            planned = [(s + 0.5, active_at(s + 0.5 - start) / float(sub["pace"])) for s in seconds]
        cells = (merged.get("scenarios") or {}).get(name) or {}
        out.append((f"{name} planned", colour, planned, True))
        measured = [(s + 0.5, float(cells[s]["requests"]) if s in cells else 0.0) for s in seconds]
        out.append((f"{name} measured", colour, measured, False))
    return out


def scenario_table(summary: Mapping[str, Any]) -> str:
    """Each scenario's figures (summary.json's scenarios), or "" for a run without scenarios."""
    rows = []
    for name, row in (summary.get("scenarios") or {}).items():
        latency = row.get("latency") or {}
        rows.append([_e(name), _e(row.get("model")), _e(", ".join(row.get("user_classes") or [])), row.get("planned"),
                     row.get("sent"), row.get("requests", 0), *split(row.get("requests", 0), row.get("failures", 0)),
                     *(_ms(latency.get(key)) for key in ("p50_ms", "p95_ms", "p99_ms")),
                     (row.get("arrivals") or {}).get("dropped", "-") if row.get("model") == "open"
                     else row.get("overruns", 0)])
    if not rows:
        return ""
    return ("<h2>Scenarios</h2><p class=\"note\">Each scenario over its whole curve: its planned and sent task "
            "iterations, its requests and their service time; the closed model's overruns or the open model's "
            "dropped arrivals.</p>" + _table(["scenario", "model", "user classes", "planned", "sent", "requests",
                                              "successes", "failures", "failure %", "p50", "p95", "p99",
                                              "overruns / dropped"], rows, "scenarios"))


def pool_chart(merged: Mapping[str, Any], seconds: Sequence[int], plan_phases: Sequence[tuple[str, float, float]],
               x_range: tuple[float, float], marks: Sequence[tuple[str, float]] = ()) -> str:
    """The open model's pools: the users alive per core each second (each core's line up to
    POOL_LINES cores, else their mean and largest) and the users the pools started each second."""
    pools = [(f"{(core.get('meta') or {}).get('host', '?')} core {(core.get('meta') or {}).get('core', '?')}",
              core["pool"]) for core in merged.get("cores", []) if core.get("pool")]
    series: list[Series] = []
    if len(pools) <= POOL_LINES:
        for i, (name, pool) in enumerate(sorted(pools)):
            series.append((f"pool size, {name}", COLORS[(i + 2) % len(COLORS)],
                           [(s + 0.5, float(pool[s])) for s in seconds if s in pool], False))
    else:
        per_second = [(s, [pool[s] for _name, pool in pools if s in pool]) for s in seconds]
        series.append(("pool size, mean per core", COLORS[2],
                       [(s + 0.5, sum(sizes) / len(sizes)) for s, sizes in per_second if sizes], False))
        series.append(("pool size, largest core", COLORS[3],
                       [(s + 0.5, float(max(sizes))) for s, sizes in per_second if sizes], False))
    started = merged.get("pool_started") or {}
    series.append(("users started / s, all cores", COLORS[0],
                   [(s + 0.5, float(started.get(s, 0))) for s in seconds], False))
    return chart("pool", "Open model: the pool's users per core (alive at each second) and users started",
                 "users", series, plan_phases, x_range, marks)


BASELINE_COLOR = "#bbbbbb"  # the baseline's faint lines (compare.per_second)


def charts(merged: Mapping[str, Any], plan: Mapping[str, Any], marks: Sequence[tuple[str, float]] = (),
           baseline: Mapping[str, Any] | None = None) -> list[str]:
    """The report's charts: active clients, requests per second, latency, failures, pacing (`marks`: see chart);
    `baseline`: the baseline run's requests, p95 and p99 from schedule per second (the comparison's
    baseline_per_second), drawn faint and dashed on the rate and latency charts, on the same time axis (0 s:
    each run's start)."""
    seconds = _seconds(merged, plan)
    x_range = (float(seconds[0]), float(seconds[-1] + 1))
    plan_phases = phases(plan)
    has_plan = all(key in plan for key in ("clients", "pace")) and (
        bool(plan.get("stages")) or all(key in plan for key in ("gap", "stop_gap", "rampup", "constant")))
    active_at = active_counter(plan) if has_plan else None
    planned_active = [(s + 0.5, float(active_at(s + 0.5))) for s in seconds] if active_at else []
    active = merged.get("active", {})
    measured_active = [(s + 0.5, float(active[s])) for s in seconds if s in active]
    out = [chart("active", "Active clients: plan and measured", "clients",
                 [("planned", PLAN_COLOR, planned_active, True), ("measured", COLORS[0], measured_active, False)],
                 plan_phases, x_range)]

    per_second: dict[int, dict[str, Any]] = {}
    for sec, labels in merged.get("seconds", {}).items():
        cell = per_second.setdefault(int(sec), empty_cell())
        for label_cell in labels.values():
            merge_cell(cell, label_cell)
    rps_series: list[Series] = [("planned", PLAN_COLOR, planned_rate(plan, seconds) if has_plan else [], True),
                                ("measured, all hosts", COLORS[0],
                                 [(s + 0.5, float(per_second[s]["requests"])) for s in seconds if s in per_second],
                                 False)]
    hosts = merged.get("host_requests", {})
    if len(hosts) > 1:
        for i, (host, counts) in enumerate(sorted(hosts.items())):
            rps_series.append((f"measured, {host}", COLORS[(i + 2) % len(COLORS)],
                               [(s + 0.5, float(counts.get(s, 0))) for s in seconds if s in per_second], False))
    baseline_id = (baseline or {}).get("run_id", "")

    def faint(key: str) -> list[Series]:
        points = [(float(s) + 0.5, float(v)) for s, v in (baseline or {}).get(key) or []
                  if x_range[0] <= float(s) < x_range[1]]
        return [(f"baseline {baseline_id}", BASELINE_COLOR, points, True)] if points else []
    rps_series.extend(faint("requests"))
    out.append(chart("rps", "Requests per second: plan and measured", "requests / s", rps_series,
                     plan_phases, x_range, marks))
    if plan.get("scenarios"):
        out.append(chart("scenarios", "Requests per second per scenario: plan (dashed) and measured", "requests / s",
                         scenario_series(merged, plan, seconds), plan_phases, x_range, marks))

    latency: list[Series] = []
    for i, (name, q) in enumerate((("p50", 50.0), ("p95", 95.0), ("p99", 99.0))):
        points = []
        for s in seconds:
            if s in per_second and per_second[s]["requests"]:
                value = Histogram(per_second[s]["hist"]).percentile(q)
                if value is not None:
                    points.append((s + 0.5, value))
        latency.append((name, COLORS[i], points, False))
    scheduled = any(cell.get("sched_hist") for cell in per_second.values())
    if scheduled:  # from each request's slot, queueing included: the latency a closed model hides
        for i, (name, q) in enumerate((("p50 from schedule", 50.0), ("p99 from schedule", 99.0))):
            points = []
            for s in seconds:
                if s in per_second and per_second[s].get("sched_hist"):
                    value = Histogram(per_second[s]["sched_hist"]).percentile(q)
                    if value is not None:
                        points.append((s + 0.5, value))
            latency.append((name, COLORS[(i + 4) % len(COLORS)], points, True))
    latency.extend([(f"{name} p95", colour, points, dashed) for name, colour, points, dashed in faint("p95_ms")])
    if scheduled:
        latency.extend([(f"{name} p99 from schedule", colour, points, dashed)
                        for name, colour, points, dashed in faint("p99_from_schedule_ms")])
    out.append(chart("latency", "Latency per second (all labels, from the merged histograms): service time"
                     + (" and from schedule (dashed)" if scheduled else ""), "ms", latency, plan_phases, x_range, marks))

    totals: dict[str, int] = {}
    for labels in merged.get("seconds", {}).values():
        for label, cell in labels.items():
            totals[label] = totals.get(label, 0) + int(cell["requests"])
    top = sorted(totals, key=lambda label: (-totals[label], label))[:TOP_LABELS]
    per_label: list[Series] = []
    for i, label in enumerate(top):
        points = []
        for s in seconds:
            cell = merged["seconds"].get(s, {}).get(label)
            if cell and cell["requests"]:
                value = Histogram(cell["hist"]).percentile(95.0)
                if value is not None:
                    points.append((s + 0.5, value))
        per_label.append((label, COLORS[i % len(COLORS)], points, False))
    out.append(chart("latency-labels", f"p95 latency per second of the {len(top)} busiest labels", "ms", per_label,
                     plan_phases, x_range, marks))

    kinds = sorted({kind for cell in per_second.values() for kind in cell["errors"]})
    failures: list[Series] = [("all failures", COLORS[1],
                               [(s + 0.5, float(per_second[s]["failures"])) for s in seconds if s in per_second], False)]
    for i, kind in enumerate(kinds[:8]):
        failures.append((kind, COLORS[(i + 2) % len(COLORS)],
                         [(s + 0.5, float(per_second[s]["errors"].get(kind, 0))) for s in seconds if s in per_second],
                         False))
    out.append(chart("failures", "Failures per second by kind", "failures / s", failures, plan_phases, x_range, marks))

    dropped = merged.get("dropped") or {}
    if plan.get("model") == "open":
        out.append(chart("dropped", "Open model: arrivals dropped per second (no user within their tolerance)",
                         "arrivals / s", [("dropped", COLORS[1], [(s + 0.5, float(dropped.get(s, 0))) for s in seconds],
                                           False)], plan_phases, x_range, marks))
        out.append(pool_chart(merged, seconds, plan_phases, x_range, marks))
    overruns, late = merged.get("overruns_at", {}), merged.get("late_at", {})
    out.append(chart("pacing", "Pacing overruns and late client starts (counted at each flush)", "count",
                     [("pacing overruns", COLORS[4], [(s + 0.5, float(overruns.get(s, 0))) for s in seconds], False),
                      ("late starts", COLORS[3], [(s + 0.5, float(late.get(s, 0))) for s in seconds], False)],
                     plan_phases, x_range, marks))
    return out


def service_charts(service: Mapping[str, Any] | None, plan: Mapping[str, Any],
                   x_range: tuple[float, float], marks: Sequence[tuple[str, float]] = ()) -> list[str]:
    """One chart per named query of the service's metrics (service_metrics.fetch), on the load's
    time axis with the plan's phases shaded; a query that failed or returned nothing says so."""
    if not service:
        return []
    out = []
    for i, (name, entry) in enumerate(service["queries"].items()):
        rows = sorted(entry["series"], key=lambda row: -len(row["points"]))[:SERIES_DRAWN]
        series: list[Series] = [(row["name"] or name, COLORS[(i + j) % len(COLORS)],
                                 [(float(at), float(value)) for at, value in row["points"]], False)
                                for j, row in enumerate(rows)]
        figure = chart(f"service-{name}", f"{name}: {entry['query']} (step {service['step']} s)", name, series,
                       phases(plan), x_range, marks)
        if entry.get("error"):
            figure = figure.replace("</figcaption>", f'</figcaption><p class="note service-error">{_e(entry["error"])}'
                                                     "</p>", 1)
        out.append(figure)
    return out


def service_table(service: Mapping[str, Any] | None) -> str:
    """The summary's row per query: min / mean / max over the constant phase, or why there is none."""
    if not service:
        return ""
    rows = []
    for name, entry in service["queries"].items():
        over = entry.get("over")
        rows.append([_e(name), f'<code>{_e(entry["query"])}</code>',
                     f"{over[0]}-{over[1]} s" if over else "-", _num(entry.get("points")),
                     *(_fmt(entry[key]) if entry.get(key) is not None else "-" for key in ("min", "mean", "max")),
                     _e(entry.get("error") or "")])
    return (f'<h2>Service metrics</h2><p class="note">From {_e(service["url"])}, step {service["step"]} s, over the '
            "constant phase.</p>" + _table(["query", "PromQL", "over", "points", "min", "mean", "max", "note"],
                                           rows, "service"))


def distribution(hist: Mapping[Any, int]) -> list[int]:
    """A histogram's counts (records.Histogram json: bucket lower bound in µs -> count) per bucket
    of LATENCY_EDGES_MS: len(LATENCY_EDGES_MS) + 1 counts that add up to the histogram's."""
    counts = [0] * (len(_EDGES_US) + 1)
    for lower, n in hist.items():
        counts[bisect_right(_EDGES_US, int(lower))] += int(n)
    return counts


def label_distributions(merged: Mapping[str, Any]) -> list[tuple[str, list[int]]]:
    """Each label's whole-run distribution (labels in order), then all labels' ("all")."""
    hists: dict[str, Histogram] = {}
    for labels in merged.get("seconds", {}).values():
        for label, cell in labels.items():
            hists.setdefault(label, Histogram()).merge(cell.get("hist") or {})
    rows = [(label, distribution(hists[label].counts)) for label in sorted(hists)]
    overall = [sum(column) for column in zip(*(counts for _label, counts in rows))] or [0] * (len(_EDGES_US) + 1)
    return rows + [("all", overall)]


def bucket_name(index: int) -> str:
    """The heading of distribution bucket `index`: '< 1 ms', '20-50 ms', '1-2 s', '>= 10 s'."""
    def unit(ms: int) -> str:
        return f"{ms // 1000} s" if ms >= 1000 else f"{ms} ms"
    if index == 0:
        return f"< {unit(LATENCY_EDGES_MS[0])}"
    if index == len(LATENCY_EDGES_MS):
        return f"\u2265 {unit(LATENCY_EDGES_MS[-1])}"
    low, high = LATENCY_EDGES_MS[index - 1], LATENCY_EDGES_MS[index]
    return f"{low // 1000}-{unit(high)}" if low >= 1000 else f"{low}-{high} ms"


def distribution_table(rows: Sequence[tuple[str, Sequence[int]]]) -> str:
    """The distribution as a table: a row per label, a column per bucket from the first to the
    last any label used; each cell's count with a bar of its share of the row and its share on hover."""
    used = [i for i in range(len(LATENCY_EDGES_MS) + 1) if any(counts[i] for _label, counts in rows)]
    if not used:
        return '<p class="note">no request recorded</p>'
    columns = range(used[0], used[-1] + 1)
    head = "".join(f"<th>{_e(bucket_name(i))}</th>" for i in columns)
    body = []
    for label, counts in rows:
        total = sum(counts)
        cells = []
        for i in columns:
            share = 100.0 * counts[i] / total if total else 0.0
            cells.append(f'<td style="background:linear-gradient(90deg,#cfe0f5 {share:.1f}%,transparent {share:.1f}%)" '
                         f'title="{_e(label)}: {counts[i]} of {total} requests ({share:.1f} %) in '
                         f'{_e(bucket_name(i))}">{counts[i]}</td>')
        name = f"<b>{_e(label)}</b>" if label == "all" else _e(label)
        body.append(f'<tr data-label="{_e(label)}" data-requests="{total}"><td>{name}</td><td>{total}</td>'
                    + "".join(cells) + "</tr>")
    return (f'<table class="distribution"><thead><tr><th>label</th><th>requests</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _stages_text(stages: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{i + 1}: {_fmt(float(st.get('from_rps', 0)))} to {_fmt(float(st['rps']))} task iterations / s "
                     f"over {_fmt(float(st['duration']))} s" for i, st in enumerate(stages))


def settings_rows(plan: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The run's settings as (what, value, unit), in SETTING_ROWS' order, those the plan has;
    the model is closed unless the plan says open. Values are text, not yet escaped."""
    values = {"model": "closed", **plan}
    rows = []
    for key, name, unit in SETTING_ROWS:
        value = values.get(key)
        if value is None or value == [] or value == "":
            continue
        if key == "stages":
            text = _stages_text(value)
        elif isinstance(value, (list, tuple)):
            text = ", ".join(str(item) for item in value)
        elif isinstance(value, float):
            text = f"{value:.4g}" if not value.is_integer() else f"{value:.0f}"
        else:
            text = str(value)
        rows.append((name, text, unit))
    return rows


def version_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(what, version) for each of VERSION_ROWS; '-' when the run did not record it (an older plan or runtime)."""
    recorded = summary.get("versions") or {}
    return [(name, str(recorded.get(key) or "-")) for key, name in VERSION_ROWS]


def degradations(summary: Mapping[str, Any], plan: Mapping[str, Any]) -> list[str]:
    """What went wrong in the run, in words (empty: nothing)."""
    out: list[str] = [str(reason) for reason in summary.get("reasons") or []]
    cores = summary.get("cores", [])
    for core in cores:
        if core.get("end") != "done":
            out.append(f"load process {core.get('host')}/core {core.get('core')} ended: {core.get('end')}")
        if core.get("bad_lines"):
            out.append(f"load process {core.get('host')}/core {core.get('core')}: {core['bad_lines']} record line(s) "
                       "left out (cut by a kill, or not of the record format: named below)")
    out.extend(str(message) for message in summary.get("warnings") or [])  # those lines, named (summary.merge)
    # a burst over the generator limit too short for the verdict (the generator-limited say so above)
    out.extend(note[1:-1].replace("of the requests above", "of the run's requests")
               for note in generator_queueing_note(summary) if "over its limit" in note)
    for host, planned in (plan.get("hosts") or {}).items():
        mine = [core for core in cores if core.get("host") == host]
        expected_cores = len(planned.get("cores", []))
        if len(mine) < expected_cores:
            out.append(f"host {host}: {expected_cores - len(mine)} of {expected_cores} load processes left no record")
        want = int(planned.get("requests") or 0)  # the plan counts task iterations
        sent, iterations = count_against_plan(mine)
        what = "task iterations" if iterations else "requests"
        if want and sent < want - max(SHORTFALL * want, SLACK):
            out.append(f"host {host} ran {sent} {what} of {want} planned ({100.0 * sent / want:.1f} %)")
    starts = summary.get("starts") or {}
    planned_clients, started = starts.get("clients_planned"), starts.get("clients_started")
    if planned_clients and started is not None and started < planned_clients:
        out.append(f"{planned_clients - started} of {planned_clients} clients never started")
    if starts.get("late_clients"):
        out.append(f"{starts['late_clients']} clients started more than {1000 * starts.get('late_threshold', 0):.0f} ms "
                   f"after their slot (the latest {1000 * starts.get('max_late', 0):.0f} ms late)")
    phase = summary.get("constant_phase") or {}
    if phase.get("ratio") is not None and phase["ratio"] < 1 - SHORTFALL:
        out.append(f"the constant phase reached {phase['rps']:g} rps of {phase['target_rps']:g} targeted "
                   f"({100.0 * phase['ratio']:.1f} %)")
    pacing = summary.get("pacing") or {}
    if pacing.get("overruns"):
        out.append(f"{pacing['overruns']} responses outlasted their client's pace ({pacing['clients_affected']} "
                   "clients): those clients sent less than planned")
    return out


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "",
           row_classes: Sequence[str] | None = None) -> str:
    """A table; a cell is its HTML, or (HTML, CSS class) for a cell to emphasise (see `_failed`)."""
    head_html = "".join(f"<th>{_e(h)}</th>" for h in head)

    def td(cell: Any) -> str:
        return f'<td class="{cell[1]}">{cell[0]}</td>' if isinstance(cell, tuple) else f"<td>{cell}</td>"
    body = "".join((f'<tr class="{row_classes[i]}">' if row_classes else "<tr>")
                   + "".join(td(cell) for cell in row) + "</tr>" for i, row in enumerate(rows))
    return f'<table class="{cls}"><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table>'


FAILED_CLASS = ' class="failed"'


def _failed(text: Any, count: Any) -> Any:
    """A failure count's cell: emphasised (class "failed", red) when above zero."""
    return (text, "failed") if count else text


def split(requests: Any, failures: Any) -> list[Any]:
    """The success / failure split of a label, stage or run: successes, failures and failure %
    (cells of _table, the failures emphasised when above zero)."""
    requests, failures = int(requests or 0), int(failures or 0)
    percent = f"{100.0 * failures / requests:.2f}" if requests else "-"
    return [requests - failures, _failed(failures, failures), _failed(percent, failures)]


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if not value.is_integer() else f"{value:.0f}"
    return _e(value)


def _offset(seconds: Any) -> str:
    return "-" if seconds is None else f"{1000.0 * float(seconds):+.1f}"


def live_metrics_paragraph(figures: Mapping[str, Any] | None) -> str:
    """The header's line about the live metrics (live_metrics.live_metrics_line): samples pushed
    and lost, the cores that lost any and why, and the histograms' form; "" when off."""
    line = live_metrics_line(figures)
    if not line:
        return ""
    cls = ' class="warn"' if figures and figures.get("lost") else ""
    return f'<p id="live-metrics"{cls}>{_e(line)}</p>'


def _duration_s(summary: Mapping[str, Any], plan: Mapping[str, Any]) -> float:
    series = summary.get("series") or []
    return float(len(series)) or float(plan.get("duration") or 1)


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#23395d;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:8px 28px 40px;max-width:1100px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}
.verdict{font-weight:bold;padding:10px 14px;border-radius:4px;margin:14px 0}
.pass{background:#dff0d8;color:#24522a}.fail{background:#f8d7da;color:#721c24}.warn{background:#fff3cd;color:#6b4e00}
ul.degraded{background:#fff3cd;border-left:4px solid #e0a800;padding:10px 10px 10px 30px;margin:8px 0}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#eef1f5}
td:first-child,th:first-child{text-align:left}td.text,table.settings td,table.versions td{text-align:left}
tr.broken td{background:#fbe3e4}td.failed,dd.failed{color:#a40012;font-weight:bold;background:#fde8ea}dd.failed{justify-self:start;padding:0 4px}
rect.hover:hover{fill:rgba(35,57,93,.10)}tr.passed td{background:#eaf6ea}
td.worse{color:#a40012;font-weight:bold}td.better{color:#1d6b2a;font-weight:bold}
figure.chart{background:#fff;border:1px solid #ddd;margin:12px 0;padding:8px}
figcaption{font-weight:bold;font-size:14px}.legend{font-size:12px;margin:4px 0}
.key{margin-right:14px;white-space:nowrap}.swatch{display:inline-block;width:22px;border-top:3px solid;
margin-right:5px;vertical-align:middle}.swatch.plan{border-top-style:dashed}
.note{color:#777;font-style:italic}dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}
dt{font-weight:bold}dd{margin:0}
"""


def _baseline_header(comparison: Mapping[str, Any] | None) -> str:
    if not comparison:
        return ""
    base = comparison["baseline"]
    versions = ", ".join(f"{k} {v}" for k, v in sorted((base.get("versions") or {}).items()) if v)
    return (f'<p id="baseline">baseline {_e(base["run_id"])}' + (f" (tag {_e(base['tag'])})" if base.get("tag") else "")
            + (f", started {_e(base['start'])}" if base.get("start") else "")
            + (f"; made with {_e(versions)}" if versions else "") + "</p>")


def verdict_line(summary: Mapping[str, Any]) -> str:
    """The one PASS/FAIL line of a run, with its exit code: what the report and the printed
    summary open and end with ("PASS: exit code 0 - completed, 3 thresholds met")."""
    code = int(summary.get("exit_code") or 0)
    state = summary.get("state") or "?"
    verdicts = (summary.get("thresholds") or {}).get("verdicts") or []
    broken = sum(1 for v in verdicts if not v.get("passed"))
    judged = (f"{broken} of {len(verdicts)} thresholds broken" if broken
              else f"{len(verdicts)} thresholds met" if verdicts else "no thresholds")
    return f"{'PASS' if code == 0 else 'FAIL'}: exit code {code} - run {state}, {judged}"


def _change_cell(metric: str, row: Mapping[str, Any]) -> Any:
    text = _e(change_text(metric, row))
    direction = row.get("direction")
    if direction == "worse":
        return (f"&#9650; {text}", "worse")  # a regression: up arrow, red
    if direction == "better":
        return (f"&#9660; {text}", "better")
    return text


def comparison_section(comparison: Mapping[str, Any] | None) -> str:
    """The comparison with the baseline (compare.compare): one table of deltas (baseline -> now,
    change; regressions red with an up arrow, improvements green with a down one), overall, per
    label and per stage of the same name, the p95's significance hint and what differs."""
    if not comparison:
        return ""
    base, now = comparison["baseline"], comparison["now"]
    metrics = [m for m in SHOWN if any(rows.get(m, {}).get("baseline") is not None or rows.get(m, {}).get("now")
                                       is not None for rows in [comparison["overall"]])]
    head = ["scope", "metric", f"baseline {base['run_id']}", f"now {now['run_id']}", "change"]
    rows, classes = [], []
    scopes = [("all", comparison["overall"])] + list(comparison["labels"].items()) + [
        (f"stage {name}", rows_) for name, rows_ in comparison.get("stages", {}).items()]
    for scope, deltas in scopes:
        for metric in metrics:
            row = deltas[metric]
            rows.append([f"<b>{_e(scope)}</b>" if scope == "all" else _e(scope), _e(metric),
                         _e(show_number(metric, row["baseline"])), _e(show_number(metric, row["now"])),
                         _change_cell(metric, row)])
            classes.append(row.get("direction") or "")
    noise = comparison["noise"]["all"]
    hint = (f"p95 change {noise['hint']}: noise &plusmn;{noise['noise_ms']:.2f} ms ({_e(noise['method'])})"
            if noise["hint"] != "unknown" else f"no significance hint ({_e(noise['method'])})")
    text = (f'<section id="comparison"><h2>Compared with baseline {_e(base["run_id"])}</h2>'
            f'<p class="note">baseline over the {_e(comparison["over"]["baseline"])}, this run over the '
            f'{_e(comparison["over"]["now"])}; exact, from both runs\' merged histograms. '
            f'&#9650; red: worse, &#9660; green: better. {hint}</p>')
    if comparison.get("differences"):
        text += '<ul class="degraded" id="differences">' + "".join(
            f"<li>{_e(line)}</li>" for line in comparison["differences"]) + "</ul>"
    return text + _table(head, rows, "comparison", classes) + "</section>"


def render(merged: Mapping[str, Any], summary: Mapping[str, Any], plan: Mapping[str, Any],
           verdicts: Sequence[Mapping[str, Any]] = (), threshold_phase: str | None = None,
           files: Mapping[str, str] | None = None, clock_offsets: Mapping[str, Any] | None = None,
           service: Mapping[str, Any] | None = None) -> str:
    """The whole page. `clock_offsets`: per host, its clock's offset from the controller's in
    seconds as preflight measured it (the `clock_offset` of the host's data.json), when known.
    `service`: the service's metrics (service_metrics.fetch), drawn beside the load's charts."""
    offsets = clock_offsets or {}
    run_id = plan.get("run_id") or "?"
    clock = summary.get("clock")  # the wall-clock start and end (exports.run_clock)
    degraded = degradations(summary, plan)
    broken = [v for v in verdicts if not v.get("passed")]
    state = summary.get("state")
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>hailstorms run {_e(run_id)}</title><style>{CSS}</style></head><body>",
             f"<header><h1>Load test {_e(run_id)}</h1><p>{_e(plan.get('target', ''))} &middot; "
             f"{_num(plan.get('clients'))} clients, {_num(plan.get('rps'))} rps target, "
             f"{_num(plan.get('duration'))} s &middot; profile {_e(plan.get('profile', '-'))}</p>"
             + (f'<p id="clock">from <time datetime="{clock["start"]}">{clock["start"]}</time> to '
                f'<time datetime="{clock["end"]}">{clock["end"]}</time> ({clock["seconds"]:g} s; the charts\' '
                f'0 s is the start)</p>' if clock else "")
             + _baseline_header(summary.get(COMPARISON))
             + (f'<p id="grafana"><a href="{_e(summary["grafana"])}">this run in Grafana</a> (the live metrics, '
                f'run id {_e(run_id)}, its time range)</p>' if summary.get("grafana") else "")
             + live_metrics_paragraph(summary.get("live_metrics"))
             + "</header><main>"]
    verdict = verdict_line(summary)
    parts.append(f'<div class="verdict {"pass" if verdict.startswith("PASS") else "fail"}" id="verdict">'
                 f"{_e(verdict)}</div>")
    parts.append(comparison_section(summary.get(COMPARISON)))
    if state:
        cls = "pass" if state == "completed" else "warn" if state == "degraded" else "fail"
        parts.append(f'<div class="verdict {cls}" id="state">run state: {_e(state)}</div>')
    if summary.get("locustfile_decided"):  # environment.process_exit_code (run_state.locustfile_decided)
        parts.append(f'<p class="verdict" id="locustfile-verdict">{_e(summary["locustfile_decided"])}</p>')
    if summary.get("abort"):
        parts.append(f'<div class="verdict fail" id="abort">aborted by the controller at '
                     f'{float(summary["abort"]["at"]):g} s (red line on the charts): {_e(summary["abort"]["reason"])}'
                     "</div>")
    if verdicts:
        if broken:
            parts.append(f'<div class="verdict fail" id="thresholds-verdict">{len(broken)} of {len(verdicts)} '
                         "thresholds broken: " + "; ".join(_e(v["message"]) for v in broken) + "</div>")
        else:
            parts.append(f'<div class="verdict pass" id="thresholds-verdict">all {len(verdicts)} thresholds met</div>')
    if degraded:
        parts.append('<ul class="degraded" id="degradations">' + "".join(f"<li>{_e(d)}</li>" for d in degraded) + "</ul>")
    else:
        parts.append('<p class="verdict pass" id="degradations">nothing degraded: every load process ended as '
                     "planned, every client started on time, every host sent its planned requests</p>")

    total, failures = summary.get("requests", 0), summary.get("failures", 0)
    phase = summary.get("constant_phase") or {}
    parts.append("<h2>Overview</h2><dl>"
                 f"<dt>requests</dt><dd>{total} (planned {_num(summary.get('expected_requests'))})</dd>"
                 f"<dt>failures</dt><dd{FAILED_CLASS if failures else ''}>{failures} "
                 f"({100.0 * (summary.get('failure_rate') or 0):.2f} %)</dd>"
                 + (f"<dt>constant phase</dt><dd>{phase['from']}-{phase['to']} s: {phase['rps']:g} rps of "
                    f"{phase['target_rps']:g} ({100.0 * (phase.get('ratio') or 0):.1f} %)</dd>" if phase else "")
                 + (f"<dt>task iterations</dt><dd>{summary['iterations']} ({summary['requests_per_iteration']:.2f} "
                    "requests per iteration; the planned rps paces iterations)</dd>" if summary.get("iterations") else "")
                 + f"<dt>pacing overruns</dt><dd>{(summary.get('pacing') or {}).get('overruns', 0)}</dd>"
                 f"<dt>late clients</dt><dd>{(summary.get('starts') or {}).get('late_clients', 0)}</dd></dl>")

    if summary.get("iteration_warning"):
        parts.append(f'<p class="verdict warn" id="iteration-warning">{_e(summary["iteration_warning"])}</p>')
    parts.append("<h2>Charts</h2>")
    abort = summary.get("abort") or {}
    marks = [("aborted: " + str(abort.get("reason")), float(abort["at"]))] if abort.get("at") is not None else []
    comparison = summary.get(COMPARISON) or {}
    parts.extend(charts(merged, plan, marks, {**(comparison.get("baseline_per_second") or {}),
                                              "run_id": (comparison.get("baseline") or {}).get("run_id")}
                        if comparison else None))
    seconds_axis = _seconds(merged, plan)
    parts.extend(service_charts(service, plan, (float(seconds_axis[0]), float(seconds_axis[-1] + 1)), marks))
    parts.append(service_table(service))

    seconds = _duration_s(summary, plan)
    parts.append(scenario_table(summary))
    parts.append("<h2>Requests per label</h2><p class=\"note\">Whole run. Percentiles from the merged histograms "
                 "(3 significant digits), never averaged.</p>")
    latency = summary.get("latency") or {}
    rows = []
    label_rows = list((latency.get("labels") or {}).items())
    overall = {**(latency.get("overall") or {}), "requests": total, "failures": failures}
    for label, row in label_rows + [("all", overall)]:
        rows.append([f"<b>{_e(label)}</b>" if label == "all" else _e(label), row.get("requests", 0),
                     *split(row.get("requests", 0), row.get("failures", 0)), f"{row.get('requests', 0) / seconds:.2f}",
                     *(_ms(row.get(key)) for key in LATENCY_COLUMNS)])
    parts.append(_table(["label", "requests", "successes", "failures", "failure %", "rps", "min ms", "mean ms", "p50",
                         "p90", "p95", "p99", "p99.9", "max ms"], rows, "labels"))
    parts.append("<h2>Response-time distribution</h2><p class=\"note\">Whole run, every request (failures "
                 "included) counted in the bucket of its response time; a row adds up to the label's requests. "
                 "Hover a cell for its share.</p>" + distribution_table(label_distributions(merged)))

    from_schedule = latency.get("from_schedule") or {}
    if (from_schedule.get("overall") or {}).get("count"):
        parts.append("<h2>Latency from schedule</h2><p class=\"note\">From the slot each request's task iteration "
                     "was due at to its answer, queueing included (the closed model: from the first slot a late "
                     "client missed). What a user waiting for the service sees; the table above is the service time "
                     "as Locust measures it. The difference is the latency a closed model hides.</p>")
        sched_rows = []
        for label, row in list((from_schedule.get("labels") or {}).items()) + [("all", from_schedule["overall"])]:
            if row:
                sched_rows.append([f"<b>{_e(label)}</b>" if label == "all" else _e(label), row.get("count", 0),
                                   *(_ms(row.get(key)) for key in LATENCY_COLUMNS)])
        parts.append(_table(["label", "requests", "min ms", "mean ms", "p50", "p90", "p95", "p99", "p99.9", "max ms"],
                            sched_rows, "from-schedule"))
    arrivals = summary.get("arrivals")
    if arrivals:
        parts.append("<h2>Open model</h2>" + _table(
            ["arrivals planned", "sent", "dropped", "users started", "pool max per core", "pool cap per core"],
            [[_num(arrivals.get("planned")), _num(arrivals.get("sent")), _num(arrivals.get("dropped")),
              _num(arrivals.get("users_started")), _num(arrivals.get("pool_max_per_core")),
              _num(arrivals.get("pool_cap_per_core"))]], "arrivals"))

    stages = summary.get("stages") or []
    if stages:
        parts.append("<h2>Stages</h2><p class=\"note\">Whole seconds of each stage; the planned rate is the "
                     "stage's mean (linear from its start rate to its end rate).</p>")
        parts.append(_table(["stage", "from s", "to s", "planned rps", "rps", "requests", "failures", "p50", "p95",
                             "p99"],
                            [[_e(st["name"]), _num(st["start"]), _num(st["end"]), _num(st["planned_rps"]),
                              _num(st["rps"]), st["requests"], _failed(st["failures"], st["failures"]), _ms(st["p50_ms"]), _ms(st["p95_ms"]),
                              _ms(st["p99_ms"])] for st in stages], "stages"))

    parts.append("<h2>Failures by kind</h2>")
    kinds = failures_by_label(merged)
    parts.append(_table(["label", "kind (HTTP code, exception or message)", "count", "first s", "last s"],
                        [[_e(label), _e(kind), n, first, last] for (label, kind), (n, first, last) in kinds],
                        "failures") if kinds else '<p class="note">no failure</p>')

    parts.append("<h2>Locustfile exceptions</h2>")
    exceptions = summary.get("exceptions") or []
    parts.append(_table(["exception (class: first line)", "count", "traceback (first seen)"],
                        [[_e(row["kind"]), row["count"], f"<pre>{_e(row['traceback'])}</pre>"] for row in exceptions],
                        "exceptions") if exceptions else '<p class="note">no exception in the locustfile</p>')

    parts.append("<h2>Thresholds</h2>")
    if verdicts:
        parts.append(f'<p class="note">judged over: {_e(threshold_phase or "-")}</p>')
        parts.append(_table(["threshold", "label", "limit", "measured", "verdict", "over"],
                            [[_e(v["threshold"]), _e(v["label"]), _num(v["limit"]), _num(v["measured"]),
                              "pass" if v["passed"] else "<b>BROKEN</b>", _e(v.get("over", ""))] for v in verdicts],
                            "thresholds", ["passed" if v["passed"] else "broken" for v in verdicts]))
    else:
        parts.append('<p class="note">no thresholds set (hailstorm_thresholds)</p>')

    parts.append("<h2>Hosts and cores</h2>")
    parts.append(_table(["host", "clock offset ms", "core", "clients", "started", "late", "max late ms",
                         "start delay ms", "requests", "failures", "overruns", "ended"],
                        [[_e(c.get("host")), _offset(offsets.get(c.get("host"))), _e(c.get("core")),
                          _num(c.get("clients")), c.get("started"),
                          c.get("late_clients"), f"{1000 * (c.get('max_late') or 0):.0f}",
                          "-" if c.get("start_delay") is None else f"{1000 * c['start_delay']:.0f}",
                          c.get("requests"), c.get("failures"), c.get("overruns"), _e(c.get("end"))]
                         for c in summary.get("cores", [])], "cores"))

    parts.append("<h2>Settings and plan</h2>")
    parts.append(_table(["setting", "value", "unit"], [[_e(name), _e(value), _e(unit)]
                                                       for name, value, unit in settings_rows(plan)], "settings"))
    parts.append(_table(["made with", "version"], [[_e(name), _e(version)] for name, version in version_rows(summary)],
                        "versions"))
    for warning in plan.get("warnings") or []:
        parts.append(f'<p class="note">warning: {_e(warning)}</p>')
    parts.append(_table(["host", "cores", "clients", "planned requests", "sent requests"],
                        [[_e(host), len(h.get("cores", [])), h.get("clients"), h.get("requests"),
                          sum(int(c.get("requests") or 0) for c in summary.get("cores", []) if c.get("host") == host)]
                         for host, h in (plan.get("hosts") or {}).items()], "plan"))
    if files:
        parts.append("<h2>Files</h2>" + _table(["file", "what"], [[_e(k), _e(v)] for k, v in files.items()], "files"))
    parts.append("</main></body></html>\n")
    return "".join(parts)
