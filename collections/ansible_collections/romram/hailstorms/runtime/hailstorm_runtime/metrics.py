"""Live metrics: each load process pushes its figures to a Prometheus remote-write endpoint once a
second (hailstorm_prometheus_remote_write), while the run goes on.

Nothing here runs per request. The recorder already aggregates every request into per-second,
per-label cells and flushes them once a second; `LiveSeries.add` turns each flushed stats record
into samples (cumulative counters, a histogram, gauges) on the event loop, which costs a few
hundred microseconds a second whatever the rate. Encoding (protobuf), compression (snappy) and
the HTTP POST run on one native thread (`Pusher`), as the recorder's file writes do: a slow or
dead endpoint holds that thread, never a client.

Vocabulary:
  sample      one value of one series at one time (a remote-write Sample with its labels);
  batch       the samples of one flush (all stamped with the same time);
  push        one HTTP POST carrying every batch waiting at that moment (a backlog is sent as one
              request when the endpoint answers again);
  lost        samples that never reached the endpoint: their push failed PUSH_TRIES times, or was
              refused (HTTP 4xx), or was still waiting when the run ended (END_WAIT), or fell off
              a backlog of more than MAX_BACKLOG samples. Counters are cumulative, so a lost
              sample loses resolution, never a count: the next sample that arrives has the total.

Series (labels run_id, profile, host and core on each; `label` is the results' request label,
"GET /x"; `kind` the failure kind, as in the summary; `stage` the plan's part, see Stages):
  hailstorm_requests_total{stage,label}      counter, requests recorded (failed ones too)
  hailstorm_failures_total{stage,label,kind} counter, failed requests by kind
  hailstorm_response_time_seconds{stage,label}
                                             histogram: a native one (sparse exponential buckets,
                                             NATIVE_SCHEMA) by default; classic buckets
                                             (_bucket{le}, _sum, _count) with `classic` bounds when
                                             the settings ask for them or the endpoint refuses
                                             native histograms (the pusher falls back by itself)
  hailstorm_scenario_requests_total{scenario} counter, requests of each scenario (hailstorm_scenarios)
  hailstorm_scenario_failures_total{scenario} counter, their failed requests
  hailstorm_stage{stage}                     gauge 1 while the core is in that stage (an info-style
                                             series: the stage change, for annotations and joins)
  hailstorm_active_clients                   gauge, clients active at the end of the second
  hailstorm_planned_rate                     gauge, task iterations per second the plan sets
                                             for this core at that second (active planned
                                             clients / pace)
  hailstorm_achieved_rate                    gauge, task iterations per second run since the
                                             last sample
  hailstorm_cpu_ratio                        gauge, the process's CPU (fraction of one CPU)
  hailstorm_loop_lag_seconds                 gauge, mean event-loop lag of the last second
  hailstorm_loop_lag_max_seconds             gauge, its worst
  hailstorm_cpu_wait_ratio                   gauge, the share of the last second the event loop
                                             waited for a CPU that other work held (where the
                                             kernel keeps schedstat; records.starved)
  hailstorm_remote_write_lost_samples_total  counter, samples lost so far (reaches the endpoint
                                             with the next push that gets through)

Gauges carry no `stage`: a core has one series of each for the whole run, so `sum(...)` over the
run's gauges is the run's figure at every instant. Every series that ends gets a stale marker
(STALE_NAN, remote write's end-of-series sample) one millisecond after its last sample's time or
at the stage change: the per-stage series of a stage that ended, and every series at the run's end
(LiveSeries.end), so no series of a finished run has an instant value afterwards (Prometheus
would otherwise keep its last sample for its 5-minute lookback). Range queries
(last_over_time, rate, increase) skip stale markers.

Stages: the plan's phase at the sample's time (rampup, constant, rampdown, or a stage's name).
Counters and histograms count per stage: the series of a new stage starts at 0 (a zero sample
one interval before its first one), so `sum by (label) (last_over_time(...))` is the run's total
and rate() is exact across stages.

Timestamps: the flush's second boundary T0 + k (ms), the same on every core, so series of all
cores line up. A core's sample at T0 + k holds the requests recorded up to that tick: those
that started in second k - 1 or earlier and had their answer by then.

Credentials: from the process environment (the run's environment file, 0600, read before
anything else): HAILSTORM_PROMETHEUS_BEARER_TOKEN, or HAILSTORM_PROMETHEUS_USERNAME and
HAILSTORM_PROMETHEUS_PASSWORD (basic auth). They are taken out of the environment when read (the
locustfile does not see them) and never logged; the URL itself carries none (the controller
refuses one that does).
"""
from __future__ import annotations

