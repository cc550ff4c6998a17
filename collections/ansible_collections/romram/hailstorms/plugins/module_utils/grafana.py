# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Grafana dashboard of the live metrics (files/grafana/hailstorms.json is `dashboard()`;
each run's results directory has `dashboard(its hailstorm_report_queries)`, DASHBOARD_FILE, with
a panel per query in the target's row).

Pure Python (no Ansible). Every latency query is written twice, native form first:
`histogram_quantile(q, sum(rate(h[...]))) or histogram_quantile(q, sum by (le) (rate(h_bucket[...])))`
- the first answers where the histograms are native (the default), the second where they are
classic (hailstorm_prometheus_buckets, or an endpoint that refused native ones). Rates use
$__rate_interval with a 1 s minimum interval (the load processes push every second), so a rate
spans 4 s. Totals are instant queries over the dashboard's range ($__range): counters per stage,
each series' last value summed (last_over_time skips the stale markers).
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils import contract

DASHBOARD_UID = "romram-hailstorms"  # live_metrics.grafana_link links here
DASHBOARD_FILE = contract.GRAFANA_DASHBOARD_FILE  # in a run's results directory, with its report queries
RUN = 'run_id=~"$run_id"'
H = "hailstorm_response_time_seconds"
TARGET_QUERY = "sum by (job) (rate(process_cpu_seconds_total[$__rate_interval]))"  # the static file's default
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_TARGET_DATASOURCE = {"type": "prometheus", "uid": "${target_datasource}"}


def quantile(q: float, by: str = "", window: str = "$__rate_interval", func: str = "rate") -> str:
    """The q-quantile of the run's latency, native form `or` classic form, per `by` labels."""
    native_by = f" by ({by})" if by else ""
    classic_by = f"le, {by}" if by else "le"
    return (f"histogram_quantile({q:g}, sum{native_by} ({func}({H}{{{RUN}}}[{window}]))) or "
            f"histogram_quantile({q:g}, sum by ({classic_by}) ({func}({H}_bucket{{{RUN}}}[{window}])))")


def total(metric: str, by: str = "") -> str:
    """A counter's run total over the dashboard's range (each per-stage series' last value)."""
    grouped = f" by ({by})" if by else ""
    return f"sum{grouped} (last_over_time({metric}{{{RUN}}}[$__range]))"


REQUESTS_TOTAL = total("hailstorm_requests_total")
FAILURES_TOTAL = total("hailstorm_failures_total")
PLANNED = f"sum(hailstorm_planned_rate{{{RUN}}})"
CLIENTS = f"sum(hailstorm_active_clients{{{RUN}}})"
RATE = f"sum(rate(hailstorm_requests_total{{{RUN}}}[$__rate_interval]))"
ERROR_RATIO = (f"(sum(rate(hailstorm_failures_total{{{RUN}}}[$__rate_interval])) or vector(0)) / "
               f"sum(rate(hailstorm_requests_total{{{RUN}}}[$__rate_interval]))")


