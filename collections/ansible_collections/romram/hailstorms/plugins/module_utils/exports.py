# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exports of a merged run for tools people already have: Locust's CSV layout and a merged JTL.

Pure Python (no Ansible, no Locust). The column headers are Locust 2.x's (locust/stats.py,
StatsCSV and StatsCSVFileWriter, with the default PERCENTILES_TO_REPORT); the values come from
the merged histograms (records.py), never from averaged percentiles. What differs from a Locust
run: the failures' Error column holds the failure kind, and <prefix>_exceptions.csv counts the locustfile's own
exceptions by kind (class and first line of the message) with one traceback each.

Text cells that a spreadsheet would read as a formula (a request name, a failure's text or a
traceback that starts with =, +, -, @, a tab or a carriage return) are written with a leading
single quote, as OWASP advises against CSV injection (`safe_cell`): in the CSV files and in the
label and message columns of results.jtl. Numbers are written as they are.
"""
from __future__ import annotations

import csv
import heapq
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils.contract import CSV_SCHEDULE_SUFFIX, CSV_SUFFIXES
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    empty_cell, Histogram, merge_cell, split_label)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import failures_by_label, label_cells

LOCUST_PERCENTILES = (0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)


def readable_percentiles(percentiles: Iterable[float] = LOCUST_PERCENTILES) -> list[str]:
    """Locust's get_readable_percentiles: 0.5 -> '50%', 0.999 -> '99.9%'."""
    return [f"{int(p * 100) if (p * 100).is_integer() else round(100 * p, 6)}%" for p in percentiles]


STATS_COLUMNS = ["Type", "Name", "Request Count", "Failure Count", "Median Response Time",
                 "Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
                 "Requests/s", "Failures/s", *readable_percentiles()]
HISTORY_COLUMNS = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *readable_percentiles(),
                   "Total Request Count", "Total Failure Count", "Total Median Response Time",
                   "Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
                   "Total Average Content Size"]
# after Locust's own columns (tools that read them by name are unaffected): each row's second as
# wall-clock time (ISO 8601 with zone, to find it in other tools) and as seconds since the start
CLOCK_COLUMNS = ["Time (ISO 8601)", "Seconds Since Start"]
FAILURES_COLUMNS = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
EXCEPTIONS_COLUMNS = ["Count", "Message", "Traceback", "Nodes"]
JTL_TEXT_COLUMNS = ("label", "responseCode", "responseMessage", "threadName", "failureMessage")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet shows as text and never runs: a string that starts with
    one of FORMULA_START gets a leading single quote (OWASP, "CSV Injection"); anything else,
    numbers included, is returned as it is."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def start_time(merged: Mapping[str, Any]) -> float | None:
    """The run's shared start (epoch seconds) as the load processes recorded it."""
    for core in merged.get("cores", []):
        value = (core.get("meta") or {}).get("start_time")
        if value is not None:
            return float(value)
    return None


def iso_time(epoch: float) -> str:
    """Wall-clock time as ISO 8601 with its zone (UTC), to the millisecond."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def run_clock(merged: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run's wall-clock start and end (summary.json's `clock`): the shared start the load
    processes recorded and the end of the last second they recorded anything in (requests or
    active clients), as ISO 8601 with zone and as epoch seconds, with the seconds between; None
    for records without a start time."""
    start = start_time(merged)
    if start is None:
        return None
    seconds = [int(s) for s in merged.get("seconds", {})] + [int(s) for s in merged.get("active", {})]
    end = start + (max(seconds) + 1 if seconds else 0)
    return {"start": iso_time(start), "end": iso_time(end), "start_epoch": round(start, 3),
            "end_epoch": round(end, 3), "seconds": round(end - start, 3)}


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pct(hist: Histogram, q: float) -> int:
    value = hist.percentile(100.0 * q)
    return int(round(value)) if value is not None else 0


def _stats_row(label: str, cell: Mapping[str, Any], seconds: int) -> list[Any]:
    method, name = (safe_cell(part) for part in split_label(label)) if label != "Aggregated" else ("", label)
    hist, n = Histogram(cell["hist"]), int(cell["requests"])
    if not n:
        return [method, name, 0, int(cell["failures"]), 0, 0, 0, 0, 0, 0, 0, *(["N/A"] * len(LOCUST_PERCENTILES))]
    return [method, name, n, int(cell["failures"]), _pct(hist, 0.5), round(cell["time_us"] / n / 1000.0, 3),
            round(hist.percentile(0) or 0, 3), round(hist.percentile(100) or 0, 3),
            round(cell["bytes"] / n, 2), round(n / seconds, 3), round(cell["failures"] / seconds, 3),
            *(_pct(hist, q) for q in LOCUST_PERCENTILES)]


