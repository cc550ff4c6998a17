"""The HTML report: self-contained, every chart drawn from the records, degradations in words."""
from __future__ import annotations

import math
import platform
import re
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils import planner, report, thresholds, versions
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    bucket_of, bucket_width, end_record, Histogram, meta_record, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize

SETTINGS = {"target": "http://127.0.0.1:1", "rps": 10, "clients": 10, "rampup": 4, "constant": 6, "rampdown": 2}


def the_plan() -> dict:
    settings, _warnings = run_settings.resolve_settings({"default": SETTINGS})
    plan = planner.make_plan(settings, [("h1", 1), ("h2", 1)])
    return {**plan, "run_id": "r<1>", "target": settings["target"], "profile": "default", "warnings": []}


def core(host: str, index: int, plan: dict, end: str | None = "done", slow_from: int = 99,
         trouble: bool = False) -> list[dict]:
    seconds, active = {}, {}
    for sec in range(int(plan["duration"])):
        n = -(-planner.active_clients(plan, sec + 0.5) // 2)  # half of them, rounded up
        ms = 300.0 if sec >= slow_from else 20.0
        hist = Histogram()
        hist.record_ms(ms, n)
        failures = 1 if sec == 5 else 0
        seconds[sec] = {"/x": {"requests": n, "failures": failures, "bytes": 10 * n, "time_us": int(ms * 1000) * n,
                               "errors": {"HTTP 500": failures} if failures else {}, "hist": hist.to_json()}}
        active[sec] = n
    records = [meta_record(host=host, core=index, start_time=1000.0, clients=5, start_delay=0.001),
               stats_record(seconds, active, overruns={1: 2} if trouble else {},
                            late={3: 0.3} if trouble else {}, started=5, time=1006.5)]
    if end:
        records.append(end_record(end))
    return records


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, int] = {}
        self.sources: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "figure":
            self.charts[attrs["id"]] = int(attrs["data-points"])
        for key in ("src", "href"):
            if key in attrs:
                self.sources.append(attrs[key])


def render(end: str = "done", slow_from: int = 99, verdicts=(), summary_extra=None):
    plan = the_plan()
    merged = merge([core("h1", 0, plan, end, slow_from), core("h2", 0, plan)])
    summary = {**summarize(merged, plan), **(summary_extra or {})}
    return report.render(merged, summary, plan, list(verdicts), "constant phase 4-10 s"), merged, plan


def test_every_chart_draws_data_and_nothing_is_fetched():
    page_text, _merged, plan = render()
    page = Page()
    page.feed(page_text)
    assert set(page.charts) == {"active", "rps", "latency", "latency-labels", "failures", "pacing"}
    assert all(points >= plan["duration"] for points in page.charts.values()), page.charts
    assert page.sources == [] and "script" not in page.tags
    assert not re.search(r"(?:https?:)?//(?!www\.w3\.org/2000/svg)", page_text.replace(plan["target"], ""))
    assert "r&lt;1&gt;" in page_text and "r<1>" not in page_text  # escaped
    # the three phases are shaded on each chart, and the plan is drawn beside the measurement
    assert page_text.count('class="phase"') == 3 * 6
    assert page_text.count('data-series="planned"') == 2
    assert 'data-series="measured, h1"' in page_text  # per host with more than one host


def test_a_clean_run_says_nothing_degraded():
    page_text, _merged, _plan = render()
    assert "nothing degraded" in page_text
    assert "no thresholds set" in page_text
    # failures are not degradations; they are listed by label and kind, with when they happened
    assert "<tr><td>/x</td><td>HTTP 500</td><td>2</td><td>5</td><td>5</td></tr>" in page_text


def test_the_cores_table_shows_each_hosts_clock_offset_when_known():
    plan = the_plan()
    merged = merge([core("h1", 0, plan), core("h2", 0, plan)])
    page_text = report.render(merged, summarize(merged, plan), plan, clock_offsets={"h1": -0.0123})
    assert "<tr><td>h1</td><td>-12.3</td><td>0</td>" in page_text
    assert "<tr><td>h2</td><td>-</td><td>0</td>" in page_text


