"""Live metrics (metrics.py): the samples of each flush add up to the recorder's totals, the wire
format is Prometheus' WriteRequest, and a failing endpoint costs samples, never the run."""
from __future__ import annotations

import json
import math
import struct

import pytest

from hailstorm_runtime import metrics
from hailstorm_runtime.plan_queries import core_clients, host_slice
from hailstorm_runtime.planner import active_clients, make_plan
from hailstorm_runtime.recorder import Recorder

T0 = 1_795_000_000.0
PLAN = {"rampup": 2, "constant": 3, "rampdown": 2, "pace": 1.0}
BASE = {"run_id": "r1", "profile": "default", "host": "load01", "core": "0"}


def cells(requests: int, failures: int = 0, label: str = "GET /a", us: int = 2000) -> dict:
    return {label: {"requests": requests, "failures": failures, "time_us": requests * us,
                    "errors": {"HTTP 500": failures} if failures else {}, "hist": {us: requests}}}


def record(active: int = 5, iterations: int = 10) -> dict:
    return {"active": {"0": active}, "iterations": iterations,
            "load": {"0": {"cpu": 0.25, "lag_ms": 1.5, "lag_max_ms": 4.0}}}


def by_name(samples, name, **labels):
    return [(dict(lab), value, stamp) for lab, value, stamp in samples
            if dict(lab)["__name__"] == name and all(dict(lab).get(k) == v for k, v in labels.items())]


def count(value):
    return float(value.count) if isinstance(value, metrics.Hist) else value


def live(value):
    return not metrics.is_stale(value) and not (isinstance(value, metrics.Hist) and value.stale)


def last_totals(samples, name):
    """What `sum by (label) (last_over_time(name[...]))` answers: each series' last value (stale
    markers skipped, as range queries do; a histogram's count), summed per label."""
    last: dict = {}
    for lab, value, stamp in samples:
        if dict(lab)["__name__"] == name and live(value) and (lab not in last or stamp >= last[lab][1]):
            last[lab] = (count(value), stamp)
    totals: dict = {}
    for lab, (value, _stamp) in last.items():
        totals[dict(lab)["label"]] = totals.get(dict(lab)["label"], 0) + value
    return totals


def test_counters_per_stage_add_up_to_the_recorded_totals_and_start_at_zero():
    series = metrics.LiveSeries(BASE, PLAN, T0)
    samples = []
    sent = 0
    for k in range(1, 9):  # ticks T0+1 .. T0+8: every stage, and the end flush past the plan
        samples += series.add({k - 1: cells(10 * k, failures=k % 2)}, record(), T0 + k + 0.004)
        sent += 10 * k
    assert last_totals(samples, "hailstorm_requests_total") == {"GET /a": sent}
    assert last_totals(samples, "hailstorm_response_time_seconds") == {"GET /a": sent}
    assert last_totals(metrics.expand_classic(samples), "hailstorm_response_time_seconds_count") == {"GET /a": sent}
    assert last_totals(samples, "hailstorm_failures_total") == {"GET /a": sum(k % 2 for k in range(1, 9))}
    stages = {lab["stage"] for lab, _v, _s in by_name(samples, "hailstorm_requests_total")}
    assert stages == {"ramp-up", "constant", "ramp-down"}
    for stage in stages:  # each stage's series starts at 0 one interval before its first value: rate() is exact
        points = sorted((s, v) for lab, v, s in by_name(samples, "hailstorm_requests_total", stage=stage))
        assert count(points[0][1]) == 0.0
    stamps = {s for _lab, _v, s in samples}
    assert all(s % 1000 == 0 for s in stamps)  # on the second boundaries T0 + k: every core's line up


def test_histogram_buckets_are_cumulative_and_end_at_the_count():
    series = metrics.LiveSeries(BASE, PLAN, T0)
    hist = {800: 2, 5000: 1, 9990: 1, 10000: 1, 250_000: 3, 12_000_000: 1}
    samples = series.add({0: {"GET /a": {"requests": 9, "failures": 0, "time_us": 1, "errors": {}, "hist": hist}}},
                         record(), T0 + 1)
    samples = metrics.expand_classic(samples)
    buckets = {lab["le"]: v for lab, v, s in by_name(samples, "hailstorm_response_time_seconds_bucket") if s == T0 * 1000 + 1000}
    # each recorder cell (3 significant digits) counts at its midpoint, as summary.json's percentiles do:
    # the cell 5000-5009 µs is above 5 ms, 9990-9999 µs below 10 ms, 250000-250999 µs above 250 ms
    assert buckets["0.005"] == 2 and buckets["0.01"] == 4 and buckets["0.025"] == 5 and buckets["0.25"] == 5
    assert buckets["0.5"] == 8 and buckets["10.0"] == 8
    assert buckets["+Inf"] == 9
    assert list(buckets.values()) == sorted(buckets.values())


