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

Series (labels run_id, profile, host, core and stage on each; `label` is the results' request
label, "GET /x"; `kind` the failure kind, as in the summary):
  hailstorm_requests_total{label}            counter, requests recorded (failed ones too)
  hailstorm_failures_total{label,kind}       counter, failed requests by kind
  hailstorm_response_time_seconds{label}     histogram (_bucket{le}, _sum, _count), BUCKETS
  hailstorm_active_clients                   gauge, clients active at the end of the second
  hailstorm_planned_rate                     gauge, task iterations per second the plan sets
                                             for this core at that second (active planned
                                             clients / pace)
  hailstorm_achieved_rate                    gauge, task iterations per second run since the
                                             last sample
  hailstorm_cpu_ratio                        gauge, the process's CPU (fraction of one CPU)
  hailstorm_loop_lag_seconds                 gauge, mean event-loop lag of the last second
  hailstorm_loop_lag_max_seconds             gauge, its worst
  hailstorm_remote_write_lost_samples_total  counter, samples lost so far (reaches the endpoint
                                             with the next push that gets through)

Stages: the plan's phase at the sample's time (rampup, constant, rampdown). Counters count per
stage: the series of a new stage starts at 0 (a zero sample one interval before its first one),
so `sum by (label) (last_over_time(...))` is the run's total and rate() is exact across stages.

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
import logging
import os
import time
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from .records import plan_phases

logger = logging.getLogger("hailstorm_runtime.metrics")

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds, as Prometheus' default
BUCKET_LABELS = tuple(repr(b) for b in BUCKETS) + ("+Inf",)
PUSH_TRIES = 3  # attempts of one push before its samples count as lost
RETRY_DELAYS = (0.2, 0.5)  # seconds before the 2nd and 3rd attempt
PUSH_TIMEOUT = 2.0  # seconds for one HTTP attempt (connect + answer)
END_WAIT = 3.0  # seconds the end of the run waits for the last pushes
MAX_BACKLOG = 50_000  # samples waiting at most; older batches beyond that are dropped (lost)
ENV_TOKEN = "HAILSTORM_PROMETHEUS_BEARER_TOKEN"
ENV_USER = "HAILSTORM_PROMETHEUS_USERNAME"
ENV_PASSWORD = "HAILSTORM_PROMETHEUS_PASSWORD"
USER_AGENT = "romram.hailstorms"

Labels = tuple  # ((name, value), ...) sorted by name, __name__ first
Sample = tuple  # (labels, value, timestamp_ms)


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


def bucket_counts(hist: Mapping[int, int]) -> list[int]:
    """A recorder histogram (µs lower bounds to counts, 3 significant digits) into counts per
    BUCKETS bound (not cumulative; the last is +Inf). A recorded value is at most 1 % above its
    lower bound, so a bucket holds the responses up to its bound to that precision."""
    counts = [0] * (len(BUCKETS) + 1)
    bounds = [int(round(b * 1e6)) for b in BUCKETS]
    for us, n in hist.items():
        counts[bisect.bisect_left(bounds, int(us))] += n
    return counts


