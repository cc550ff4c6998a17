# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A load host's results file (HOST_FILE, host.jsonl): its cores' records read and checked line
by line, compacted into one file on the load host (hailstorm_host_results), read back on the
controller, and the results directory's sources to merge (one host file per host, else its raw
core-N.jsonl files).

Pure Python (no Ansible, no Locust); imports records.py (the record format), never summary.py.
A line that cannot be merged (cut by a kill, not JSON, a field of the wrong type) is left out
and named; text that is not safe is made so, and named.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import contract
from .records import CELL_FIELDS, NAME_LIMIT, cell_json, empty_cell, merge_cell, merge_exceptions, safe_text

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
    "scenarios": lambda v: isinstance(v, dict) and all(isinstance(name, str) and _table(cells, _cell_ok)
                                                       for name, cells in v.items()),
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
    scenarios: dict[str, dict[str, dict[str, Any]]] = {}
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
            for name, cells in (record.get("scenarios") or {}).items():
                for sec, cell in cells.items():
                    merge_cell(scenarios.setdefault(str(name), {}).setdefault(str(sec), empty_cell()), cell)
            started += int(record.get("started", 0))
            if "iterations" in record:
                iterations = (iterations or 0) + int(record["iterations"])
            if record.get("overruns") or record.get("late"):
                events.append({"type": "stats", "time": record.get("time"), "seconds": {}, "active": {},
                               "overruns": dict(record.get("overruns") or {}), "late": dict(record.get("late") or {}),
                               "started": 0})
    compact: dict[str, Any] = {
        "type": "stats", "time": None, "started": started, "bad_lines": bad_lines,
        "seconds": {sec: {label: cell_json(cell) for label, cell in labels.items()} for sec, labels in seconds.items()},
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
    if scenarios:
        compact["scenarios"] = {name: {sec: cell_json(cell) for sec, cell in cells.items()}
                                for name, cells in scenarios.items()}
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