import _queue
import _thread
import base64
import bisect
import http.client
import json
import logging
import math
import os
import struct
import time
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from .records import bucket_width, plan_phases

logger = logging.getLogger("hailstorm_runtime.metrics")

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds, as Prometheus' default
NATIVE_SCHEMA = 4  # native buckets grow by 2**(1/16) (4.4 % wide): a quantile within ~2 % of the exact one
NATIVE_ZERO = 1e-6  # seconds: responses under 1 µs (the recorder's 0 µs) go to the zero bucket
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]  # Prometheus' value.StaleNaN
HISTOGRAM = "hailstorm_response_time_seconds"
PUSH_TRIES = 3  # attempts of one push before its samples count as lost
RETRY_DELAYS = (0.2, 0.5)  # seconds before the 2nd and 3rd attempt
PUSH_TIMEOUT = 2.0  # seconds for one HTTP attempt (connect + answer)
END_WAIT = 3.0  # seconds the end of the run waits for the last pushes
MAX_BACKLOG = 50_000  # samples waiting at most; older batches beyond that are dropped (lost)
ENV_TOKEN = "HAILSTORM_PROMETHEUS_BEARER_TOKEN"
ENV_USER = "HAILSTORM_PROMETHEUS_USERNAME"
ENV_PASSWORD = "HAILSTORM_PROMETHEUS_PASSWORD"
ENV_HEADERS = "HAILSTORM_PROMETHEUS_HEADERS"  # JSON {name: value}: hailstorm_prometheus_headers
USER_AGENT = "romram.hailstorms"

Labels = tuple  # ((name, value), ...) sorted by name, __name__ first
Sample = tuple  # (labels, value, timestamp_ms); value a float or a Hist


def is_stale(value: Any) -> bool:
    """Whether `value` is the stale marker (its exact bits: another NaN is a value)."""
    return isinstance(value, float) and struct.pack("<d", value) == _STALE_BYTES


_STALE_BYTES = struct.pack("<d", STALE_NAN)


def stage_at(plan: Mapping[str, Any], offset: float) -> str:
    """The name of the plan's part at `offset` seconds after the shared start (records.plan_phases:
    ramp-up, constant, ramp-down, or a stage's name); the last part from its start on and after
    the end (what the end flush records are its last answers); the first before the start."""
    named = [(name, start, end) for name, start, end in plan_phases(plan) if end > start] or plan_phases(plan)
    if not named:
        return "run"
    for name, _start, end in named:
        if offset < end:
            return name
    return named[-1][0]


class PlannedRate:
    """A core's planned task iterations per second at any offset: its clients active then (started,
    not stopped) over the pace; O(log clients) per question."""

    def __init__(self, clients: Iterable[Any], pace: float) -> None:
        rows = list(clients)
        self.stops = sorted(float(c.stop) for c in rows if float(c.stop) > float(c.start))
        self.starts = sorted(float(c.start) for c in rows if float(c.stop) > float(c.start))
        self.pace = float(pace)

    def at(self, offset: float) -> float:
        active = bisect.bisect_right(self.starts, offset) - bisect.bisect_right(self.stops, offset)
        return active / self.pace if self.pace > 0 else 0.0


def native_index(seconds: float, schema: int = NATIVE_SCHEMA) -> int:
    """The native-histogram bucket of a value > NATIVE_ZERO: bucket i holds (2**((i-1)/2**schema),
    2**(i/2**schema)], as Prometheus' client libraries place it (upper bounds inclusive)."""
    frac, exp = math.frexp(seconds)  # seconds = frac * 2**exp, frac in [0.5, 1)
    scale = 1 << schema
    index = math.ceil((math.log2(frac) + exp) * scale)
    # exact powers of two sit on a bucket's upper bound, whatever log2's rounding
    if frac == 0.5:
        index = (exp - 1) * scale
    return index


class Hist:
    """One histogram sample: the native form (count, sum, zero bucket, {bucket index: count}) and the
    classic form (cumulative counts per `le` label, "+Inf" last) of the same cumulative figures;
    the pusher sends one or the other. `stale`: the end-of-series marker of both forms."""

    __slots__ = ("count", "sum", "zero", "buckets", "classic", "stale")

    def __init__(self, count: int, total: float, zero: int, buckets: Mapping[int, int],
                 classic: Sequence[tuple[str, int]], stale: bool = False) -> None:
        self.count, self.sum, self.zero, self.buckets = count, total, zero, dict(buckets)
        self.classic, self.stale = tuple(classic), stale

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hist) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return f"Hist(count={self.count}, sum={self.sum}, stale={self.stale})"


