"""The service's metrics in the report: the named queries checked before any host is touched, the
step within 5 s, the constant phase's figures, a failed query said and never fatal, every chart
escaped and drawn on the load's time axis with the phases shaded."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import report, service_metrics
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

from test_report import Page, core, the_plan


def test_queries_are_checked_naming_the_variable_and_the_fix():
    assert service_metrics.checked_queries(None) == {}
    assert service_metrics.checked_queries({"api_cpu": " rate(x[15s]) "}) == {"api_cpu": "rate(x[15s])"}
    for bad, said in (("rate(x[1m])", "not a mapping"), ({"api cpu": "x"}, "'api cpu' is not a short name"),
                      ({"cpu": ""}, "the query of 'cpu'"), ({"cpu": 3}, "the query of 'cpu'")):
        with pytest.raises(PlanError) as error:
            service_metrics.checked_queries(bad)
        assert "hailstorm_report_queries" in str(error.value) and said in str(error.value)
        assert "api_cpu" in str(error.value)  # the example that works


@pytest.mark.parametrize("duration, step", [(0, 1), (60, 1), (600, 1), (601, 2), (3000, 5), (86400, 5)])
def test_the_step_is_whole_seconds_and_never_above_5(duration, step):
    assert service_metrics.step_for(duration) == step


def test_the_figures_cover_the_constant_phase_only():
    series = [{"name": "a", "points": [(1.0, 100.0), (4.0, 2.0), (5.0, 4.0)]}, {"name": "b", "points": [(9.0, 6.0)]}]
    assert service_metrics.window_figures(series, (4, 10)) == {"over": [4, 10], "points": 3, "min": 2.0,
                                                               "mean": 4.0, "max": 6.0}
    assert service_metrics.window_figures(series, None)["mean"] is None


def test_a_prometheus_that_does_not_answer_is_said_never_fatal():
    fetched = service_metrics.fetch("http://127.0.0.1:9", {"cpu": "up"}, 1000.0, 1012.0, (4, 10), timeout=2)
    entry = fetched["queries"]["cpu"]
    assert entry["series"] == [] and entry["error"].startswith("the query failed: ") and entry["mean"] is None
    assert service_metrics.summary_figures(fetched)["queries"]["cpu"]["series"] == 0


def test_each_query_is_a_chart_on_the_load_s_axis_escaped_with_its_row():
    plan = the_plan()
    merged = merge([core("h1", 0, plan), core("h2", 0, plan)])
    summary = summarize(merged, plan)
    service = {"url": "http://prom<x>:9090", "step": 1, "queries": {
        "api_cpu": {"query": 'rate(cpu{job="a<b>"}[15s])', "error": None, "over": [4, 10], "points": 6,
                    "min": 0.5, "mean": 0.75, "max": 1.0,
                    "series": [{"name": '{job="a<b>"}', "points": [(float(s), 0.5 + s / 20) for s in range(12)]}]},
        "queue": {"query": "queue_depth", "error": "no data over the run window", "over": [4, 10], "points": 0,
                  "min": None, "mean": None, "max": None, "series": []}}}
    text = report.render(merged, summary, plan, service=service)
    page = Page()
    page.feed(text)
    assert page.charts["service-api_cpu"] == 12 and page.charts["service-queue"] == 0
    assert page.sources == [] and "script" not in page.tags
    assert "a<b>" not in text and "prom<x>" not in text and "a&lt;b&gt;" in text
    assert text.count('class="phase"') == 3 * 8  # the phases shaded on the service's charts too
    assert "no data over the run window" in text
    row = text.split('<table class="service">')[1].split("</table>")[0]
    assert "4-10 s" in row and ">0.75<" in row and ">-<" in row
