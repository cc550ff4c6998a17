"""Live metrics on real local runs, into a real Prometheus (Debian's `prometheus`, started here on
loopback with its remote-write receiver and a scrape of the feeder's /metrics): what arrives adds
up to summary.json, and a Prometheus that goes away mid-run costs samples, never the run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from harness import BIN, ROOT, feeder, free_port, local_aliases, playbook_env, wait_until

PROMETHEUS = shutil.which("prometheus")
# CI sets HAILSTORMS_REQUIRE_PROMETHEUS (.ci/run installs it): there a missing binary fails
NEEDS_PROMETHEUS = pytest.mark.skipif(PROMETHEUS is None and not os.environ.get("HAILSTORMS_REQUIRE_PROMETHEUS"),
                                      reason="Debian's prometheus is not installed (apt-get install -y prometheus)")

LOCUSTFILE = '''
from locust import HttpUser, constant_pacing, task


class Mixed(HttpUser):
    wait_time = constant_pacing(1)

    @task(4)
    def hello(self):
        self.client.get("/someone", name="/{name}")

    @task(1)
    def broken(self):
        self.client.get("/status/500")
'''


@contextmanager
def prometheus(directory: Path, scrape: str | None = None, native: bool = True) -> Iterator[str]:
    """Prometheus on a free loopback port, its storage in `directory`, remote write accepted (with
    native histograms unless `native` is False); with `scrape` (a base URL) it scrapes that URL's
    /metrics every second as job "api". Yields its base URL. Run as a plain process, never a
    system service."""
    directory.mkdir(parents=True, exist_ok=True)
    config = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s"]
    if scrape:
        config += ["scrape_configs:", "  - job_name: api", "    static_configs:",
                   f"      - targets: ['{urllib.parse.urlsplit(scrape).netloc}']"]
    (directory / "prometheus.yml").write_text("\n".join(config) + "\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [PROMETHEUS or "prometheus", f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--web.enable-remote-write-receiver", "--storage.tsdb.retention.time=1d"]
        + (["--enable-feature=native-histograms"] if native else []),
        stdout=subprocess.DEVNULL, stderr=open(directory / "prometheus.log", "w"))
    try:
        def ready() -> bool:
            assert process.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1).read()
                return True
            except OSError:
                return False
        wait_until(ready, "prometheus to get ready", 20)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def query(base: str, promql: str, at: float | None = None) -> list[dict]:
    params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
    with urllib.request.urlopen(f"{base}/api/v1/query?{urllib.parse.urlencode(params)}", timeout=30) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    return body["data"]["result"]


def per_label(base: str, metric: str, run_id: str) -> dict[str, int]:
    rows = query(base, f'sum by (label) (last_over_time({metric}{{run_id="{run_id}"}}[1h]))')
    return {row["metric"]["label"]: int(float(row["value"][1])) for row in rows}


def histogram_counts(base: str, run_id: str) -> dict[str, int]:
    """Per label, the count of each (stage, core) native histogram's last sample, summed (what
    last_over_time would say; Prometheus 2.42 has no last_over_time of native histograms)."""
    rows = query(base, f'hailstorm_response_time_seconds{{run_id="{run_id}"}}[1h]')
    out: dict[str, int] = {}
    for row in rows:
        label = row["metric"]["label"]
        out[label] = out.get(label, 0) + int(row["histograms"][-1][1]["count"])
    return out


def start_run(results: Path, run_id: str, target: str, locustfile: Path, remote_write: str,
              inventory: str = "inventories/local", **settings: object) -> subprocess.Popen:
    extra = {"hailstorm_prometheus_remote_write": remote_write,
             **{f"hailstorm_{name}": value for name, value in settings.items()}}
    return subprocess.Popen(
        [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", inventory,
         "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={target}", "-e", f"hailstorm_results_dir={results}",
         "-e", f"hailstorm_run_id={run_id}", "-e", f"hailstorm_locustfile={locustfile}", "-e", json.dumps(extra)],
        cwd=ROOT, env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_time(results: Path, run_id: str) -> float:
    return float(json.loads((results / run_id / "localhost" / "start.json").read_text())["start_time"])


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    """A short local run against the feeder with remote write on, into a Prometheus that also
    scrapes the feeder; yields (results, summary, Prometheus URL) while Prometheus still runs."""
    tmp = tmp_path_factory.mktemp("live")
    locustfile = tmp / "mixed.py"
    locustfile.write_text(LOCUSTFILE)
    results = tmp / "results"
    with feeder() as target, prometheus(tmp / "prometheus", scrape=target) as prom:
        run = start_run(results, "live", target, locustfile, prom + "/api/v1/write",
                        thresholds={"failure_rate": "50%"})  # a fifth of the requests fail, by design
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output[-4000:]
        summary = json.loads((results / "live" / "summary.json").read_text())
        yield results, summary, prom, output


@NEEDS_PROMETHEUS
def test_prometheus_totals_per_label_equal_the_summary_s(live_run):
    _results, summary, prom, output = live_run
    labels = summary["latency"]["labels"]
    assert set(labels) == {"GET /{name}", "GET /status/500"} and summary["failures"] > 0
    assert per_label(prom, "hailstorm_requests_total", "live") == {label: row["requests"] for label, row in labels.items()}
    assert per_label(prom, "hailstorm_failures_total", "live") == {
        label: row["failures"] for label, row in labels.items() if row["failures"]}
    assert histogram_counts(prom, "live") == {label: row["requests"] for label, row in labels.items()}
    live = summary["live_metrics"]
    assert live["lost"] == 0 and live["pushed"] == live["samples"] > 0
    assert f"live metrics: {live['pushed']} of {live['samples']} samples reached" in " ".join(output.split())
    kinds = query(prom, 'sum by (kind) (last_over_time(hailstorm_failures_total{run_id="live"}[1h]))')
    assert {row["metric"]["kind"]: int(float(row["value"][1])) for row in kinds} == summary["failures_by_kind"]


@NEEDS_PROMETHEUS
def test_the_live_rate_follows_the_report_s_per_second_series_within_one_sample(live_run):
    """The sample a core pushes at T0 + k counts the requests it recorded by then: those that
    started in second k - 1 or before and were answered. Summed over the cores, it lies between the
    report's count up to second k - 2 and up to second k - 1 (every answer takes less than 1 s)."""
    results, summary, prom, _output = live_run
    t0 = start_time(results, "live")
    rows = query(prom, 'hailstorm_requests_total{run_id="live"}[1h]')
    stamps = sorted({float(at) for row in rows for at, _v in row["values"]})
    live: dict[int, float] = {}
    for stamp in stamps:  # every series' last value at or before the stamp, summed
        total = 0.0
        for row in rows:
            before = [float(v) for at, v in row["values"] if float(at) <= stamp]
            total += before[-1] if before else 0.0
        live[round(stamp - t0)] = total
    reported: dict[int, int] = {}
    running = 0
    for point in summary["series"]:
        running += point["requests"]
        reported[point["second"]] = running
    last = max(reported)

    def upto(second: int) -> int:
        return reported[min(second, last)] if second >= min(reported) else 0

    ticks = sorted(k for k in live if k >= 1)
    assert len(ticks) >= summary["series"][-1]["second"]  # a sample each second of the run
    for k in ticks:
        assert upto(k - 2) <= live[k] <= upto(k - 1), (k, live[k], upto(k - 2), upto(k - 1))
    assert live[ticks[-1]] == summary["requests"]