def classic_bounds(bounds: Iterable[float] | None) -> tuple[float, ...]:
    """The classic buckets' upper bounds (seconds, ascending, no duplicates): the settings' own
    (live_metrics.classic_buckets derives them from the plan's thresholds), else BUCKETS."""
    out = tuple(sorted({float(b) for b in bounds or () if float(b) > 0}))
    return out or BUCKETS


class _Cell:
    """The cumulative histogram of one (stage, label) series."""

    __slots__ = ("requests", "sum", "zero", "native", "classic")

    def __init__(self, classic: int) -> None:
        self.requests, self.sum, self.zero = 0, 0.0, 0
        self.native: dict[int, int] = {}
        self.classic = [0] * (classic + 1)


class LiveSeries:
    """The cumulative figures of one core and the samples of each flush (no I/O, no threads)."""

    def __init__(self, base: Mapping[str, str], plan: Mapping[str, Any], t0: float,
                 planned: PlannedRate | SummedRate | None = None,
                 buckets: Iterable[float] | None = None) -> None:
        self.base = tuple(sorted((str(k), str(v)) for k, v in base.items()))
        self.plan = plan
        self.t0 = t0
        self.planned = planned
        self.bounds = classic_bounds(buckets)
        self.le = tuple(repr(b) for b in self.bounds) + ("+Inf",)
        self._bounds_us = [b * 1e6 for b in self.bounds]
        self.cells: dict[tuple[str, str], _Cell] = {}  # (stage, label): its histogram and count
        self.failures: dict[tuple[str, str, str], int] = {}  # (stage, label, kind): total
        self.scenarios: dict[str, list[int]] = {}  # scenario: [requests, failures] (hailstorm_scenarios)
        self.last_stamp: int | None = None
        self.stage: str | None = None
        self.live: dict[Labels, bool] = {}  # series sent and not yet marked stale: is it a histogram
        self.lost = 0
        self._cache: dict[tuple[str, ...], Labels] = {}
        self._place: dict[int, tuple[int, int]] = {}  # recorder µs key: (native index or None, classic slot)

    def _labels(self, name: str, **extra: str) -> Labels:
        key = (name, *extra.items())
        labels = self._cache.get(key)
        if labels is None:
            labels = self._cache[key] = (("__name__", name),) + tuple(sorted(self.base + tuple(extra.items())))
        return labels

    def _placed(self, us: int) -> tuple[int | None, int]:
        """Where the recorder's bucket with lower bound `us` goes: its native bucket (None: the zero
        bucket) and its classic slot, both from its midpoint (what summary.json's percentiles take)."""
        place = self._place.get(us)
        if place is None:
            mid = (us + bucket_width(us) / 2.0) / 1e6 if us else 0.0
            native = native_index(mid) if mid > NATIVE_ZERO else None
            place = self._place[us] = (native, bisect.bisect_left(self._bounds_us, mid * 1e6))
        return place

    def _hist(self, cell: _Cell) -> Hist:
        classic, cumulative = [], 0
        for le, n in zip(self.le, cell.classic):
            cumulative += n
            classic.append((le, cumulative))
        return Hist(cell.requests, cell.sum, cell.zero, cell.native, classic)

    def add(self, seconds: Mapping[int, Mapping[str, Mapping[str, Any]]], record: Mapping[str, Any],
            now: float) -> list[Sample]:
        """The samples of one flush: `seconds` the recorder's cells of it (int histogram keys),
        `record` its stats record (active, load, iterations), `now` the flush time; stale markers
        for the series of a stage that ended."""
        tick = round(now - self.t0)
        stamp = int(round((self.t0 + tick) * 1000))
        if self.last_stamp is not None and stamp <= self.last_stamp:
            stamp = self.last_stamp + 1  # two flushes in one second (the end's): still in order
        previous, self.last_stamp = self.last_stamp, stamp
        stage = stage_at(self.plan, tick - 1)
        out: list[Sample] = []
        if self.stage is not None and stage != self.stage:
            out += self._stale(stamp, lambda labels: dict(labels).get("stage") == self.stage)
        self.stage = stage
        fresh: set[tuple[str, ...]] = set()
        for cells in seconds.values():
            for label, cell in cells.items():
                key = (stage, label)
                row = self.cells.get(key)
                if row is None:
                    row = self.cells[key] = _Cell(len(self.bounds))
                    fresh.add(key)
                row.requests += int(cell["requests"])
                row.sum += int(cell.get("time_us", 0)) / 1e6
                for us, n in (cell.get("hist") or {}).items():
                    native, slot = self._placed(int(us))
                    if native is None:
                        row.zero += n
                    else:
                        row.native[native] = row.native.get(native, 0) + n
                    row.classic[slot] += n
                for kind, n in (cell.get("errors") or {}).items():
                    fkey = (stage, label, kind)
                    if fkey not in self.failures:
                        self.failures[fkey] = 0
                        fresh.add(fkey)
                    self.failures[fkey] += int(n)
        zero_at = (previous if previous is not None else stamp - 1000)
        empty = Hist(0, 0.0, 0, {}, [(le, 0) for le in self.le])
        for (st, label), row in self.cells.items():
            if st != stage:
                continue
            new = (st, label) in fresh
            for labels, value, zero in (
                    (self._labels("hailstorm_requests_total", stage=st, label=label), float(row.requests), 0.0),
                    (self._labels(HISTOGRAM, stage=st, label=label), self._hist(row), empty)):
                if new:
                    out.append((labels, zero, zero_at))
                out.append((labels, value, stamp))
        for (st, label, kind), total in self.failures.items():
            if st != stage:
                continue
            labels = self._labels("hailstorm_failures_total", stage=st, label=label, kind=kind)
            if (st, label, kind) in fresh:
                out.append((labels, 0.0, zero_at))
            out.append((labels, float(total), stamp))
        out += self._scenario_samples(record, stamp, zero_at)
        active = record.get("active") or {}
        load = record.get("load") or {}
        interval = (stamp - previous) / 1000.0 if previous is not None else 1.0
        gauges: list[tuple[str, float]] = [
            ("hailstorm_achieved_rate", int(record.get("iterations") or 0) / max(interval, 1e-3))]
        if active:
            gauges.append(("hailstorm_active_clients", float(active[max(active, key=int)])))
        if self.planned is not None:
            gauges.append(("hailstorm_planned_rate", self.planned.at(tick - 0.5)))
        if load:
            last = load[max(load, key=int)]
            gauges += [("hailstorm_cpu_ratio", float(last.get("cpu", 0.0))),
                       ("hailstorm_loop_lag_seconds", float(last.get("lag_ms", 0.0)) / 1000.0),
                       ("hailstorm_loop_lag_max_seconds", float(last.get("lag_max_ms", 0.0)) / 1000.0)]
            if "wait" in last:
                gauges.append(("hailstorm_cpu_wait_ratio", float(last["wait"])))
        gauges.append(("hailstorm_remote_write_lost_samples_total", float(self.lost)))
        out += [(self._labels(name), value, stamp) for name, value in gauges]
        out.append((self._labels("hailstorm_stage", stage=stage), 1.0, stamp))
        for labels, value, _stamp in out:
            if not is_stale(value) and not (isinstance(value, Hist) and value.stale):
                self.live[labels] = isinstance(value, Hist)
        return out

    def _scenario_samples(self, record: Mapping[str, Any], stamp: int, zero_at: int) -> list[Sample]:
        """Each scenario's cumulative requests and failures (the stats record's `scenarios`), a
        zero sample before a scenario's first; nothing for a run without scenarios."""
        for name, cells in (record.get("scenarios") or {}).items():
            totals = self.scenarios.get(name)
            if totals is None:
                totals = self.scenarios[name] = [0, 0, 1]  # the last: a new series (its zero sample first)
            for cell in cells.values():
                totals[0] += int(cell.get("requests", 0))
                totals[1] += int(cell.get("failures", 0))
        out: list[Sample] = []
        for name, totals in self.scenarios.items():
            for metric, value in (("hailstorm_scenario_requests_total", totals[0]),
                                  ("hailstorm_scenario_failures_total", totals[1])):
                labels = self._labels(metric, scenario=name)
                if totals[2]:
                    out.append((labels, 0.0, zero_at))
                out.append((labels, float(value), stamp))
            totals[2] = 0
        return out

    def _stale(self, stamp: int, ended: Callable[[Labels], bool]) -> list[Sample]:
        """Stale markers at `stamp` for the live series `ended` picks (they are no longer live)."""
        out: list[Sample] = []
        for labels in [labels for labels in self.live if ended(labels)]:
            histogram = self.live.pop(labels)
            out.append((labels, Hist(0, STALE_NAN, 0, {}, [(le, 0) for le in self.le], stale=True)
                        if histogram else STALE_NAN, stamp))
        return out

    def end(self) -> list[Sample]:
        """Stale markers for every series still live, 1 ms after the last sample (the run's end)."""
        if self.last_stamp is None:
            return []
        self.last_stamp += 1
        return self._stale(self.last_stamp, lambda _labels: True)


