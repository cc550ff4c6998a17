# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparing a run with a baseline run: pure Python (no Ansible), docs/comparing-runs.md.

Exact: both runs keep their merged latency histograms in summary.json (the `histograms` block,
written by `histogram_block`), so every percentile of both is read from histograms that were
summed, never averaged or re-sampled, and never from the rounded CSV figures.

    summary["histograms"] = {
      "schema": 1,
      "phase": "constant",            # the phase the thresholds are judged over (thresholds.check)
      "description": "constant phase 20-50 s", "window": [20, 50], "seconds": 30,
      "overall": CELL, "labels": {label: CELL},
      "stages": {name: {"window": [a, b], "seconds": n, "overall": CELL}},   # a staged plan's
      "batches": {"all": [p95_ms, ...], label: [...]},   # the p95 of BATCHES equal time slices
      "per_second": {"requests": [[second, n], ...], "p95_ms": [[second, ms], ...]},  # the whole run
    }
    CELL = {"requests", "failures", "time_us", "hist": {bucket_us: count},
            "sched_time_us", "sched_hist": {...}}        # the from-schedule pair when recorded

`compare(now, baseline)` (two summaries) returns the `comparison` block summary.json carries:
per metric of METRICS, overall, per label and per stage of the same name, the baseline value,
the value now, the change (absolute) and the change in % of the baseline; what differs between
the two plans; and a significance hint for the p95 (`noise`).

The significance hint (batch means): the judged phase is cut into BATCHES equal slices of
whole seconds; the p95 of each slice, from its own merged histogram, varies from slice to slice
as much as the service is noisy. The standard error of a run's p95 is taken as the standard
deviation of its slices' p95 over sqrt(number of slices); a change in p95 is `significant`
when it exceeds Z (2) times sqrt(se_now^2 + se_baseline^2), else `within noise`. With fewer
than 3 slices holding requests in either run there is no hint (`unknown`).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    Histogram, empty_cell, merge_cell, plan_phases, split_label)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import (
    FROM_SCHEDULE, PERCENTILES, label_cells, latency_figures, phase_window, _whole_seconds)

SCHEMA = 1
BLOCK = "histograms"  # the summary's key of the merged histograms
COMPARISON = "comparison"  # the summary's key of the comparison with the baseline
BATCHES = 10  # time slices of the judged phase for the significance hint
MIN_BATCHES = 3  # slices holding requests needed in each run for a hint
Z = 2.0  # standard errors a p95 change must exceed to be called significant

LATENCY_KEYS = tuple(key for key, _q in PERCENTILES) + ("max_ms", "mean_ms")
SCHEDULE_KEYS = tuple(key[:-3] + FROM_SCHEDULE + "_ms" for key in LATENCY_KEYS)
# metric: (what it is, which way is better: "lower", "higher" or None for neither)
METRICS: dict[str, tuple[str, str | None]] = {
    "requests": ("requests", None),
    "rps": ("requests per second", "higher"),
    "failures": ("failed requests", "lower"),
    "failure_rate": ("failure rate (change in percentage points)", "lower"),
    **{key: (f"{key[:-3].replace('p999', 'p99.9')} latency, ms", "lower") for key in LATENCY_KEYS},
    **{key: (f"{key.split('_')[0].replace('p999', 'p99.9')} latency from schedule, ms", "lower")
       for key in SCHEDULE_KEYS},
}
SHOWN = ("requests", "rps", "failures", "failure_rate", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms",
         "p95" + FROM_SCHEDULE + "_ms", "p99" + FROM_SCHEDULE + "_ms")  # the report's delta table columns
PLAN_KEYS = ("model", "rps", "rampup", "constant", "rampdown", "clients", "pace")  # the curve, compared


class CompareError(ValueError):
    """Two runs that cannot be compared; the message says why and how to fix it."""


# --- the histograms block (written with each summary) -------------------------------------------

def _cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    out = {"requests": int(cell["requests"]), "failures": int(cell["failures"]), "time_us": int(cell["time_us"]),
           "hist": Histogram(cell.get("hist") or {}).to_json()}
    if cell.get("sched_hist"):
        out["sched_time_us"] = int(cell.get("sched_time_us", 0))
        out["sched_hist"] = Histogram(cell["sched_hist"]).to_json()
    return out


