# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""results/index.html: the history of an environment's runs, pure Python (no Ansible).

Every run of the results directory (a directory holding plan.json) is one row: its id (a link
to its report.html), tag, profile, start time, state, exit code, achieved rate, failure rate,
p95 and p99; per profile, trend charts across runs (p95 and p99; failure rate; rate) as inline
SVG with each point's figures on hover (<title>, no script) and the baseline of the profile's
newest run marked. Rewritten by each run's merge (hailstorm_results) and by report.yml.

Each run's row is read from its summary.json and plan.json once: index.json beside index.html
keeps the rows with the two files' modification times, so a results directory of 1,000 runs is
re-indexed by reading only the runs that changed. Everything a user or a run wrote (ids, tags,
profiles, states) is HTML-escaped; links are relative and percent-encoded.
"""
from __future__ import annotations

import html
import json
import os
from typing import Any, Mapping, Sequence
from urllib.parse import quote

INDEX_FILE = "index.html"
CACHE_FILE = "index.json"
CACHE_SCHEMA = 1
PLAN_FILE = "plan.json"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
W, H, LEFT, RIGHT, TOP, BOTTOM = 900, 200, 60, 16, 16, 28
COLORS = {"p95_ms": "#1f77b4", "p99_ms": "#d62728", "failure_rate": "#a40012", "rps": "#2ca02c"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def run_row(run_id: str, plan: Mapping[str, Any], summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The figures of one run in the index (None where the run has no summary yet)."""
    summary = summary or {}
    overall = (summary.get("latency") or {}).get("overall") or {}
    phase = summary.get("constant_phase") or {}
    seconds = (summary.get("clock") or {}).get("seconds")
    rate = phase.get("rps")
    if rate is None and summary.get("requests") is not None and seconds:
        rate = round(summary["requests"] / seconds, 3)
    comparison = summary.get("comparison") or {}
    return {"run_id": run_id, "tag": plan.get("tag"), "profile": plan.get("profile") or "default",
            "target": plan.get("target"), "start": (summary.get("clock") or {}).get("start"),
            "start_epoch": (summary.get("clock") or {}).get("start_epoch"), "state": summary.get("state"),
            "exit_code": summary.get("exit_code"), "rps": rate, "failure_rate": summary.get("failure_rate"),
            "p95_ms": overall.get("p95_ms"), "p99_ms": overall.get("p99_ms"),
            "baseline": (comparison.get("baseline") or {}).get("run_id")}