def expand_classic(samples: Iterable[Sample]) -> list[Sample]:
    """The samples with each histogram written the classic way: name_bucket{le} (cumulative),
    name_count and name_sum float samples (a stale histogram: stale markers of all of them)."""
    out: list[Sample] = []
    for labels, value, stamp in samples:
        if not isinstance(value, Hist):
            out.append((labels, value, stamp))
            continue
        name = labels[0][1]
        rest = labels[1:]
        for le, n in value.classic:
            bucket = (("__name__", name + "_bucket"),) + tuple(sorted(rest + (("le", le),)))
            out.append((bucket, STALE_NAN if value.stale else float(n), stamp))
        out.append(((("__name__", name + "_count"),) + rest, STALE_NAN if value.stale else float(value.count), stamp))
        out.append(((("__name__", name + "_sum"),) + rest, STALE_NAN if value.stale else float(value.sum), stamp))
    return out


# --- wire format ------------------------------------------------------------------------------
# prometheus/prompb: WriteRequest{repeated TimeSeries timeseries = 1}; TimeSeries{repeated Label
# labels = 1; repeated Sample samples = 2; repeated Histogram histograms = 4}; Label{string name =
# 1; string value = 2}; Sample{double value = 1; int64 timestamp = 2}; Histogram{uint64 count_int
# = 1; double sum = 3; sint32 schema = 4; double zero_threshold = 5; uint64 zero_count_int = 6;
# repeated BucketSpan positive_spans = 11; repeated sint64 positive_deltas = 12; int64 timestamp =
# 15}; BucketSpan{sint32 offset = 1; uint32 length = 2}. The body is that message,
# snappy block-compressed.

