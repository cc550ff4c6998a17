"""The service's own metrics in the report, on a real local run: Debian's Prometheus scrapes the
feeder's /metrics (standing in for the user's service), two named queries become two charts on
the load's time axis, aligned with the load within the query step."""
from __future__ import annotations

import json
import re

import pytest

from browser import CHART_PROBE, load
from harness import feeder, local_run
from test_live_metrics import LOCUSTFILE, NEEDS_PROMETHEUS, prometheus
from test_report_local import NEEDS_CHROMIUM

ANSWERED = 'sum(hailstorm_feeder_requests_total{job="api",route!="metrics"})'
QUERIES = {"answered": ANSWERED, "feeder_cpu": 'rate(process_cpu_seconds_total{job="api"}[5s])'}
LEFT, RIGHT, TOP, BOTTOM, W, H = 60, 16, 22, 34, 900, 250  # the report's chart frame (viewBox 0 0 900 250)


def chart_points(page: str, chart_id: str) -> list[tuple[float, float]]:
    """The points a chart drew, back in its axes' units (seconds since the start, the y unit)."""
    figure = re.search(rf'<figure class="chart" id="{chart_id}"[^>]*data-x-range="([^"]+)" data-y-top="([^"]+)"'
                       r'(.*?)</figure>', page, re.S)
    assert figure, chart_id
    x0, x1 = map(float, figure.group(1).split())
    top = float(figure.group(2))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    line = re.search(r'<polyline class="series"[^>]*points="([^"]+)"', figure.group(3))
    assert line, chart_id
    return [(x0 + (float(x) - LEFT) / pw * (x1 - x0), (TOP + ph - float(y)) / ph * top)
            for x, y in (pair.split(",") for pair in line.group(1).split())]


@pytest.fixture(scope="module")
def service_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("service")
    locustfile = tmp / "mixed.py"
    locustfile.write_text(LOCUSTFILE)
    results = tmp / "results"
    with feeder() as target, prometheus(tmp / "prometheus", scrape=target) as prom:
        run = local_run(results, "svc", target, locustfile, thresholds={"failure_rate": "50%"},
                        prometheus_url=prom, report_queries=QUERIES)
        assert run.returncode == 0, run.stdout[-4000:]
    return results / "svc", prom


@NEEDS_PROMETHEUS
def test_each_query_is_a_chart_aligned_with_the_load_within_the_step(service_run):
    run_dir, prom = service_run
    summary = json.loads((run_dir / "summary.json").read_text())
    page = (run_dir / "report.html").read_text()
    service = summary["service_metrics"]
    step = service["step"]
    assert service["url"] == prom and step == 1
    for name in QUERIES:
        entry = service["queries"][name]
        assert entry["error"] is None and entry["series"] == 1 and entry["points"] > 0, entry
        assert entry["min"] <= entry["mean"] <= entry["max"]
        assert f'id="service-{name}" data-points="0"' not in page
    cumulative, running = {}, 0  # requests answered by the end of each second, from the load's records
    for point in summary["series"]:
        running += point["requests"]
        cumulative[point["second"]] = running
    last = max(cumulative)

    def answered_by(at: float) -> int:
        """The requests started before the whole second `at` falls in (every answer takes < 1 s)."""
        second = min(int(at // 1), last + 1)
        return cumulative.get(second - 1, 0)

    points = chart_points(page, "service-answered")
    assert len(points) >= last
    top = float(re.search(r'id="service-answered"[^>]*data-y-top="([^"]+)"', page).group(1))
    slack = top / 500 + 1  # the drawing's rounding (0.1 px), and one request in flight
    for x, value in points:
        # a point at x holds the last scrape at or before x (scrapes every second), the feeder's
        # count then: between the load's count one step + one scrape earlier and its count at x
        assert answered_by(x - step - 1) - slack <= value <= answered_by(x + 1) + slack, (x, value)
    assert points[-1][0] > last + 1 - step - 0.05  # the chart covers the run to its end
    assert points[-1][1] >= answered_by(last + 1 - step - 1) - slack > 0
    assert chart_points(page, "service-feeder_cpu")
    rows = page.split('<table class="service">')[1].split("</table>")[0]
    assert "answered" in rows and "feeder_cpu" in rows


@NEEDS_PROMETHEUS
@NEEDS_CHROMIUM
def test_the_service_charts_draw_in_a_browser_offline(service_run):
    run_dir, _prom = service_run
    report = run_dir / "report.html"
    page = load(report, CHART_PROBE)
    assert page.errors == []
    assert page.requests == [report.resolve().as_uri()]
    charts = {chart["id"]: chart for chart in page.value}
    for name in QUERIES:
        chart = charts[f"service-{name}"]
        assert chart["points"] == chart["declared"] > 0 and chart["drawn"] == chart["series"] == 1, chart


@NEEDS_PROMETHEUS
def test_a_query_prometheus_refuses_is_said_never_fatal(tmp_path):
    locustfile = tmp_path / "mixed.py"
    locustfile.write_text(LOCUSTFILE.split("    @task(1)")[0])
    with feeder() as target, prometheus(tmp_path / "prometheus", scrape=target) as prom:
        run = local_run(tmp_path / "results", "bad", target, locustfile, prometheus_url=prom,
                        report_queries={"broken": "rate(", "nothing": 'up{job="none"}'})
    assert run.returncode == 0, run.stdout[-4000:]
    summary = json.loads((tmp_path / "results" / "bad" / "summary.json").read_text())
    queries = summary["service_metrics"]["queries"]
    assert queries["broken"]["error"].startswith("the query failed: ") and "parse error" in queries["broken"]["error"]
    assert queries["nothing"]["error"] == "no data over the run window"
    page = (tmp_path / "results" / "bad" / "report.html").read_text()
    assert "no data over the run window" in page and "the query failed: " in page
