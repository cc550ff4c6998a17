# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Records: what the runtime on a load host writes. The latency histogram, the core-N.jsonl
record format, text made safe where it is recorded, and the generator-limit (saturation) rule.

Pure Python (no Ansible, no Locust), importing nothing of the collection: the runtime ships it
(runtime/hailstorm_runtime/records.py is a symlink to this file). Reading a load host's records
and its host file is hostfile.py's; merging and summarizing them is summary.py's.

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
          lateness of an event-loop timer probed every LAG_PROBE_EVERY s, "wait" (absent in older
          records and where the kernel keeps no schedstat): fraction of the second its event loop
          waited on a run queue for a CPU that other work held}
Merging (summary.py) is summing deltas, so it is exact whatever the number and order of records
and cores;
LOAD samples belong to one process and are kept per core (a second is sampled once).

Generator limit: a second is over the limit when the process used more than SATURATION_CPU of a
CPU or its event loop ran timers more than SATURATION_LAG late on average; more than
SATURATION_SECONDS such seconds in a row mean the load process itself, not the target, set the
pace, and its results say so (`generator_limited`). When most of its seconds over the limit were
`starved` (the event loop waited for a CPU at least as long as it ran, and at least STARVED_WAIT of
the second), other work on the load host held the CPU, not this plan's rate, and the message says
that instead of "plan fewer rps per core".