_WRITE_REQUEST = None


def _write_request_class() -> Any:
    """prometheus.WriteRequest as a protobuf message class, built from its descriptor at run time
    (the messages above; no generated code, no protoc)."""
    global _WRITE_REQUEST
    if _WRITE_REQUEST is None:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        T = descriptor_pb2.FieldDescriptorProto
        proto = descriptor_pb2.FileDescriptorProto(name="hailstorm_prompb.proto", package="hailstorm_prompb",
                                                   syntax="proto3")

        def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
            msg = proto.message_type.add(name=name)
            for fname, number, ftype, label, type_name in fields:
                field = msg.field.add(name=fname, number=number, type=ftype, label=label)
                if type_name:
                    field.type_name = type_name

        one, many = T.LABEL_OPTIONAL, T.LABEL_REPEATED
        message("Label", ("name", 1, T.TYPE_STRING, one, ""), ("value", 2, T.TYPE_STRING, one, ""))
        message("Sample", ("value", 1, T.TYPE_DOUBLE, one, ""), ("timestamp", 2, T.TYPE_INT64, one, ""))
        message("BucketSpan", ("offset", 1, T.TYPE_SINT32, one, ""), ("length", 2, T.TYPE_UINT32, one, ""))
        message("Histogram", ("count_int", 1, T.TYPE_UINT64, one, ""), ("sum", 3, T.TYPE_DOUBLE, one, ""),
                ("schema", 4, T.TYPE_SINT32, one, ""), ("zero_threshold", 5, T.TYPE_DOUBLE, one, ""),
                ("zero_count_int", 6, T.TYPE_UINT64, one, ""),
                ("positive_spans", 11, T.TYPE_MESSAGE, many, ".hailstorm_prompb.BucketSpan"),
                ("positive_deltas", 12, T.TYPE_SINT64, many, ""), ("timestamp", 15, T.TYPE_INT64, one, ""))
        message("TimeSeries", ("labels", 1, T.TYPE_MESSAGE, many, ".hailstorm_prompb.Label"),
                ("samples", 2, T.TYPE_MESSAGE, many, ".hailstorm_prompb.Sample"),
                ("histograms", 4, T.TYPE_MESSAGE, many, ".hailstorm_prompb.Histogram"))
        message("WriteRequest", ("timeseries", 1, T.TYPE_MESSAGE, many, ".hailstorm_prompb.TimeSeries"))
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        _WRITE_REQUEST = message_factory.GetMessageClass(pool.FindMessageTypeByName("hailstorm_prompb.WriteRequest"))
    return _WRITE_REQUEST


def group(samples: Iterable[Sample]) -> list[tuple[Labels, list[tuple[Any, int]]]]:
    """Samples by series, each series' samples in time order (what the endpoint requires), split
    into runs of one kind (floats, histograms): a TimeSeries' floats are appended before its
    histograms, so a series' floats and histograms go in separate TimeSeries, in time order."""
    series: dict[Labels, list[tuple[Any, int]]] = {}
    for labels, value, stamp in samples:
        series.setdefault(labels, []).append((value, stamp))
    out: list[tuple[Labels, list[tuple[Any, int]]]] = []
    for labels, points in series.items():
        points.sort(key=lambda point: point[1])
        run: list[tuple[Any, int]] = []
        for point in points:
            if run and isinstance(run[-1][0], Hist) != isinstance(point[0], Hist):
                out.append((labels, run))
                run = []
            run.append(point)
        out.append((labels, run))
    return out


