"""The Grafana dashboard: the shipped file is the generator's, every query picks the run, every
latency query has its native and its classic form, and the report queries get their panels."""
from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.romram.hailstorms.plugins.module_utils import grafana

SHIPPED = Path(__file__).resolve().parents[4] / "files" / "grafana" / "hailstorms.json"


def exprs(board):
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel.get("targets", [])]


def test_the_shipped_dashboard_is_the_generator_s():
    assert json.loads(SHIPPED.read_text()) == grafana.dashboard(), (
        "files/grafana/hailstorms.json is stale: write json.dumps(grafana.dashboard(), indent=1) to it")


def test_every_load_query_picks_the_run_and_latency_has_both_forms():
    board = grafana.dashboard()
    for title, expr in exprs(board):
        if expr != "$target_query":
            assert '{run_id=~"$run_id"}' in expr, title
            assert "[5s]" not in expr and ("rate(" not in expr or "$__rate_interval" in expr or "$__range" in expr)
        if "histogram_quantile" in expr:
            native, classic = expr.split(" or ")
            assert "_bucket" not in native and "_bucket" in classic and "le" in classic, title
    titles = [panel["title"] for panel in board["panels"]]
    assert titles[:8] == ["Run", "Clients", "Rate / plan", "Requests / s", "Errors", "p95", "Requests (run)", "Load"]
    assert {"Per label", "Requests / s per host", "p95 per host", "Target's own metrics"} <= set(titles)
    assert [a["name"] for a in board["annotations"]["list"]] == ["run", "stages"]
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])


def test_a_run_s_dashboard_has_a_panel_per_report_query_on_the_target_s_datasource():
    board = grafana.dashboard({"api_cpu": "rate(process_cpu_seconds_total[15s])",
                               "rss": "process_resident_memory_bytes"})
    targets = {title: expr for title, expr in exprs(board) if "process_" in expr}
    assert targets == {"api_cpu": "rate(process_cpu_seconds_total[15s])", "rss": "process_resident_memory_bytes"}
    assert "target_query" not in [v["name"] for v in board["templating"]["list"]]
    panel = [p for p in board["panels"] if p["title"] == "rss"][0]
    assert panel["datasource"]["uid"] == "${target_datasource}"