class LiveSeries:
    """The cumulative figures of one core and the samples of each flush (no I/O, no threads)."""

    def __init__(self, base: Mapping[str, str], plan: Mapping[str, Any], t0: float,
                 planned: PlannedRate | None = None) -> None:
        self.base = tuple(sorted((str(k), str(v)) for k, v in base.items()))
        self.plan = plan
        self.t0 = t0
        self.planned = planned
        self.requests: dict[tuple[str, str], int] = {}  # (stage, label): total
        self.failures: dict[tuple[str, str, str], int] = {}  # (stage, label, kind): total
        self.buckets: dict[tuple[str, str], list[int]] = {}  # (stage, label): counts per bucket
        self.sums: dict[tuple[str, str], float] = {}  # (stage, label): seconds
        self.last_stamp: int | None = None
        self.lost = 0
        self._cache: dict[tuple[str, ...], Labels] = {}

    def _labels(self, name: str, **extra: str) -> Labels:
        key = (name, *extra.values())
        labels = self._cache.get(key)
        if labels is None:
            labels = self._cache[key] = (("__name__", name),) + tuple(sorted(self.base + tuple(extra.items())))
        return labels

    def add(self, seconds: Mapping[int, Mapping[str, Mapping[str, Any]]], record: Mapping[str, Any],
            now: float) -> list[Sample]:
        """The samples of one flush: `seconds` the recorder's cells of it (int histogram keys),
        `record` its stats record (active, load, iterations), `now` the flush time."""
        tick = round(now - self.t0)
        stamp = int(round((self.t0 + tick) * 1000))
        if self.last_stamp is not None and stamp <= self.last_stamp:
            stamp = self.last_stamp + 1  # two flushes in one second (the end's): still in order
        previous, self.last_stamp = self.last_stamp, stamp
        stage = stage_at(self.plan, tick - 1)
        out: list[Sample] = []
        fresh: set[tuple[str, ...]] = set()
        for cells in seconds.values():
            for label, cell in cells.items():
                key = (stage, label)
                if key not in self.requests:
                    self.requests[key] = 0
                    self.buckets[key] = [0] * (len(BUCKETS) + 1)
                    self.sums[key] = 0.0
                    fresh.add(key)
                self.requests[key] += int(cell["requests"])
                self.sums[key] += int(cell.get("time_us", 0)) / 1e6
                counts = bucket_counts(cell.get("hist") or {})
                row = self.buckets[key]
                for i, n in enumerate(counts):
                    row[i] += n
                for kind, n in (cell.get("errors") or {}).items():
                    fkey = (stage, label, kind)
                    if fkey not in self.failures:
                        self.failures[fkey] = 0
                        fresh.add(fkey)
                    self.failures[fkey] += int(n)
        zero_at = (previous if previous is not None else stamp - 1000)
        for (st, label), total in self.requests.items():
            if st != stage:
                continue
            new = (st, label) in fresh
            series = [(self._labels("hailstorm_requests_total", stage=st, label=label), float(total))]
            cumulative = 0
            row = self.buckets[(st, label)]
            for le, n in zip(BUCKET_LABELS, row):
                cumulative += n
                series.append((self._labels("hailstorm_response_time_seconds_bucket", stage=st, label=label, le=le),
                               float(cumulative)))
            series.append((self._labels("hailstorm_response_time_seconds_count", stage=st, label=label), float(total)))
            series.append((self._labels("hailstorm_response_time_seconds_sum", stage=st, label=label),
                           self.sums[(st, label)]))
            for labels, value in series:
                if new:
                    out.append((labels, 0.0, zero_at))
                out.append((labels, value, stamp))
        for (st, label, kind), total in self.failures.items():
            if st != stage:
                continue
            labels = self._labels("hailstorm_failures_total", stage=st, label=label, kind=kind)
            if (st, label, kind) in fresh:
                out.append((labels, 0.0, zero_at))
            out.append((labels, float(total), stamp))
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
        gauges.append(("hailstorm_remote_write_lost_samples_total", float(self.lost)))
        for name, value in gauges:
            out.append((self._labels(name, stage=stage), value, stamp))
        return out


# --- wire format ------------------------------------------------------------------------------
# prometheus/prompb: WriteRequest{repeated TimeSeries timeseries = 1}; TimeSeries{repeated Label
# labels = 1; repeated Sample samples = 2}; Label{string name = 1; string value = 2};
# Sample{double value = 1; int64 timestamp = 2}. The body is that message, snappy block-compressed.

_WRITE_REQUEST = None


def _write_request_class() -> Any:
    """prometheus.WriteRequest as a protobuf message class, built from its descriptor at run time
    (the four messages above; no generated code, no protoc)."""
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
        message("TimeSeries", ("labels", 1, T.TYPE_MESSAGE, many, ".hailstorm_prompb.Label"),
                ("samples", 2, T.TYPE_MESSAGE, many, ".hailstorm_prompb.Sample"))
        message("WriteRequest", ("timeseries", 1, T.TYPE_MESSAGE, many, ".hailstorm_prompb.TimeSeries"))
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        _WRITE_REQUEST = message_factory.GetMessageClass(pool.FindMessageTypeByName("hailstorm_prompb.WriteRequest"))
    return _WRITE_REQUEST