def test_degradations_are_said_in_words():
    plan = the_plan()
    merged = merge([core("h1", 0, plan, end=None, trouble=True)])
    summary = summarize(merged, plan)
    said = report.degradations({**summary, "reasons": ["host h9 did not answer"]}, plan)
    assert said[0] == "host h9 did not answer"
    assert "load process h1/core 0 ended: missing (process killed?)" in said
    assert "host h2: 1 of 1 load processes left no record" in said
    assert any(line.startswith("host h2 ran 0 requests of") for line in said)
    assert any(line.startswith("10 clients started more than 50 ms after their slot") or
               "clients started more than 50 ms" in line for line in said)
    assert any(line.startswith("the constant phase reached") for line in said)
    assert any("responses outlasted their client's pace" in line for line in said)


def test_state_and_broken_thresholds_are_on_top():
    fig = {"description": "constant phase 4-10 s", "overall": {"p95_ms": 300.0}, "labels": {}}
    verdicts = thresholds.evaluate(thresholds.check({"p95_ms": 100}), fig)
    page_text, _merged, _plan = render(verdicts=verdicts, summary_extra={"state": "degraded"})
    top = page_text[:page_text.index("<h2>")]
    assert 'id="state">run state: degraded' in top
    assert "1 of 1 thresholds broken: p95_ms (all labels): p95 latency 300 ms &gt; limit 100 ms" in top
    assert '<tr class="broken"><td>p95_ms</td>' in page_text


def test_latency_chart_follows_the_merged_histograms():
    page_text, _merged, _plan = render(slow_from=6)
    latency = page_text[page_text.index('id="latency"'):page_text.index('id="failures"')]
    p95 = re.search(r'data-series="p95" data-points="(\d+)"[^>]*points="([^"]+)"', latency)
    ys = [float(point.split(",")[1]) for point in p95.group(2).split()]
    assert int(p95.group(1)) == len(ys)
    # SVG y grows downwards: the slow seconds from 6 s on are drawn higher than the fast ones
    assert max(ys[7:]) < min(ys[1:5])


def test_the_planned_rate_counts_every_planned_request():
    plan = the_plan()
    seconds = list(range(-2, int(plan["duration"]) + 2))
    exact = report.planned_rate(plan, seconds)
    assert sum(y for _x, y in exact) == plan["expected_requests"]
    assert [y for x, y in exact if x < 0] == [0, 0]
    # a plan too big to count request by request: active clients over the pace, close to it
    approx = report.planned_rate({**plan, "expected_requests": report.EXACT_PLAN + 1}, seconds)
    assert abs(sum(y for _x, y in approx) - plan["expected_requests"]) <= 0.1 * plan["expected_requests"]


def test_a_run_that_recorded_nothing_still_renders_and_says_why():
    plan = the_plan()
    merged = merge([[meta_record(host="h1", core=0, start_time=1000.0, clients=5)]])
    summary = summarize(merged, plan)
    page_text = report.render(merged, summary, plan)
    page = Page()
    page.feed(page_text)
    assert page.charts["active"] > 0  # the plan is drawn even when nothing was measured
    assert page.charts["latency"] == 0 and "nothing recorded" in page_text
    assert "load process h1/core 0 ended: missing (process killed?)" in page_text
    assert "host h2: 1 of 1 load processes left no record" in page_text


def open_core(host: str, index: int, plan: dict, pool: dict, started: dict) -> list[dict]:
    records = core(host, index, plan)
    records.insert(2, stats_record({}, pool=pool, pool_started=started, time=1010.0))
    records[-1] = end_record("done", pool_started=sum(started.values()), pool_max=max(pool.values()),
                             pool_cap=40)
    return records