def _read(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def collect(results_dir: str, cache: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows of every run, oldest first; the cache to keep): a run is read again only when its
    plan.json or summary.json changed since the cache was written."""
    known = dict((cache or {}).get("runs") or {}) if (cache or {}).get("schema") == CACHE_SCHEMA else {}
    rows, kept = [], {}
    try:
        names = sorted(os.listdir(results_dir))
    except OSError:
        names = []
    for name in names:
        run = os.path.join(results_dir, name)
        plan_path, summary_path = os.path.join(run, PLAN_FILE), os.path.join(run, SUMMARY_FILE)
        stamps = [_mtime(plan_path), _mtime(summary_path)]
        if stamps[0] is None:
            continue
        entry = known.get(name)
        if not entry or entry.get("stamps") != stamps:
            try:
                plan = _read(plan_path)
                summary = _read(summary_path) if stamps[1] is not None else None
            except (OSError, ValueError):
                continue
            if not isinstance(plan, Mapping) or (summary is not None and not isinstance(summary, Mapping)):
                continue
            entry = {"stamps": stamps, "row": run_row(name, plan, summary)}
        entry["row"]["report"] = os.path.isfile(os.path.join(run, REPORT_FILE))
        kept[name] = entry
        rows.append(entry["row"])
    # in time order: a run's start, else (no summary yet: a run under way) when its plan was written
    rows.sort(key=lambda row: (float(row.get("start_epoch") or kept[row["run_id"]]["stamps"][0]), row["run_id"]))
    return rows, {"schema": CACHE_SCHEMA, "runs": kept}


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "failure_rate":
        return f"{100.0 * float(value):.2f} %"
    if kind == "rps":
        return f"{float(value):.2f}"
    if kind == "ms":
        return f"{float(value):.1f}"
    return _e(value)


def trend_chart(chart_id: str, title: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str],
                unit: str, baseline: str | None) -> str:
    """One trend chart: a polyline per key across the runs (x: the run's place, oldest left), a
    hover column per run with its id and figures, the baseline run marked by a dashed line."""
    values = [float(row[key]) * (100.0 if key == "failure_rate" else 1.0) for row in rows for key in keys
              if row.get(key) is not None]
    top = max(values) * 1.1 if values and max(values) > 0 else 1.0
    n = len(rows)
    width, height = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (width * i / (n - 1) if n > 1 else width / 2)

    def y(value: float) -> float:
        return TOP + height * (1 - value / top)

    parts = [f'<figure class="trend" id="{_e(chart_id)}"><figcaption>{_e(title)}</figcaption>'
             f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" data-points="{len(values)}">'
             f'<line x1="{LEFT}" y1="{TOP + height}" x2="{W - RIGHT}" y2="{TOP + height}" stroke="#999"/>'
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + height}" stroke="#999"/>'
             f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" font-size="11">{top:.4g}</text>'
             f'<text x="{LEFT - 4}" y="{TOP + height}" text-anchor="end" font-size="11">0</text>'
             f'<text x="{LEFT}" y="{H - 8}" font-size="11">{_e(unit)}; runs oldest to newest ({n})</text>']
    for i, row in enumerate(rows):
        if baseline is not None and row["run_id"] == baseline:
            parts.append(f'<line class="baseline" x1="{x(i):.1f}" y1="{TOP}" x2="{x(i):.1f}" y2="{TOP + height}" '
                         f'stroke="#555" stroke-dasharray="4 3"><title>baseline {_e(row["run_id"])}</title></line>'
                         f'<text x="{x(i) + 3:.1f}" y="{TOP + 10}" font-size="11">baseline</text>')
    for key in keys:
        scale = 100.0 if key == "failure_rate" else 1.0
        points = " ".join(f"{x(i):.1f},{y(float(row[key]) * scale):.1f}" for i, row in enumerate(rows)
                          if row.get(key) is not None)
        if points:
            parts.append(f'<polyline fill="none" stroke="{COLORS[key]}" stroke-width="1.5" points="{points}"/>')
    step = width / max(n - 1, 1)
    for i, row in enumerate(rows):
        figures = ", ".join(f"{key} {_fmt(row.get(key), 'ms' if key.endswith('_ms') else key)}" for key in keys)
        parts.append(f'<rect class="hover" x="{x(i) - step / 2:.1f}" y="{TOP}" width="{max(step, 1):.1f}" '
                     f'height="{height}" fill="transparent"><title>{_e(row["run_id"])} '
                     f'({_e(row.get("start") or "-")}): {_e(figures)}</title></rect>')
    legend = " ".join(f'<span class="key"><span class="swatch" style="border-color:{COLORS[key]}"></span>'
                      f'{_e(key)}</span>' for key in keys)
    return "".join(parts) + f'</svg><div class="legend">{legend}</div></figure>'


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#23395d;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
main{padding:8px 28px 40px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px;background:#fff}th,td{border:1px solid #ddd;padding:3px 8px;
text-align:right}th{background:#eef1f5}td.text{text-align:left}tr.fail td{background:#fbe3e4}
figure.trend{background:#fff;border:1px solid #ddd;margin:12px 0;padding:8px}figcaption{font-weight:bold}
rect.hover:hover{fill:rgba(35,57,93,.10)}.key{margin-right:14px}.swatch{display:inline-block;width:22px;
border-top:3px solid;margin-right:5px;vertical-align:middle}.note{color:#777;font-style:italic}
"""


def render(rows: Sequence[Mapping[str, Any]], results_dir: str = "") -> str:
    """The whole index page (self-contained: inline CSS and SVG, no script, nothing fetched)."""
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>hailstorms runs</title><style>{CSS}</style></head><body>"
             f"<header><h1>Load test runs</h1><p>{len(rows)} runs in {_e(results_dir)}</p></header><main>"]
    profiles: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        profiles.setdefault(str(row.get("profile")), []).append(row)
    parts.append("<h2>Trends per profile</h2>")
    for index, (profile, runs) in enumerate(sorted(profiles.items())):
        newest_baseline = next((row.get("baseline") for row in reversed(runs) if row.get("baseline")), None)
        parts.append(f"<h3>profile {_e(profile)}</h3>")
        parts.append(trend_chart(f"trend-{index}-latency", f"p95 and p99 latency, profile {profile}", runs,
                                 ("p95_ms", "p99_ms"), "ms", newest_baseline))
        parts.append(trend_chart(f"trend-{index}-failures", f"failure rate, profile {profile}", runs,
                                 ("failure_rate",), "%", newest_baseline))
        parts.append(trend_chart(f"trend-{index}-rate", f"achieved rate, profile {profile}", runs, ("rps",),
                                 "requests / s", newest_baseline))
    parts.append('<h2>Runs</h2><table id="runs"><thead><tr><th>run</th><th>tag</th><th>profile</th><th>start</th>'
                 "<th>state</th><th>exit code</th><th>rps</th><th>failure rate</th><th>p95 ms</th><th>p99 ms</th>"
                 "<th>baseline</th></tr></thead><tbody>")
    for row in reversed(rows):  # newest first
        run = _e(row["run_id"])
        link = (f'<a href="{_e(quote(str(row["run_id"])))}/{REPORT_FILE}">{run}</a>' if row.get("report") else run)
        failed = row.get("exit_code") not in (0, None)
        parts.append(f'<tr class="{"fail" if failed else "pass"}"><td class="text">{link}</td>'
                     f'<td class="text">{_e(row.get("tag") or "")}</td><td class="text">{_e(row.get("profile"))}</td>'
                     f'<td class="text">{_e(row.get("start") or "-")}</td>'
                     f'<td class="text">{_e(row.get("state") or "-")}</td>'
                     f'<td>{_fmt(row.get("exit_code"), "")}</td><td>{_fmt(row.get("rps"), "rps")}</td>'
                     f'<td>{_fmt(row.get("failure_rate"), "failure_rate")}</td><td>{_fmt(row.get("p95_ms"), "ms")}</td>'
                     f'<td>{_fmt(row.get("p99_ms"), "ms")}</td>'
                     f'<td class="text">{_e(row.get("baseline") or "")}</td></tr>')
    parts.append("</tbody></table></main></body></html>\n")
    return "".join(parts)


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_index(results_dir: str) -> str | None:
    """Rewrites <results_dir>/index.html (and its cache index.json); returns its path, or None when
    it cannot be written (the index is a convenience: a run's results never fail for it)."""
    cache_path = os.path.join(results_dir, CACHE_FILE)
    try:
        cache = _read(cache_path)
    except (OSError, ValueError):
        cache = None
    rows, cache = collect(results_dir, cache if isinstance(cache, Mapping) else None)
    path = os.path.join(results_dir, INDEX_FILE)
    try:
        _write(path, render(rows, results_dir))
        _write(cache_path, json.dumps(cache, sort_keys=True))
    except OSError:
        return None
    return path