def _total(cells: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    overall = empty_cell()
    for cell in cells:
        merge_cell(overall, cell)
    return overall


def _span(merged: Mapping[str, Any], window: tuple[int, int] | None) -> tuple[int, int] | None:
    if window is not None:
        return window
    seconds = [int(sec) for sec in merged.get("seconds", {})]
    return (min(seconds), max(seconds) + 1) if seconds else None


def _batches(merged: Mapping[str, Any], window: tuple[int, int] | None) -> dict[str, list[float]]:
    """The p95 (ms) of each of BATCHES equal slices of the window, overall ("all") and per label;
    slices without requests left out."""
    if window is None:
        return {}
    first, last = window
    width = max(1, math.ceil((last - first) / BATCHES))
    slices: dict[int, dict[str, dict[int, int]]] = {}
    for sec, per_label in merged.get("seconds", {}).items():
        sec = int(sec)
        if not first <= sec < last:
            continue
        hists = slices.setdefault((sec - first) // width, {})
        for label, cell in per_label.items():
            for name in ("all", label):
                hist = hists.setdefault(name, {})
                for key, n in (cell.get("hist") or {}).items():
                    hist[int(key)] = hist.get(int(key), 0) + int(n)
    out: dict[str, list[float]] = {}
    for index in sorted(slices):
        for name, counts in sorted(slices[index].items()):
            value = Histogram(counts).percentile(95.0)
            if value is not None:
                out.setdefault(name, []).append(value)
    return out


def histogram_block(merged: Mapping[str, Any], plan: Mapping[str, Any], phase: Any = "constant") -> dict[str, Any]:
    """The `histograms` block of summary.json: the merged cells over the judged phase, overall
    and per label, per stage of a staged plan, and the p95 of each time slice (the noise)."""
    window, description = phase_window(plan, phase)
    labels = label_cells(merged, window)
    span = _span(merged, window)
    stages = {}
    if plan.get("stages"):
        for name, start, end in plan_phases(plan):
            stage_window = _whole_seconds(start, end)
            cells = label_cells(merged, stage_window).values() if stage_window else []
            stages[name] = {"window": list(stage_window) if stage_window else None,
                            "seconds": (stage_window[1] - stage_window[0]) if stage_window else 0,
                            "overall": _cell(_total(cells))}
    return {"schema": SCHEMA, "phase": phase, "description": description,
            "window": list(window) if window else None, "seconds": (span[1] - span[0]) if span else 0,
            "overall": _cell(_total(labels.values())),
            "labels": {label: _cell(cell) for label, cell in sorted(labels.items())},
            "stages": stages, "batches": _batches(merged, span), "per_second": per_second(merged)}


def per_second(merged: Mapping[str, Any]) -> dict[str, list[list[float]]]:
    """The whole run's requests, p95 and p99 from schedule (all labels) per second: the baseline's
    faint lines on the report's rate and latency charts."""
    requests, p95, from_schedule = [], [], []
    for sec, per_label in sorted(((int(s), cells) for s, cells in merged.get("seconds", {}).items()),
                                 key=lambda item: item[0]):
        cell = _total(per_label.values())
        requests.append([sec, int(cell["requests"])])
        value = Histogram(cell["hist"]).percentile(95.0)
        if value is not None:
            p95.append([sec, value])
        late = Histogram(cell["sched_hist"]).percentile(99.0) if cell.get("sched_hist") else None
        if late is not None:
            from_schedule.append([sec, late])
    return {"requests": requests, "p95_ms": p95, "p99_from_schedule_ms": from_schedule}


# --- figures of a cell --------------------------------------------------------------------------

def cell_figures(cell: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """Every metric of METRICS of one cell of the block (exact: from its histograms)."""
    requests, failures = int(cell.get("requests") or 0), int(cell.get("failures") or 0)
    out: dict[str, Any] = {"requests": requests, "rps": requests / seconds if seconds else None,
                           "failures": failures, "failure_rate": failures / requests if requests else None}
    service = latency_figures(Histogram(cell.get("hist") or {}), int(cell.get("time_us") or 0))
    scheduled = (latency_figures(Histogram(cell["sched_hist"]), int(cell.get("sched_time_us") or 0))
                 if cell.get("sched_hist") else {})
    for key, schedule_key in zip(LATENCY_KEYS, SCHEDULE_KEYS):
        out[key] = service.get(key)
        out[schedule_key] = scheduled.get(key)
    return out


def delta(metric: str, baseline: Any, now: Any) -> dict[str, Any]:
    """baseline -> now of one metric: the change (absolute; for failure_rate in percentage points,
    `change_pp`), the change in % of the baseline (None from 0 or without a value) and whether it
    is a regression or an improvement (`direction`: "worse", "better", "same" or None)."""
    row: dict[str, Any] = {"baseline": baseline, "now": now, "change": None, "change_pct": None, "direction": None}
    if baseline is None or now is None:
        return row
    change = now - baseline
    row["change"] = change
    if baseline:
        row["change_pct"] = 100.0 * change / baseline
    if metric == "failure_rate":
        row["change_pp"] = 100.0 * change
    better = METRICS[metric][1]
    if change == 0:
        row["direction"] = "same"
    elif better is not None:
        row["direction"] = "worse" if (change > 0) == (better == "lower") else "better"
    return row


def deltas(baseline: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {metric: delta(metric, baseline.get(metric), now.get(metric)) for metric in METRICS}


# --- significance -------------------------------------------------------------------------------

def standard_error(values: list[float]) -> float | None:
    """sd / sqrt(n) of the slices' p95, or None with fewer than MIN_BATCHES of them."""
    n = len(values)
    if n < MIN_BATCHES:
        return None
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) / math.sqrt(n)


def significance(change: float | None, now: list[float], baseline: list[float]) -> dict[str, Any]:
    """The hint for a change in p95: {"hint": "significant" | "within noise" | "unknown", "noise_ms":
    Z x the combined standard error, "se_now_ms", "se_baseline_ms"} (see the module's docstring)."""
    se_now, se_base = standard_error(now), standard_error(baseline)
    if change is None or se_now is None or se_base is None:
        return {"hint": "unknown", "noise_ms": None, "se_now_ms": se_now, "se_baseline_ms": se_base,
                "method": f"batch means: fewer than {MIN_BATCHES} time slices with requests"}
    noise = Z * math.sqrt(se_now ** 2 + se_base ** 2)
    return {"hint": "significant" if abs(change) > noise else "within noise", "noise_ms": noise,
            "se_now_ms": se_now, "se_baseline_ms": se_base,
            "method": f"batch means: p95 of {BATCHES} time slices per run, change against {Z:g} standard errors"}


# --- plans ----------------------------------------------------------------------------------------

def plan_differences(now: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    """What differs between two plans (plan.json), as lines: the curve (rate, phases, clients,
    model), the stages by name, the target. Empty: planned alike."""
    out = []
    for key in PLAN_KEYS:  # what one of the two does not say (settings before planning) is not a difference
        if now.get(key) is not None and baseline.get(key) is not None and now.get(key) != baseline.get(key):
            out.append(f"{key}: {baseline.get(key)!r} in the baseline, {now.get(key)!r} now")
    now_stages = [(s.get("name"), s.get("duration"), s.get("rps"), s.get("from_rps")) for s in now.get("stages") or []]
    base_stages = [(s.get("name"), s.get("duration"), s.get("rps"), s.get("from_rps"))
                   for s in baseline.get("stages") or []]
    if now_stages != base_stages:
        out.append(f"stages (name, duration, rps, from_rps): {base_stages} in the baseline, {now_stages} now")
    if now.get("target") != baseline.get("target"):
        out.append(f"target: {baseline.get('target')!r} in the baseline, {now.get('target')!r} now")
    return out


# --- the comparison ---------------------------------------------------------------------------------

def block_of(summary: Mapping[str, Any], which: str) -> Mapping[str, Any]:
    """The histograms block of a summary, or CompareError saying how to add it."""
    block = summary.get(BLOCK)
    if not isinstance(block, Mapping) or block.get("schema") != SCHEMA:
        raise CompareError(f"the {which}'s summary.json has no merged histograms (block {BLOCK!r}, schema {SCHEMA}): "
                           "it was written by an older version; rebuild it with ansible-playbook playbooks/report.yml "
                           "-e hailstorm_run_id=<that run>, then compare again")
    return block


def run_identity(summary: Mapping[str, Any], plan: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """Who a run is, for the comparison's header: id, tag, profile, start time, state, versions."""
    return {"run_id": run_id, "tag": plan.get("tag"), "profile": plan.get("profile"),
            "start": (summary.get("clock") or {}).get("start"), "state": summary.get("state"),
            "exit_code": summary.get("exit_code"), "versions": dict(summary.get("versions") or {})}


def compare(now: Mapping[str, Any], baseline: Mapping[str, Any], now_plan: Mapping[str, Any] | None = None,
            baseline_plan: Mapping[str, Any] | None = None, now_id: str = "now",
            baseline_id: str = "baseline") -> dict[str, Any]:
    """The `comparison` block: baseline -> now, overall, per label (labels of both runs), per stage
    of the same name, the p95's significance hint and what differs between the two plans."""
    a, b = block_of(baseline, "baseline"), block_of(now, "run")
    overall = deltas(cell_figures(a["overall"], a["seconds"]), cell_figures(b["overall"], b["seconds"]))
    labels = {}
    for label in sorted(set(a["labels"]) & set(b["labels"])):
        labels[label] = deltas(cell_figures(a["labels"][label], a["seconds"]),
                               cell_figures(b["labels"][label], b["seconds"]))
    names = {}  # a threshold may name a request without its method
    shared = {split_label(label)[1] for label in a["labels"]} & {split_label(label)[1] for label in b["labels"]}
    for name in sorted(shared):
        cells = [_total(cell for label, cell in block["labels"].items() if split_label(label)[1] == name)
                 for block in (a, b)]
        names[name] = deltas(cell_figures(cells[0], a["seconds"]), cell_figures(cells[1], b["seconds"]))
    stages = {}
    for name in [name for name in b.get("stages") or {} if name in (a.get("stages") or {})]:
        sa, sb = a["stages"][name], b["stages"][name]
        stages[name] = deltas(cell_figures(sa["overall"], sa["seconds"]), cell_figures(sb["overall"], sb["seconds"]))
    batches_a, batches_b = a.get("batches") or {}, b.get("batches") or {}
    noise = {"all": significance(overall["p95_ms"]["change"], batches_b.get("all", []), batches_a.get("all", []))}
    for label, row in labels.items():
        noise[label] = significance(row["p95_ms"]["change"], batches_b.get(label, []), batches_a.get(label, []))
    differences = plan_differences(now_plan or {}, baseline_plan or {}) if now_plan and baseline_plan else []
    if a.get("phase") != b.get("phase") or a.get("window") != b.get("window"):
        differences.append(f"judged over: {a.get('description')} in the baseline, {b.get('description')} now")
    only_now, only_base = sorted(set(b["labels"]) - set(a["labels"])), sorted(set(a["labels"]) - set(b["labels"]))
    if only_now:
        differences.append("labels only now: " + ", ".join(only_now))
    if only_base:
        differences.append("labels only in the baseline: " + ", ".join(only_base))
    return {"schema": SCHEMA, "now": run_identity(now, now_plan or {}, now_id),
            "baseline": run_identity(baseline, baseline_plan or {}, baseline_id),
            "over": {"baseline": a.get("description"), "now": b.get("description")},
            "overall": overall, "labels": labels, "names": names, "stages": stages, "noise": noise,
            "differences": differences, "labels_only_now": only_now, "labels_only_baseline": only_base,
            "baseline_per_second": a.get("per_second") or {}}


def show_number(metric: str, value: Any) -> str:
    if value is None:
        return "-"
    if metric == "failure_rate":
        return f"{100.0 * value:.2f} %"
    if metric in ("requests", "failures"):
        return f"{value:.0f}"
    return f"{value:.2f}" if metric == "rps" else f"{value:.1f}"


def change_text(metric: str, row: Mapping[str, Any]) -> str:
    """'+12.3 (+8.1 %)', '+0.40 pp' for the failure rate, '-' without a value."""
    if row.get("change") is None:
        return "-"
    if metric == "failure_rate":
        return f"{row['change_pp']:+.2f} pp"
    absolute = f"{row['change']:+.0f}" if metric in ("requests", "failures") else (
        f"{row['change']:+.2f}" if metric == "rps" else f"{row['change']:+.1f}")
    return absolute + (f" ({row['change_pct']:+.1f} %)" if row.get("change_pct") is not None else "")


def comparison_lines(comparison: Mapping[str, Any]) -> list[str]:
    """The comparison as a few lines (what the collect role prints)."""
    base = comparison["baseline"]
    lines = [f"compared with baseline {base['run_id']}" + (f" (tag {base['tag']})" if base.get("tag") else "")
             + (f", started {base['start']}" if base.get("start") else "")]
    overall = comparison["overall"]
    parts = []
    for metric in ("rps", "failure_rate", "p50_ms", "p95_ms", "p99_ms"):
        row = overall[metric]
        parts.append(f"{metric} {show_number(metric, row['baseline'])} -> {show_number(metric, row['now'])} "
                     f"{change_text(metric, row)}")
    lines.append("change: " + "; ".join(parts))
    noise = comparison["noise"]["all"]
    if noise["hint"] != "unknown":
        lines.append(f"p95 change {noise['hint']} (noise +-{noise['noise_ms']:.1f} ms, batch means)")
    lines.extend(f"differs from the baseline: {line}" for line in comparison.get("differences") or [])
    return lines


# --- relative thresholds ------------------------------------------------------------------------

def _shown(metric: str, value: Any) -> str:
    if value is None:
        return "none"
    if metric == "failure_rate":
        return f"{100.0 * value:.3f} %"
    return f"{value:.2f} rps" if metric == "rps" else f"{value:.3f} ms"


def evaluate_relative(checked: Mapping[str, Any] | None, comparison: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One verdict per relative threshold (thresholds.check's `relative`), as thresholds.evaluate's
    (threshold, label, limit, measured, passed, over, message) with `relative`: the bound, the
    baseline's value and the value now. The message names both runs and the figures. Without a
    comparison every relative threshold fails (nothing to judge against)."""
    out = []
    for rule in (checked or {}).get("relative") or []:
        name, label, bound, allowed = rule["threshold"], rule["label"], rule["bound"], float(rule["value"])
        where = " (all labels)" if label == "all" else f" of label {label}"
        limit_text = (f"{bound} {100.0 * allowed:g} pp" if rule["unit"] == "pp" else f"{bound} {100.0 * allowed:g} %")
        verdict = {"threshold": name, "label": label, "limit": limit_text, "measured": None, "passed": False,
                   "relative": {"bound": bound, "value": allowed, "unit": rule["unit"], "baseline": None, "now": None}}
        if not comparison:
            verdict["over"] = "no baseline"
            verdict["message"] = f"{name}{where}: {limit_text} of the baseline, but there is no baseline to compare"
            out.append(verdict)
            continue
        base_id, now_id = comparison["baseline"]["run_id"], comparison["now"]["run_id"]
        over = comparison["over"]["now"]
        verdict["over"] = f"over the {over}"
        if label == "all":
            rows = comparison["overall"]
        else:
            rows = comparison["labels"].get(label) or comparison.get("names", {}).get(label)
        row = (rows or {}).get(name)
        if not row or row["baseline"] is None or row["now"] is None:
            verdict["message"] = (f"{name}{where}: {limit_text} of baseline {base_id}, but run {now_id} or the "
                                  f"baseline has no {name}{where} to compare ({over})")
            out.append(verdict)
            continue
        base, now = float(row["baseline"]), float(row["now"])
        if rule["unit"] == "pp":
            measured, passed = now - base, now - base <= allowed + 1e-12
            change = f"{100.0 * measured:+.3f} pp"
        else:
            measured = (now - base) / base if base else (0.0 if now == base else math.inf)
            passed = measured <= allowed + 1e-12 if bound == "max_increase" else -measured <= allowed + 1e-12
            change = f"{100.0 * measured:+.2f} %" if math.isfinite(measured) else "from 0"
        verdict.update(measured=measured, passed=passed)
        verdict["relative"].update(baseline=base, now=now)
        verdict["message"] = (f"{name}{where}: {_shown(name, base)} in baseline {base_id} -> {_shown(name, now)} "
                              f"in run {now_id} ({change}), allowed {limit_text} over the {over}"
                              + ("" if passed else " - BROKEN"))
        out.append(verdict)
    return out