def test_the_open_model_draws_each_cores_pool_over_time_and_the_users_started():
    plan = {**the_plan(), "model": "open"}
    seconds = range(int(plan["duration"]))
    merged = merge([open_core("h1", 0, plan, {s: 3 + (s == 5) * 7 for s in seconds}, {0: 3, 5: 7}),
                    open_core("h2", 0, plan, {s: 2 for s in seconds}, {0: 2})])
    summary = summarize(merged, plan)
    arrivals = summary["arrivals"]
    assert arrivals["pool_per_second"]["5"] == {"mean": 6.0, "max": 10} and arrivals["pool_per_second"]["0"]["max"] == 3
    assert arrivals["users_started_per_second"] == {"0": 5, "5": 7} and arrivals["users_started"] == 12
    page_text = report.render(merged, summary, plan, [], "constant phase 4-10 s")
    page = Page()
    page.feed(page_text)
    assert page.charts["pool"] == 3 * len(seconds)  # each core's pool size and the users started, every second
    assert 'data-series="pool size, h1 core 0"' in page_text and 'data-series="pool size, h2 core 0"' in page_text
    assert "<title>users started / s, all cores</title>" in page_text


def test_the_report_says_the_runs_wall_clock_start_and_end_with_zone():
    clock = {"start": "2023-11-14T22:13:20.000+00:00", "end": "2023-11-14T22:13:34.000+00:00", "seconds": 14.0}
    page_text, _merged, _plan = render(summary_extra={"clock": clock})
    assert ('<p id="clock">from <time datetime="2023-11-14T22:13:20.000+00:00">2023-11-14T22:13:20.000+00:00</time> '
            'to <time datetime="2023-11-14T22:13:34.000+00:00">') in page_text
    assert 'id="clock"' not in render()[0]  # records without a start time: nothing made up


def test_y_axes_fit_the_data_with_round_gridlines():
    assert report.y_axis(100) == (120, 6)  # a 100-client plan on 0-120 (every 20), not 0-200
    assert report.y_axis(40) == (50, 5) and report.y_axis(0.9) == (1, 5) and report.y_axis(0) == (1.0, 5)
    assert report.y_axis(230) == (250, 5) and report.y_axis(7) == (8, 4) and report.y_axis(1400) == (1500, 5)
    for peak in (0.013, 0.5, 3.3, 47, 99, 101, 640, 9999, 123456):
        top, divisions = report.y_axis(peak)
        assert peak * 1.05 <= top <= 1.6 * peak  # close above the data
        step = top / divisions  # a round gridline step: 1, 2, 2.5, 3 or 5 x 10^n
        mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
        assert any(abs(mantissa - m) < 1e-6 for m in (1, 2, 2.5, 3, 5)), (peak, top, divisions)


class Tables(HTMLParser):
    """Each table's rows as lists of (cell text, cell attributes), by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, dict]]]] = {}
        self.rows: list[list[tuple[str, dict]]] | None = None
        self.cell: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.rows = self.tables.setdefault(dict(attrs).get("class") or "", [])
        elif tag == "tr" and self.rows is not None:
            self.rows.append([])
        elif tag in ("td", "th") and self.rows is not None:
            self.cell = ["", dict(attrs)]

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[0] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append((self.cell[0], self.cell[1]))
            self.cell = None
        elif tag == "table":
            self.rows = None


def tables(page_text: str) -> dict[str, list[list[tuple[str, dict]]]]:
    parser = Tables()
    parser.feed(page_text)
    return parser.tables


def two_labels(plan: dict) -> list[dict]:
    """One core's records with two labels: /x as `core` makes it, and /fast at 0.5 ms, never failing."""
    records = core("h1", 0, plan, slow_from=6)
    for sec, labels in records[1]["seconds"].items():
        hist = Histogram()
        hist.record_ms(0.5, 3)
        hist.record_ms(1500.0, 1)
        labels["/fast"] = {"requests": 4, "failures": 0, "bytes": 0, "time_us": 3 * 500 + 1_500_000, "errors": {},
                           "hist": hist.to_json()}
    return records