def native_spans(buckets: Mapping[int, int]) -> tuple[list[tuple[int, int]], list[int]]:
    """A native histogram's buckets as remote write carries them: spans (offset from the previous
    span's end, the first from 0; length) of consecutive indexes, and each count as its difference
    from the previous bucket's."""
    spans: list[tuple[int, int]] = []
    deltas: list[int] = []
    previous_index: int | None = None
    previous_count = 0
    for index in sorted(buckets):
        count = buckets[index]
        if previous_index is not None and index == previous_index + 1:
            spans[-1] = (spans[-1][0], spans[-1][1] + 1)
        else:
            spans.append((index - (previous_index + 1 if previous_index is not None else 0), 1))
        deltas.append(count - previous_count)
        previous_index, previous_count = index, count
    return spans, deltas


def encode_protobuf(samples: Iterable[Sample]) -> bytes:
    """The WriteRequest of `samples`, serialized by the protobuf library."""
    request = _write_request_class()()
    for labels, points in group(samples):
        ts = request.timeseries.add()
        for name, value in labels:
            ts.labels.add(name=name, value=value)
        for value, stamp in points:
            if not isinstance(value, Hist):
                ts.samples.add(value=value, timestamp=stamp)
                continue
            spans, deltas = native_spans(value.buckets)
            ts.histograms.add(count_int=value.count, sum=value.sum, schema=NATIVE_SCHEMA,
                              zero_threshold=NATIVE_ZERO, zero_count_int=value.zero,
                              positive_spans=[{"offset": o, "length": n} for o, n in spans],
                              positive_deltas=deltas, timestamp=stamp)
    return request.SerializeToString()


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # int64 as protobuf writes it (two's complement)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _span(offset: int, length: int) -> bytes:
    return (b"\x08" + _zigzag(offset) if offset else b"") + (b"\x10" + _varint(length) if length else b"")


def encode_by_hand(samples: Iterable[Sample]) -> bytes:
    """The same WriteRequest, written field by field (benchmarks/remote_write.py compares the
    two; the unit tests hold them to the same bytes)."""
    pack = struct.Struct("<d").pack
    parts = []
    for labels, points in group(samples):
        body = b"".join(_field(1, _field(1, n.encode()) + _field(2, v.encode())) for n, v in labels)
        for value, stamp in points:
            if isinstance(value, Hist):
                spans, deltas = native_spans(value.buckets)
                hist = ((b"\x08" + _varint(value.count) if value.count else b"")
                        + (b"\x19" + pack(value.sum) if value.sum else b"")
                        + b"\x20" + _zigzag(NATIVE_SCHEMA) + b"\x29" + pack(NATIVE_ZERO)
                        + (b"\x30" + _varint(value.zero) if value.zero else b"")
                        + b"".join(_field(11, _span(o, n)) for o, n in spans)
                        + (_field(12, b"".join(_zigzag(d) for d in deltas)) if deltas else b"")
                        + (b"\x78" + _varint(stamp) if stamp else b""))
                body += _field(4, hist)
                continue
            sample = (b"\x09" + pack(value) if value else b"") + (b"\x10" + _varint(stamp) if stamp else b"")
            body += _field(2, sample)
        parts.append(_field(1, body))
    return b"".join(parts)


def snappy(data: bytes) -> bytes:
    """Snappy block format (not framed), as remote write wants it."""
    import cramjam

    return bytes(cramjam.snappy.compress_raw(data))


def unsnappy(data: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.snappy.decompress_raw(data))


# --- the push thread ------------------------------------------------------------------------


HEADERS: dict[str, str] = {}  # taken from the environment before the locustfile is imported


def take_credentials(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The remote write's own headers (Authorization from the token or user and password,
    hailstorm_prometheus_headers) from the environment, removed from it (so the locustfile never
    sees them) and kept in HEADERS for `attach`. The runtime calls this right after reading the
    environment file."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    HEADERS.clear()
    HEADERS.update(_headers(environ))
    return HEADERS


