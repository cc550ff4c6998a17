# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of the results: merge many cores' records exactly, the plan's phases
(constant phase, stages) and the figures over them, the summary of a run and its lines.

Pure Python (no Ansible, no Locust); imports records.py and hostfile.py (never the reverse). The
runtime does not ship it.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from pathlib import Path
from typing import Any, Iterable, Mapping

from .hostfile import read_records
from .plan_queries import stage_window
from .records import (LATE_START, SATURATION_CPU, SATURATION_LAG, Histogram, empty_cell, generator_limited_message,
                      load_figures, locustfile_verdict, merge_cell, merge_exceptions, over_limit, plan_phases,
                      split_label, stall_message)

RPI_TOLERANCE = 0.05  # requests per task iteration further than this from 1 are warned about


# --- merge ----------------------------------------------------------------------------------

def empty_merged() -> dict[str, Any]:
    return {"seconds": {}, "active": {}, "overruns": {}, "late": {}, "started": 0, "iterations": None, "cores": [],
            "overruns_at": {}, "late_at": {}, "host_requests": {}}


def merge(sources: Iterable[str | Path | Iterable[Mapping[str, Any]]],
          warnings: Iterable[str] = ()) -> dict[str, Any]:
    """Merge many cores' records (paths of core-N.jsonl files, or lists of records): exact sums.

    Returns {"seconds": {sec: {label: cell}}, "active": {sec: n}, "overruns": {client: n},
    "late": {client: s}, "started": n, "cores": [per-core meta/end/totals]} with int keys, and
    "overruns_at" / "late_at": {sec: n}, the overruns and late starts by the second of the flush
    that recorded them (a flush counts what happened since the previous one), and
    "host_requests": {host: {sec: n}}, each load host's requests per second; the open model's
    "dropped" and "pool_started": {sec: n} (all cores), and in each core "pool": {sec: its pool size};
    "warnings": `warnings`, then each line left out or made safe, named (read_records, and the
    load hosts' in their records).
    """
    merged = empty_merged()
    merged["warnings"] = list(warnings)
    for source in sources:
        if isinstance(source, (str, Path)):
            records, bad = read_records(source, merged["warnings"])
            name = str(source)
        else:
            records, bad, name = list(source), 0, None
        merge_core(merged, records, source=name, bad_lines=bad)
    return merged


def merge_core(merged: dict[str, Any], records: Iterable[Mapping[str, Any]],
               source: str | None = None, bad_lines: int = 0) -> None:
    """Add one core's records into `merged`."""
    core: dict[str, Any] = {"source": source, "meta": None, "end": None, "requests": 0, "failures": 0,
                            "started": 0, "iterations": None, "late": 0, "max_late": 0.0, "overruns": 0,
                            "bad_lines": bad_lines,
                            "load": {}}
    seconds, active = merged["seconds"], merged["active"]
    overruns, late = merged["overruns"], merged["late"]
    overruns_at, late_at = merged.setdefault("overruns_at", {}), merged.setdefault("late_at", {})
    start: Any = None
    host_seconds: dict[int, int] = {}
    problems: list[str] = []
    for record in records:
        kind = record.get("type")
        if kind == "meta":
            core["meta"] = dict(record)
            start = core["meta"].get("start_time")
        elif kind == "end":
            core["end"] = dict(record)
        elif kind == "stats":
            core["bad_lines"] += int(record.get("bad_lines", 0))  # counted on the load host (HOST_FILE)
            problems.extend(str(problem) for problem in record.get("problems") or [])  # named there
            for sec, labels in (record.get("seconds") or {}).items():
                per_label = seconds.setdefault(int(sec), {})
                for label, cell in labels.items():
                    merge_cell(per_label.setdefault(label, empty_cell()), cell)
                    host_seconds[int(sec)] = host_seconds.get(int(sec), 0) + int(cell.get("requests", 0))
                    core["requests"] += int(cell.get("requests", 0))
                    core["failures"] += int(cell.get("failures", 0))
            for sec, n in (record.get("active") or {}).items():
                active[int(sec)] = active.get(int(sec), 0) + int(n)
            for client, n in (record.get("overruns") or {}).items():
                overruns[int(client)] = overruns.get(int(client), 0) + int(n)
                core["overruns"] += int(n)
            for client, delay in (record.get("late") or {}).items():
                late[int(client)] = float(delay)
                core["late"] += 1
                core["max_late"] = max(core["max_late"], float(delay))
            for sec, sample in (record.get("load") or {}).items():
                core["load"][int(sec)] = dict(sample)
            merge_exceptions(merged.setdefault("exceptions", {}), record.get("exceptions") or {})
            core["exceptions"] = core.get("exceptions", 0) + sum(int(row.get("count", 0))
                                                                 for row in (record.get("exceptions") or {}).values())
            for sec, n in (record.get("dropped") or {}).items():  # the open model's dropped arrivals
                drops = merged.setdefault("dropped", {})
                drops[int(sec)] = drops.get(int(sec), 0) + int(n)
                core["dropped"] = core.get("dropped", 0) + int(n)
            for sec, n in (record.get("pool") or {}).items():  # the open model's pool size: per core
                core.setdefault("pool", {})[int(sec)] = int(n)
            for sec, n in (record.get("pool_started") or {}).items():
                started_at = merged.setdefault("pool_started", {})
                started_at[int(sec)] = started_at.get(int(sec), 0) + int(n)
            for name, cells in (record.get("scenarios") or {}).items():  # hailstorm_scenarios: per scenario
                per_second = merged.setdefault("scenarios", {}).setdefault(str(name), {})
                for sec, cell in cells.items():
                    merge_cell(per_second.setdefault(int(sec), empty_cell()), cell)
            for sec, n in (record.get("outside_tasks") or {}).items():  # on_start / on_stop requests
                outside = merged.setdefault("outside_tasks", {})
                outside[int(sec)] = outside.get(int(sec), 0) + int(n)
            if start is not None and record.get("time") is not None:
                at = math.floor(float(record["time"]) - float(start))
                n_over = sum(int(n) for n in (record.get("overruns") or {}).values())
                n_late = len(record.get("late") or {})
                if n_over:
                    overruns_at[at] = overruns_at.get(at, 0) + n_over
                if n_late:
                    late_at[at] = late_at.get(at, 0) + n_late
            started = int(record.get("started", 0))
            merged["started"] += started
            core["started"] += started
            if "iterations" in record:  # records of this runtime count them (older ones did not)
                iterations = int(record["iterations"])
                merged["iterations"] = (merged.get("iterations") or 0) + iterations
                core["iterations"] = (core["iterations"] or 0) + iterations
    core["per_second"] = host_seconds  # this core's requests by the second they began
    merged["cores"].append(core)
    host = str((core["meta"] or {}).get("host") or source or "?")
    merged.setdefault("warnings", []).extend(f"{host}: {problem}" for problem in problems)
    per_host = merged.setdefault("host_requests", {}).setdefault(host, {})
    for sec, n in host_seconds.items():
        per_host[sec] = per_host.get(sec, 0) + n