def test_each_labels_response_time_distribution_adds_up_to_its_requests():
    plan = the_plan()
    merged = merge([two_labels(plan), core("h2", 0, plan)])
    summary = summarize(merged, plan)
    rows = tables(report.render(merged, summary, plan))["distribution"]
    head = [text for text, _attrs in rows[0]]
    assert head[:2] == ["label", "requests"] and head[2] == "< 1 ms" and head[-1] == "1-2 s"  # the used buckets
    counts = {row[0][0]: [int(text) for text, _attrs in row[1:]] for row in rows[1:]}
    labels = summary["latency"]["labels"]
    assert set(counts) == set(labels) | {"all"}
    for label, (requests, *buckets) in counts.items():
        assert sum(buckets) == requests == (labels[label]["requests"] if label != "all" else summary["requests"])
    fast = dict(zip(head[2:], counts["/fast"][1:]))
    assert fast["< 1 ms"] == 3 * 12 and fast["1-2 s"] == 12 and sum(fast.values()) == 4 * 12
    slow = dict(zip(head[2:], counts["/x"][1:]))  # 20 ms before 6 s, 300 ms from 6 s on
    assert slow["20-50 ms"] > 0 and slow["200-500 ms"] > 0 and slow["10-20 ms"] == slow["50-100 ms"] == 0


def test_every_distribution_edge_is_a_bound_of_the_histograms_buckets():
    # so a recorded request's bucket (3 significant digits) lies wholly in one distribution bucket
    for edge in report.LATENCY_EDGES_MS:
        us = 1000 * edge
        assert bucket_of(us) == us and bucket_of(us - 1) + bucket_width(bucket_of(us - 1)) == us
    names = [report.bucket_name(i) for i in range(len(report.LATENCY_EDGES_MS) + 1)]
    assert names[:3] == ["< 1 ms", "1-2 ms", "2-5 ms"]
    assert names[9:] == ["500-1000 ms", "1-2 s", "2-5 s", "5-10 s", "\u2265 10 s"]


@given(st.lists(st.floats(min_value=0, max_value=60_000, allow_nan=False), min_size=1, max_size=200))
def test_a_response_time_lands_in_the_bucket_its_value_says(values):
    hist = Histogram()
    for ms in values:
        hist.record_ms(ms)
    counts = report.distribution(hist.to_json())
    assert sum(counts) == len(values)
    expected = [0] * len(counts)
    for ms in values:
        us = int(ms * 1000.0)  # what the recorder keeps
        expected[sum(1 for edge in report.LATENCY_EDGES_MS if us >= 1000 * edge)] += 1
    assert counts == expected


def test_failures_are_split_from_successes_and_emphasised_when_above_zero():
    plan = the_plan()
    merged = merge([two_labels(plan), core("h2", 0, plan)])
    summary = summarize(merged, plan)
    page_text = report.render(merged, summary, plan)
    rows = {row[0][0]: row for row in tables(page_text)["labels"][1:]}
    head = [text for text, _attrs in tables(page_text)["labels"][0]]
    assert head[:5] == ["label", "requests", "successes", "failures", "failure %"]
    x, fast, total = rows["/x"], rows["/fast"], rows["all"]
    assert [text for text, _attrs in x[1:5]] == [str(summary["latency"]["labels"]["/x"]["requests"]),
                                                 str(summary["latency"]["labels"]["/x"]["requests"] - 2), "2",
                                                 f"{200 / summary['latency']['labels']['/x']['requests']:.2f}"]
    assert x[3][1] == x[4][1] == {"class": "failed"} and total[3][1] == {"class": "failed"}
    assert [text for text, _attrs in fast[2:5]] == ["48", "0", "0.00"] and fast[3][1] == fast[4][1] == {}
    assert int(total[2][0]) + int(total[3][0]) == int(total[1][0]) == summary["requests"]
    assert '<dt>failures</dt><dd class="failed">2 ' in page_text
    assert report.split(10, 0) == [10, 0, "0.00"] and report.split(0, 0) == [0, 0, "-"]
    assert report.split(10, 2) == [8, (2, "failed"), ("20.00", "failed")]
    clean = report.render(merged, {**summary, "failures": 0, "failure_rate": 0.0}, plan)
    assert "<dt>failures</dt><dd>0 " in clean


