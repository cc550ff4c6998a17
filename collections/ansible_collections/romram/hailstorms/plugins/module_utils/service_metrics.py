# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service's own metrics in the report: named PromQL queries run against the user's
Prometheus over the run window, after the run, on the controller.

Settings (role collect):
  hailstorm_prometheus_url     the Prometheus that holds the service's metrics, its base URL
                               (http://prometheus.example:9090; empty: off)
  hailstorm_report_queries     {name: PromQL}: each becomes a chart on the report's time axis and
                               a row of the summary (min / mean / max over the constant phase)

Terms:
  run window   from the run's shared start (the records' meta start_time, epoch seconds) to its
               last recorded second's end; the chart's x is seconds since that start.
  step         the query_range resolution in seconds: 1 s for runs up to QUERY_POINTS seconds,
               longer for longer runs, never above MAX_STEP (so a point stays within 5 s of the load).

A query that fails or returns nothing is kept with its `error` (said in the report and the
summary); it never fails the run.
"""
from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
from typing import Any, Mapping

from ansible.module_utils.urls import open_url

try:
    from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError
except ImportError:  # pragma: no cover - imported as plain Python
    from plan_queries import PlanError  # type: ignore[no-redef]

MAX_STEP = 5
QUERY_POINTS = 600  # points per series the step aims at
TIMEOUT = 20.0  # seconds per query
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
SERIES_DRAWN = 8  # series of one query drawn in its chart (the busiest first)


def checked_queries(value: Any, name: str = "hailstorm_report_queries") -> dict[str, str]:
    """The named queries as {name: PromQL}, else a PlanError naming the variable, the value and the fix."""
    example = f"{name}={{\"api_cpu\": \"rate(process_cpu_seconds_total{{job=\\\"api\\\"}}[15s])\"}}"
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise PlanError(f"{name}: {value!r} is not a mapping of names to PromQL queries; give one such as {example}")
    out: dict[str, str] = {}
    for key, query in value.items():
        if not isinstance(key, str) or not _NAME.match(key):
            raise PlanError(f"{name}: the name {key!r} is not a short name (letters, digits, _ . -, starting with a "
                            f"letter or _); give one such as {example}")
        if not isinstance(query, str) or not query.strip():
            raise PlanError(f"{name}: the query of {key!r} is {query!r}, not a PromQL expression; give one such as "
                            f"{example}")
        out[key] = query.strip()
    return out


def step_for(duration: float) -> int:
    """The query step in whole seconds for a run window of `duration` seconds (see the module's terms)."""
    return max(1, min(MAX_STEP, math.ceil(max(duration, 0.0) / QUERY_POINTS)))


def query_range(url: str, promql: str, start: float, end: float, step: int,
                timeout: float = TIMEOUT, headers: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Prometheus's /api/v1/query_range answer as [{"labels": {...}, "values": [(epoch, value)]}],
    NaN and infinite values left out; raises ValueError with Prometheus's own words on a failure."""
    params = urllib.parse.urlencode({"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)})
    address = url.rstrip("/") + "/api/v1/query_range?" + params
    try:
        with open_url(address, timeout=timeout, headers=dict(headers or {})) as answer:  # the user's own Prometheus
            body = json.load(answer)
    except urllib.error.HTTPError as exc:
        try:
            body = json.load(exc)
        except ValueError:
            raise ValueError(f"HTTP {exc.code} {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise ValueError(str(getattr(exc, "reason", None) or exc)) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        detail = body.get("error") if isinstance(body, dict) else None
        raise ValueError(str(detail or "Prometheus answered without data"))
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise ValueError(f"the query gives a {data.get('resultType')}, not a range of values")
    out = []
    for row in data.get("result") or []:
        values = []
        for at, text in row.get("values") or []:
            number = float(text)
            if math.isfinite(number):
                values.append((float(at), number))
        if values:
            out.append({"labels": dict(row.get("metric") or {}), "values": values})
    return out


def series_name(labels: Mapping[str, str]) -> str:
    """A series' name in the chart's legend: its labels as PromQL writes them, or the query's name alone."""
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}" if shown else ""


def fetch(url: str, queries: Mapping[str, str], start: float, end: float,
          window: tuple[int, int] | None, timeout: float = TIMEOUT,
          headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every query over [start, end] (epoch seconds), each series' points in seconds since
    `start`, and its figures over `window` (whole seconds since start, [from, to): the constant
    phase) - min, mean and max of every point of every series in it. A query that fails or
    returns nothing carries `error` instead. `headers`: the queries' own (credentials, tenant;
    live_metrics.query_headers), never in the answer."""
    step = step_for(end - start)
    out: dict[str, Any] = {"url": url, "step": step, "start": start, "end": end, "queries": {}}
    for name, promql in queries.items():
        entry: dict[str, Any] = {"query": promql, "series": [], "error": None}
        try:
            rows = query_range(url, promql, start, end, step, timeout, headers)
            if not rows:
                entry["error"] = "no data over the run window"
        except ValueError as exc:
            rows = []
            entry["error"] = f"the query failed: {exc}"
        for row in rows:
            entry["series"].append({"name": series_name(row["labels"]),
                                    "points": [(round(at - start, 3), value) for at, value in row["values"]]})
        entry.update(window_figures(entry["series"], window))
        out["queries"][name] = entry
    return out


def window_figures(series: list[Mapping[str, Any]], window: tuple[int, int] | None) -> dict[str, Any]:
    """min / mean / max of the points inside `window` ([from, to) seconds since the start), and how many."""
    if window is None:
        return {"over": None, "points": 0, "min": None, "mean": None, "max": None}
    first, last = window
    values = [value for row in series for at, value in row["points"] if first <= at < last]
    return {"over": [first, last], "points": len(values), "min": min(values) if values else None,
            "mean": sum(values) / len(values) if values else None, "max": max(values) if values else None}


def summary_figures(fetched: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What summary.json keeps of the queries: everything but the points."""
    if not fetched:
        return None
    return {"url": fetched["url"], "step": fetched["step"],
            "queries": {name: dict({key: value for key, value in entry.items() if key != "series"},
                                   series=len(entry["series"])) for name, entry in fetched["queries"].items()}}