Histogram: log-linear buckets of 3 significant digits over integer microseconds (exact under
1 ms, relative width under 1 % above), keyed by the bucket's lower bound. Two histograms
merge by adding counts per key, without loss; percentiles come from the merged buckets.
"""
from __future__ import annotations

import html
import math
import re
import unicodedata
from typing import Any, Mapping

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
STARVED_WAIT = 0.05  # fraction of a second over the limit waited for a CPU (at least as long as it ran): starved


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
    scenarios: Mapping[str, Mapping[int, Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    record = {
        "type": "stats",
        "time": time,
        "seconds": {str(s): {label: cell_json(c) for label, c in labels.items()} for s, labels in seconds.items()},
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
    if scenarios:  # hailstorm_scenarios: each scenario's requests per second, {scenario: {second: cell}}
        record["scenarios"] = {name: {str(s): cell_json(c) for s, c in cells.items()}
                               for name, cells in scenarios.items()}
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


def cell_json(cell: Mapping[str, Any]) -> dict[str, Any]:
    out = {field: int(cell.get(field, 0)) for field in CELL_FIELDS}
    out["errors"] = dict(cell.get("errors") or {})
    out["hist"] = {str(k): n for k, n in sorted((cell.get("hist") or {}).items(), key=lambda kv: int(kv[0]))}
    if cell.get("sched_hist"):
        out["sched_time_us"] = int(cell.get("sched_time_us", 0))
        out["sched_hist"] = {str(k): n for k, n in sorted(cell["sched_hist"].items(), key=lambda kv: int(kv[0]))}
    return out


def load_sample(cpu: float, lag_mean: float, lag_max: float, wait: float | None = None) -> dict[str, float]:
    """One second of a load process's own load (LOAD in the record format); lags in seconds;
    `wait` (None: unknown) the fraction of the second its event loop waited for a CPU, at most 1 (the
    kernel adds a wait up when the wait ends, so a long one may land in the next second)."""
    sample = {"cpu": round(cpu, 4), "lag_ms": round(lag_mean * 1000.0, 3), "lag_max_ms": round(lag_max * 1000.0, 3)}
    if wait is not None:
        sample["wait"] = round(min(1.0, max(0.0, wait)), 4)
    return sample


def over_limit(sample: Mapping[str, Any]) -> bool:
    """Whether one LOAD sample is over the generator limit (CPU or mean event-loop lag)."""
    return (float(sample.get("cpu", 0.0)) > SATURATION_CPU
            or float(sample.get("lag_ms", 0.0)) > SATURATION_LAG * 1000.0)


def starved(sample: Mapping[str, Any]) -> bool:
    """Whether a LOAD sample over the limit was other work's doing: its event loop waited for a
    CPU at least as long as it ran, and at least STARVED_WAIT of the second."""
    wait = float(sample.get("wait", 0.0))
    return over_limit(sample) and wait >= STARVED_WAIT and wait >= float(sample.get("cpu", 0.0))


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
    over = [sample for sample in samples if over_limit(sample)]
    waits = [float(sample["wait"]) for sample in samples if "wait" in sample]
    return {
        "seconds": len(samples),
        "cpu_mean": round(sum(cpu) / len(cpu), 4) if cpu else None,
        "cpu_max": round(max(cpu), 4) if cpu else None,
        "lag_ms_mean": round(sum(lag) / len(lag), 3) if lag else None,
        "lag_max_ms": round(max(float(sample.get("lag_max_ms", 0.0)) for sample in samples), 3) if samples else None,
        "limited_seconds": streak.limited_seconds,
        "limited_from": streak.first_limited,
        "generator_limited": streak.limited,
        "wait_max": round(max(waits), 4) if waits else None,
        # most seconds over the limit waited for a CPU that other work held: not this plan's load
        "starved": bool(over) and 2 * sum(1 for sample in over if starved(sample)) > len(over),
        **stall_figures(dict(zip(seconds, samples))),
    }


def stall_figures(load: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """A core's stalls (monitor.py): how many, their seconds in all, the longest, the second the
    first began, and the CPU the process used and the share of time it waited on a run queue for a
    CPU (None without schedstat) in the samples that ended them."""
    stalls = [(sec, sample) for sec, sample in sorted(load.items()) if sample.get("stall_ms")]
    lengths = [float(sample["stall_ms"]) for _sec, sample in stalls]
    return {"stalls": len(stalls),
            "stalled_seconds": round(sum(lengths) / 1000.0, 3),
            "stall_max_ms": max(lengths, default=None),
            "stalled_from": math.floor(stalls[0][0] + 0.5 - lengths[0] / 1000.0) if stalls else None,
            "stall_cpu_max": max((float(sample.get("cpu", 0.0)) for _sec, sample in stalls), default=None),
            "stall_wait_max": max((float(sample["wait"]) for _sec, sample in stalls if "wait" in sample), default=None)}


# the fix for a core that other work on its host kept from its CPU (generator-limited or stalled)
OWN_CPUS_FIX = ("give the load processes CPUs of their own (stop the other work, or fewer hailstorm_cores than the host "
                "has CPUs) or use another load host")


def stall_message(host: Any, core: Any, figures: Mapping[str, Any]) -> str:
    """What the summary and the run state say of a core that stalled: the load generator, not the
    target, made requests late and responses slow."""
    cpu, wait = float(figures.get("stall_cpu_max") or 0.0), float(figures.get("stall_wait_max") or 0.0)
    fix = ""
    if wait >= STARVED_WAIT and wait >= cpu:  # runnable, on a run queue: other work held the CPU
        how = (f"it waited for a CPU up to {100 * wait:.0f} % of the time and ran at most {100 * cpu:.0f} %: other "
               "work on the load host held its CPU")
        fix = f"; {OWN_CPUS_FIX}"
    elif cpu < STALL_IDLE_CPU:
        how = ("it used no CPU then and did not wait for one: the process was not scheduled (stopped with SIGSTOP, "
               "a paused VM, memory pressure)")
    else:
        how = "code that does not yield to the event loop, or a starved CPU"
    return (f"{host} core {core} stalled for {figures['stalled_seconds']:.1f} s ({figures['stalls']} stall(s) of at "
            f"least {STALL_SECONDS:g} s, the longest {float(figures['stall_max_ms']) / 1000.0:.1f} s, the first from "
            f"second {figures['stalled_from']}; {how}): its requests due then were late and its responses in flight "
            f"then include the stall, so these are the load generator's figures, not the target's{fix}")


def generator_limited_message(host: Any, core: Any, figures: Mapping[str, Any] | None = None) -> str:
    """What the summary, the report and the progress lines say of a generator-limited core: its
    own load (plan fewer rps per core) or, `starved` in its figures, other work on its host."""
    if figures and figures.get("starved"):
        when = (f"event loop over {1000 * SATURATION_LAG:.0f} ms late for {figures['limited_seconds']} s from second "
                f"{figures['limited_from']} while " if figures.get("limited_from") is not None else "")
        return (f"results from {host} core {core} are generator-limited by other work on the load host, not by "
                f"this plan's rate ({when}it waited for a CPU up to {100 * float(figures.get('wait_max') or 0):.0f} % of "
                f"a second and used at most {100 * float(figures.get('cpu_max') or 0):.0f} % itself): its requests went "
                f"out late, so these are the load generator's figures, not the target's; {OWN_CPUS_FIX}")
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


# --- phases ---------------------------------------------------------------------------------

def plan_phases(plan: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """The named parts of a plan's time axis, (name, start, end): ramp-up, constant and ramp-down
    of a trapezoid; each stage of a staged plan (its `name`, else "stage N", N from 1). Here, not
    in summary.py, because the runtime labels its live metrics with them (metrics.py)."""
    stages = plan.get("stages")
    if stages:
        return [(str(stage.get("name") or f"stage {i + 1}"), float(stage["start"]),
                 float(stage["start"]) + float(stage["duration"])) for i, stage in enumerate(stages)]
    rampup, constant = float(plan.get("rampup", 0) or 0), float(plan.get("constant", 0) or 0)
    rampdown = float(plan.get("rampdown", 0) or 0)
    return [(name, start, end) for name, start, end in (
        ("ramp-up", 0.0, rampup), ("constant", rampup, rampup + constant),
        ("ramp-down", rampup + constant, rampup + constant + rampdown)) if end > start]