def _headers(environ: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    raw = environ.pop(ENV_HEADERS, None)
    if raw:
        try:
            given = json.loads(raw)
        except ValueError:
            given = None
        if isinstance(given, dict):
            headers.update({str(k): str(v) for k, v in given.items()})
        else:  # the controller checked it (live_metrics.checked_headers); its value is never logged
            logger.warning("%s is not a JSON mapping of header names to values; no extra header is sent", ENV_HEADERS)
    token = environ.pop(ENV_TOKEN, None)
    user, password = environ.pop(ENV_USER, None), environ.pop(ENV_PASSWORD, None)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif user is not None or password is not None:
        raw_pair = f"{user or ''}:{password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw_pair).decode("ascii")
    return headers


def _original(module: str, name: str, current: Any) -> Any:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent comes with Locust
        return current
    return monkey.get_original(module, name)


class PushError(Exception):
    """A push the endpoint refused or could not take; `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class HttpPost:
    """Remote-write POSTs over one kept-alive connection (opened again after any error): a new
    TCP (and TLS) connection each second would cost more CPU than the samples themselves."""

    def __init__(self, timeout: float = PUSH_TIMEOUT) -> None:
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def __call__(self, url: str, body: bytes, extra: Mapping[str, str]) -> None:
        """One POST with the `extra` headers (credentials, tenant); PushError unless the endpoint answers 2xx."""
        parts = urlsplit(url)
        if self._connection is None:
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            self._connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                   "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": USER_AGENT}
        headers.update(extra)
        try:
            self._connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                                     body, headers)
            response = self._connection.getresponse()
            text = response.read().decode("utf-8", "replace").strip()[:200]
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise PushError(f"{type(error).__name__}: {error}", retry=True) from None
        if response.status // 100 != 2:
            self.close()
            raise PushError(f"HTTP {response.status} {text}", retry=response.status >= 500 or response.status == 429)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Pusher:
    """Pushes batches of samples from one native thread, in order, merging a backlog into one
    push; counts what was pushed and what was lost (see the module docstring)."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None,
                 post: Callable[[str, bytes, Mapping[str, str]], None] | None = None,
                 encode: Callable[[Iterable[Sample]], bytes] = encode_protobuf,
                 sleep: Callable[[float], Any] | None = None, native: bool = True) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self.native = native  # histograms sent native; False: classic (asked for, or refused by the endpoint)
        self.native_refused = ""  # the endpoint's answer when it refused native histograms
        self.post = post or HttpPost()
        self.encode = encode
        self.sleep = sleep or _original("time", "sleep", time.sleep)
        self._jobs = _queue.SimpleQueue()
        lock = _original("_thread", "allocate_lock", _thread.allocate_lock)
        self._stopped = lock()
        self._stopped.acquire()
        self.samples = 0  # handed over
        self.pushed = 0  # that reached the endpoint
        self.lost = 0
        self.failed_pushes = 0  # pushes given up (each lost its samples)
        self.retries = 0
        self.cpu_seconds = 0.0  # this thread's CPU for encoding, compressing and posting
        self.last_error = ""
        self._running = True
        _original("_thread", "start_new_thread", _thread.start_new_thread)(self._work, ())

    def submit(self, batch: list[Sample]) -> None:
        if not batch:
            return
        self.samples += len(batch)
        if self._running:
            self._jobs.put(batch)
        else:
            self.lost += len(batch)

    def _work(self) -> None:
        try:
            ending = False
            while not ending:
                batches = [self._jobs.get()]
                while True:  # everything waiting now goes in one push
                    try:
                        batches.append(self._jobs.get_nowait())
                    except _queue.Empty:
                        break
                if batches[-1] is None:
                    ending = True
                    batches.pop()
                waiting = sum(len(b) for b in batches)
                while batches and waiting > MAX_BACKLOG:
                    dropped = batches.pop(0)
                    waiting -= len(dropped)
                    self.lost += len(dropped)
                if batches:
                    self._push([sample for batch in batches for sample in batch])
        finally:
            close = getattr(self.post, "close", None)
            if close is not None:
                close()
            self._stopped.release()

    def _push(self, samples: list[Sample]) -> None:
        started = time.thread_time()
        try:
            self._try_push(samples)
        finally:
            self.cpu_seconds += time.thread_time() - started

    def _body(self, samples: list[Sample]) -> bytes:
        return snappy(self.encode(samples if self.native else expand_classic(samples)))

    def _try_push(self, samples: list[Sample]) -> None:
        try:
            body = self._body(samples)
        except Exception as error:  # noqa: BLE001 - counted, never raised into the run
            self._give_up(samples, f"cannot encode: {error!r}")
            return
        attempt = -1
        while attempt < PUSH_TRIES - 1:
            attempt += 1
            try:
                self.post(self.url, body, self._headers)
            except PushError as error:
                if self.native and "histogram" in str(error).lower():
                    # a Prometheus without --enable-feature=native-histograms (or a back end that
                    # does not take them): classic buckets from here on, this push again at once
                    self.native, self.native_refused = False, str(error)[:200]
                    logger.warning("remote write to %s refused native histograms (%s); sending classic buckets",
                                   self.url, self.native_refused)
                    body = self._body(samples)
                    attempt -= 1  # not an attempt of this push's classic body
                    continue
                self.last_error = str(error)
                if not error.retry or attempt == PUSH_TRIES - 1:
                    self._give_up(samples, str(error))
                    return
                self.retries += 1
                self.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            except Exception as error:  # noqa: BLE001 - a bug must not end the run: counted
                self._give_up(samples, repr(error))
                return
            else:
                self.pushed += len(samples)
                return

    def _give_up(self, samples: list[Sample], why: str) -> None:
        if not self.failed_pushes:  # once: the endpoint's URL, never the credentials
            logger.warning("remote write to %s failed (%s); its samples are lost, the run goes on", self.url, why)
        self.failed_pushes += 1
        self.lost += len(samples)
        self.last_error = why

    def close(self, timeout: float = END_WAIT) -> dict[str, Any]:
        """The pushes under way done (at most `timeout` seconds), the thread asked to end; the
        figures of the run (what the end record carries)."""
        if self._running:
            self._running = False
            self._jobs.put(None)
            if not self._stopped.acquire(timeout=timeout):
                self.last_error = self.last_error or f"pushes not done after {timeout:g} s"
        # whatever was handed over and did not arrive is lost (failed, dropped or still waiting)
        figures = {"url": self.url, "samples": self.samples, "pushed": self.pushed,
                   "lost": self.samples - self.pushed,
                   "failed_pushes": self.failed_pushes, "retries": self.retries,
                   "push_cpu_seconds": round(self.cpu_seconds, 6),
                   "histograms": "native" if self.native else "classic"}
        if self.native_refused:
            figures["native_refused"] = self.native_refused
        if self.last_error:
            figures["error"] = self.last_error[:200]
        return figures


