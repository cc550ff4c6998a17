"""Live metrics (metrics.py): the samples of each flush add up to the recorder's totals, the wire
format is Prometheus' WriteRequest, and a failing endpoint costs samples, never the run."""
from __future__ import annotations

import json

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


def last_totals(samples, name):
    """What `sum by (label) (last_over_time(name[...]))` answers: each series' last value, summed per label."""
    last: dict = {}
    for lab, value, stamp in samples:
        if dict(lab)["__name__"] == name and (lab not in last or stamp >= last[lab][1]):
            last[lab] = (value, stamp)
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
    assert last_totals(samples, "hailstorm_response_time_seconds_count") == {"GET /a": sent}
    assert last_totals(samples, "hailstorm_failures_total") == {"GET /a": sum(k % 2 for k in range(1, 9))}
    stages = {lab["stage"] for lab, _v, _s in by_name(samples, "hailstorm_requests_total")}
    assert stages == {"ramp-up", "constant", "ramp-down"}
    for stage in stages:  # each stage's series starts at 0 one interval before its first value: rate() is exact
        points = sorted((s, v) for lab, v, s in by_name(samples, "hailstorm_requests_total", stage=stage))
        assert points[0][1] == 0.0
    stamps = {s for _lab, _v, s in samples}
    assert all(s % 1000 == 0 for s in stamps)  # on the second boundaries T0 + k: every core's line up


def test_histogram_buckets_are_cumulative_and_end_at_the_count():
    series = metrics.LiveSeries(BASE, PLAN, T0)
    hist = {800: 2, 5000: 1, 9990: 1, 10000: 1, 250_000: 3, 12_000_000: 1}
    samples = series.add({0: {"GET /a": {"requests": 9, "failures": 0, "time_us": 1, "errors": {}, "hist": hist}}},
                         record(), T0 + 1)
    buckets = {lab["le"]: v for lab, v, s in by_name(samples, "hailstorm_response_time_seconds_bucket") if s == T0 * 1000 + 1000}
    assert buckets["0.005"] == 3 and buckets["0.01"] == 5 and buckets["0.25"] == 8 and buckets["10.0"] == 8
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
    assert values["hailstorm_active_clients"] == 4
    assert values["hailstorm_planned_rate"] == active_clients(plan, 2.5)
    assert values["hailstorm_achieved_rate"] == 4.0
    assert values["hailstorm_cpu_ratio"] == 0.25
    assert values["hailstorm_loop_lag_seconds"] == pytest.approx(0.0015)
    assert values["hailstorm_loop_lag_max_seconds"] == pytest.approx(0.004)


def test_the_hand_written_encoder_writes_the_protobuf_library_s_bytes():
    series = metrics.LiveSeries(BASE, PLAN, T0)
    samples = series.add({0: cells(3, 1)}, record(), T0 + 1) + series.add({1: cells(2)}, record(), T0 + 2)
    samples.append(((("__name__", "x"), ("v", "négatif")), -1.5, -5))  # negative int64, non-ASCII
    samples.append(((("__name__", "zero"),), 0.0, 0))  # proto3 leaves default values out
    body = metrics.encode_protobuf(samples)
    assert metrics.encode_by_hand(samples) == body
    parsed = metrics._write_request_class().FromString(body)
    assert sum(len(ts.samples) for ts in parsed.timeseries) == len(samples)
    assert metrics.unsnappy(metrics.snappy(body)) == body


class Endpoint:
    """A fake POST: fails with the given errors first, then takes every body."""

    def __init__(self, *errors: metrics.PushError) -> None:
        self.errors = list(errors)
        self.bodies: list[bytes] = []
        self.auth: list = []

    def __call__(self, url, body, authorization):
        self.auth.append(authorization)
        if self.errors:
            raise self.errors.pop(0)
        self.bodies.append(body)

    def samples(self) -> int:
        parsed = [metrics._write_request_class().FromString(metrics.unsnappy(b)) for b in self.bodies]
        return sum(len(ts.samples) for p in parsed for ts in p.timeseries)


def batch(n: int, at: int = 0) -> list:
    return [((("__name__", "m"), ("i", str(i))), 1.0, at) for i in range(n)]


def test_a_push_that_fails_is_retried_and_one_that_keeps_failing_is_counted_lost():
    down = metrics.PushError("ConnectionRefusedError", retry=True)
    endpoint = Endpoint(down, down, down, down)  # the first push's three tries, then the next push's first
    pusher = metrics.Pusher("http://x/api/v1/write", "Bearer t", post=endpoint, sleep=lambda s: None)
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

    def slow(url, body, authorization):
        gate.wait(5)

    pusher = metrics.Pusher("http://x/", post=slow, sleep=lambda s: None)
    pusher.submit(batch(4))
    figures = pusher.close(timeout=0.2)
    gate.set()
    assert figures["lost"] == 4 and figures["pushed"] == 0


def test_credentials_leave_the_environment_and_bearer_wins():
    environ = {metrics.ENV_TOKEN: "tok", metrics.ENV_USER: "u", metrics.ENV_PASSWORD: "p", "OTHER": "1"}
    assert metrics.take_credentials(environ) == "Bearer tok"
    assert environ == {"OTHER": "1"}
    environ = {metrics.ENV_USER: "u", metrics.ENV_PASSWORD: "p:w"}
    assert metrics.take_credentials(environ) == "Basic dTpwOnc="
    assert metrics.take_credentials({}) is None


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
                last[key] = max([last.get(key, 0.0)] + [s.value for s in ts.samples])
    assert sum(v for (label, _stage), v in last.items() if label == "GET /a") == 2
    assert sum(v for (label, _stage), v in last.items() if label == "GET /b") == 1


def test_attach_is_off_without_a_remote_write_url(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0)
    assert metrics.attach({"plan": PLAN}, 0, [], rec, T0) is None
    assert rec.flush_hooks == [] and rec.end_hooks == []
    rec.close()