def group(samples: Iterable[Sample]) -> dict[Labels, list[tuple[float, int]]]:
    """Samples by series, each series' samples in time order (what the endpoint requires)."""
    series: dict[Labels, list[tuple[float, int]]] = {}
    for labels, value, stamp in samples:
        series.setdefault(labels, []).append((value, stamp))
    for points in series.values():
        points.sort(key=lambda point: point[1])
    return series


def encode_protobuf(samples: Iterable[Sample]) -> bytes:
    """The WriteRequest of `samples`, serialized by the protobuf library."""
    request = _write_request_class()()
    for labels, points in group(samples).items():
        ts = request.timeseries.add()
        for name, value in labels:
            ts.labels.add(name=name, value=value)
        for value, stamp in points:
            ts.samples.add(value=value, timestamp=stamp)
    return request.SerializeToString()


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # int64 as protobuf writes it (two's complement)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_by_hand(samples: Iterable[Sample]) -> bytes:
    """The same WriteRequest, written field by field (benchmarks/remote_write.py compares the
    two; the unit tests hold them to the same bytes)."""
    import struct

    pack = struct.Struct("<d").pack
    parts = []
    for labels, points in group(samples).items():
        body = b"".join(_field(1, _field(1, n.encode()) + _field(2, v.encode())) for n, v in labels)
        for value, stamp in points:
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


AUTHORIZATION: list[str | None] = [None]  # taken from the environment before the locustfile is imported


def take_credentials(environ: dict[str, str] | None = None) -> str | None:
    """The Authorization header from the environment, removed from it (so the locustfile never
    sees it) and kept in AUTHORIZATION for `attach`; None without credentials. The runtime calls
    this right after reading the environment file."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    AUTHORIZATION[0] = _authorization(environ)
    return AUTHORIZATION[0]


def _authorization(environ: Any) -> str | None:
    token = environ.pop(ENV_TOKEN, None)
    user, password = environ.pop(ENV_USER, None), environ.pop(ENV_PASSWORD, None)
    if token:
        return f"Bearer {token}"
    if user is not None or password is not None:
        raw = f"{user or ''}:{password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")
    return None


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

    def __call__(self, url: str, body: bytes, authorization: str | None) -> None:
        """One POST; PushError unless the endpoint answers 2xx."""
        parts = urlsplit(url)
        if self._connection is None:
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            self._connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                   "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": USER_AGENT}
        if authorization:
            headers["Authorization"] = authorization
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

    def __init__(self, url: str, authorization: str | None = None,
                 post: Callable[[str, bytes, str | None], None] | None = None,
                 encode: Callable[[Iterable[Sample]], bytes] = encode_protobuf,
                 sleep: Callable[[float], Any] | None = None) -> None:
        self.url = url
        self._authorization = authorization
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

    def _try_push(self, samples: list[Sample]) -> None:
        try:
            body = snappy(self.encode(samples))
        except Exception as error:  # noqa: BLE001 - counted, never raised into the run
            self._give_up(samples, f"cannot encode: {error!r}")
            return
        for attempt in range(PUSH_TRIES):
            try:
                self.post(self.url, body, self._authorization)
            except PushError as error:
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
                   "push_cpu_seconds": round(self.cpu_seconds, 6)}
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
        figures = self.pusher.close()
        figures["loop_cpu_seconds"] = round(self.cpu_seconds, 6)
        if self.error:
            figures["error"] = self.error[:200]
        return {"live_metrics": figures}


def attach(data: Mapping[str, Any], core_index: int, clients: Sequence[Any], recorder: Any,
           t0: float) -> LiveMetrics | None:
    """With data.json's `metrics.remote_write`: live metrics for this core, hooked to the recorder's
    flushes and end record; else None (and nothing is imported or started)."""
    settings = data.get("metrics") or {}
    url = settings.get("remote_write")
    if not url:
        return None
    plan = data.get("plan") or {}
    base = {"run_id": data.get("run_id") or "", "profile": settings.get("profile") or "",
            "host": data.get("host") or "", "core": str(core_index)}
    series = LiveSeries(base, plan, t0, PlannedRate(clients, float(plan.get("pace") or 1.0)))
    live = LiveMetrics(series, Pusher(str(url), AUTHORIZATION[0]))
    recorder.flush_hooks.append(live.on_flush)
    recorder.end_hooks.append(live.on_end)
    return live