def test_gauges_carry_active_planned_achieved_cpu_and_lag():
    plan = make_plan({"clients": 4, "rps": 4, "pace": 1.0, "rampup": 2, "constant": 3, "rampdown": 2}, [("h", 1)])
    data = host_slice(plan, "h")
    clients = core_clients(data["plan"], data["cores"][0])
    planned = metrics.PlannedRate(clients, 1.0)
    for offset in (0.1, 0.6, 1.4, 2.5, 4.9, 5.3, 6.1, 7.5):
        assert planned.at(offset) == active_clients(plan, offset)  # one core: the plan's active clients / pace
    series = metrics.LiveSeries(BASE, plan, T0, planned)
    samples = series.add({2: cells(4)}, record(active=4, iterations=4), T0 + 3.01)
    values = {dict(lab)["__name__"]: v for lab, v, _s in samples}
    assert all("stage" not in dict(lab) for lab, _v, _s in samples if dict(lab)["__name__"] in values
               and not isinstance(values[dict(lab)["__name__"]], metrics.Hist)
               and dict(lab)["__name__"] not in ("hailstorm_requests_total", "hailstorm_stage"))
    assert values["hailstorm_active_clients"] == 4
    assert values["hailstorm_planned_rate"] == active_clients(plan, 2.5)
    assert values["hailstorm_achieved_rate"] == 4.0
    assert values["hailstorm_cpu_ratio"] == 0.25
    assert values["hailstorm_loop_lag_seconds"] == pytest.approx(0.0015)
    assert values["hailstorm_loop_lag_max_seconds"] == pytest.approx(0.004)
    assert "hailstorm_cpu_wait_ratio" not in values  # a sample without schedstat's wait
    starved = record()
    starved["load"] = {"3": {"cpu": 0.01, "lag_ms": 20.0, "lag_max_ms": 200.0, "wait": 0.3}}
    values = {dict(lab)["__name__"]: v for lab, v, _s in series.add({3: cells(1)}, starved, T0 + 4.01)}
    assert values["hailstorm_cpu_wait_ratio"] == 0.3 and values["hailstorm_cpu_ratio"] == 0.01


def test_the_hand_written_encoder_writes_the_protobuf_library_s_bytes():
    series = metrics.LiveSeries(BASE, PLAN, T0)
    samples = series.add({0: cells(3, 1)}, record(), T0 + 1) + series.add({1: cells(2)}, record(), T0 + 2)
    samples.append(((("__name__", "x"), ("v", "négatif")), -1.5, -5))  # negative int64, non-ASCII
    samples.append(((("__name__", "zero"),), 0.0, 0))  # proto3 leaves default values out
    samples += series.end()  # stale markers: a float's and a native histogram's
    assert any(isinstance(v, metrics.Hist) and v.stale for _l, v, _s in samples)
    body = metrics.encode_protobuf(samples)
    assert metrics.encode_by_hand(samples) == body
    parsed = metrics._write_request_class().FromString(body)
    assert sum(len(ts.samples) + len(ts.histograms) for ts in parsed.timeseries) == len(samples)
    stale = [s for ts in parsed.timeseries for s in ts.samples if s.timestamp == series.last_stamp]
    assert stale and all(struct.pack("<d", s.value).hex() == "020000000000f07f" for s in stale)
    assert metrics.unsnappy(metrics.snappy(body)) == body


class Endpoint:
    """A fake POST: fails with the given errors first, then takes every body."""

    def __init__(self, *errors: metrics.PushError) -> None:
        self.errors = list(errors)
        self.bodies: list[bytes] = []
        self.auth: list = []

    def __call__(self, url, body, headers):
        self.auth.append(headers.get("Authorization"))
        self.headers = dict(headers)
        if self.errors:
            raise self.errors.pop(0)
        self.bodies.append(body)

    def samples(self) -> int:
        parsed = [metrics._write_request_class().FromString(metrics.unsnappy(b)) for b in self.bodies]
        return sum(len(ts.samples) + len(ts.histograms) for p in parsed for ts in p.timeseries)