def failures_by_label(merged: Mapping[str, Any]) -> list[tuple[tuple[str, str], tuple[int, int, int]]]:
    """((label, kind), (count, first second, last second)), the most frequent first."""
    seen: dict[tuple[str, str], list[int]] = {}
    for sec in sorted(int(s) for s in merged.get("seconds", {})):
        for label, cell in merged["seconds"][sec].items():
            for kind, n in (cell.get("errors") or {}).items():
                row = seen.setdefault((label, kind), [0, sec, sec])
                row[0] += int(n)
                row[2] = sec
    return sorted(((key, (n, first, last)) for key, (n, first, last) in seen.items()),
                  key=lambda item: (-item[1][0], item[0]))


# --- summary --------------------------------------------------------------------------------

# Percentiles of the summary and the report, as (key, q): from the merged histograms only.
PERCENTILES = (("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0), ("p999_ms", 99.9))
PHASES = ("constant", "all")


def latency_figures(hist: Histogram, time_us: int) -> dict[str, Any]:
    """count, mean_ms, min_ms, the PERCENTILES and max_ms of a histogram and its total µs."""
    n = hist.count
    return {
        "count": n,
        "mean_ms": round(time_us / n / 1000.0, 3) if n else None,
        "min_ms": hist.percentile(0),
        **{key: hist.percentile(q) for key, q in PERCENTILES},
        "max_ms": hist.percentile(100),
    }


def _whole_seconds(start: float, end: float) -> tuple[int, int] | None:
    first, last = math.ceil(start - 1e-9), math.floor(end + 1e-9)
    return (first, last) if last > first else None


def constant_window(plan: Mapping[str, Any]) -> tuple[int, int] | None:
    """The whole seconds [from, to) inside the plan's constant phase, or None without one. A
    staged plan's constant phase is its longest stage at a constant rate above 0 (the first of
    equals): what a run is usually judged on, as a trapezoid's constant phase."""
    stages = plan.get("stages")
    if stages:
        flat = [(float(stage["duration"]), -i, stage) for i, stage in enumerate(stages)
                if float(stage.get("rps") or 0) > 0 and float(stage.get("from_rps", -1)) == float(stage["rps"])]
        if not flat:
            return None
        _duration, _i, stage = max(flat, key=lambda item: item[:2])
        return _whole_seconds(float(stage["start"]), float(stage["start"]) + float(stage["duration"]))
    rampup = float(plan.get("rampup", 0) or 0)
    constant = float(plan.get("constant", 0) or 0)
    return _whole_seconds(rampup, rampup + constant)


def planned_in_window(plan: Mapping[str, Any], window: tuple[int, int]) -> float:
    """The task iterations the plan's rate asks for over the whole seconds [from, to): the rate x
    the seconds for a trapezoid's constant phase, the integral of a staged plan's curve (linear in
    each stage) over the window."""
    first, last = window
    stages = plan.get("stages")
    if not stages:
        return float(plan.get("rps", 0) or 0) * (last - first)
    total = 0.0
    for stage in stages:
        start, duration = float(stage["start"]), float(stage["duration"])
        if duration <= 0:
            continue
        a, b = max(first, start), min(last, start + duration)
        if b <= a:
            continue
        low, high = float(stage.get("from_rps", stage["rps"])), float(stage["rps"])

        def rate(t: float) -> float:
            return low + (high - low) * (t - start) / duration

        total += (rate(a) + rate(b)) / 2 * (b - a)
    return total


def phase_window(plan: Mapping[str, Any], phase: Any) -> tuple[tuple[int, int] | None, str]:
    """The whole seconds a phase covers and its description: "constant" (constant_window), "all"
    (None: the whole run), or a stage of a staged plan by its name or its number (1 = the first).
    ValueError naming the stages for a phase the plan does not have."""
    if phase == "all":
        return None, "whole run"
    if phase == "constant":
        window = constant_window(plan)
        return window, f"constant phase {window[0]}-{window[1]} s" if window else "whole run"
    if not plan.get("stages"):
        raise ValueError(f"hailstorm_thresholds_phase: {phase!r} is no phase of this plan; use constant or all "
                         "(a stage's number or name needs hailstorm_stages)")
    window = stage_window(plan, phase)  # PlanError (a ValueError) naming the stages
    names = [name for name, _start, _end in plan_phases(plan)]
    index = names.index(phase) if phase in names else int(str(phase).strip()) - 1
    return window, stage_title(names[index]) + (f" {window[0]}-{window[1]} s" if window else "")


def stage_title(name: str) -> str:
    """How a stage is called in lines: "stage hold", or "stage 3" for an unnamed one."""
    return name if name.startswith("stage ") else f"stage {name}"


def stage_figures(merged: Mapping[str, Any], plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per stage of a staged plan (empty for a trapezoid): its whole seconds, the task iterations
    the plan asks for there, the requests sent, of them those of task iterations (`task_requests`,
    what the planned rate paces: `rps` is theirs) apart from those of the clients' on_start and
    on_stop (`other_requests`: a stage where clients start or stop has more), failures and
    latency percentiles from the merged histograms."""
    if not plan.get("stages"):
        return []
    # the recorded seconds in time order, read once: each stage merges only its own (bisect), so
    # the stages cost O(seconds + stages log seconds), not O(seconds x stages)
    recorded = sorted(((int(sec), per_label) for sec, per_label in merged["seconds"].items()), key=lambda item: item[0])
    moments = [sec for sec, _per_label in recorded]
    out = []
    outside = sorted((int(sec), int(n)) for sec, n in (merged.get("outside_tasks") or {}).items())
    outside_moments = [sec for sec, _n in outside]
    for stage, (name, start, end) in zip(plan["stages"], plan_phases(plan)):
        window = _whole_seconds(start, end)
        cell = empty_cell()
        if window:
            for _sec, per_label in recorded[bisect_left(moments, window[0]):bisect_left(moments, window[1])]:
                for labels in per_label.values():
                    merge_cell(cell, labels)
        seconds = (window[1] - window[0]) if window else 0
        inside = (outside[bisect_left(outside_moments, window[0]):bisect_left(outside_moments, window[1])]
                  if window else [])
        other = sum(n for _sec, n in inside)
        tasks = int(cell["requests"]) - other
        latency = latency_figures(Histogram(cell["hist"]), cell["time_us"])
        out.append({"name": name, "start": start, "end": end, "window": list(window) if window else None,
                    "planned_rps": round((float(stage.get("from_rps", stage["rps"])) + float(stage["rps"])) / 2, 3),
                    "planned_iterations": round(planned_in_window(plan, window), 1) if window else 0.0,
                    "rps": round(tasks / seconds, 3) if seconds else None,
                    "requests": int(cell["requests"]), "task_requests": tasks, "other_requests": other,
                    "failures": int(cell["failures"]),
                    **{key: latency[key] for key in ("p50_ms", "p95_ms", "p99_ms")}})
    return out


def label_cells(merged: Mapping[str, Any], window: tuple[int, int] | None = None) -> dict[str, dict[str, Any]]:
    """Per label, the sum of its cells over the seconds [from, to) of `window` (None: all)."""
    labels: dict[str, dict[str, Any]] = {}
    for sec, per_label in merged["seconds"].items():
        if window is not None and not window[0] <= int(sec) < window[1]:
            continue
        for label, cell in per_label.items():
            merge_cell(labels.setdefault(label, empty_cell()), cell)
    return labels


FROM_SCHEDULE = "_from_schedule"  # p99_ms from schedule is p99_from_schedule_ms (thresholds, figures)


def from_schedule(cell: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latency figures from schedule of a cell (see CELL), or None for records without them."""
    if not cell.get("sched_hist"):
        return None
    return latency_figures(Histogram(cell["sched_hist"]), int(cell.get("sched_time_us", 0)))


def _figures(cell: Mapping[str, Any]) -> dict[str, Any]:
    requests = int(cell["requests"])
    figures = {"requests": requests, "failures": int(cell["failures"]),
               "failure_rate": round(cell["failures"] / requests, 6) if requests else None,
               **latency_figures(Histogram(cell["hist"]), cell["time_us"])}
    scheduled = from_schedule(cell) or {}
    for key, value in scheduled.items():
        if key.endswith("_ms"):
            figures[key[:-3] + FROM_SCHEDULE + "_ms"] = value
    return figures


def phase_figures(merged: Mapping[str, Any], plan: Mapping[str, Any], phase: str = "constant") -> dict[str, Any]:
    """What thresholds are judged on: latency and failures per label and overall over `phase`
    (the constant phase's whole seconds, or the whole run when phase is 'all' or the plan has no
    constant phase), the achieved rate against the target (succeeded requests: a refused or failed
    request achieved nothing), pacing overruns, late clients and locustfile exceptions (those three
    over the whole run: the records count them per client or per flush, not per second)."""
    window, what = phase_window(plan, phase)
    labels = label_cells(merged, window)
    overall = empty_cell()
    for cell in labels.values():
        merge_cell(overall, cell)
    expected = plan.get("expected_requests")
    succeeded = overall["requests"] - overall["failures"]  # what the rate achieved: a failure achieved nothing
    if window is not None:
        planned = planned_in_window(plan, window)
        ratio = succeeded / planned if planned else None
    else:
        what += f" (the plan has no whole second of {'constant phase' if phase == 'constant' else 'that phase'})" \
            if phase != "all" else ""
        ratio = succeeded / float(expected) if expected else None
    names: dict[str, dict[str, Any]] = {}  # a threshold may name a request without its method
    for label, cell in labels.items():
        merge_cell(names.setdefault(split_label(label)[1], empty_cell()), cell)
    return {
        "phase": phase, "window": list(window) if window else None, "description": what,
        "overall": _figures(overall),
        "labels": {label: _figures(cell) for label, cell in sorted(labels.items())},
        "names": {name: _figures(cell) for name, cell in sorted(names.items())},
        "rps_ratio": round(ratio, 4) if ratio is not None else None,
        "overruns": sum(merged.get("overruns", {}).values()),
        "late_clients": len(merged.get("late", {})),
        "exceptions": sum(int(row.get("count", 0)) for row in (merged.get("exceptions") or {}).values()),
        "dropped": sum(int(n) for n in (merged.get("dropped") or {}).values()),
        **({"scenarios": {name: {**entry["latency"], "requests": entry["requests"],
                                 "failure_rate": entry["failure_rate"], "overruns": entry["overruns"],
                                 "dropped": (entry.get("arrivals") or {}).get("dropped", 0)}
                          for name, entry in scenario_figures(merged, plan).items()}} if plan.get("scenarios") else {}),
    }


def pool_figures(merged: Mapping[str, Any]) -> dict[str, Any]:
    """The open model's pools over time: "pool_per_second", {sec: {"mean", "max"}}, the mean and
    the largest pool size (users alive) of the cores sampled in that second, and
    "users_started_per_second", {sec: n}, the users the pools of all cores started in it."""
    pools = [core["pool"] for core in merged.get("cores", []) if core.get("pool")]
    per_second = {}
    for sec in sorted({sec for pool in pools for sec in pool}):
        sizes = [pool[sec] for pool in pools if sec in pool]
        per_second[str(sec)] = {"mean": round(sum(sizes) / len(sizes), 2), "max": max(sizes)}
    started = merged.get("pool_started") or {}
    return {"pool_per_second": per_second,
            "users_started_per_second": {str(sec): n for sec, n in sorted(started.items())}}


def load_versions(metas: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Locust and Python on the load hosts, from the load processes' meta records: every
    distinct version, comma separated, or None when no record says it (an older runtime)."""
    metas = list(metas)

    def joined(key: str) -> str | None:
        return ", ".join(sorted({str(meta[key]) for meta in metas if meta.get(key)})) or None
    return {"locust": joined("locust"), "load_python": joined("python")}


def summarize(merged: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a user wants after a run, from a merged result and the run's plan."""
    seconds: Mapping[int, Mapping[str, Mapping[str, Any]]] = merged["seconds"]
    labels: dict[str, dict[str, Any]] = {}
    per_second: dict[int, list[int]] = {}
    for sec, per_label in seconds.items():
        row = per_second.setdefault(int(sec), [0, 0])
        for label, cell in per_label.items():
            merge_cell(labels.setdefault(label, empty_cell()), cell)
            row[0] += int(cell["requests"])
            row[1] += int(cell["failures"])
    overall = empty_cell()
    for cell in labels.values():
        merge_cell(overall, cell)

    rps = float(plan.get("rps", 0) or 0)
    window = constant_window(plan)
    constant_phase: dict[str, Any] | None = None
    if window is not None:
        first, last = window
        count = sum(per_second.get(s, [0, 0])[0] for s in range(first, last))
        failed = sum(per_second.get(s, [0, 0])[1] for s in range(first, last))
        achieved = count / (last - first)
        succeeded = (count - failed) / (last - first)
        target = planned_in_window(plan, window) / (last - first)  # a staged plan's stage may be below its peak
        constant_phase = {"from": first, "to": last, "requests": count, "failures": failed,
                          "rps": round(achieved, 3), "succeeded_rps": round(succeeded, 3),
                          "target_rps": round(target, 6), "ratio": round(achieved / target, 4) if target else None,
                          "succeeded_ratio": round(succeeded / target, 4) if target else None}

    active: Mapping[int, int] = merged.get("active", {})
    keys = set(per_second) | set(active)
    series = [{"second": s, "requests": per_second.get(s, [0, 0])[0],
               "failures": per_second.get(s, [0, 0])[1], "active": int(active.get(s, 0))}
              for s in (range(min(keys), max(keys) + 1) if keys else [])]

    overruns: Mapping[int, int] = merged.get("overruns", {})
    cores = []
    limited: list[str] = []
    for core in merged.get("cores", []):
        meta, end = core.get("meta") or {}, core.get("end") or {}
        load = load_figures(core.get("load") or {})
        # seconds over the limit (records.over_limit), however few: its requests that began then
        busy = sorted(sec for sec, sample in (core.get("load") or {}).items() if over_limit(sample))
        busy_requests = sum(int((core.get("per_second") or {}).get(sec, 0)) for sec in busy)
        if load["generator_limited"]:
            limited.append(generator_limited_message(meta.get("host"), meta.get("core"), load))
        if load["stalls"]:
            limited.append(stall_message(meta.get("host"), meta.get("core"), load))
        cores.append({
            "host": meta.get("host"), "core": meta.get("core"),
            "clients": meta.get("clients"), "started": core["started"],
            "start_delay": meta.get("start_delay"), "late_clients": core["late"],
            "max_late": round(core["max_late"], 6), "requests": core["requests"],
            "failures": core["failures"], "overruns": core["overruns"], "iterations": core.get("iterations"),
            "end": end.get("reason", "missing (process killed?)"), "active_at_end": end.get("active_at_end"),
            "exceptions": core.get("exceptions", 0), "locustfile_exit_code": locustfile_verdict(end),
            "bad_lines": core["bad_lines"], "load": load,
            "busy_seconds": busy, "busy_requests": busy_requests,
            "live_metrics": end.get("live_metrics"),  # samples pushed and lost (hailstorm_prometheus_remote_write)
        })
    late: Mapping[int, float] = merged.get("late", {})
    total = int(overall["requests"])
    arrivals = None
    if plan.get("model") == "open":  # the slots were arrivals handed to each core's pool of users
        ends = [core.get("end") or {} for core in merged.get("cores", [])]
        dropped = sum(int(n) for n in (merged.get("dropped") or {}).values())
        arrivals = {"planned": plan.get("expected_requests"), "sent": merged.get("iterations"), "dropped": dropped,
                    "dropped_per_second": {str(s): n for s, n in sorted((merged.get("dropped") or {}).items())},
                    "users_started": sum(int(end.get("pool_started") or 0) for end in ends),
                    "pool_max_per_core": max([int(end.get("pool_max") or 0) for end in ends] or [0]),
                    "pool_cap_per_core": max([int(end.get("pool_cap") or 0) for end in ends] or [0]),
                    **pool_figures(merged)}
    iterations = merged.get("iterations")  # None: records without the count (an older runtime)
    per_iteration = round(total / iterations, 3) if iterations else None
    early: dict[tuple[str, int], int] = {}  # clients that ended before their planned stop, every core's
    for core in merged.get("cores", []):
        for row in (core.get("end") or {}).get("ended_early") or []:
            key = (str(row["how"]), int(row["iterations"]))
            early[key] = early.get(key, 0) + int(row["clients"])
    return {
        # what the run was made with: plan.json's (versions.py) and the load processes'
        "versions": {**(plan.get("versions") or {}),
                     **load_versions(core.get("meta") or {} for core in merged.get("cores", []))},
        "model": plan.get("model") or "closed",
        **({"scenarios": scenario_figures(merged, plan)} if plan.get("scenarios") else {}),
        "stages": stage_figures(merged, plan),
        "arrivals": arrivals,
        "iterations": iterations,
        "ended_early": [{"how": how, "iterations": ran, "clients": n} for (how, ran), n in sorted(early.items())],
        "requests_per_iteration": per_iteration,
        "iteration_warning": iteration_warning(total, iterations or 0, rps),
        "requests": total,
        "failures": int(overall["failures"]),
        "failure_rate": round(overall["failures"] / total, 6) if total else 0.0,
        "bytes": int(overall["bytes"]),
        "expected_requests": plan.get("expected_requests"),
        "target_rps": rps,
        "constant_phase": constant_phase,
        "failures_by_kind": dict(sorted(overall["errors"].items(), key=lambda kv: -kv[1])),
        "exceptions": [{"kind": kind, "count": row["count"], "traceback": row["traceback"]}
                       for kind, row in sorted((merged.get("exceptions") or {}).items(),
                                               key=lambda kv: (-kv[1]["count"], kv[0]))],
        "latency": {"overall": latency_figures(Histogram(overall["hist"]), overall["time_us"]),
                    "labels": {label: {"requests": c["requests"], "failures": c["failures"],
                                       **latency_figures(Histogram(c["hist"]), c["time_us"])}
                               for label, c in sorted(labels.items())},
                    # from each request's slot (queueing included); None for records without it
                    "from_schedule": {"overall": from_schedule(overall),
                                      "labels": {label: from_schedule(c) for label, c in sorted(labels.items())}}},
        "pacing": {"overruns": sum(overruns.values()), "clients_affected": len(overruns)},
        "starts": {"clients_planned": plan.get("clients"), "clients_started": merged.get("started", 0),
                   "starts_planned": planned_starts(plan),
                   "late_clients": len(late), "late_threshold": LATE_START,
                   "max_late": round(max(late.values()), 6) if late else 0.0},
        "cores": cores,
        "generator_limited": limited,
        # requests that began in a second their load process was over the limit, on cores not
        # generator-limited (a burst too short for the verdict): their latencies may be its own
        "generator_busy": generator_busy(cores, total),
        "series": series,
        "warnings": list(merged.get("warnings") or []),  # record lines left out or made safe, named
    }


def scenario_figures(merged: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """Each scenario's figures (hailstorm_scenarios): its model, classes and curve, its requests,
    failures and response times, its requests per second, planned against sent (task iterations,
    every core's end record), the closed model's overruns and the open model's dropped arrivals."""
    out: dict[str, Any] = {}
    ends = [(core.get("end") or {}).get("scenarios") or {} for core in merged.get("cores", [])]
    for name, sub in plan["scenarios"].items():
        cells = (merged.get("scenarios") or {}).get(name) or {}
        total = empty_cell()
        for cell in cells.values():
            merge_cell(total, cell)
        figures = [end[name] for end in ends if name in end]
        requests = int(total["requests"])
        entry = {"model": sub.get("model") or "closed", "user_classes": list(sub.get("user_classes") or []),
                 "start": sub.get("start"), "duration": sub.get("duration"), "target_rps": sub.get("rps"),
                 "requests": requests, "failures": int(total["failures"]),
                 "failure_rate": round(total["failures"] / requests, 6) if requests else 0.0,
                 "latency": latency_figures(Histogram(total["hist"]), total["time_us"]),
                 "planned": sub.get("expected_requests"), "sent": _summed(figures, "iterations") if figures else None,
                 "overruns": _summed(figures, "overruns"),
                 "per_second": {str(s): int(cell["requests"]) for s, cell in sorted(cells.items())}}
        if entry["model"] == "open":
            entry["arrivals"] = {key: _summed(figures, f"arrivals_{key}") for key in ("planned", "sent", "dropped")}
        out[name] = entry
    return out


def _summed(rows: Iterable[Mapping[str, Any]], key: str) -> int:
    return sum(int(row.get(key) or 0) for row in rows)


def planned_starts(plan: Mapping[str, Any]) -> Any:
    """Client starts the plan makes: a staged plan's clients may start again in a later rise (each
    host counts its `intervals`), a trapezoid's start once each."""
    hosts = list((plan.get("hosts") or {}).values())
    if plan.get("scenarios"):  # the closed scenarios' client starts (an open one's pool starts users on demand)
        closed = [name for name, sub in plan["scenarios"].items() if sub.get("model") != "open"]
        return sum(int(core["scenarios"][name].get("intervals", core["scenarios"][name]["clients"]))
                   for host in hosts for core in host["cores"] for name in closed)
    if hosts and all("intervals" in host for host in hosts):
        return sum(int(host["intervals"]) for host in hosts)
    return plan.get("clients")


def count_against_plan(rows: Iterable[Mapping[str, Any]]) -> tuple[int, bool]:
    """What a run's or a host's figures (a summary, its cores) are compared with the plan's
    expected count, which counts task iterations: (the iterations run, True) when every row's
    records counted them, else (the requests sent, False) for records of an older runtime."""
    rows = list(rows)
    if rows and all(row.get("iterations") is not None for row in rows):
        return sum(int(row["iterations"]) for row in rows), True
    return sum(int(row.get("requests") or 0) for row in rows), False


def iteration_warning(requests: int, iterations: int, rps: float) -> str | None:
    """The rate counts task iterations: a warning when the run sent other than one request per
    iteration on average (requests of on_start and on_stop included), else None."""
    if not iterations or abs(requests / iterations - 1.0) <= RPI_TOLERANCE:
        return None
    mean = requests / iterations
    fix = (f"; to plan requests per second, set hailstorm_rps to {rps / mean:.4g} for {rps:g} requests per second"
           if rps and mean else "")
    return (f"the locustfile sent {mean:.2f} requests per task iteration on average ({requests} requests in "
            f"{iterations} iterations): hailstorm_rps paces task iterations, so the target got {mean:.2f} x the "
            f"planned rate{fix}, or make each task send one request")


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def stage_counts(stage: Mapping[str, Any]) -> str:
    """A stage's requests against its plan, for its line: "380 task requests against 380 planned
    iterations (38.00 rps against 38 planned), 20 on_start/on_stop requests apart, " (the planned
    rate paces task iterations; a client's on_start and on_stop send outside them)."""
    if stage["rps"] is None:
        return "no whole second, "
    tasks = stage.get("task_requests", stage["requests"])  # a summary written before these counts
    planned = stage.get("planned_iterations")
    text = (f"{tasks} task requests against {planned:.0f} planned iterations ({stage['rps']:.2f} rps against "
            f"{stage['planned_rps']:g} planned), " if planned is not None
            else f"{stage['rps']:.2f} rps against {stage['planned_rps']:g} planned, ")
    other = int(stage.get("other_requests") or 0)
    return text + (f"{other} on_start/on_stop requests apart, " if other else "")


BUSY_NOTE_SHARE = 0.01  # requests begun in seconds over the limit, of all: from here the p99 may be the generator's


def generator_busy(cores: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """The requests that began in seconds a load process was over the generator limit, on the
    cores not generator-limited (their seconds too few in a row for the verdict), their share of
    all requests, and those seconds per host/core."""
    brief = [core for core in cores if core["busy_requests"] and not core["load"]["generator_limited"]]
    requests = sum(int(core["busy_requests"]) for core in brief)
    return {"requests": requests, "share": round(requests / total, 4) if total else 0.0,
            "seconds": {f"{core['host']} core {core['core']}": core["busy_seconds"] for core in brief}}


def _spans(seconds: list[int]) -> str:
    """Seconds as runs: [1, 2, 3, 7] -> "1-3, 7"."""
    runs: list[list[int]] = []
    for sec in seconds:
        if runs and sec == runs[-1][1] + 1:
            runs[-1][1] = sec
        else:
            runs.append([sec, sec])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def generator_queueing_note(summary: Mapping[str, Any]) -> list[str]:
    """The line beside the latency figures when cores were generator-limited: their requests also
    waited for the load generator itself (its CPU, its event loop), so these are not the target's;
    or, when no core was, but at least BUSY_NOTE_SHARE of the requests began in seconds a load
    process was over the limit (a burst: many clients starting or connecting at once), that the
    tail percentiles may be the generator's own."""
    limited = [core for core in summary.get("cores") or [] if (core.get("load") or {}).get("generator_limited")]
    busy = summary.get("generator_busy") or {}
    if not limited and float(busy.get("share") or 0.0) >= BUSY_NOTE_SHARE:
        where = "; ".join(f"{name} seconds {_spans(secs)}" for name, secs in sorted(busy["seconds"].items()))
        tail = "p95 and p99" if float(busy["share"]) >= 0.05 else "p99"
        return [f"({busy['requests']} of the requests above ({100 * float(busy['share']):.1f} %) began while their "
                f"load process was over its limit, {100 * SATURATION_CPU:.0f} % CPU or {1000 * SATURATION_LAG:.0f} ms "
                f"event-loop lag ({where}), too briefly to be generator-limited: the {tail} may be the load "
                "generator's own queueing, not the target's; the from-schedule figures and the per-second series "
                "show when)"]
    if not limited:
        return []
    return [f"(latencies above include the load generator's own queueing: {len(limited)} of "
            f"{len(summary['cores'])} cores generator-limited, their requests waited for their own CPU and "
            "event loop too, so these figures are not the target's alone)"]


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The summary as a few readable lines (what the collect role prints)."""
    total, failures = summary["requests"], summary["failures"]
    expected = summary.get("expected_requests")
    lines = [f"{total} requests" + (f" (planned {expected:.0f})" if expected else "")
             + f", {failures} failed ({100.0 * summary['failure_rate']:.2f} %)"]
    if summary.get("iterations"):
        lines.append(f"{summary['iterations']} task iterations (the planned rps paces these): "
                     f"{summary['requests_per_iteration']:.2f} requests per iteration on average")
    phase = summary.get("constant_phase")
    if phase:
        line = (f"constant phase {phase['from']}-{phase['to']} s: {phase['rps']:.2f} rps against "
                f"{phase['target_rps']:g} target ({100.0 * (phase['ratio'] or 0):.1f} %)")
        if phase.get("failures"):
            line += (f", {phase['succeeded_rps']:.2f} rps succeeded ({100.0 * (phase['succeeded_ratio'] or 0):.1f} %), "
                     f"{phase['failures']} requests failed")
        lines.append(line)
    for row in (summary.get("exceptions") or [])[:5]:
        lines.append(f"locustfile exception x{row['count']}: {row['kind']}")
    for kind, count in list(summary["failures_by_kind"].items())[:5]:
        lines.append(f"failure x{count}: {kind}")
    width = max([len("label")] + [len(label) for label in summary["latency"]["labels"]])
    lines.append(f"{'label':<{width}} {'requests':>8} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    overall = {**summary["latency"]["overall"], "requests": total, "failures": failures}
    rows = list(summary["latency"]["labels"].items()) + [("all", overall)]
    for label, row in rows:
        lines.append(f"{label:<{width}} {row['requests']:>8} {row['failures']:>6} {_ms(row['p50_ms']):>8} "
                     f"{_ms(row['p95_ms']):>8} {_ms(row['p99_ms']):>8}")
    lines.extend(generator_queueing_note(summary))
    for stage in summary.get("stages") or []:
        lines.append(f"{stage_title(stage['name'])} {stage['start']:g}-{stage['end']:g} s: " + stage_counts(stage)
                     + f"{stage['failures']} failed, p50/p95/p99 {_ms(stage['p50_ms'])}/{_ms(stage['p95_ms'])}/"
                       f"{_ms(stage['p99_ms'])} ms")
    for name, scenario in (summary.get("scenarios") or {}).items():
        latency = scenario["latency"]
        lines.append(f"scenario {name} ({scenario['model']}, {', '.join(scenario['user_classes'])}): "
                     f"{scenario['sent']} of {scenario['planned']} planned iterations sent, {scenario['requests']} "
                     f"requests, {scenario['failures']} failed, p50/p95/p99 {_ms(latency['p50_ms'])}/"
                     f"{_ms(latency['p95_ms'])}/{_ms(latency['p99_ms'])} ms"
                     + (f", {scenario['arrivals']['dropped']} arrivals dropped" if scenario.get("arrivals")
                        else f", {scenario['overruns']} overruns"))
    arrivals = summary.get("arrivals")
    if arrivals:
        lines.append(f"open model: {arrivals['planned']} arrivals planned, {arrivals['sent']} sent, "
                     f"{arrivals['dropped']} dropped; {arrivals['users_started']} users started, up to "
                     f"{arrivals['pool_max_per_core']} per core (cap {arrivals['pool_cap_per_core']})")
    scheduled = ((summary["latency"].get("from_schedule") or {}).get("overall")) or None
    if scheduled and scheduled.get("count"):
        service = summary["latency"]["overall"]
        lines.append(f"{'from schedule':<{width}} {scheduled['count']:>8} {'':>6} {_ms(scheduled['p50_ms']):>8} "
                     f"{_ms(scheduled['p95_ms']):>8} {_ms(scheduled['p99_ms']):>8}  (from each request's slot, "
                     f"queueing included; p99 {_ms(scheduled['p99_ms'])} vs {_ms(service['p99_ms'])} ms service time)")
    pacing, starts = summary["pacing"], summary["starts"]
    if not arrivals:  # the open model's users start on demand: no overruns, no planned starts
        planned = starts.get("starts_planned") or starts["clients_planned"]
        again = int(planned or 0) - int(starts["clients_planned"] or 0)  # starts of clients that came again
        lines.append(f"pacing overruns: {pacing['overruns']} ({pacing['clients_affected']} clients); "
                     f"clients started {starts['clients_started']}/{planned}"
                     + (f" ({starts['clients_planned']} clients, {again} restarted in a later stage)"
                        if again > 0 else "")
                     + f", {starts['late_clients']} late (max {starts['max_late'] * 1000:.0f} ms)")
    ends = sorted({core["end"] for core in summary["cores"]})
    lines.append(f"load processes: {len(summary['cores'])}, ended: {', '.join(ends) or 'none'}")
    loads = [core["load"] for core in summary["cores"] if (core.get("load") or {}).get("seconds")]
    if loads:
        lines.append(f"load generator: CPU up to {100 * max(load['cpu_max'] for load in loads):.0f} %, "
                     f"event-loop lag up to {max(load['lag_max_ms'] for load in loads):.0f} ms; "
                     f"{sum(1 for load in loads if load.get('generator_limited'))}/{len(summary['cores'])} cores "
                     "generator-limited")
    lines.extend(f"WARNING: {message}" for message in summary.get("generator_limited") or [])
    if summary.get("iteration_warning"):
        lines.append(f"WARNING: {summary['iteration_warning']}")
    lines.extend(f"WARNING: {message}" for message in summary.get("warnings") or [])
    return lines
