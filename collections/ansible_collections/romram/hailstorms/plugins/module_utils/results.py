# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Results: the latency histogram, the core-N.jsonl record format, merge and summary.

Pure Python (no Ansible, no Locust): the runtime on every load host records with it and the
controller merges with it (through the hailstorm_results module).

Record format (one JSON object per line in core-N.jsonl, see docs/design.md):
  {"type": "meta", ...}       once, when the process is ready (run, host, core, clock, start delay)
  {"type": "stats", ...}      deltas, every flush:
      "seconds":  {sec: {label: CELL}}   sec = whole seconds since the shared start (may be < 0);
                                         label = method and name, "GET /x" (request_label)
      "active":   {sec: n}               clients active at the middle of that second
      "overruns": {client_id: n}         requests whose response outlasted the client's pace
      "late":     {client_id: seconds}   clients started later than LATE_START after their slot
      "started":  n                      clients started since the previous record
      "iterations": n                    task iterations begun since the previous record (absent
                                         in older records): the plan's rps paces these
      "load":     {sec: LOAD}            the load process's own load over the second that ends
                                         at T0 + sec + 0.5 (absent in older records)
      "dropped":  {sec: n}               the open model's arrivals dropped (no user within their
                                         tolerance), by the second of their slot (absent: none)
      "pool":     {sec: n}               the open model's pool size (users alive) on this core at the
                                         middle of that second (absent in the closed model)
      "pool_started": {sec: n}           users the open model's pool started in that second
      "outside_tasks": {sec: n}          requests of that second sent outside a task iteration (a
                                         client's on_start or on_stop; absent: none, or older records)
  {"type": "end", ...}        once, at exit (reason, totals, process_exit_code: the locustfile's or null)
  CELL = {"requests": n, "failures": n, "bytes": n, "time_us": total µs,
          "errors": {kind: n}, "hist": {bucket_µs: n},
          "sched_time_us": total µs, "sched_hist": {bucket_µs: n}}
      hist / time_us: the response time as Locust measures it (service time: from the request's
      start); sched_hist / sched_time_us (absent in older records): the response time from
      schedule, from the slot the request's task iteration was due at (in the closed model the
      first slot a late client missed) to the answer, queueing included ("coordinated omission"
      corrected, as wrk2 and HdrHistogram do); a request outside a paced iteration (on_start)
      counts its service time
  LOAD = {"cpu": fraction of one CPU used by the process, "lag_ms": mean and "lag_max_ms": max
          lateness of an event-loop timer probed every LAG_PROBE_EVERY s}
Merging is summing deltas, so it is exact whatever the number and order of records and cores;
LOAD samples belong to one process and are kept per core (a second is sampled once).

Generator limit: a second is over the limit when the process used more than SATURATION_CPU of a
CPU or its event loop ran timers more than SATURATION_LAG late on average; more than
SATURATION_SECONDS such seconds in a row mean the load process itself, not the target, set the
pace, and its results say so (`generator_limited`).

Histogram: log-linear buckets of 3 significant digits over integer microseconds (exact under
1 ms, relative width under 1 % above), keyed by the bucket's lower bound. Two histograms
merge by adding counts per key, without loss; percentiles come from the merged buckets.
"""
from __future__ import annotations

import html
import json
import os
import math
import re
import unicodedata
from bisect import bisect_left
from pathlib import Path
from typing import Any, Iterable, Mapping

from .planner import stage_window
from . import contract

SCHEMA = 1
LATE_START = 0.05  # seconds after its slot at which a client start counts as late
LATE_SIGNAL = 1.0  # seconds after the shared start past which a load process refuses its start signal
CELL_FIELDS = ("requests", "failures", "bytes", "time_us")
SATURATION_CPU = 0.90  # fraction of one CPU over which a second counts as over the limit
SATURATION_LAG = 0.010  # seconds of mean event-loop lag over which a second counts as over the limit
SATURATION_SECONDS = 3  # a core is generator-limited after more than this many such seconds in a row
LAG_PROBE_EVERY = 0.05  # seconds between two event-loop lag probes
STALL_SECONDS = 1.0  # a probe wake-up this late is a stall: the process missed a tick (monitor.py)
STALL_IDLE_CPU = 0.1  # a stall whose second used less CPU than this: the process was not scheduled
RPI_TOLERANCE = 0.05  # requests per task iteration further than this from 1 are warned about


def bucket_of(us: int) -> int:
    """Lower bound (µs) of the bucket holding `us` microseconds: 3 significant digits."""
    if us < 1000:
        return us if us > 0 else 0
    if us < 10000:
        return us - us % 10
    if us < 100000:
        return us - us % 100
    if us < 1000000:
        return us - us % 1000
    step = 10 ** (len(str(us)) - 3)
    return us - us % step


def bucket_width(lower: int) -> int:
    """Width (µs) of the bucket whose lower bound is `lower`."""
    return 1 if lower < 1000 else 10 ** (len(str(lower)) - 3)


class Histogram:
    """Latency histogram in log-linear buckets; merges exactly (counts add per bucket)."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[Any, int] | None = None) -> None:
        self.counts: dict[int, int] = {}
        if counts:
            self.merge(counts)

    def record_ms(self, ms: float, count: int = 1) -> None:
        key = bucket_of(int(ms * 1000.0))
        self.counts[key] = self.counts.get(key, 0) + count

    def merge(self, other: Histogram | Mapping[Any, int]) -> Histogram:
        counts = other.counts if isinstance(other, Histogram) else other
        mine = self.counts
        for key, n in counts.items():
            k = int(key)
            mine[k] = mine.get(k, 0) + int(n)
        return self

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def percentile(self, q: float) -> float | None:
        """The q-th percentile in ms (bucket midpoint), or None when empty."""
        total = self.count
        if not total:
            return None
        rank = max(1, math.ceil(q / 100.0 * total))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return (key + bucket_width(key) / 2.0) / 1000.0
        last = max(self.counts)  # pragma: no cover - rank <= total always stops above
        return (last + bucket_width(last) / 2.0) / 1000.0

    def to_json(self) -> dict[str, int]:
        return {str(k): n for k, n in sorted(self.counts.items()) if n}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Histogram) and self.to_json() == other.to_json()


def histogram_growth(now: Mapping[Any, int], before: Mapping[Any, int] | None) -> Histogram:
    """What a cumulative histogram (counts by bucket, as Histogram.to_json) gained since `before`,
    an earlier state of it: counts subtracted bucket by bucket. A bucket that shrank (a process
    whose later status no longer carried its histogram) gained nothing."""
    earlier = {int(key): int(n) for key, n in (before or {}).items()}
    gained = ((int(key), int(n) - earlier.get(int(key), 0)) for key, n in now.items())
    return Histogram({key: n for key, n in gained if n > 0})


# --- text in the results ----------------------------------------------------------------------

TEXT_LIMIT = 200  # characters kept of a recorded message (a failure's, an exception's kind, an end reason)
NAME_LIMIT = 500  # characters kept of a request's name or method (a label)
TRACEBACK_LIMIT = 4000  # characters kept of an exception's traceback (its end: where it was raised)
HTML_WORDS = 60  # characters kept of the words of an HTML page in a failure's text
_HTML_SCAN = 4096  # characters of a text searched for an HTML page, and of the page for its title
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = ("Cc", "Cs", "Zl", "Zp")  # control characters, lone surrogates, line and paragraph separators
_HTML_START = re.compile(r"<\s*(?:!doctype\s+html|html|head|body|title|h1|h2|div|p|pre|center|table)\b", re.I)
_HTML_TITLE = re.compile(r"<(title|h1)\b[^>]*>(.*?)</\1\s*>", re.I | re.S)
_HTML_SKIP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")


def safe_text(value: Any, limit: int | None = TEXT_LIMIT, lines: bool = False, keep_end: bool = False) -> str:
    """`value` as text that cannot break the results, made so once, where the runtime records it:
    valid UTF-8 (a lone surrogate becomes its escape "\\ud800", an invalid byte of a bytes value
    "\\xff"), control characters escaped ("\\n", "\\x1b"; newlines and tabs kept with `lines`),
    and at most `limit` characters of it kept (None: all), the rest said: "…(N more characters)"
    (with `keep_end`, its end is kept: "…(N earlier characters) ..."). A value whose str() fails
    is named by its type (text_of)."""
    text = text_of(value)
    head = tail = ""
    if limit is not None and len(text) > limit:
        more = len(text) - limit
        if keep_end:
            head, text = f"…({more} earlier characters) ", text[more:]
        else:
            text, tail = text[:limit], f"…({more} more characters)"
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() or (lines and ch in "\n\t") else _escaped(ch) for ch in text)
    return head + text + tail