def batch(n: int, at: int = 0) -> list:
    return [((("__name__", "m"), ("i", str(i))), 1.0, at) for i in range(n)]


def test_a_push_that_fails_is_retried_and_one_that_keeps_failing_is_counted_lost():
    down = metrics.PushError("ConnectionRefusedError", retry=True)
    endpoint = Endpoint(down, down, down, down)  # the first push's three tries, then the next push's first
    pusher = metrics.Pusher("http://x/api/v1/write", {"Authorization": "Bearer t"}, post=endpoint, sleep=lambda s: None)
    pusher.submit(batch(5))
    figures = pusher.close()
    assert figures["lost"] == 5 and figures["pushed"] == 0 and figures["failed_pushes"] == 1
    assert figures["retries"] == 2 and endpoint.auth == ["Bearer t"] * 3
    assert "Bearer" not in json.dumps(figures)  # what the end record and the summary carry: never the credentials


def test_a_refused_push_is_not_retried_and_the_next_ones_get_through():
    endpoint = Endpoint(metrics.PushError("HTTP 400 out of order sample", retry=False))
    pusher = metrics.Pusher("http://x/", post=endpoint, sleep=lambda s: None)
    pusher.submit(batch(3))
    pusher.close(timeout=5)
    assert (pusher.lost, pusher.retries) == (3, 0)
    endpoint = Endpoint(metrics.PushError("HTTP 503", retry=True))
    pusher = metrics.Pusher("http://x/", post=endpoint, sleep=lambda s: None)
    for k in range(4):
        pusher.submit(batch(2, at=k))
    figures = pusher.close(timeout=5)
    assert figures["lost"] == 0 and figures["pushed"] == 8 and endpoint.samples() == 8


def test_the_end_counts_what_did_not_arrive_in_time_as_lost():
    import threading

    gate = threading.Event()

    def slow(url, body, headers):
        gate.wait(5)

    pusher = metrics.Pusher("http://x/", post=slow, sleep=lambda s: None)
    pusher.submit(batch(4))
    figures = pusher.close(timeout=0.2)
    gate.set()
    assert figures["lost"] == 4 and figures["pushed"] == 0


def test_credentials_and_headers_leave_the_environment_and_bearer_wins():
    environ = {metrics.ENV_TOKEN: "tok", metrics.ENV_USER: "u", metrics.ENV_PASSWORD: "p", "OTHER": "1",
               metrics.ENV_HEADERS: json.dumps({"X-Scope-OrgID": "tenant-1"})}
    assert metrics.take_credentials(environ) == {"Authorization": "Bearer tok", "X-Scope-OrgID": "tenant-1"}
    assert environ == {"OTHER": "1"}
    environ = {metrics.ENV_USER: "u", metrics.ENV_PASSWORD: "p:w"}
    assert metrics.take_credentials(environ) == {"Authorization": "Basic dTpwOnc="}
    assert metrics.take_credentials({}) == {}


def test_the_recorder_hands_each_flush_to_live_metrics_and_the_end_record_says_what_was_lost(tmp_path):
    now = [T0 + 1.01]
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: now[0])
    endpoint = Endpoint()
    series = metrics.LiveSeries(BASE, PLAN, T0)
    live = metrics.LiveMetrics(series, metrics.Pusher("http://x/", post=endpoint, sleep=lambda s: None),
                               now=lambda: now[0])
    rec.flush_hooks.append(live.on_flush)
    rec.end_hooks.append(live.on_end)
    rec.on_request("GET", "/a", 12.0, 10, start_time=T0 + 0.2)
    rec.on_request("GET", "/a", 3.0, 10, exception=RuntimeError("x"), start_time=T0 + 0.3)
    rec.flush()
    now[0] = T0 + 2.0
    rec.on_request("GET", "/b", 5.0, 10, start_time=T0 + 1.5)
    rec.end("done")
    rec.close()
    end = [json.loads(line) for line in (tmp_path / "core-0.jsonl").read_text().splitlines()][-1]
    assert end["type"] == "end" and end["live_metrics"]["lost"] == 0
    assert end["live_metrics"]["pushed"] == end["live_metrics"]["samples"] == endpoint.samples() > 0
    parsed = [metrics._write_request_class().FromString(metrics.unsnappy(b)) for b in endpoint.bodies]
    last: dict = {}
    for request in parsed:
        for ts in request.timeseries:
            labels = {label.name: label.value for label in ts.labels}
            if labels["__name__"] == "hailstorm_requests_total":
                key = (labels["label"], labels["stage"])
                last[key] = max([last.get(key, 0.0)] + [s.value for s in ts.samples if s.value == s.value])
    assert sum(v for (label, _stage), v in last.items() if label == "GET /a") == 2
    assert sum(v for (label, _stage), v in last.items() if label == "GET /b") == 1