def _rows_text(columns: list[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def locust_csv(merged: Mapping[str, Any]) -> dict[str, str]:
    """The CSV files' text by suffix: Locust's four (_stats.csv, _stats_history.csv, _failures.csv,
    _exceptions.csv: contract.CSV_SUFFIXES) and, for records with response times from schedule,
    contract.CSV_SCHEDULE_SUFFIX (an extra file beside Locust's four: _stats.csv's layout with every
    response time from schedule, from the slot the request's iteration was due at, queueing
    included; records.py, CELL)."""
    t0 = start_time(merged) or 0.0
    seconds_map: Mapping[int, Mapping[str, Mapping[str, Any]]] = merged["seconds"]
    secs = sorted(int(s) for s in seconds_map)
    span = (secs[-1] - secs[0] + 1) if secs else 1
    labels = label_cells(merged)
    total = empty_cell()
    for cell in labels.values():
        merge_cell(total, cell)
    stats = [_stats_row(label, cell, span) for label, cell in sorted(labels.items(), key=lambda kv: split_label(kv[0])[::-1])]
    stats.append(_stats_row("Aggregated", total, span))

    history = []
    running = empty_cell()
    active: Mapping[int, int] = merged.get("active", {})
    for sec in secs:
        second = empty_cell()
        for cell in seconds_map[sec].values():
            merge_cell(second, cell)
        merge_cell(running, second)
        hist, n = Histogram(second["hist"]), int(second["requests"])
        whole, total_n = Histogram(running["hist"]), int(running["requests"])
        history.append([
            int(t0 + sec), int(active.get(sec, 0)), "", "Aggregated",
            f"{float(n):2f}", f"{float(second['failures']):2f}",
            *((_pct(hist, q) for q in LOCUST_PERCENTILES) if n else ["N/A"] * len(LOCUST_PERCENTILES)),
            total_n, int(running["failures"]), _pct(whole, 0.5),
            round(running["time_us"] / total_n / 1000.0, 3) if total_n else 0,
            round(whole.percentile(0) or 0, 3), round(whole.percentile(100) or 0, 3),
            round(running["bytes"] / total_n, 2) if total_n else 0, iso_time(t0 + sec), sec])

    failure_rows = [[*(safe_cell(part) for part in split_label(label)), safe_cell(kind), n, _utc(t0 + first),
                     _utc(t0 + last)]
                    for (label, kind), (n, first, last) in failures_by_label(merged)]
    stats_csv, history_csv, failures_csv, exceptions_csv = CSV_SUFFIXES
    out = {
        stats_csv: _rows_text(STATS_COLUMNS, stats),
        history_csv: _rows_text(HISTORY_COLUMNS + CLOCK_COLUMNS, history),
        failures_csv: _rows_text(FAILURES_COLUMNS, failure_rows),
        exceptions_csv: _rows_text(EXCEPTIONS_COLUMNS, [
            [row["count"], safe_cell(kind), safe_cell(row["traceback"]), ""]
            for kind, row in sorted((merged.get("exceptions") or {}).items(), key=lambda kv: (-kv[1]["count"], kv[0]))]),
    }
    if total.get("sched_hist"):  # the same layout, response times from schedule (records.py, CELL)
        def scheduled(cell: Mapping[str, Any]) -> dict[str, Any]:
            return {**cell, "hist": cell.get("sched_hist") or {}, "time_us": cell.get("sched_time_us", 0)}

        rows = [_stats_row(label, scheduled(cell), span)
                for label, cell in sorted(labels.items(), key=lambda kv: split_label(kv[0])[::-1])]
        rows.append(_stats_row("Aggregated", scheduled(total), span))
        out[CSV_SCHEDULE_SUFFIX] = _rows_text(STATS_COLUMNS, rows)
    return out


def _jtl_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        return [], []
    header, body = rows[0], rows[1:]
    body = [row for row in body if len(row) == len(header) and row[0].isdigit()]  # a cut last line
    text = [k for k, column in enumerate(header) if column in JTL_TEXT_COLUMNS]
    for row in body:
        for k in text:
            row[k] = safe_cell(row[k])
    body.sort(key=lambda row: int(row[0]))
    return header, body


def merge_jtl(paths: Iterable[str | Path], dest: str | Path) -> int:
    """Merge the cores' JTL files into one, rows ordered by timeStamp; returns the row count.
    Each core's rows are read and sorted in memory (a core appends them as responses end, not
    in start order), then the cores are merged. Text columns (JTL_TEXT_COLUMNS) go through safe_cell."""
    header: list[str] | None = None
    parts: list[Iterator[list[str]]] = []
    for path in sorted(paths):
        head, body = _jtl_rows(Path(path))
        if not head:
            continue
        if header is None:
            header = head
        elif head != header:
            raise ValueError(f"{path}: JTL columns {head} differ from {header}")
        parts.append(iter(body))
    count = 0
    tmp = Path(str(dest) + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if header is not None:
            writer.writerow(header)
            for row in heapq.merge(*parts, key=lambda row: int(row[0])):
                writer.writerow(row)
                count += 1
    tmp.replace(dest)
    return count