def text_of(value: Any) -> str:
    """The text of any value, not yet made safe: bytes decoded (an invalid byte as "\\xff"), and
    for a value whose str() fails (a locustfile's exception with a broken __str__) its type named."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - any exception of user code
        return f"<{type(value).__name__} whose text cannot be read>"


def _escaped(ch: str) -> str:
    if unicodedata.category(ch) not in _UNSAFE:
        return ch  # printable in a page (a no-break space, a joiner of an emoji)
    code = ord(ch)
    return _ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def failure_text(message: Any, status: Any = None, limit: int = TEXT_LIMIT) -> str:
    """A failure's or an exception's message as the results keep it: safe_text, with an HTML page
    in it (an endpoint's error body a locustfile passed on) reduced to the status and a few words,
    never copied: "Unexpected: [HTML page, HTTP 503, 5120 characters: 503 Service Unavailable]"."""
    text = text_of(message)
    if "<" in text:
        found = _HTML_START.search(text, 0, _HTML_SCAN)
        if found:
            page = text[found.start():]
            shown = _HTML_SKIP.sub(" ", page[:_HTML_SCAN])
            title = _HTML_TITLE.search(shown)
            words = " ".join(html.unescape(_HTML_TAG.sub(" ", title.group(2) if title else shown)).split())
            if len(words) > HTML_WORDS:
                words = words[:HTML_WORDS] + "…"
            code = f"HTTP {status}, " if isinstance(status, int) else ""
            before = text[:found.start()].rstrip()
            text = f"{before} [HTML page, {code}{len(page)} characters: {words}]".lstrip()
    return safe_text(text, limit)


# --- cells (per second and label) -------------------------------------------------------------

def empty_cell() -> dict[str, Any]:
    return {"requests": 0, "failures": 0, "bytes": 0, "time_us": 0, "errors": {}, "hist": {},
            "sched_time_us": 0, "sched_hist": {}}


def merge_cell(dst: dict[str, Any], src: Mapping[str, Any]) -> dict[str, Any]:
    """Add the cell `src` into `dst` (exact)."""
    for field in CELL_FIELDS:
        dst[field] += int(src.get(field, 0))
    errors = dst["errors"]
    for kind, n in (src.get("errors") or {}).items():
        errors[kind] = errors.get(kind, 0) + int(n)
    hist = dst["hist"]
    for key, n in (src.get("hist") or {}).items():
        k = int(key)
        hist[k] = hist.get(k, 0) + int(n)
    if "sched_hist" in src:
        dst["sched_time_us"] = dst.get("sched_time_us", 0) + int(src.get("sched_time_us", 0))
        sched = dst.setdefault("sched_hist", {})
        for key, n in (src.get("sched_hist") or {}).items():
            k = int(key)
            sched[k] = sched.get(k, 0) + int(n)
    return dst


# --- labels ---------------------------------------------------------------------------------

def request_label(method: str, name: str) -> str:
    """The label results are kept under: the request's method (Locust's request_type) and its
    name, as Locust keys its stats, so GET /x and POST /x stay apart: "GET /x"."""
    method, name = safe_text(method, NAME_LIMIT), safe_text(name, NAME_LIMIT)
    return f"{method} {name}" if method else name


def split_label(label: str) -> tuple[str, str]:
    """(method, name) of a label (the Type and Name columns of Locust's CSV); a label without a
    method (a record of an older runtime) has an empty one."""
    method, sep, name = label.partition(" ")
    return (method, name) if sep and method and method == method.strip() else ("", label)


# --- records --------------------------------------------------------------------------------

def meta_record(**fields: Any) -> dict[str, Any]:
    return {"type": "meta", "schema": SCHEMA, **fields}


def stats_record(
    seconds: Mapping[int, Mapping[str, Mapping[str, Any]]],
    active: Mapping[int, int] | None = None,
    overruns: Mapping[int, int] | None = None,
    late: Mapping[int, float] | None = None,
    started: int = 0,
    time: float | None = None,
    load: Mapping[int, Mapping[str, float]] | None = None,
    exceptions: Mapping[str, Mapping[str, Any]] | None = None,
    iterations: int | None = None,
    dropped: Mapping[int, int] | None = None,
    pool: Mapping[int, int] | None = None,
    pool_started: Mapping[int, int] | None = None,
    outside_tasks: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    record = {
        "type": "stats",
        "time": time,
        "seconds": {str(s): {label: _cell_json(c) for label, c in labels.items()} for s, labels in seconds.items()},
        "active": {str(s): n for s, n in (active or {}).items()},
        "overruns": {str(c): n for c, n in (overruns or {}).items()},
        "late": {str(c): round(d, 6) for c, d in (late or {}).items()},
        "started": started,
    }
    if iterations is not None:
        record["iterations"] = iterations
    if load:
        record["load"] = {str(s): dict(sample) for s, sample in load.items()}
    if exceptions:
        record["exceptions"] = {kind: dict(entry) for kind, entry in exceptions.items()}
    if dropped:
        record["dropped"] = {str(s): n for s, n in dropped.items()}
    if pool:
        record["pool"] = {str(s): n for s, n in pool.items()}
    if pool_started:
        record["pool_started"] = {str(s): n for s, n in pool_started.items()}
    if outside_tasks:
        record["outside_tasks"] = {str(s): n for s, n in outside_tasks.items()}
    return record


def exception_kind(exception: BaseException) -> str:
    """How exceptions of user code are grouped: the class and the first line of the message
    (failure_text: safe, an HTML page reduced, at most TEXT_LIMIT characters)."""
    text = text_of(exception).strip()
    message = failure_text(text.splitlines()[0]) if text else ""
    return f"{type(exception).__name__}: {message}" if message else type(exception).__name__


def merge_exceptions(dst: dict[str, dict[str, Any]], src: Mapping[str, Mapping[str, Any]]) -> None:
    """Add exception counts (EXCEPTIONS in the record format); the first traceback seen is kept."""
    for kind, entry in (src or {}).items():
        row = dst.setdefault(kind, {"count": 0, "traceback": ""})
        row["count"] += int(entry.get("count", 0))
        if not row["traceback"] and entry.get("traceback"):
            row["traceback"] = str(entry["traceback"])


def _cell_json(cell: Mapping[str, Any]) -> dict[str, Any]:
    out = {field: int(cell.get(field, 0)) for field in CELL_FIELDS}
    out["errors"] = dict(cell.get("errors") or {})
    out["hist"] = {str(k): n for k, n in sorted((cell.get("hist") or {}).items(), key=lambda kv: int(kv[0]))}
    if cell.get("sched_hist"):
        out["sched_time_us"] = int(cell.get("sched_time_us", 0))
        out["sched_hist"] = {str(k): n for k, n in sorted(cell["sched_hist"].items(), key=lambda kv: int(kv[0]))}
    return out


def load_sample(cpu: float, lag_mean: float, lag_max: float) -> dict[str, float]:
    """One second of a load process's own load (LOAD in the record format); lags in seconds."""
    return {"cpu": round(cpu, 4), "lag_ms": round(lag_mean * 1000.0, 3), "lag_max_ms": round(lag_max * 1000.0, 3)}


def over_limit(sample: Mapping[str, Any]) -> bool:
    """Whether one LOAD sample is over the generator limit (CPU or mean event-loop lag)."""
    return (float(sample.get("cpu", 0.0)) > SATURATION_CPU
            or float(sample.get("lag_ms", 0.0)) > SATURATION_LAG * 1000.0)


def held_through(sample: Mapping[str, Any], missing: int) -> bool:
    """Whether `missing` seconds without a LOAD sample before `sample` were the process's own event
    loop held: the sample's stall covers them and the process ran meanwhile (its CPU at least
    STALL_IDLE_CPU: code that does not yield, or a CPU it shares; a process not scheduled at all,
    stopped or paused, used none and is only a stall)."""
    return (float(sample.get("stall_ms", 0.0)) >= 1000.0 * missing
            and float(sample.get("cpu", 0.0)) >= STALL_IDLE_CPU)


class SaturationStreak:
    """Follows a core's LOAD samples second by second: the core is generator-limited once more
    than SATURATION_SECONDS consecutive seconds are over the limit. A missing second breaks the
    run, unless the next sample is over the limit and its loop was held through it (held_through:
    the monitor could not sample because the loop was busy, so those seconds were over the limit
    too). `limited_seconds` counts every second of such runs, `first_limited` the first of them."""

    __slots__ = ("run", "last", "limited", "limited_seconds", "first_limited")

    def __init__(self) -> None:
        self.run = 0
        self.last: int | None = None
        self.limited = False
        self.limited_seconds = 0
        self.first_limited: int | None = None

    def observe(self, second: int, sample: Mapping[str, Any]) -> bool:
        """Add the sample of `second` (seconds in increasing order); returns `limited`."""
        before = self.run
        missing = second - self.last - 1 if self.last is not None else 0
        if not over_limit(sample):
            self.run = 0
        elif self.last is not None and missing == 0:
            self.run += 1
        elif missing > 0 and held_through(sample, missing):
            self.run += missing + 1
        else:
            self.run = 1
        self.last = second
        if self.run > SATURATION_SECONDS:
            if before > SATURATION_SECONDS and self.run > before:
                self.limited_seconds += self.run - before
            else:
                self.limited_seconds += self.run
                if self.first_limited is None:
                    self.first_limited = second - self.run + 1
        self.limited = self.limited or self.run > SATURATION_SECONDS
        return self.limited


def load_figures(load: Mapping[Any, Mapping[str, Any]]) -> dict[str, Any]:
    """A core's LOAD samples summed up: CPU and event-loop lag, and the generator-limit verdict."""
    streak = SaturationStreak()
    seconds = sorted(int(sec) for sec in load)
    samples = [load[sec] if sec in load else load[str(sec)] for sec in seconds]
    for sec, sample in zip(seconds, samples):
        streak.observe(sec, sample)
    cpu = [float(sample.get("cpu", 0.0)) for sample in samples]
    lag = [float(sample.get("lag_ms", 0.0)) for sample in samples]
    return {
        "seconds": len(samples),
        "cpu_mean": round(sum(cpu) / len(cpu), 4) if cpu else None,
        "cpu_max": round(max(cpu), 4) if cpu else None,
        "lag_ms_mean": round(sum(lag) / len(lag), 3) if lag else None,
        "lag_max_ms": round(max(float(sample.get("lag_max_ms", 0.0)) for sample in samples), 3) if samples else None,
        "limited_seconds": streak.limited_seconds,
        "limited_from": streak.first_limited,
        "generator_limited": streak.limited,
        **stall_figures(dict(zip(seconds, samples))),
    }


def stall_figures(load: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """A core's stalls (monitor.py): how many, their seconds in all, the longest, the second the
    first began, and the CPU the process used in the seconds that ended them."""
    stalls = [(sec, sample) for sec, sample in sorted(load.items()) if sample.get("stall_ms")]
    lengths = [float(sample["stall_ms"]) for _sec, sample in stalls]
    return {"stalls": len(stalls),
            "stalled_seconds": round(sum(lengths) / 1000.0, 3),
            "stall_max_ms": max(lengths, default=None),
            "stalled_from": math.floor(stalls[0][0] + 0.5 - lengths[0] / 1000.0) if stalls else None,
            "stall_cpu_max": max((float(sample.get("cpu", 0.0)) for _sec, sample in stalls), default=None)}


def stall_message(host: Any, core: Any, figures: Mapping[str, Any]) -> str:
    """What the summary and the run state say of a core that stalled: the load generator, not the
    target, made requests late and responses slow."""
    how = ("it used no CPU then: the process was not scheduled (stopped with SIGSTOP, a paused VM, memory "
           "pressure)" if float(figures.get("stall_cpu_max") or 0.0) < STALL_IDLE_CPU
           else "code that does not yield to the event loop, or a starved CPU")
    return (f"{host} core {core} stalled for {figures['stalled_seconds']:.1f} s ({figures['stalls']} stall(s) of at "
            f"least {STALL_SECONDS:g} s, the longest {float(figures['stall_max_ms']) / 1000.0:.1f} s, the first from "
            f"second {figures['stalled_from']}; {how}): its requests due then were late and its responses in flight "
            "then include the stall, so these are the load generator's figures, not the target's")


def generator_limited_message(host: Any, core: Any, figures: Mapping[str, Any] | None = None) -> str:
    """What the summary, the report and the progress lines say of a generator-limited core."""
    text = f"results from {host} core {core} are generator-limited; plan fewer rps per core"
    if figures:
        text += (f" (over {100 * SATURATION_CPU:.0f} % CPU or {1000 * SATURATION_LAG:.0f} ms event-loop lag for "
                 f"{figures.get('limited_seconds')} s from second {figures.get('limited_from')}; CPU up to "
                 f"{100 * float(figures.get('cpu_max') or 0):.0f} %, lag up to {float(figures.get('lag_max_ms') or 0):.0f} ms):"
                 f" lower hailstorm_rps or spread it over more cores (hailstorm_cores) or load hosts")
    return text


def end_record(reason: str, **fields: Any) -> dict[str, Any]:
    return {"type": "end", "reason": safe_text(reason), **fields}


def locustfile_verdict(end: Mapping[str, Any]) -> int | None:
    """A core's environment.process_exit_code from its end record, None when the locustfile set
    none (its `process_exit_code`; records of 1.0.0 carry `locustfile_exit_code`, 0 when unset)."""
    if "process_exit_code" in end:
        return None if end["process_exit_code"] is None else int(end["process_exit_code"])
    return int(end.get("locustfile_exit_code") or 0) or None


MAX_NAMED = 10  # bad lines of one file named in the warnings (the rest counted)


def _whole(value: Any) -> bool:
    """Whether int(value) gives the number the record format means (what the merge calls)."""
    if isinstance(value, str) and value.isdigit():  # the common cases first: a key, a count
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        int(value)
    except (ValueError, OverflowError):
        return False
    return True


def _real(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _table(value: Any, check: Any) -> bool:
    """A JSON object of whole-number keys (seconds, client ids) whose values pass `check`."""
    return isinstance(value, dict) and all(_whole(key) and check(item) for key, item in value.items())


def _counts(value: Any) -> bool:
    return _table(value, _whole)


def _cell_ok(cell: Any) -> bool:
    return (isinstance(cell, dict) and all(_whole(cell.get(field, 0)) for field in CELL_FIELDS + ("sched_time_us",))
            and isinstance(cell.get("errors") or {}, dict)
            and all(_whole(n) for n in (cell.get("errors") or {}).values())
            and _counts(cell.get("hist") or {}) and _counts(cell.get("sched_hist") or {}))


def _exceptions_ok(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(entry, dict) and _whole(entry.get("count", 0)) and isinstance(entry.get("traceback") or "", str)
        for entry in value.values())


_STATS_FIELDS = {  # what merge_core, compact_core and summarize read of a stats record, and its check
    "seconds": lambda v: _table(v, lambda labels: isinstance(labels, dict) and all(map(_cell_ok, labels.values()))),
    "active": _counts, "overruns": _counts, "dropped": _counts, "pool": _counts, "pool_started": _counts,
    "late": lambda v: _table(v, _real),
    "load": lambda v: _table(v, lambda sample: isinstance(sample, dict) and all(map(_real, sample.values()))),
    "exceptions": _exceptions_ok,
    "started": _whole, "iterations": _whole, "bad_lines": _whole,
    "time": _real,
    "problems": lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
}
_META_FIELDS = {"start_time": _real, "start_delay": _real, "clients": _whole, "core": _whole,
                "host": lambda v: isinstance(v, (str, int))}
_END_FIELDS = {"reason": lambda v: isinstance(v, str), "requests": _whole, "failures": _whole, "iterations": _whole,
               "active_at_end": _whole, "locustfile_exit_code": _whole, "process_exit_code": _whole, "pool_started": _whole, "pool_max": _whole,
               "pool_cap": _whole}
_RECORD_FIELDS = {"stats": _STATS_FIELDS, "meta": _META_FIELDS, "end": _END_FIELDS}


def record_problem(record: Any) -> str | None:
    """Why a line cannot be merged (not a record, a field of the wrong type: "field 'seconds' is not
    of the record format"), or None: every field the merge reads holds what the format says."""
    if not isinstance(record, dict) or "type" not in record:
        return f"not a record (a JSON {type(record).__name__} without a \"type\")"
    for field, check in _RECORD_FIELDS.get(record["type"], {}).items():
        if record.get(field) is not None and not check(record[field]):
            return f"field '{field}' of a {safe_text(record['type'], 20)} record is not of the record format"
    return None


def _made_safe(value: Any) -> tuple[Any, bool]:
    """`value` (JSON) with every key and text through safe_text (newlines kept, no bound), and
    whether any changed: the text of a record written by something other than this runtime."""
    if isinstance(value, str):
        if value.isprintable():
            return value, False
        safe = safe_text(value, None, lines=True)
        return safe, safe != value
    if isinstance(value, dict):
        out, changed = {}, False
        for key, item in value.items():
            new_key, key_changed = _made_safe(key)
            out[new_key], item_changed = _made_safe(item)
            changed = changed or key_changed or item_changed
        return out, changed
    if isinstance(value, list):
        items = [_made_safe(item) for item in value]
        return [item for item, _changed in items], any(changed for _item, changed in items)
    return value, False


def checked_record(record: Any, where: str, problems: list[str], plain: bool = False) -> dict[str, Any] | None:
    """One line's record ready to merge, or None when it cannot be (its reason appended to
    `problems`, naming `where`: the file and line); text that was not safe is made so, and said.
    `plain`: its line was ASCII without an escape, so its text is safe already."""
    problem = record_problem(record)
    if problem is not None:
        problems.append(f"{where}: {problem}; left out")
        return None
    if plain:
        return record
    safe, changed = _made_safe(record)
    if changed:
        problems.append(f"{where}: text with a control character or an invalid character (a lone surrogate) "
                        "made safe; its figures are kept")
    return safe


def read_lines(path: str | Path) -> Iterable[tuple[int, Any, str | None, bool]]:
    """(line number, its JSON value, None, plain) of each non-empty line of a JSON-lines file, or
    (line number, None, why, False) for a line that does not read as UTF-8 JSON. `plain`: the line
    is ASCII without a backslash, so no text in it can be unsafe (JSON refuses raw control bytes)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                yield number, json.loads(raw.decode("utf-8")), None, raw.isascii() and b"\\" not in raw
            except UnicodeDecodeError as exc:
                yield number, None, f"invalid UTF-8 (byte {exc.start})", False
            except ValueError as exc:
                why = f"{exc.msg}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                yield number, None, f"not JSON ({safe_text(why, 80)}; cut by a kill?)", False


def read_records(path: str | Path, problems: list[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Records of one core-N.jsonl and the number of lines left out: a killed writer may leave a
    cut last line; a line that is not UTF-8 JSON of the record format (record_problem) is left out
    too. Each such line is named in `problems` (the file, the line, why; a text made safe is named
    too, and kept)."""
    found: list[str] = []
    records: list[dict[str, Any]] = []
    bad = 0
    for number, value, why, plain in read_lines(path):
        where = f"{path}: line {number}"
        record = None
        if why is not None:
            found.append(f"{where}: {why}; left out")
        else:
            record = checked_record(value, where, found, plain)
        if record is None:
            bad += 1
        else:
            records.append(record)
    if problems is not None:
        problems.extend(named(found))
    return records, bad


def named(problems: list[str]) -> list[str]:
    """The first MAX_NAMED problems of one file, and how many more."""
    if len(problems) <= MAX_NAMED:
        return list(problems)
    return problems[:MAX_NAMED] + [f"... and {len(problems) - MAX_NAMED} more such lines"]


# --- a load host's results in one file -----------------------------------------------------

HOST_FILE = contract.HOST_FILE  # one line per core (its records, compacted), its log tails, data.json, start.json
LOG_TAIL_BYTES = 65536  # of each core-N.log carried in the host file


def file_tail(path: str | Path, max_bytes: int) -> tuple[str, bool]:
    """The last `max_bytes` of a text file (a process's log) and whether it was cut."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        return handle.read().decode("utf-8", "replace"), size > max_bytes


def compact_core(records: Iterable[Mapping[str, Any]], bad_lines: int = 0,
                 problems: list[str] | None = None) -> list[dict[str, Any]]:
    """One core's records in a few, merging to exactly the same figures: its meta, one stats
    record with every second's cells, active clients, started clients and load samples summed,
    the flushes that counted overruns or late starts kept with their time (the report places them
    in time), and its end. `problems`: its lines left out or made safe, named (read_records),
    carried in the stats record to the controller's warnings."""
    meta: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    seconds: dict[str, dict[str, dict[str, Any]]] = {}
    active: dict[str, int] = {}
    load: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    exceptions: dict[str, dict[str, Any]] = {}
    dropped: dict[str, int] = {}
    pool: dict[str, int] = {}
    pool_started: dict[str, int] = {}
    outside: dict[str, int] = {}
    started = 0
    iterations: int | None = None
    for record in records:
        kind = record.get("type")
        if kind == "meta":
            meta = dict(record)
        elif kind == "end":
            end = dict(record)
        elif kind == "stats":
            for sec, labels in (record.get("seconds") or {}).items():
                per_label = seconds.setdefault(str(sec), {})
                for label, cell in labels.items():
                    merge_cell(per_label.setdefault(label, empty_cell()), cell)
            for sec, n in (record.get("active") or {}).items():
                active[str(sec)] = active.get(str(sec), 0) + int(n)
            load.update({str(sec): dict(sample) for sec, sample in (record.get("load") or {}).items()})
            merge_exceptions(exceptions, record.get("exceptions") or {})
            for sec, n in (record.get("dropped") or {}).items():
                dropped[str(sec)] = dropped.get(str(sec), 0) + int(n)
            pool.update({str(sec): int(n) for sec, n in (record.get("pool") or {}).items()})  # one sample a second
            for sec, n in (record.get("pool_started") or {}).items():
                pool_started[str(sec)] = pool_started.get(str(sec), 0) + int(n)
            for sec, n in (record.get("outside_tasks") or {}).items():
                outside[str(sec)] = outside.get(str(sec), 0) + int(n)
            started += int(record.get("started", 0))
            if "iterations" in record:
                iterations = (iterations or 0) + int(record["iterations"])
            if record.get("overruns") or record.get("late"):
                events.append({"type": "stats", "time": record.get("time"), "seconds": {}, "active": {},
                               "overruns": dict(record.get("overruns") or {}), "late": dict(record.get("late") or {}),
                               "started": 0})
    compact: dict[str, Any] = {
        "type": "stats", "time": None, "started": started, "bad_lines": bad_lines,
        "seconds": {sec: {label: _cell_json(cell) for label, cell in labels.items()} for sec, labels in seconds.items()},
        "active": active, "overruns": {}, "late": {}}
    if iterations is not None:
        compact["iterations"] = iterations
    if load:
        compact["load"] = load
    if exceptions:
        compact["exceptions"] = exceptions
    if dropped:
        compact["dropped"] = dropped
    if pool:
        compact["pool"] = pool
    if pool_started:
        compact["pool_started"] = pool_started
    if outside:
        compact["outside_tasks"] = outside
    if problems:
        compact["problems"] = list(problems)
    return [record for record in [meta, compact, *events, end] if record is not None]


def write_host_file(run_dir: str | Path, dest: str | Path | None = None) -> dict[str, Any]:
    """Write a load host's HOST_FILE in its run directory from every core-N.jsonl there (compacted,
    exact), the tail of each core-N.log and data.json; the raw files stay. Returns what it holds."""
    run_dir = Path(run_dir)
    dest = Path(dest) if dest else run_dir / HOST_FILE
    cores = sorted(run_dir.glob(contract.core_pattern(contract.RECORDS)), key=lambda p: (len(p.name), p.name))
    lines = []
    for path in cores:
        problems: list[str] = []
        records, bad = read_records(path, problems)
        lines.append({"type": "core", "source": path.name, "records": compact_core(records, bad, problems)})
    for path in sorted(run_dir.glob(contract.core_pattern(contract.LOG))):
        text, cut = file_tail(path, LOG_TAIL_BYTES)
        lines.append({"type": "log", "source": path.name, "cut": cut, "text": text})
    for name in (contract.DATA_FILE, contract.START_FILE):  # the host's plan slice and its start signal (no secrets)
        if (run_dir / name).exists():
            lines.append({"type": "file", "source": name, "text": (run_dir / name).read_text(encoding="utf-8")})
    tmp = dest.with_name(dest.name + ".tmp")
    try:  # whole or not at all (a full disk): no partial file left
        with open(tmp, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, separators=(",", ":")) + "\n")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"path": str(dest), "cores": len(cores), "bytes": dest.stat().st_size}


def read_host_file(path: str | Path, problems: list[str] | None = None,
                   name: str | None = None) -> tuple[list[tuple[str, list[dict[str, Any]], int]], dict[str, str]]:
    """A HOST_FILE: [(core file name, its records, bad lines on the host)] and {file name: text}
    of the logs and data.json it carries. A line or a record that cannot be merged is left out and
    named in `problems` (as `name`, else `path`, its line, why), as read_records does."""
    cores, files = [], {}
    found: list[str] = []
    for number, value, why, plain in read_lines(path):
        where = f"{name or path}: line {number}"
        kind = value.get("type") if isinstance(value, dict) else None
        if why is not None or kind is None:
            found.append(f"{where}: {why or record_problem(value)}; left out")
        elif kind == "core":
            source = safe_text(value.get("source"), NAME_LIMIT)
            if not isinstance(value.get("records"), list):
                found.append(f"{where} ({source}): no list of records; left out")
                continue
            recs = [checked_record(record, f"{where} ({source}), record {index}", found, plain)
                    for index, record in enumerate(value["records"], 1)]
            recs = [record for record in recs if record is not None]
            bad = sum(int(r.get("bad_lines") or 0) for r in recs if r.get("type") == "stats")
            cores.append((source, recs, bad))
        elif kind in ("log", "file"):
            if isinstance(value.get("text") or "", str):
                files[safe_text(value.get("source"), NAME_LIMIT)] = value.get("text") or ""
            else:
                found.append(f"{where}: the text of {safe_text(value.get('source'), NAME_LIMIT)} is no text; left out")
    if problems is not None:
        problems.extend(named(found))
    return cores, files


# --- merge ----------------------------------------------------------------------------------

def empty_merged() -> dict[str, Any]:
    return {"seconds": {}, "active": {}, "overruns": {}, "late": {}, "started": 0, "iterations": None, "cores": [],
            "overruns_at": {}, "late_at": {}, "host_requests": {}}


def run_sources(run_dir: str | Path, problems: list[str] | None = None) -> list[str | list[dict[str, Any]]]:
    """What to merge in a controller's results directory: each host's HOST_FILE when it was
    fetched, else that host's raw core-N.jsonl files (never both: no request counted twice).
    The lines of a HOST_FILE that cannot be merged are named in `problems` (read_host_file)."""
    sources: list[str | list[dict[str, Any]]] = []
    for host_dir in sorted(p for p in Path(run_dir).iterdir() if p.is_dir()):
        host_file = host_dir / HOST_FILE
        if host_file.exists():
            cores = read_host_file(host_file, problems, f"{host_dir.name}/{HOST_FILE}")[0]
            sources.extend(records for _name, records, _bad in cores)
        else:
            sources.extend(str(p) for p in sorted(host_dir.glob(contract.core_pattern(contract.RECORDS))))
    return sources


def unpack_host_files(run_dir: str | Path) -> list[str]:
    """Write the logs and data.json each fetched HOST_FILE carries beside it (when absent), so a
    results directory holds them as if every file had been fetched. Returns the files written;
    a file that cannot be written (a full disk) raises OSError naming it, and leaves nothing."""
    written = []
    for host_file in sorted(Path(run_dir).glob("*/" + HOST_FILE)):
        for name, text in read_host_file(host_file)[1].items():
            target = host_file.parent / Path(name).name
            if not target.exists():
                tmp = target.with_name(target.name + ".tmp")
                try:  # whole or not at all: a partial file would be kept as it is
                    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as handle:
                        handle.write(text)
                    os.chmod(tmp, 0o640)
                    os.replace(tmp, target)
                except OSError as exc:  # named by the file it was writing, not by its .tmp
                    raise OSError(exc.errno, exc.strerror, str(target)) from exc
                finally:
                    if tmp.exists():
                        tmp.unlink()
                written.append(str(target))
    return written


def merge(sources: Iterable[str | Path | Iterable[Mapping[str, Any]]],
          warnings: Iterable[str] = ()) -> dict[str, Any]:
    """Merge many cores' records (paths of core-N.jsonl files, or lists of records): exact sums.

    Returns {"seconds": {sec: {label: cell}}, "active": {sec: n}, "overruns": {client: n},
    "late": {client: s}, "started": n, "cores": [per-core meta/end/totals]} with int keys, and
    "overruns_at" / "late_at": {sec: n}, the overruns and late starts by the second of the flush
    that recorded them (a flush counts what happened since the previous one), and
    "host_requests": {host: {sec: n}}, each load host's requests per second; the open model's
    "dropped" and "pool_started": {sec: n} (all cores), and in each core "pool": {sec: its pool size};
    "warnings": `warnings`, then each line left out or made safe, named (read_records, and the
    load hosts' in their records).
    """
    merged = empty_merged()
    merged["warnings"] = list(warnings)
    for source in sources:
        if isinstance(source, (str, Path)):
            records, bad = read_records(source, merged["warnings"])
            name = str(source)
        else:
            records, bad, name = list(source), 0, None
        merge_core(merged, records, source=name, bad_lines=bad)
    return merged


def merge_core(merged: dict[str, Any], records: Iterable[Mapping[str, Any]],
               source: str | None = None, bad_lines: int = 0) -> None:
    """Add one core's records into `merged`."""
    core: dict[str, Any] = {"source": source, "meta": None, "end": None, "requests": 0, "failures": 0,
                            "started": 0, "iterations": None, "late": 0, "max_late": 0.0, "overruns": 0,
                            "bad_lines": bad_lines,
                            "load": {}}
    seconds, active = merged["seconds"], merged["active"]
    overruns, late = merged["overruns"], merged["late"]
    overruns_at, late_at = merged.setdefault("overruns_at", {}), merged.setdefault("late_at", {})
    start: Any = None
    host_seconds: dict[int, int] = {}
    problems: list[str] = []
    for record in records:
        kind = record.get("type")
        if kind == "meta":
            core["meta"] = dict(record)
            start = core["meta"].get("start_time")
        elif kind == "end":
            core["end"] = dict(record)
        elif kind == "stats":
            core["bad_lines"] += int(record.get("bad_lines", 0))  # counted on the load host (HOST_FILE)
            problems.extend(str(problem) for problem in record.get("problems") or [])  # named there
            for sec, labels in (record.get("seconds") or {}).items():
                per_label = seconds.setdefault(int(sec), {})
                for label, cell in labels.items():
                    merge_cell(per_label.setdefault(label, empty_cell()), cell)
                    host_seconds[int(sec)] = host_seconds.get(int(sec), 0) + int(cell.get("requests", 0))
                    core["requests"] += int(cell.get("requests", 0))
                    core["failures"] += int(cell.get("failures", 0))
            for sec, n in (record.get("active") or {}).items():
                active[int(sec)] = active.get(int(sec), 0) + int(n)
            for client, n in (record.get("overruns") or {}).items():
                overruns[int(client)] = overruns.get(int(client), 0) + int(n)
                core["overruns"] += int(n)
            for client, delay in (record.get("late") or {}).items():
                late[int(client)] = float(delay)
                core["late"] += 1
                core["max_late"] = max(core["max_late"], float(delay))
            for sec, sample in (record.get("load") or {}).items():
                core["load"][int(sec)] = dict(sample)
            merge_exceptions(merged.setdefault("exceptions", {}), record.get("exceptions") or {})
            core["exceptions"] = core.get("exceptions", 0) + sum(int(row.get("count", 0))
                                                                 for row in (record.get("exceptions") or {}).values())
            for sec, n in (record.get("dropped") or {}).items():  # the open model's dropped arrivals
                drops = merged.setdefault("dropped", {})
                drops[int(sec)] = drops.get(int(sec), 0) + int(n)
                core["dropped"] = core.get("dropped", 0) + int(n)
            for sec, n in (record.get("pool") or {}).items():  # the open model's pool size: per core
                core.setdefault("pool", {})[int(sec)] = int(n)
            for sec, n in (record.get("pool_started") or {}).items():
                started_at = merged.setdefault("pool_started", {})
                started_at[int(sec)] = started_at.get(int(sec), 0) + int(n)
            for sec, n in (record.get("outside_tasks") or {}).items():  # on_start / on_stop requests
                outside = merged.setdefault("outside_tasks", {})
                outside[int(sec)] = outside.get(int(sec), 0) + int(n)
            if start is not None and record.get("time") is not None:
                at = math.floor(float(record["time"]) - float(start))
                n_over = sum(int(n) for n in (record.get("overruns") or {}).values())
                n_late = len(record.get("late") or {})
                if n_over:
                    overruns_at[at] = overruns_at.get(at, 0) + n_over
                if n_late:
                    late_at[at] = late_at.get(at, 0) + n_late
            started = int(record.get("started", 0))
            merged["started"] += started
            core["started"] += started
            if "iterations" in record:  # records of this runtime count them (older ones did not)
                iterations = int(record["iterations"])
                merged["iterations"] = (merged.get("iterations") or 0) + iterations
                core["iterations"] = (core["iterations"] or 0) + iterations
    merged["cores"].append(core)
    host = str((core["meta"] or {}).get("host") or source or "?")
    merged.setdefault("warnings", []).extend(f"{host}: {problem}" for problem in problems)
    per_host = merged.setdefault("host_requests", {}).setdefault(host, {})
    for sec, n in host_seconds.items():
        per_host[sec] = per_host.get(sec, 0) + n


def failures_by_label(merged: Mapping[str, Any]) -> list[tuple[tuple[str, str], tuple[int, int, int]]]:
    """((label, kind), (count, first second, last second)), the most frequent first."""
    seen: dict[tuple[str, str], list[int]] = {}
    for sec in sorted(int(s) for s in merged.get("seconds", {})):
        for label, cell in merged["seconds"][sec].items():
            for kind, n in (cell.get("errors") or {}).items():
                row = seen.setdefault((label, kind), [0, sec, sec])
                row[0] += int(n)
                row[2] = sec
    return sorted(((key, (n, first, last)) for key, (n, first, last) in seen.items()),
                  key=lambda item: (-item[1][0], item[0]))


# --- summary --------------------------------------------------------------------------------

# Percentiles of the summary and the report, as (key, q): from the merged histograms only.
PERCENTILES = (("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0), ("p999_ms", 99.9))
PHASES = ("constant", "all")


def latency_figures(hist: Histogram, time_us: int) -> dict[str, Any]:
    """count, mean_ms, min_ms, the PERCENTILES and max_ms of a histogram and its total µs."""
    n = hist.count
    return {
        "count": n,
        "mean_ms": round(time_us / n / 1000.0, 3) if n else None,
        "min_ms": hist.percentile(0),
        **{key: hist.percentile(q) for key, q in PERCENTILES},
        "max_ms": hist.percentile(100),
    }


def plan_phases(plan: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """The named parts of a plan's time axis, (name, start, end): ramp-up, constant and ramp-down
    of a trapezoid; each stage of a staged plan (its `name`, else "stage N", N from 1)."""
    stages = plan.get("stages")
    if stages:
        return [(str(stage.get("name") or f"stage {i + 1}"), float(stage["start"]),
                 float(stage["start"]) + float(stage["duration"])) for i, stage in enumerate(stages)]
    rampup, constant = float(plan.get("rampup", 0) or 0), float(plan.get("constant", 0) or 0)
    rampdown = float(plan.get("rampdown", 0) or 0)
    return [(name, start, end) for name, start, end in (
        ("ramp-up", 0.0, rampup), ("constant", rampup, rampup + constant),
        ("ramp-down", rampup + constant, rampup + constant + rampdown)) if end > start]


def _whole_seconds(start: float, end: float) -> tuple[int, int] | None:
    first, last = math.ceil(start - 1e-9), math.floor(end + 1e-9)
    return (first, last) if last > first else None


def constant_window(plan: Mapping[str, Any]) -> tuple[int, int] | None:
    """The whole seconds [from, to) inside the plan's constant phase, or None without one. A
    staged plan's constant phase is its longest stage at a constant rate above 0 (the first of
    equals): what a run is usually judged on, as a trapezoid's constant phase."""
    stages = plan.get("stages")
    if stages:
        flat = [(float(stage["duration"]), -i, stage) for i, stage in enumerate(stages)
                if float(stage.get("rps") or 0) > 0 and float(stage.get("from_rps", -1)) == float(stage["rps"])]
        if not flat:
            return None
        _duration, _i, stage = max(flat, key=lambda item: item[:2])
        return _whole_seconds(float(stage["start"]), float(stage["start"]) + float(stage["duration"]))
    rampup = float(plan.get("rampup", 0) or 0)
    constant = float(plan.get("constant", 0) or 0)
    return _whole_seconds(rampup, rampup + constant)


def planned_in_window(plan: Mapping[str, Any], window: tuple[int, int]) -> float:
    """The task iterations the plan's rate asks for over the whole seconds [from, to): the rate x
    the seconds for a trapezoid's constant phase, the integral of a staged plan's curve (linear in
    each stage) over the window."""
    first, last = window
    stages = plan.get("stages")
    if not stages:
        return float(plan.get("rps", 0) or 0) * (last - first)
    total = 0.0
    for stage in stages:
        start, duration = float(stage["start"]), float(stage["duration"])
        if duration <= 0:
            continue
        a, b = max(first, start), min(last, start + duration)
        if b <= a:
            continue
        low, high = float(stage.get("from_rps", stage["rps"])), float(stage["rps"])

        def rate(t: float) -> float:
            return low + (high - low) * (t - start) / duration

        total += (rate(a) + rate(b)) / 2 * (b - a)
    return total


def phase_window(plan: Mapping[str, Any], phase: Any) -> tuple[tuple[int, int] | None, str]:
    """The whole seconds a phase covers and its description: "constant" (constant_window), "all"
    (None: the whole run), or a stage of a staged plan by its name or its number (1 = the first).
    ValueError naming the stages for a phase the plan does not have."""
    if phase == "all":
        return None, "whole run"
    if phase == "constant":
        window = constant_window(plan)
        return window, f"constant phase {window[0]}-{window[1]} s" if window else "whole run"
    if not plan.get("stages"):
        raise ValueError(f"hailstorm_thresholds_phase: {phase!r} is no phase of this plan; use constant or all "
                         "(a stage's number or name needs hailstorm_stages)")
    window = stage_window(plan, phase)  # PlanError (a ValueError) naming the stages
    names = [name for name, _start, _end in plan_phases(plan)]
    index = names.index(phase) if phase in names else int(str(phase).strip()) - 1
    return window, stage_title(names[index]) + (f" {window[0]}-{window[1]} s" if window else "")


def stage_title(name: str) -> str:
    """How a stage is called in lines: "stage hold", or "stage 3" for an unnamed one."""
    return name if name.startswith("stage ") else f"stage {name}"


def stage_figures(merged: Mapping[str, Any], plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per stage of a staged plan (empty for a trapezoid): its whole seconds, the task iterations
    the plan asks for there, the requests sent, of them those of task iterations (`task_requests`,
    what the planned rate paces: `rps` is theirs) apart from those of the clients' on_start and
    on_stop (`other_requests`: a stage where clients start or stop has more), failures and
    latency percentiles from the merged histograms."""
    if not plan.get("stages"):
        return []
    # the recorded seconds in time order, read once: each stage merges only its own (bisect), so
    # the stages cost O(seconds + stages log seconds), not O(seconds x stages)
    recorded = sorted(((int(sec), per_label) for sec, per_label in merged["seconds"].items()), key=lambda item: item[0])
    moments = [sec for sec, _per_label in recorded]
    out = []
    outside = sorted((int(sec), int(n)) for sec, n in (merged.get("outside_tasks") or {}).items())
    outside_moments = [sec for sec, _n in outside]
    for stage, (name, start, end) in zip(plan["stages"], plan_phases(plan)):
        window = _whole_seconds(start, end)
        cell = empty_cell()
        if window:
            for _sec, per_label in recorded[bisect_left(moments, window[0]):bisect_left(moments, window[1])]:
                for labels in per_label.values():
                    merge_cell(cell, labels)
        seconds = (window[1] - window[0]) if window else 0
        inside = (outside[bisect_left(outside_moments, window[0]):bisect_left(outside_moments, window[1])]
                  if window else [])
        other = sum(n for _sec, n in inside)
        tasks = int(cell["requests"]) - other
        latency = latency_figures(Histogram(cell["hist"]), cell["time_us"])
        out.append({"name": name, "start": start, "end": end, "window": list(window) if window else None,
                    "planned_rps": round((float(stage.get("from_rps", stage["rps"])) + float(stage["rps"])) / 2, 3),
                    "planned_iterations": round(planned_in_window(plan, window), 1) if window else 0.0,
                    "rps": round(tasks / seconds, 3) if seconds else None,
                    "requests": int(cell["requests"]), "task_requests": tasks, "other_requests": other,
                    "failures": int(cell["failures"]),
                    **{key: latency[key] for key in ("p50_ms", "p95_ms", "p99_ms")}})
    return out


def label_cells(merged: Mapping[str, Any], window: tuple[int, int] | None = None) -> dict[str, dict[str, Any]]:
    """Per label, the sum of its cells over the seconds [from, to) of `window` (None: all)."""
    labels: dict[str, dict[str, Any]] = {}
    for sec, per_label in merged["seconds"].items():
        if window is not None and not window[0] <= int(sec) < window[1]:
            continue
        for label, cell in per_label.items():
            merge_cell(labels.setdefault(label, empty_cell()), cell)
    return labels


FROM_SCHEDULE = "_from_schedule"  # p99_ms from schedule is p99_from_schedule_ms (thresholds, figures)


def from_schedule(cell: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latency figures from schedule of a cell (see CELL), or None for records without them."""
    if not cell.get("sched_hist"):
        return None
    return latency_figures(Histogram(cell["sched_hist"]), int(cell.get("sched_time_us", 0)))


def _figures(cell: Mapping[str, Any]) -> dict[str, Any]:
    requests = int(cell["requests"])
    figures = {"requests": requests, "failures": int(cell["failures"]),
               "failure_rate": round(cell["failures"] / requests, 6) if requests else None,
               **latency_figures(Histogram(cell["hist"]), cell["time_us"])}
    scheduled = from_schedule(cell) or {}
    for key, value in scheduled.items():
        if key.endswith("_ms"):
            figures[key[:-3] + FROM_SCHEDULE + "_ms"] = value
    return figures


def phase_figures(merged: Mapping[str, Any], plan: Mapping[str, Any], phase: str = "constant") -> dict[str, Any]:
    """What thresholds are judged on: latency and failures per label and overall over `phase`
    (the constant phase's whole seconds, or the whole run when phase is 'all' or the plan has no
    constant phase), the achieved rate against the target (succeeded requests: a refused or failed
    request achieved nothing), pacing overruns, late clients and locustfile exceptions (those three
    over the whole run: the records count them per client or per flush, not per second)."""
    window, what = phase_window(plan, phase)
    labels = label_cells(merged, window)
    overall = empty_cell()
    for cell in labels.values():
        merge_cell(overall, cell)
    expected = plan.get("expected_requests")
    succeeded = overall["requests"] - overall["failures"]  # what the rate achieved: a failure achieved nothing
    if window is not None:
        planned = planned_in_window(plan, window)
        ratio = succeeded / planned if planned else None
    else:
        what += f" (the plan has no whole second of {'constant phase' if phase == 'constant' else 'that phase'})" \
            if phase != "all" else ""
        ratio = succeeded / float(expected) if expected else None
    names: dict[str, dict[str, Any]] = {}  # a threshold may name a request without its method
    for label, cell in labels.items():
        merge_cell(names.setdefault(split_label(label)[1], empty_cell()), cell)
    return {
        "phase": phase, "window": list(window) if window else None, "description": what,
        "overall": _figures(overall),
        "labels": {label: _figures(cell) for label, cell in sorted(labels.items())},
        "names": {name: _figures(cell) for name, cell in sorted(names.items())},
        "rps_ratio": round(ratio, 4) if ratio is not None else None,
        "overruns": sum(merged.get("overruns", {}).values()),
        "late_clients": len(merged.get("late", {})),
        "exceptions": sum(int(row.get("count", 0)) for row in (merged.get("exceptions") or {}).values()),
        "dropped": sum(int(n) for n in (merged.get("dropped") or {}).values()),
    }


def pool_figures(merged: Mapping[str, Any]) -> dict[str, Any]:
    """The open model's pools over time: "pool_per_second", {sec: {"mean", "max"}}, the mean and
    the largest pool size (users alive) of the cores sampled in that second, and
    "users_started_per_second", {sec: n}, the users the pools of all cores started in it."""
    pools = [core["pool"] for core in merged.get("cores", []) if core.get("pool")]
    per_second = {}
    for sec in sorted({sec for pool in pools for sec in pool}):
        sizes = [pool[sec] for pool in pools if sec in pool]
        per_second[str(sec)] = {"mean": round(sum(sizes) / len(sizes), 2), "max": max(sizes)}
    started = merged.get("pool_started") or {}
    return {"pool_per_second": per_second,
            "users_started_per_second": {str(sec): n for sec, n in sorted(started.items())}}


def load_versions(metas: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Locust and Python on the load hosts, from the load processes' meta records: every
    distinct version, comma separated, or None when no record says it (an older runtime)."""
    metas = list(metas)

    def joined(key: str) -> str | None:
        return ", ".join(sorted({str(meta[key]) for meta in metas if meta.get(key)})) or None
    return {"locust": joined("locust"), "load_python": joined("python")}


def summarize(merged: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a user wants after a run, from a merged result and the run's plan."""
    seconds: Mapping[int, Mapping[str, Mapping[str, Any]]] = merged["seconds"]
    labels: dict[str, dict[str, Any]] = {}
    per_second: dict[int, list[int]] = {}
    for sec, per_label in seconds.items():
        row = per_second.setdefault(int(sec), [0, 0])
        for label, cell in per_label.items():
            merge_cell(labels.setdefault(label, empty_cell()), cell)
            row[0] += int(cell["requests"])
            row[1] += int(cell["failures"])
    overall = empty_cell()
    for cell in labels.values():
        merge_cell(overall, cell)

    rps = float(plan.get("rps", 0) or 0)
    window = constant_window(plan)
    constant_phase: dict[str, Any] | None = None
    if window is not None:
        first, last = window
        count = sum(per_second.get(s, [0, 0])[0] for s in range(first, last))
        failed = sum(per_second.get(s, [0, 0])[1] for s in range(first, last))
        achieved = count / (last - first)
        succeeded = (count - failed) / (last - first)
        target = planned_in_window(plan, window) / (last - first)  # a staged plan's stage may be below its peak
        constant_phase = {"from": first, "to": last, "requests": count, "failures": failed,
                          "rps": round(achieved, 3), "succeeded_rps": round(succeeded, 3),
                          "target_rps": round(target, 6), "ratio": round(achieved / target, 4) if target else None,
                          "succeeded_ratio": round(succeeded / target, 4) if target else None}

    active: Mapping[int, int] = merged.get("active", {})
    keys = set(per_second) | set(active)
    series = [{"second": s, "requests": per_second.get(s, [0, 0])[0],
               "failures": per_second.get(s, [0, 0])[1], "active": int(active.get(s, 0))}
              for s in (range(min(keys), max(keys) + 1) if keys else [])]

    overruns: Mapping[int, int] = merged.get("overruns", {})
    cores = []
    limited: list[str] = []
    for core in merged.get("cores", []):
        meta, end = core.get("meta") or {}, core.get("end") or {}
        load = load_figures(core.get("load") or {})
        if load["generator_limited"]:
            limited.append(generator_limited_message(meta.get("host"), meta.get("core"), load))
        if load["stalls"]:
            limited.append(stall_message(meta.get("host"), meta.get("core"), load))
        cores.append({
            "host": meta.get("host"), "core": meta.get("core"),
            "clients": meta.get("clients"), "started": core["started"],
            "start_delay": meta.get("start_delay"), "late_clients": core["late"],
            "max_late": round(core["max_late"], 6), "requests": core["requests"],
            "failures": core["failures"], "overruns": core["overruns"], "iterations": core.get("iterations"),
            "end": end.get("reason", "missing (process killed?)"), "active_at_end": end.get("active_at_end"),
            "exceptions": core.get("exceptions", 0), "locustfile_exit_code": locustfile_verdict(end),
            "bad_lines": core["bad_lines"], "load": load,
            "live_metrics": end.get("live_metrics"),  # samples pushed and lost (hailstorm_prometheus_remote_write)
        })
    late: Mapping[int, float] = merged.get("late", {})
    total = int(overall["requests"])
    arrivals = None
    if plan.get("model") == "open":  # the slots were arrivals handed to each core's pool of users
        ends = [core.get("end") or {} for core in merged.get("cores", [])]
        dropped = sum(int(n) for n in (merged.get("dropped") or {}).values())
        arrivals = {"planned": plan.get("expected_requests"), "sent": merged.get("iterations"), "dropped": dropped,
                    "dropped_per_second": {str(s): n for s, n in sorted((merged.get("dropped") or {}).items())},
                    "users_started": sum(int(end.get("pool_started") or 0) for end in ends),
                    "pool_max_per_core": max([int(end.get("pool_max") or 0) for end in ends] or [0]),
                    "pool_cap_per_core": max([int(end.get("pool_cap") or 0) for end in ends] or [0]),
                    **pool_figures(merged)}
    iterations = merged.get("iterations")  # None: records without the count (an older runtime)
    per_iteration = round(total / iterations, 3) if iterations else None
    early: dict[tuple[str, int], int] = {}  # clients that ended before their planned stop, every core's
    for core in merged.get("cores", []):
        for row in (core.get("end") or {}).get("ended_early") or []:
            key = (str(row["how"]), int(row["iterations"]))
            early[key] = early.get(key, 0) + int(row["clients"])
    return {
        # what the run was made with: plan.json's (versions.py) and the load processes'
        "versions": {**(plan.get("versions") or {}),
                     **load_versions(core.get("meta") or {} for core in merged.get("cores", []))},
        "model": plan.get("model") or "closed",
        "stages": stage_figures(merged, plan),
        "arrivals": arrivals,
        "iterations": iterations,
        "ended_early": [{"how": how, "iterations": ran, "clients": n} for (how, ran), n in sorted(early.items())],
        "requests_per_iteration": per_iteration,
        "iteration_warning": iteration_warning(total, iterations or 0, rps),
        "requests": total,
        "failures": int(overall["failures"]),
        "failure_rate": round(overall["failures"] / total, 6) if total else 0.0,
        "bytes": int(overall["bytes"]),
        "expected_requests": plan.get("expected_requests"),
        "target_rps": rps,
        "constant_phase": constant_phase,
        "failures_by_kind": dict(sorted(overall["errors"].items(), key=lambda kv: -kv[1])),
        "exceptions": [{"kind": kind, "count": row["count"], "traceback": row["traceback"]}
                       for kind, row in sorted((merged.get("exceptions") or {}).items(),
                                               key=lambda kv: (-kv[1]["count"], kv[0]))],
        "latency": {"overall": latency_figures(Histogram(overall["hist"]), overall["time_us"]),
                    "labels": {label: {"requests": c["requests"], "failures": c["failures"],
                                       **latency_figures(Histogram(c["hist"]), c["time_us"])}
                               for label, c in sorted(labels.items())},
                    # from each request's slot (queueing included); None for records without it
                    "from_schedule": {"overall": from_schedule(overall),
                                      "labels": {label: from_schedule(c) for label, c in sorted(labels.items())}}},
        "pacing": {"overruns": sum(overruns.values()), "clients_affected": len(overruns)},
        "starts": {"clients_planned": plan.get("clients"), "clients_started": merged.get("started", 0),
                   "starts_planned": planned_starts(plan),
                   "late_clients": len(late), "late_threshold": LATE_START,
                   "max_late": round(max(late.values()), 6) if late else 0.0},
        "cores": cores,
        "generator_limited": limited,
        "series": series,
        "warnings": list(merged.get("warnings") or []),  # record lines left out or made safe, named
    }


def planned_starts(plan: Mapping[str, Any]) -> Any:
    """Client starts the plan makes: a staged plan's clients may start again in a later rise (each
    host counts its `intervals`), a trapezoid's start once each."""
    hosts = list((plan.get("hosts") or {}).values())
    if hosts and all("intervals" in host for host in hosts):
        return sum(int(host["intervals"]) for host in hosts)
    return plan.get("clients")


def count_against_plan(rows: Iterable[Mapping[str, Any]]) -> tuple[int, bool]:
    """What a run's or a host's figures (a summary, its cores) are compared with the plan's
    expected count, which counts task iterations: (the iterations run, True) when every row's
    records counted them, else (the requests sent, False) for records of an older runtime."""
    rows = list(rows)
    if rows and all(row.get("iterations") is not None for row in rows):
        return sum(int(row["iterations"]) for row in rows), True
    return sum(int(row.get("requests") or 0) for row in rows), False


def iteration_warning(requests: int, iterations: int, rps: float) -> str | None:
    """The rate counts task iterations: a warning when the run sent other than one request per
    iteration on average (requests of on_start and on_stop included), else None."""
    if not iterations or abs(requests / iterations - 1.0) <= RPI_TOLERANCE:
        return None
    mean = requests / iterations
    fix = (f"; to plan requests per second, set hailstorm_rps to {rps / mean:.4g} for {rps:g} requests per second"
           if rps and mean else "")
    return (f"the locustfile sent {mean:.2f} requests per task iteration on average ({requests} requests in "
            f"{iterations} iterations): hailstorm_rps paces task iterations, so the target got {mean:.2f} x the "
            f"planned rate{fix}, or make each task send one request")


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def stage_counts(stage: Mapping[str, Any]) -> str:
    """A stage's requests against its plan, for its line: "380 task requests against 380 planned
    iterations (38.00 rps against 38 planned), 20 on_start/on_stop requests apart, " (the planned
    rate paces task iterations; a client's on_start and on_stop send outside them)."""
    if stage["rps"] is None:
        return "no whole second, "
    tasks = stage.get("task_requests", stage["requests"])  # a summary written before these counts
    planned = stage.get("planned_iterations")
    text = (f"{tasks} task requests against {planned:.0f} planned iterations ({stage['rps']:.2f} rps against "
            f"{stage['planned_rps']:g} planned), " if planned is not None
            else f"{stage['rps']:.2f} rps against {stage['planned_rps']:g} planned, ")
    other = int(stage.get("other_requests") or 0)
    return text + (f"{other} on_start/on_stop requests apart, " if other else "")


def generator_queueing_note(summary: Mapping[str, Any]) -> list[str]:
    """The line beside the latency figures when cores were generator-limited: their requests also
    waited for the load generator itself (its CPU, its event loop), so these are not the target's."""
    limited = [core for core in summary.get("cores") or [] if (core.get("load") or {}).get("generator_limited")]
    if not limited:
        return []
    return [f"(latencies above include the load generator's own queueing: {len(limited)} of "
            f"{len(summary['cores'])} cores generator-limited, their requests waited for their own CPU and "
            "event loop too, so these figures are not the target's alone)"]


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The summary as a few readable lines (what the collect role prints)."""
    total, failures = summary["requests"], summary["failures"]
    expected = summary.get("expected_requests")
    lines = [f"{total} requests" + (f" (planned {expected:.0f})" if expected else "")
             + f", {failures} failed ({100.0 * summary['failure_rate']:.2f} %)"]
    if summary.get("iterations"):
        lines.append(f"{summary['iterations']} task iterations (the planned rps paces these): "
                     f"{summary['requests_per_iteration']:.2f} requests per iteration on average")
    phase = summary.get("constant_phase")
    if phase:
        line = (f"constant phase {phase['from']}-{phase['to']} s: {phase['rps']:.2f} rps against "
                f"{phase['target_rps']:g} target ({100.0 * (phase['ratio'] or 0):.1f} %)")
        if phase.get("failures"):
            line += (f", {phase['succeeded_rps']:.2f} rps succeeded ({100.0 * (phase['succeeded_ratio'] or 0):.1f} %), "
                     f"{phase['failures']} requests failed")
        lines.append(line)
    for row in (summary.get("exceptions") or [])[:5]:
        lines.append(f"locustfile exception x{row['count']}: {row['kind']}")
    for kind, count in list(summary["failures_by_kind"].items())[:5]:
        lines.append(f"failure x{count}: {kind}")
    width = max([len("label")] + [len(label) for label in summary["latency"]["labels"]])
    lines.append(f"{'label':<{width}} {'requests':>8} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    overall = {**summary["latency"]["overall"], "requests": total, "failures": failures}
    rows = list(summary["latency"]["labels"].items()) + [("all", overall)]
    for label, row in rows:
        lines.append(f"{label:<{width}} {row['requests']:>8} {row['failures']:>6} {_ms(row['p50_ms']):>8} "
                     f"{_ms(row['p95_ms']):>8} {_ms(row['p99_ms']):>8}")
    lines.extend(generator_queueing_note(summary))
    for stage in summary.get("stages") or []:
        lines.append(f"{stage_title(stage['name'])} {stage['start']:g}-{stage['end']:g} s: " + stage_counts(stage)
                     + f"{stage['failures']} failed, p50/p95/p99 {_ms(stage['p50_ms'])}/{_ms(stage['p95_ms'])}/"
                       f"{_ms(stage['p99_ms'])} ms")
    arrivals = summary.get("arrivals")
    if arrivals:
        lines.append(f"open model: {arrivals['planned']} arrivals planned, {arrivals['sent']} sent, "
                     f"{arrivals['dropped']} dropped; {arrivals['users_started']} users started, up to "
                     f"{arrivals['pool_max_per_core']} per core (cap {arrivals['pool_cap_per_core']})")
    scheduled = ((summary["latency"].get("from_schedule") or {}).get("overall")) or None
    if scheduled and scheduled.get("count"):
        service = summary["latency"]["overall"]
        lines.append(f"{'from schedule':<{width}} {scheduled['count']:>8} {'':>6} {_ms(scheduled['p50_ms']):>8} "
                     f"{_ms(scheduled['p95_ms']):>8} {_ms(scheduled['p99_ms']):>8}  (from each request's slot, "
                     f"queueing included; p99 {_ms(scheduled['p99_ms'])} vs {_ms(service['p99_ms'])} ms service time)")
    pacing, starts = summary["pacing"], summary["starts"]
    if not arrivals:  # the open model's users start on demand: no overruns, no planned starts
        planned = starts.get("starts_planned") or starts["clients_planned"]
        again = int(planned or 0) - int(starts["clients_planned"] or 0)  # starts of clients that came again
        lines.append(f"pacing overruns: {pacing['overruns']} ({pacing['clients_affected']} clients); "
                     f"clients started {starts['clients_started']}/{planned}"
                     + (f" ({starts['clients_planned']} clients, {again} restarted in a later stage)"
                        if again > 0 else "")
                     + f", {starts['late_clients']} late (max {starts['max_late'] * 1000:.0f} ms)")
    ends = sorted({core["end"] for core in summary["cores"]})
    lines.append(f"load processes: {len(summary['cores'])}, ended: {', '.join(ends) or 'none'}")
    loads = [core["load"] for core in summary["cores"] if (core.get("load") or {}).get("seconds")]
    if loads:
        lines.append(f"load generator: CPU up to {100 * max(load['cpu_max'] for load in loads):.0f} %, "
                     f"event-loop lag up to {max(load['lag_max_ms'] for load in loads):.0f} ms; "
                     f"{len(summary.get('generator_limited') or [])}/{len(summary['cores'])} cores generator-limited")
    lines.extend(f"WARNING: {message}" for message in summary.get("generator_limited") or [])
    if summary.get("iteration_warning"):
        lines.append(f"WARNING: {summary['iteration_warning']}")
    lines.extend(f"WARNING: {message}" for message in summary.get("warnings") or [])
    return lines