def test_attach_is_off_without_a_remote_write_url(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0)
    assert metrics.attach({"plan": PLAN}, 0, [], rec, T0) is None
    assert rec.flush_hooks == [] and rec.end_hooks == []
    rec.close()


def instant(samples, name, at_ms):
    """What Prometheus answers for `name` at `at_ms`: each series' latest sample at or before it
    (within the 5-minute lookback), none when that sample is the stale marker."""
    latest: dict = {}
    for lab, value, stamp in samples:
        if dict(lab)["__name__"] == name and at_ms - 300_000 < stamp <= at_ms and (
                lab not in latest or stamp >= latest[lab][1]):
            latest[lab] = (value, stamp)
    return {lab: count(value) for lab, (value, _s) in latest.items() if live(value)}


def test_the_gauges_of_two_cores_sum_to_the_plan_at_every_instant_and_nothing_is_live_after_the_end():
    plan = make_plan({"clients": 6, "rps": 6, "pace": 1.0, "rampup": 3, "constant": 3, "rampdown": 3}, [("h", 2)])
    data = host_slice(plan, "h")
    samples = []
    cores = []
    for index, core in enumerate(data["cores"]):
        clients = core_clients(data["plan"], core)
        cores.append(metrics.LiveSeries({**BASE, "core": str(index)}, plan, T0,
                                        metrics.PlannedRate(clients, 1.0)))
    for k in range(1, 11):
        for series in cores:
            samples += series.add({k - 1: cells(3)}, record(active=3), T0 + k + 0.01)
    for series in cores:
        samples += series.end()
    for k in range(1, 11):  # every instant between two flushes (the last ends the run): the plan
        for at in (k * 1000, k * 1000 + 500)[:1 if k == 10 else 2]:
            planned = instant(samples, "hailstorm_planned_rate", T0 * 1000 + at)
            assert len(planned) == 2 and sum(planned.values()) == active_clients(plan, k - 0.5)
            stages = instant(samples, "hailstorm_stage", T0 * 1000 + at)
            assert {dict(lab)["stage"] for lab in stages} == {metrics.stage_at(plan, k - 1)}
            # counters and histograms: only the current stage's series are live
            assert {dict(lab)["stage"] for lab in instant(samples, "hailstorm_requests_total", T0 * 1000 + at)} \
                <= {metrics.stage_at(plan, k - 1), metrics.stage_at(plan, k)}
    after = T0 * 1000 + 10_000 + 15_000
    names = {dict(lab)["__name__"] for lab, _v, _s in samples}
    assert {name: instant(samples, name, after) for name in names} == {name: {} for name in names}
    assert last_totals(samples, "hailstorm_requests_total") == {"GET /a": 60}  # range queries: every stage's


def test_native_buckets_grow_by_the_schema_s_factor_and_give_the_percentile_within_its_width():
    assert metrics.native_index(1.0) == 0 and metrics.native_index(0.5) == -16
    assert metrics.native_index(1.0001) == 1 and metrics.native_index(2 ** (1 / 16) * 0.9999) == 1
    assert metrics.native_index(0.25 * 1.03) == -32 + 1
    series = metrics.LiveSeries(BASE, PLAN, T0)
    hist = {us: 1 for us in range(1000, 200_001, 1000)}  # 1 ms .. 200 ms, one each
    cell = {"requests": 200, "failures": 0, "time_us": 1, "errors": {}, "hist": hist}
    (value,) = [v for lab, v, _s in series.add({0: {"GET /a": cell}}, record(), T0 + 1)
                if isinstance(v, metrics.Hist) and v.count]
    assert sum(value.buckets.values()) + value.zero == 200
    rank, seen = 0.99 * 200, 0
    for index in sorted(value.buckets):  # the bucket holding p99, as histogram_quantile finds it
        seen += value.buckets[index]
        if seen >= rank:
            upper = 2 ** (index / 16)
            break
    exact = 0.1985  # the summary's p99: the 198th value's bucket midpoint
    assert upper / 2 ** (1 / 16) <= exact <= upper and upper / exact < 1.045
    spans, deltas = metrics.native_spans({-3: 2, -2: 5, 4: 1})
    assert spans == [(-3, 2), (5, 1)] and deltas == [2, 3, -4]
    assert not math.isnan(value.sum)