class LiveMetrics:
    """What the runtime attaches to its recorder: each flush's samples handed to the pusher, and
    the figures for the end record."""

    def __init__(self, series: LiveSeries, pusher: Pusher, now: Callable[[], float] = time.time) -> None:
        self.series = series
        self.pusher = pusher
        self.now = now
        self.error = ""
        self.cpu_seconds = 0.0  # the event loop's CPU for the samples (LiveSeries.add)

    def on_flush(self, seconds: Mapping[int, Mapping[str, Mapping[str, Any]]], record: Mapping[str, Any]) -> None:
        started = time.thread_time()
        try:
            self.series.lost = self.pusher.lost
            self.pusher.submit(self.series.add(seconds, record, self.now()))
        except Exception as error:  # noqa: BLE001 - live metrics never stop the load (the end record says it)
            if not self.error:
                self.error = repr(error)
                logger.exception("live metrics failed; the run goes on without them")
        finally:
            self.cpu_seconds += time.thread_time() - started

    def on_end(self) -> dict[str, Any]:
        try:  # every series of the run ends here: its stale marker (no instant value after the run)
            self.pusher.submit(self.series.end())
        except Exception as error:  # noqa: BLE001 - said in the end record
            self.error = self.error or repr(error)
        figures = self.pusher.close()
        figures["loop_cpu_seconds"] = round(self.cpu_seconds, 6)
        if self.error:
            figures["error"] = self.error[:200]
        return {"live_metrics": figures}


class SummedRate:
    """Several planned rates as one (hailstorm_scenarios: each scenario's clients at its own pace)."""

    def __init__(self, rates: Iterable[PlannedRate]) -> None:
        self.rates = list(rates)

    def at(self, offset: float) -> float:
        return sum(rate.at(offset) for rate in self.rates)


def attach(data: Mapping[str, Any], core_index: int, clients: Sequence[Any], recorder: Any,
           t0: float, planned: PlannedRate | SummedRate | None = None) -> LiveMetrics | None:
    """With data.json's `metrics.remote_write`: live metrics for this core, hooked to the recorder's
    flushes and end record; else None (and nothing is imported or started). `metrics.histograms`
    ("native" or "classic") and `metrics.buckets` (the classic bounds, seconds) say how the
    latency histogram goes (contract.host_data). `planned`: this core's planned rate, when it is not
    its `clients` at the plan's pace (a run with scenarios)."""
    settings = data.get("metrics") or {}
    url = settings.get("remote_write")
    if not url:
        return None
    plan = data.get("plan") or {}
    base = {"run_id": data.get("run_id") or "", "profile": settings.get("profile") or "",
            "host": data.get("host") or "", "core": str(core_index)}
    series = LiveSeries(base, plan, t0, planned or PlannedRate(clients, float(plan.get("pace") or 1.0)),
                        settings.get("buckets"))
    live = LiveMetrics(series, Pusher(str(url), HEADERS, native=settings.get("histograms", "native") == "native"))
    recorder.flush_hooks.append(live.on_flush)
    recorder.end_hooks.append(live.on_end)
    return live