def _target(ref: str, expr: str, legend: str = "", instant: bool = False, table: bool = False,
            datasource: Mapping[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"refId": ref, "expr": expr, "legendFormat": legend,
                           "datasource": dict(datasource or _DATASOURCE),
                           "instant": instant, "range": not instant, "interval": "1s"}
    if table:
        out["format"] = "table"
    return out


def _panel(kind: str, title: str, pos: tuple[int, int, int, int], targets: list[dict[str, Any]], unit: str = "",
           description: str = "", **extra: Any) -> dict[str, Any]:
    x, y, w, h = pos
    panel: dict[str, Any] = {"type": kind, "title": title, "description": description,
                             "datasource": dict(targets[0]["datasource"]) if targets else dict(_DATASOURCE),
                             "gridPos": {"x": x, "y": y, "w": w, "h": h}, "interval": "1s",
                             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "targets": targets}
    if kind == "stat":
        panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    elif kind == "timeseries":
        panel["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}
    panel.update(extra)
    return panel


def _row(title: str, y: int) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
            "panels": []}


def _target_panels(queries: Mapping[str, str] | None, y: int) -> tuple[list[dict[str, Any]], int]:
    """The target's own metrics: a panel per report query, or (the static file) one panel on the
    $target_query text box."""
    rows = dict(queries or {}) or {"target's metric ($target_query)": "$target_query"}
    panels = []
    for i, (name, expr) in enumerate(rows.items()):
        panels.append(_panel("timeseries", name, ((i % 2) * 12, y + (i // 2) * 8, 12, 8),
                             [_target("A", expr, datasource=_TARGET_DATASOURCE)],
                             description="hailstorm_report_queries: the service's own metrics beside the load"))
    return panels, y + ((len(rows) + 1) // 2) * 8


def dashboard(queries: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The dashboard (see the module docstring); `queries`: hailstorm_report_queries."""
    panels: list[dict[str, Any]] = [_row("Run", 0)]
    stats = [
        ("Clients", CLIENTS, "none", "Active clients, all hosts (the plan's, measured each second)"),
        ("Rate / plan", f"sum(hailstorm_achieved_rate{{{RUN}}}) / {PLANNED}", "percentunit",
         "Task iterations run per second over the plan's, all hosts"),
        ("Requests / s", RATE, "reqps", "Requests recorded per second, all hosts and labels"),
        ("Errors", ERROR_RATIO, "percentunit", "Failed requests over all requests (rate)"),
        ("p95", quantile(0.95), "s", "95th percentile of the service time (native histogram, else classic)"),
        ("Requests (run)", REQUESTS_TOTAL, "none", "Requests of the run over the time range: summary.json's"),
    ]
    for i, (title, expr, unit, description) in enumerate(stats):
        panels.append(_panel("stat", title, (i * 4, 1, 4, 4), [_target("A", expr, instant=title.endswith("(run)"))],
                             unit, description))
    panels.append(_row("Load", 5))
    panels += [
        _panel("timeseries", "Rate against plan (task iterations / s, all hosts)", (0, 6, 12, 8),
               [_target("A", PLANNED, "planned"), _target("B", f"sum(hailstorm_achieved_rate{{{RUN}}})", "achieved"),
                _target("C", RATE, "requests / s")], "reqps"),
        _panel("timeseries", "Active clients", (12, 6, 12, 8), [_target("A", CLIENTS, "active clients")], "none"),
        _panel("timeseries", "Latency percentiles (all labels)", (0, 14, 12, 8),
               [_target(ref, quantile(q), f"p{label}") for ref, q, label in
                (("A", 0.5, "50"), ("B", 0.95, "95"), ("C", 0.99, "99"))], "s"),
        _panel("timeseries", "Failures by kind (per second)", (12, 14, 12, 8),
               [_target("A", f"sum by (kind) (rate(hailstorm_failures_total{{{RUN}}}[$__rate_interval]))",
                        "{{kind}}")], "reqps"),
    ]
    panels.append(_row("Per label (over the time range)", 22))
    panels.append(_panel(
        "table", "Per label", (0, 23, 24, 8),
        [_target("A", total("hailstorm_requests_total", "label"), instant=True, table=True),
         _target("B", total("hailstorm_failures_total", "label"), instant=True, table=True),
         _target("C", quantile(0.5, "label", "$__range", "increase"), instant=True, table=True),
         _target("D", quantile(0.95, "label", "$__range", "increase"), instant=True, table=True),
         _target("E", quantile(0.99, "label", "$__range", "increase"), instant=True, table=True)], "",
        "Requests, failures and p50 / p95 / p99 per label over the dashboard's time range",
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {
                             "Value #A": "requests", "Value #B": "failures", "Value #C": "p50 (s)",
                             "Value #D": "p95 (s)", "Value #E": "p99 (s)"}}}]))
    panels.append(_row("Per host", 31))
    panels += [
        _panel("timeseries", "Requests / s per host", (0, 32, 12, 8),
               [_target("A", f"sum by (host) (rate(hailstorm_requests_total{{{RUN}}}[$__rate_interval]))",
                        "{{host}}")], "reqps"),
        _panel("timeseries", "p95 per host", (12, 32, 12, 8), [_target("A", quantile(0.95, "host"), "{{host}}")], "s"),
        _panel("timeseries", "Generator CPU per host/core (fraction of one CPU)", (0, 40, 12, 8),
               [_target("A", f"hailstorm_cpu_ratio{{{RUN}}}", "{{host}}/{{core}}"),
                _target("B", f"hailstorm_cpu_wait_ratio{{{RUN}}}", "{{host}}/{{core}} waited for a CPU")],
               "percentunit"),
        _panel("timeseries", "Event-loop lag per host/core", (12, 40, 12, 8),
               [_target("A", f"hailstorm_loop_lag_seconds{{{RUN}}}", "{{host}}/{{core}} mean"),
                _target("B", f"hailstorm_loop_lag_max_seconds{{{RUN}}}", "{{host}}/{{core}} max")], "s"),
        _panel("timeseries", "Samples lost by the live metrics per host/core", (0, 48, 12, 8),
               [_target("A", f"max by (host, core) (hailstorm_remote_write_lost_samples_total{{{RUN}}})",
                        "{{host}}/{{core}}")], "none"),
    ]
    panels.append(_row("Target's own metrics", 56))
    target_panels, _end = _target_panels(queries, 57)
    panels += target_panels
    for number, panel in enumerate(panels, 1):
        panel["id"] = number
    variables: list[dict[str, Any]] = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus (live metrics)"},
        {"name": "run_id", "type": "query", "label": "run", "datasource": dict(_DATASOURCE),
         "query": {"query": "label_values(hailstorm_requests_total, run_id)", "refId": "runs"},
         "definition": "label_values(hailstorm_requests_total, run_id)", "refresh": 2, "sort": 2,
         "includeAll": False, "multi": False},
        {"name": "target_datasource", "type": "datasource", "query": "prometheus",
         "label": "Prometheus (the target's metrics, hailstorm_prometheus_url)"},
    ]
    if not queries:
        variables.append({"name": "target_query", "type": "textbox", "label": "target's query",
                          "query": TARGET_QUERY, "current": {"text": TARGET_QUERY, "value": TARGET_QUERY}})
    annotations = [
        {"name": "run", "enable": True, "iconColor": "blue", "datasource": dict(_DATASOURCE),
         "expr": f"count by (run_id) (hailstorm_planned_rate{{{RUN}}})", "step": "1s",
         "titleFormat": "run {{run_id}}", "textFormat": "from its first sample to its last (start and end)"},
        {"name": "stages", "enable": True, "iconColor": "orange", "datasource": dict(_DATASOURCE),
         "expr": f"max by (stage) (hailstorm_stage{{{RUN}}})", "step": "1s", "titleFormat": "stage {{stage}}",
         "textFormat": "the plan's stage"},
    ]
    return {"title": "romram.hailstorms load test", "uid": DASHBOARD_UID, "schemaVersion": 39, "version": 2,
            "tags": ["load-test", "hailstorms", "locust"], "timezone": "", "refresh": "5s",
            "time": {"from": "now-15m", "to": "now"},
            "description": ("Live metrics of a romram.hailstorms run (hailstorm_prometheus_remote_write): clients, "
                            "rate against plan, errors, latency (native histograms, classic as fallback), per label, per "
                            "host, the target's own metrics. docs/live-metrics.md says which query gives what."),
            "templating": {"list": variables}, "annotations": {"list": copy.deepcopy(annotations)},
            "panels": panels}
