"""Recording: Locust's request event into per-second, per-label deltas (records.py format),
flushed to core-N.jsonl; the status file; the optional JTL. No Locust imports here: the runtime
wires `on_request` to Locust's request event and calls `flush` / `write_status`. Every file
write goes through one FileWriter thread, off the event loop."""
from __future__ import annotations

import _queue
import _thread
import csv
import json
import os
import re
import time
import traceback
from typing import Any, Callable

from . import contract
from .records import (
    LATE_START, NAME_LIMIT, TRACEBACK_LIMIT, bucket_of, empty_cell, end_record, exception_kind, failure_text,
    Histogram, merge_cell, meta_record, request_label, safe_text, stats_record, text_of)

_OFFSET = 1 << 20  # int(x + _OFFSET) - _OFFSET floors negative seconds too, cheaply

JTL_HEADER = ("timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName",
              "dataType", "success", "failureMessage", "bytes", "sentBytes", "grpThreads",
              "allThreads", "Latency", "IdleTime", "Connect", "delayFromSchedule")
# delayFromSchedule (ms): how long after the slot its task iteration was due at the request started
# (records.py, CELL: response time from schedule = delayFromSchedule + elapsed); JMeter reads it as a
# sample variable (jmeter -Jsample_variables=delayFromSchedule)


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
KIND_MESSAGE = 120  # characters of an exception's message kept in its failure kind
END_WRITE_TIMEOUT = 2.0  # seconds the first end record may take to reach the disk before the users are stopped


def failure_kind(exception: BaseException, response: Any) -> str:
    """The kind a failure is counted under: "HTTP <code>" for an error status (>= 400), the message
    of a catch_response failure, else the exception's class and the first line of its message (as
    Locust's failures table shows it; object addresses masked as Locust does): an exception raised
    in a catch_response block whose answer was 200 is that exception, not "HTTP 200". Its text is
    records.failure_text's (safe whatever the locustfile put in it, an HTML body reduced to the
    status and a few words, at most KIND_MESSAGE characters)."""
    name = type(exception).__name__
    code = getattr(response, "status_code", None)
    if name == "CatchResponseError":
        return f"failure: {failure_text(exception, code, KIND_MESSAGE)}"
    if isinstance(code, int) and code >= 400:
        return f"HTTP {code}"
    text = text_of(exception).strip()
    if not text:
        return name
    return f"{name}: {failure_text(_ADDRESS.sub('0x....', text.splitlines()[0]), code, KIND_MESSAGE)}"