def test_every_point_of_every_chart_says_its_value_and_time_on_hover():
    page_text, _merged, plan = render()
    for figure in re.findall(r'<figure class="chart".*?</figure>', page_text, re.S):
        columns = re.findall(r'<rect class="hover"[^>]*><title>([^<]*)</title></rect>', figure)
        declared = int(re.search(r'data-hover="(\d+)"', figure).group(1))
        xs = {x for line in re.findall(r' points="([^"]+)"', figure) for x in
              (point.split(",")[0] for point in line.split())}
        assert len(columns) == declared == len(xs) >= plan["duration"], figure[:200]
    rps = page_text[page_text.index('id="rps"'):page_text.index('id="latency"')]
    # the second 5-6 s of the constant phase: the plan and what each host sent
    title = next(t for t in re.findall(r"<title>([^<]*)</title>", rps) if t.startswith("5-6 s"))
    assert title.split("\n") == ["5-6 s (constant)", "planned: 10", "measured, all hosts: 10", "measured, h1: 5",
                                 "measured, h2: 5"]
    assert report.when_text(12.5) == "12-13 s" and report.when_text(7.25) == "7.25 s"
    assert report.value_text(3.0) == "3" and report.value_text(20.05) == "20.05" and report.value_text(1234.56) == "1234.6"


def test_labels_are_escaped_in_the_new_tables_and_titles():
    plan = the_plan()
    records = core("h1", 0, plan)
    for labels in records[1]["seconds"].values():
        labels['<img src=x onerror="y">&'] = labels.pop("/x")
    merged = merge([records])
    page_text = report.render(merged, summarize(merged, plan), plan)
    assert "<img" not in page_text and 'onerror="y"' not in page_text
    assert 'data-label="&lt;img src=x onerror=&quot;y&quot;&gt;&amp;"' in page_text  # distribution row
    assert "<title>&lt;img src=x onerror=&quot;y&quot;&gt;&amp;</title>" in page_text  # its p95 line
    assert re.search(r"<title>[^<]*\n&lt;img src=x onerror=&quot;y&quot;&gt;&amp;: 20\.05(?:\n|</title>)", page_text)  # hover


def test_the_settings_table_gives_each_setting_with_its_unit():
    rows = {name: (value, unit) for name, value, unit in report.settings_rows(the_plan())}
    assert rows["rate, planned peak"] == ("10", "task iterations / s")
    assert rows["clients"] == ("10", "clients") and rows["pace: each client's time between two task iterations"][1] == "s"
    assert rows["ramp-up"] == ("4", "s") and rows["constant phase"] == ("6", "s") and rows["ramp-down"] == ("2", "s")
    assert rows["duration"] == ("12", "s") and rows["model (closed: a fixed set of clients; open: arrivals)"][0] == "closed"
    assert rows["load processes (one per core)"] == ("2", "processes") and "stages" not in rows
    settings, _warnings = run_settings.resolve_settings({"default": {"target": "http://127.0.0.1:1", "clients": 10,
                                                                     "stages": [{"duration": 4, "rps": 10},
                                                                                {"duration": 6, "rps": 20}]}})
    staged = dict((name, value) for name, value, _unit in
                  report.settings_rows({**planner.make_plan(settings, [("h1", 1)]), "model": "open",
                                        "max_clients": 40}))
    assert staged["stages"] == "1: 0 to 10 task iterations / s over 4 s; 2: 10 to 20 task iterations / s over 6 s"
    assert staged["model (closed: a fixed set of clients; open: arrivals)"] == "open"
    assert staged["users at most per run (the open model's pool cap)"] == "40" and "ramp-up" not in staged


GALAXY_VERSION = re.search(r"^version: (\S+)$", (Path(versions.__file__).parents[2] / "galaxy.yml").read_text(),
                           re.M).group(1)