@NEEDS_PROMETHEUS
def test_the_feeder_s_own_metrics_are_scraped_beside_the_load(live_run):
    _results, summary, prom, _output = live_run
    answered = query(prom, 'sum by (route, code) (max_over_time(hailstorm_feeder_requests_total{job="api"}[1h]))')
    counts = {(row["metric"]["route"], row["metric"]["code"]): int(float(row["value"][1])) for row in answered}
    assert counts[("status", "500")] == summary["latency"]["labels"]["GET /status/500"]["requests"]
    assert counts[("hello", "200")] == summary["latency"]["labels"]["GET /{name}"]["requests"]
    assert query(prom, 'process_cpu_seconds_total{job="api"}')


@NEEDS_PROMETHEUS
def test_a_prometheus_stopped_mid_run_costs_samples_never_the_run(tmp_path):
    locustfile = tmp_path / "mixed.py"
    locustfile.write_text(LOCUSTFILE.split("    @task(1)")[0])  # no failures: the run must complete
    results = tmp_path / "results"
    with feeder() as target:
        with prometheus(tmp_path / "prometheus") as prom:
            run = start_run(results, "cut", target, locustfile, prom + "/api/v1/write")
            # stop it once the load's samples arrive (the run is under way)
            wait_until(lambda: query(prom, 'hailstorm_requests_total{run_id="cut"}') or run.poll() is not None,
                       "the load's samples in prometheus", 300, 0.2)
            assert run.poll() is None, run.communicate()[0][-4000:]
        output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output[-4000:]
    summary = json.loads((results / "cut" / "summary.json").read_text())
    assert summary["state"] == "completed" and summary["exit_code"] == 0
    live = summary["live_metrics"]
    assert 0 < live["pushed"] < live["samples"] and live["lost"] == live["samples"] - live["pushed"]
    assert live["cores_losing"] == [f"localhost/{core['core']}" for core in summary["cores"]]
    assert f"{live['lost']} lost" in " ".join(output.split())  # the summary's lines say it