def test_an_endpoint_without_native_histograms_gets_classic_buckets_and_nothing_is_lost():
    endpoint = Endpoint(metrics.PushError("HTTP 500 native histograms are disabled", retry=True))
    pusher = metrics.Pusher("http://x/", post=endpoint, sleep=lambda s: None)
    series = metrics.LiveSeries(BASE, PLAN, T0, buckets=[0.2, 0.05])
    pusher.submit(series.add({0: cells(3)}, record(), T0 + 1))
    pusher.submit(series.end())
    figures = pusher.close(timeout=5)
    assert figures["lost"] == 0 and figures["histograms"] == "classic" and "error" not in figures
    assert "native histograms are disabled" in figures["native_refused"]
    parsed = [metrics._write_request_class().FromString(metrics.unsnappy(b)) for b in endpoint.bodies]
    names = {label.value for p in parsed for ts in p.timeseries for label in ts.labels if label.name == "__name__"}
    les = {label.value for p in parsed for ts in p.timeseries for label in ts.labels if label.name == "le"}
    assert not any(ts.histograms for p in parsed for ts in p.timeseries)
    assert "hailstorm_response_time_seconds_bucket" in names and les == {"0.05", "0.2", "+Inf"}


def test_each_scenarios_requests_and_failures_are_counters_with_a_scenario_label():
    series = metrics.LiveSeries(BASE, PLAN, T0)
    samples = []
    for k in range(1, 5):
        scenarios = {"browse": {str(k - 1): {"requests": 10, "failures": 1}}}
        if k >= 3:
            scenarios["checkout"] = {str(k - 1): {"requests": 2, "failures": 0}}
        samples += series.add({k - 1: cells(10)}, {**record(), "scenarios": scenarios}, T0 + k + 0.004)
    browse = sorted((s, v) for _lab, v, s in by_name(samples, "hailstorm_scenario_requests_total", scenario="browse"))
    assert browse[0][1] == 0.0 and browse[-1][1] == 40.0
    checkout = sorted((s, v) for _lab, v, s in by_name(samples, "hailstorm_scenario_requests_total",
                                                       scenario="checkout"))
    assert [v for _s, v in checkout] == [0.0, 2.0, 4.0]  # a zero sample one interval before its first
    failures = by_name(samples, "hailstorm_scenario_failures_total", scenario="browse")
    assert max(v for _lab, v, _s in failures) == 4.0
    assert not by_name(metrics.LiveSeries(BASE, PLAN, T0).add({0: cells(1)}, record(), T0 + 1),
                       "hailstorm_scenario_requests_total")  # none without scenarios


def test_the_planned_rate_of_a_core_with_scenarios_is_each_scenarios_clients_at_its_own_pace():
    from hailstorm_runtime.scenario_run import scenario_clients
    from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings

    settings, _warnings = run_settings.resolve_settings({"default": {"target": "http://127.0.0.1:1", "scenarios": {
        "fast": {"user_classes": ["A"], "rps": 10, "rampup": 2, "constant": 4, "rampdown": 0, "pace": 1},
        "slow": {"user_classes": ["B"], "rps": 2, "rampup": 1, "constant": 5, "rampdown": 0, "pace": 4,
                 "start": 1}}}})
    part = host_slice(make_plan(settings, [("h", 1)]), "h")
    rates = metrics.SummedRate(metrics.PlannedRate(scenario_clients(part["plan"], part["cores"][0], name),
                                                   part["plan"]["scenarios"][name]["pace"])
                               for name in ("fast", "slow"))
    assert rates.at(4.5) == pytest.approx(12.0)  # 10 clients at 1 s and 8 at 4 s
    assert rates.at(0.45) == pytest.approx(2.0)  # the ramp of fast only: its clients start at 0.1, 0.3, 0.5 s