def test_the_report_says_what_the_run_was_made_with():
    plan = {**the_plan(), "versions": versions.controller_versions("2.19.4")}
    records = core("h1", 0, plan)
    records[0].update(locust="2.47.0", python="3.11.2")
    merged = merge([records, core("h2", 0, plan)])  # h2's records: an older runtime, no versions
    summary = summarize(merged, plan)
    assert summary["versions"] == {"collection": GALAXY_VERSION, "ansible_core": "2.19.4",
                                   "controller_python": platform.python_version(), "locust": "2.47.0",
                                   "load_python": "3.11.2"}
    rows = tables(report.render(merged, summary, plan))["versions"]
    assert [[text for text, _attrs in row] for row in rows[1:]] == [
        ["romram.hailstorms", GALAXY_VERSION], ["ansible-core (controller)", "2.19.4"],
        ["Python (controller)", platform.python_version()], ["Locust (load hosts)", "2.47.0"],
        ["Python (load hosts)", "3.11.2"]]
    assert report.version_rows({})[0] == ("romram.hailstorms", "-")  # a run planned before versions were kept


def test_the_collection_version_comes_from_the_manifest_else_galaxy_yml(tmp_path):
    assert versions.collection_version() == GALAXY_VERSION == "2.0.0"  # this checkout's galaxy.yml
    (tmp_path / "galaxy.yml").write_text("namespace: romram\nversion: '2.3.4'  # next\n")
    assert versions.collection_version(tmp_path) == "2.3.4"
    (tmp_path / "MANIFEST.json").write_text('{"collection_info": {"version": "2.3.5"}}')
    assert versions.collection_version(tmp_path) == "2.3.5"
    assert versions.collection_version(tmp_path / "nowhere") is None


def test_everything_the_user_supplied_is_escaped_in_the_settings_and_versions():
    hostile = '<i x="1">&'
    plan = {**the_plan(), "run_id": hostile, "target": hostile, "profile": hostile, "locustfile": hostile,
            "shape": hostile, "user_classes": [hostile], "versions": {"collection": hostile}}
    merged = merge([core("h1", 0, plan)])
    page_text = report.render(merged, summarize(merged, plan), plan)
    assert "<i " not in page_text and 'x="1"' not in page_text
    settings = {row[0][0]: row[1][0] for row in tables(page_text)["settings"][1:]}
    for name in ("run id", "target", "profile", "locustfile", "LoadTestShape", "user classes"):
        assert settings[name] == hostile  # shown as the text it is
    assert page_text.count("&lt;i x=&quot;1&quot;&gt;&amp;") >= 8


def test_the_header_links_to_the_run_in_grafana_and_says_what_the_live_metrics_lost():
    link = "https://grafana.example/d/romram-hailstorms/hailstorms?orgId=1&var-run_id=r1&from=1&to=2"
    live = {"url": "http://prom/api/v1/write", "samples": 120, "pushed": 100, "lost": 20, "failed_pushes": 1,
            "cores_losing": ["h1/0"], "error": "HTTP 503", "histograms": "native"}
    page_text, _merged, _plan = render(summary_extra={"grafana": link, "live_metrics": live})
    header = page_text.split("</header>", maxsplit=1)[0]
    assert f'<a href="{link.replace("&", "&amp;")}">this run in Grafana</a>' in header
    assert ('<p id="live-metrics" class="warn">live metrics: 100 of 120 samples reached http://prom/api/v1/write, '
            "20 lost (cores h1/0; HTTP 503); native histograms</p>") in header
    page_text, _merged, _plan = render()
    assert 'id="grafana"' not in page_text and 'id="live-metrics"' not in page_text


def test_a_burst_over_the_generator_limit_is_said_among_the_degradations():
    plan = the_plan()
    summary = summarize(merge([core("h1", 0, plan)]), plan)
    busy = {**summary, "generator_busy": {"requests": 300, "share": 0.25, "seconds": {"h1 core 0": [0, 1]}}}
    said = report.degradations(busy, plan)
    assert any(line.startswith("300 of the run's requests (25.0 %) began while their load process was over its "
                               "limit") and "h1 core 0 seconds 0-1" in line for line in said), said
    assert not any("over its limit" in line for line in report.degradations(summary, plan))