DASHBOARD = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms" / "files" / "grafana" / "hailstorms.json"


def panel_queries(dashboard: dict) -> dict[tuple[str, str], dict]:
    """Every target of the dashboard by (panel title, refId)."""
    return {(panel["title"], target["refId"]): target for panel in dashboard["panels"]
            for target in panel.get("targets", [])}


def as_grafana_sends_it(expr: str, run_id: str, range_s: float) -> str:
    """The PromQL Grafana sends for a target: the run picked, $__rate_interval at the panels' 1 s
    minimum interval (max(1 s + 1 s, 4 x 1 s) = 4 s), $__range the time range."""
    return (expr.replace("$run_id", run_id).replace("$__rate_interval", "4s")
            .replace("$__range", f"{int(range_s)}s"))


def check_dashboard(prom: str, results: Path, summary: dict, run_id: str, bounds: list[float] | None = None) -> None:
    """The dashboard's numbers against the plan and summary.json: the planned sum at sampled
    seconds, the run's requests and failures per label and in all, the table's p95 per label
    within 10 % of the summary's (native), or in the same classic bucket or one next to it (`bounds`, seconds: the
    classic buckets' upper bounds); every other query answers with data."""
    from ansible_collections.romram.hailstorms.plugins.module_utils.planner import active_clients

    dashboard = json.loads(DASHBOARD.read_text())
    targets = panel_queries(dashboard)
    plan = json.loads((results / run_id / "plan.json").read_text())
    t0 = float(summary["clock"]["start_epoch"])  # the shared start
    end = float(summary["clock"]["end_epoch"])
    range_s = end - t0 + 10  # the time range of a user looking at the run

    def instant(key: tuple[str, str], at: float) -> list[dict]:
        return query(prom, as_grafana_sends_it(targets[key]["expr"], run_id, range_s), at)

    for second in range(1, int(summary["clock"]["seconds"]), 2):  # sampled seconds: the plan, all hosts
        (row,) = instant(("Rate against plan (task iterations / s, all hosts)", "A"), t0 + second + 0.5)
        assert float(row["value"][1]) == active_clients(plan, second - 0.5) / plan["pace"], second
    (row,) = instant(("Requests (run)", "A"), end + 5)
    assert int(float(row["value"][1])) == summary["requests"]
    labels = summary["latency"]["labels"]
    table = {ref: {r["metric"]["label"]: float(r["value"][1]) for r in instant(("Per label", ref), end + 5)}
             for ref in "ABCDE"}
    assert table["A"] == {label: row["requests"] for label, row in labels.items()}
    assert table["B"] == {label: row["failures"] for label, row in labels.items() if row["failures"]}
    for label, row in labels.items():  # p95 per label over the run, as close as the histogram's buckets
        live_s, exact_s = table["D"][label], row["p95_ms"] / 1000
        if bounds is None:
            assert abs(live_s - exact_s) <= 0.10 * exact_s, (label, live_s, exact_s)
        else:
            # linear interpolation inside the classic bucket that holds the exact value, or the next one
            # out: increase() extrapolates each bucket's series on its own (a series begins with its
            # bucket's first request), so the 95th rank may cross one bound (CI: 10.2 ms for an exact
            # 6.6 ms, the bound at 10 ms, on a busy machine)
            ordered = sorted(bounds)
            at = ordered.index(min(b for b in ordered if b >= exact_s))
            lower = ordered[at - 2] if at >= 2 else 0.0
            upper = ordered[at + 1] if at + 1 < len(ordered) else float("inf")
            assert lower <= live_s <= upper, (label, live_s, exact_s, lower, upper)
    (row,) = instant(("p95", "A"), t0 + summary["clock"]["seconds"] / 2)
    assert float(row["value"][1]) > 0
    for (title, ref), target in targets.items():  # the rest draws something over the run
        if target["expr"] == "$target_query":
            continue
        params = urllib.parse.urlencode({"query": as_grafana_sends_it(target["expr"], run_id, range_s),
                                         "start": f"{t0:.3f}", "end": f"{end:.3f}", "step": "1"})
        with urllib.request.urlopen(f"{prom}/api/v1/query_range?{params}", timeout=30) as answer:
            body = json.load(answer)
        assert body["status"] == "success", (title, ref, body)
        values = [float(v) for row in body["data"]["result"] for _at, v in row["values"] if v not in ("NaN", "+Inf")]
        assert values, (title, ref, target["expr"])
    runs = query(prom, "count by (run_id) (last_over_time(hailstorm_requests_total[1h]))")
    assert run_id in {row["metric"]["run_id"] for row in runs}  # the dashboard's run picker finds the run