def write_status_file(base: str, core: int, state: str, elapsed: float, active: int, requests: int,
                      rps: float, reason: str = "", iterations: tuple[int, float] | None = None,
                      load: dict[str, Any] | None = None, latency: tuple[dict[int, int], int] | None = None) -> None:
    """core-N.status.json, replaced atomically (what the controller's progress reads). States:
    armed (loaded, waiting for the start signal), waiting (for the shared start), running, done,
    failed (with a `reason`); `iterations` (task iterations so far, their rate over the last
    second: what the plan's rate counts); `load` adds the process's own load
    (monitor.LoadMonitor.status); `latency` (the counts by bucket of every response time flushed
    so far, their total µs) becomes `hist` (records.py's buckets, only the non-empty ones) and
    `time_us`: the controller's figures of each progress interval are their growth."""
    status = {"core": core, "state": state, "elapsed": round(elapsed, 3),
              "active": active, "requests": requests, "rps": round(rps, 2), **(load or {})}
    if iterations is not None:
        status["iterations"], status["iteration_rate"] = iterations[0], round(iterations[1], 2)
    if latency is not None:
        status["hist"], status["time_us"] = Histogram(latency[0]).to_json(), latency[1]
    if reason:
        status["reason"] = safe_text(reason)
    with open(base + contract.STATUS + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(status, handle)
    os.replace(base + contract.STATUS + ".tmp", base + contract.STATUS)


def _original(module: str, name: str, current: Any) -> Any:
    """The unpatched `module.name` in a gevent monkey-patched process (the runtime's), else it as is."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent comes with Locust
        return current
    return monkey.get_original(module, name)


class FileWriter:
    """The recorder's file writes, in their order, on one native thread. A write to a busy disk
    can block (dirty-page throttling under a parallel `dd` held one core's event loop 90-110 ms,
    and every client of that core was that late at the target); on this thread it holds no
    client. The first failed write's error is kept: `submit` raises it in the loop (the ticker
    then stops the load, as further requests would go unrecorded), `close` returns it. After
    `close`, writes run at once in the caller."""

    def __init__(self) -> None:
        self._jobs = _queue.SimpleQueue()  # the C queue: never patched, blocks this thread only
        self._lock = _original("_thread", "allocate_lock", _thread.allocate_lock)
        self.error: BaseException | None = None
        self._stopped = self._lock()
        self._stopped.acquire()
        self._running = True
        _original("_thread", "start_new_thread", _thread.start_new_thread)(self._work, ())

    def _work(self) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                function, args = job
                try:
                    function(*args)
                except Exception as error:  # noqa: BLE001 - kept, raised in the loop
                    if self.error is None:
                        self.error = error
        finally:
            self._stopped.release()

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        if not self._running:
            function(*args)
            return
        if self.error is not None:
            raise self.error
        self._jobs.put((function, args))

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait (blocking this thread: for the end of a run) until every write submitted so far is
        done; False if that took longer than `timeout` (a disk that no longer answers)."""
        if not self._running:
            return True
        done = self._lock()
        done.acquire()
        self._jobs.put((done.release, ()))
        return done.acquire(timeout=timeout)

    def close(self, timeout: float = 60.0) -> BaseException | None:
        """Every submitted write done, the thread ended; the first error of any write, or None."""
        if self._running:
            self._running = False
            self._jobs.put(None)
            if not self._stopped.acquire(timeout=timeout) and self.error is None:
                self.error = TimeoutError(f"file writes not done after {timeout:.0f} s")
        return self.error


def _traceback_text(exception: BaseException, tb: Any) -> str:
    """The traceback Locust prints for an exception of the locustfile (its class and type when even
    formatting it fails: an exception whose __str__ raises)."""
    try:
        return "".join(traceback.format_exception(type(exception), exception, tb))
    except Exception:  # noqa: BLE001 - the run goes on; the kind names the exception
        return f"{type(exception).__name__} (its traceback cannot be formatted)"


def _no_schedule() -> float | None:
    return None