@NEEDS_PROMETHEUS
def test_the_grafana_dashboard_shows_the_plan_and_the_summary_s_figures(live_run):
    results, summary, prom, _output = live_run
    check_dashboard(prom, results, summary, "live")


@NEEDS_PROMETHEUS
def test_a_prometheus_without_native_histograms_gets_classic_buckets_and_the_dashboard_falls_back(tmp_path):
    locustfile = tmp_path / "mixed.py"
    locustfile.write_text(LOCUSTFILE)
    results = tmp_path / "results"
    inventory = local_aliases(tmp_path, 1, cores=1, name="liveclassic")
    with feeder() as target, prometheus(tmp_path / "prometheus", native=False) as prom:
        run = start_run(results, "classic", target, locustfile, prom + "/api/v1/write", str(inventory),
                        thresholds={"failure_rate": "50%", "p95_ms": 30})
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output[-4000:]
        summary = json.loads((results / "classic" / "summary.json").read_text())
        live = summary["live_metrics"]
        assert live["histograms"] == "classic" and "native histograms are disabled" in live["native_refused"]
        assert live["lost"] == 0  # the refused push went again, classic
        les = {row["metric"]["le"] for row in query(prom, 'last_over_time(hailstorm_response_time_seconds_bucket'
                                                          '{run_id="classic"}[1h])')}
        assert "0.03" in les and "+Inf" in les  # a bucket at the p95_ms threshold
        check_dashboard(prom, results, summary, "classic", sorted(float(le) for le in les if le != "+Inf"))


# the clients active mid-stage are measured (a client late by half a second would miss): the stages
# run's three tests share one run and run alone, after the parallel tier (pytest.ini)
STAGES_SERIAL = pytest.mark.serial
STAGES = [  # pace 1 s: the rate is the active clients; "0" steps
    {"duration": 3, "rps": 8, "name": "warm"},
    {"duration": 4, "rps": 8, "name": "hold"},
    {"duration": 0, "rps": 16},
    {"duration": 4, "rps": 16, "name": "spike"},
    {"duration": 3, "rps": 4, "name": "down"},
]
SLOW = '''
from locust import HttpUser, constant_pacing, task


class Slow(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def hit(self):
        self.client.get("/wait/10/200", name="/wait")
'''


@pytest.fixture(scope="module")
def stages_run(tmp_path_factory):
    """A five-stage run (14 s) on two load hosts (aliases of this machine, a core each) answered in
    10-200 ms, into a Prometheus with native histograms; yields (results, summary, plan,
    Prometheus URL) while Prometheus still runs."""
    tmp = tmp_path_factory.mktemp("stages")
    inventory = local_aliases(tmp, 2, cores=1, name="livestages")
    locustfile = tmp / "slow.py"
    locustfile.write_text(SLOW)
    results = tmp / "results"
    with feeder() as target, prometheus(tmp / "prometheus") as prom:
        run = start_run(results, "stages", target, locustfile, prom + "/api/v1/write", str(inventory),
                        stages=STAGES)
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output[-4000:]
        summary = json.loads((results / "stages" / "summary.json").read_text())
        plan = json.loads((results / "stages" / "plan.json").read_text())
        yield results, summary, plan, prom


@NEEDS_PROMETHEUS
@STAGES_SERIAL
def test_the_gauges_sum_to_the_plan_in_the_middle_of_every_stage(stages_run):
    """sum(...) over the run's gauges at the middle of each stage (an instant query at T0 + m):
    the sample in effect is the one at T0 + floor(m), which holds second floor(m) - 1: the planned
    rate of its middle, and the clients the cores had active then (the summary's `active` of that
    second). Without stale markers a stage change added the last stage's gauges (38 for 20)."""
    from ansible_collections.romram.hailstorms.plugins.module_utils.planner import active_clients

    _results, summary, plan, prom = stages_run
    t0 = float(summary["clock"]["start_epoch"])  # the shared start
    offset = 0.0
    for stage in STAGES:
        middle, offset = offset + stage["duration"] / 2, offset + stage["duration"]
        if not stage["duration"]:
            continue
        second = int(middle)
        assert {row["metric"]["host"] for row in query(prom, 'hailstorm_planned_rate{run_id="stages"}', t0 + middle)} \
            == {"livestages00", "livestages01"}
        planned = query(prom, 'sum(hailstorm_planned_rate{run_id="stages"})', t0 + middle)
        assert float(planned[0]["value"][1]) == active_clients(plan, second - 0.5), (stage, planned)
        active = float(query(prom, 'sum(hailstorm_active_clients{run_id="stages"})', t0 + middle)[0]["value"][1])
        assert active == active_clients(plan, second - 0.5), (stage, active)
        stages = query(prom, 'max by (stage) (hailstorm_stage{run_id="stages"})', t0 + middle)
        assert [row["metric"]["stage"] for row in stages] == [stage["name"]]
    assert summary["live_metrics"]["lost"] == 0 and summary["live_metrics"]["histograms"] == "native"


@NEEDS_PROMETHEUS
@STAGES_SERIAL
def test_no_series_of_the_run_is_live_after_its_end(stages_run):
    _results, summary, _plan, prom = stages_run
    end = float(summary["clock"]["end_epoch"])
    during = query(prom, 'count({run_id="stages"})', end - 2)
    assert int(float(during[0]["value"][1])) > 10  # gauges, counters, histograms, stage
    for after in (2, 20):  # Prometheus would keep each series' last sample for 5 minutes without stale markers
        assert query(prom, '{run_id="stages"}', end + after) == [], after
    # range queries skip the stale markers: the run's totals stay
    assert per_label(prom, "hailstorm_requests_total", "stages") == {"GET /wait": summary["requests"]}


@NEEDS_PROMETHEUS
@STAGES_SERIAL
def test_the_native_histograms_p99_is_within_10_percent_of_the_summary_s(stages_run):
    """histogram_quantile over the run's native histograms against summary.json's exact p99 (the
    merged recorder histogram, 3 significant digits); classic default buckets put it anywhere
    between 100 and 250 ms by linear interpolation."""
    _results, summary, _plan, prom = stages_run
    end = float(summary["clock"]["end_epoch"])
    window = int(summary["clock"]["seconds"]) + 5
    for q, key in ((0.99, "p99_ms"), (0.95, "p95_ms"), (0.5, "p50_ms")):
        row = query(prom, f'histogram_quantile({q}, sum(increase(hailstorm_response_time_seconds{{run_id="stages"}}'
                          f'[{window}s])))', end + 1)
        live_ms, exact_ms = float(row[0]["value"][1]) * 1000, float(summary["latency"]["overall"][key])
        assert abs(live_ms - exact_ms) <= 0.10 * exact_ms, (key, live_ms, exact_ms)