class Recorder:
    """Per-core recorder. Cells are lists [requests, failures, bytes, time_us, hist, errors,
    sched_hist, sched_time_us] keyed by (second, method, name) in the hot path, as Locust keys
    its stats by method and name; converted to records.py cells under their label ("GET /x") at
    flush. `due_of()` (set by the runtime) gives the slot the running task iteration was due at,
    or None outside one: what the response time from schedule counts from."""

    def __init__(self, work_dir: str, core: int, t0: float, jtl: bool = False,
                 now: Callable[[], float] = time.time, scenarios: bool = False) -> None:
        self.t0 = t0
        self.core = core
        self.now = now
        self.base = contract.core_base(work_dir, core)
        self.due_of: Callable[[], float | None] = _no_schedule
        # with hailstorm_scenarios: the scenario of the running user (set by the runtime), and each
        # second's requests of each scenario: (second, scenario): [requests, failures, time_us, hist]
        self.scenario_of: Callable[[], str | None] | None = None
        self.scenario_cells: dict[tuple[int, str], list[Any]] = {}
        self.cells: dict[tuple[int, str, str], list[Any]] = {}  # (second, method, name): cell
        self.active: dict[int, int] = {}
        self.overruns: dict[int, int] = {}
        self.late: dict[int, float] = {}
        self.started = 0
        self.load: dict[int, dict[str, float]] = {}
        self.exceptions: dict[str, dict[str, Any]] = {}  # since the last flush
        self._tracebacks_sent: set[str] = set()  # one traceback per kind is enough
        self.load_status: dict[str, Any] = {}
        self.driver_status: dict[str, Any] = {}  # the open model's arrivals and pool, in every status file
        self.dropped: dict[int, int] = {}  # second: arrivals dropped (the open model), since the last flush
        self.pool: dict[int, int] = {}  # second: the open model's pool size at its middle, since the last flush
        self.pool_started: dict[int, int] = {}  # second: users the pool started, since the last flush
        self.requests = 0
        self.failures = 0
        self.outside_tasks: dict[int, int] = {}  # second: requests outside a task iteration, since the last flush
        self.iterations = 0  # task iterations since the last flush (schedule.PacedWait counts them)
        self.iterations_total = 0
        self.latency = Histogram()  # every response time flushed so far (service time), for the status file
        self.latency_us = 0  # their total µs
        self._jsonl = open(self.base + contract.RECORDS, "x", encoding="utf-8")  # never another run's records
        self.writer = FileWriter()
        # called at each flush with (the cells of the flush by second and label, its stats record),
        # and before the end record (their dicts join its fields): live metrics (metrics.py)
        self.flush_hooks: list[Callable[[dict[int, dict[str, dict[str, Any]]], dict[str, Any]], None]] = []
        self.end_hooks: list[Callable[[], dict[str, Any]]] = []
        self.jtl_rows: list[tuple[Any, ...]] | None = None
        self._jtl = None
        if jtl:
            self.jtl_rows = []
            new = not os.path.exists(self.base + contract.JTL)
            self._jtl = open(self.base + contract.JTL, "a", encoding="utf-8", newline="")
            self._jtl_writer = csv.writer(self._jtl)
            if new:  # with hailstorm_scenarios a last column: the request's scenario
                self._jtl_writer.writerow(JTL_HEADER + (("scenario",) if scenarios else ()))

    # --- hot path ------------------------------------------------------------------------
    def on_request(self, request_type: str, name: str, response_time: float, response_length: int,
                   exception: BaseException | None = None, start_time: float | None = None,
                   response: Any = None, **_kwargs: Any) -> None:
        if start_time is None:
            start_time = self.now() - response_time / 1000.0
        key = (int(start_time - self.t0 + _OFFSET) - _OFFSET, request_type, name)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0, 0, 0, 0, {}, None, {}, 0]
        us = int(response_time * 1000.0)
        cell[0] += 1
        cell[2] += response_length or 0
        cell[3] += us
        b = bucket_of(us)
        hist = cell[4]
        hist[b] = hist.get(b, 0) + 1
        # from schedule: from the slot the iteration was due at (the runtime's due_of) to the answer
        due = self.due_of()
        if due is not None:
            late = int((start_time - due) * 1e6)
            if late > 0:
                us += late
                b = bucket_of(us)
        else:  # outside a task iteration: the client's on_start or on_stop
            self.outside_tasks[key[0]] = self.outside_tasks.get(key[0], 0) + 1
        cell[7] += us
        sched = cell[6]
        sched[b] = sched.get(b, 0) + 1
        if exception is not None:
            cell[1] += 1
            errors = cell[5]
            if errors is None:
                errors = cell[5] = {}
            kind = failure_kind(exception, response)
            errors[kind] = errors.get(kind, 0) + 1
        if self.scenario_of is not None:
            self._count_scenario(key[0], int(response_time * 1000.0), exception is not None)

    def _count_scenario(self, second: int, us: int, failed: bool) -> None:
        """The request counted for the running user's scenario too (hailstorm_scenarios)."""
        scenario = self.scenario_of()
        if scenario is None:
            return
        cell = self.scenario_cells.get((second, scenario))
        if cell is None:
            cell = self.scenario_cells[second, scenario] = [0, 0, 0, {}]
        cell[0] += 1
        cell[1] += failed
        cell[2] += us
        b = bucket_of(us)
        cell[3][b] = cell[3].get(b, 0) + 1

    def jtl_row(self, thread: str, threads: int, request_type: str, name: str, response_time: float,
                response_length: int, exception: BaseException | None = None,
                start_time: float | None = None, response: Any = None, **_kwargs: Any) -> None:
        if self.jtl_rows is None:
            return
        if start_time is None:
            start_time = self.now() - response_time / 1000.0
        status = getattr(response, "status_code", None)
        code = status or (type(exception).__name__ if exception else "")
        due = self.due_of()
        delay = max(0, int((start_time - due) * 1000)) if due is not None else 0
        row = (
            int(start_time * 1000), int(response_time), safe_text(name, NAME_LIMIT), code,
            safe_text(getattr(response, "reason", "") or ""), thread, "text",
            "false" if exception is not None else "true",
            failure_text(exception, status) if exception is not None else "", response_length or 0, 0, threads, threads,
            int(response_time), 0, 0, delay,
        )
        self.jtl_rows.append(row if self.scenario_of is None else row + (self.scenario_of() or "",))

    # --- cold path -----------------------------------------------------------------------
    def client_started(self, client_id: int, lateness: float) -> None:
        self.started += 1
        if lateness > LATE_START:
            self.late[client_id] = lateness

    def on_user_error(self, user_instance: Any = None, exception: BaseException | None = None, tb: Any = None,
                      **_kwargs: Any) -> None:
        """Locust's user_error event: an exception raised in a task or on_start of the locustfile,
        counted by kind with one traceback (what Locust's exceptions table shows)."""
        if exception is None:
            return
        kind = exception_kind(exception)
        entry = self.exceptions.setdefault(kind, {"count": 0})
        entry["count"] += 1
        if kind not in self._tracebacks_sent:
            self._tracebacks_sent.add(kind)
            entry["traceback"] = safe_text(_traceback_text(exception, tb), TRACEBACK_LIMIT, lines=True, keep_end=True)

    def client_overrun(self, client_id: int) -> None:
        self.overruns[client_id] = self.overruns.get(client_id, 0) + 1

    def sample_active(self, second: int, active: int) -> None:
        self.active[second] = active

    def sample_load(self, second: int, sample: dict[str, float], status: dict[str, Any]) -> None:
        """The process's own load over `second` (into the next stats record) and its status
        fields (into every status file from now on, the final one too; replaced, never changed
        in place, so the writer thread may still hold the last one)."""
        self.load[second] = sample
        self.load_status = status

    def sample_driver(self, figures: dict[str, Any], dropped: dict[int, int] | None = None,
                      started: dict[int, int] | None = None, second: int | None = None) -> None:
        """The driver's figures (the open model: arrivals planned / sent / dropped, the pool) for
        the status file; for the next stats record the arrivals it dropped and the users its pool
        started per second, and at `second` (sampled at its middle) the pool's size."""
        self.driver_status = dict(figures)
        for sec, count in (dropped or {}).items():
            self.dropped[sec] = self.dropped.get(sec, 0) + count
        for sec, count in (started or {}).items():
            self.pool_started[sec] = self.pool_started.get(sec, 0) + count
        if second is not None and "pool_size" in figures:
            self.pool[second] = int(figures["pool_size"])

    def write(self, record: dict[str, Any]) -> None:
        self.writer.submit(self._write_line, json.dumps(record, separators=(",", ":")) + "\n")

    def _write_line(self, line: str) -> None:
        self._jsonl.write(line)
        self._jsonl.flush()

    def _write_jtl(self, rows: list[tuple[Any, ...]]) -> None:
        self._jtl_writer.writerows(rows)
        self._jtl.flush()

    def meta(self, **fields: Any) -> None:
        self.write(meta_record(**fields))

    def flush(self) -> None:
        """Write the deltas since the last flush as one stats record (and pending JTL rows)."""
        cells, self.cells = self.cells, {}
        seconds: dict[int, dict[str, dict[str, Any]]] = {}
        for (sec, method, name), (n, failures, nbytes, us, hist, errors, sched, sched_us) in cells.items():
            cell = {"requests": n, "failures": failures, "bytes": nbytes, "time_us": us, "errors": errors or {},
                    "hist": hist, "sched_time_us": sched_us, "sched_hist": sched}
            per_label, label = seconds.setdefault(sec, {}), request_label(method, name)
            if label in per_label:  # two names the same once made safe (cut at NAME_LIMIT): one label
                cell = merge_cell(merge_cell(empty_cell(), per_label[label]), cell)
            per_label[label] = cell
            self.requests += n
            self.failures += failures
            self.latency.merge(hist)
            self.latency_us += us
        iterations, self.iterations = self.iterations, 0
        self.iterations_total += iterations
        scenarios: dict[str, dict[int, dict[str, Any]]] = {}
        for (sec, name), (n, failures, us, hist) in self.scenario_cells.items():
            scenarios.setdefault(name, {})[sec] = {"requests": n, "failures": failures, "time_us": us, "hist": hist}
        self.scenario_cells = {}
        record = stats_record(seconds, self.active, self.overruns, self.late, self.started, time=self.now(),
                              load=self.load, exceptions=self.exceptions, iterations=iterations, dropped=self.dropped,
                              pool=self.pool, pool_started=self.pool_started, outside_tasks=self.outside_tasks,
                              scenarios=scenarios)
        self.active, self.overruns, self.late, self.started, self.load, self.dropped = {}, {}, {}, 0, {}, {}
        self.outside_tasks = {}
        self.pool, self.pool_started = {}, {}
        self.exceptions = {}
        self.write(record)
        for hook in self.flush_hooks:
            hook(seconds, record)
        if self._jtl is not None and self.jtl_rows:
            rows, self.jtl_rows = self.jtl_rows, []
            self.writer.submit(self._write_jtl, rows)

    def pending_requests(self) -> int:
        return sum(cell[0] for cell in self.cells.values())

    def failures_so_far(self) -> int:
        """Failed requests recorded so far, flushed or not (the status file's `failures`: the
        controller's abort thresholds judge its growth over each progress interval)."""
        return self.failures + sum(cell[1] for cell in self.cells.values())

    def end(self, reason: str, **fields: Any) -> None:
        self.flush()
        for hook in self.end_hooks:
            fields.update(hook())
        self.write(end_record(reason, requests=self.requests, failures=self.failures,
                              iterations=self.iterations_total, time=self.now(), **fields))

    def end_first(self, reason: str, **fields: Any) -> None:
        """A first end record, on disk before the users are stopped: the counts so far, `reason`
        saying the process ended while stopping. The end record written after (`end`) supersedes
        it (the last end record of a core counts); a process ended meanwhile keeps this one."""
        self.flush()
        self.write(end_record(reason, requests=self.requests, failures=self.failures,
                              iterations=self.iterations_total, time=self.now(), **fields))
        self.writer.drain(timeout=END_WRITE_TIMEOUT)

    def close(self) -> BaseException | None:
        """Every write done and the files closed (later status writes run at once); the first
        error of any write since the start, or None."""
        error = self.writer.close()
        for handle in (self._jsonl, self._jtl):
            if handle is not None:
                try:
                    handle.close()
                except OSError as failure:
                    error = error or failure
        return error

    def iterations_so_far(self) -> int:
        return self.iterations_total + self.iterations

    def write_status(self, state: str, active: int, requests: int, rps: float, reason: str = "",
                     iteration_rate: float = 0.0) -> None:
        self.writer.submit(write_status_file, self.base, self.core, state, self.now() - self.t0, active, requests,
                           rps, reason, (self.iterations_so_far(), iteration_rate),
                           {**self.load_status, **self.driver_status, "failures": self.failures_so_far()},
                           (dict(self.latency.counts), self.latency_us))  # a copy: the writer thread serialises it
