"""Merged percentiles against brute force, Locust's CSV layout, the merged JTL."""
from __future__ import annotations

import csv
import io
import math
import random

import pytest
from locust import stats as locust_stats

from ansible_collections.romram.hailstorms.plugins.module_utils import contract
from ansible_collections.romram.hailstorms.plugins.module_utils import exports
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    empty_cell, end_record, Histogram, meta_record, split_label, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import PERCENTILES, merge, summarize
from ansible_collections.romram.hailstorms.plugins.module_utils.records import bucket_of, bucket_width


def core_records(samples: list[tuple[int, str, float, bool]]) -> list[dict]:
    """One core's records for raw samples (second, label, ms, failed), flushed in three parts."""
    records = [meta_record(host="h", core=0, start_time=1_700_000_000.0)]
    for part in range(3):
        seconds: dict = {}
        for sec, label, ms, failed in samples[part::3]:
            cell = seconds.setdefault(sec, {}).setdefault(label, empty_cell())
            hist = Histogram(cell["hist"])
            hist.record_ms(ms)
            cell["hist"] = hist.counts
            cell["requests"] += 1
            cell["failures"] += int(failed)
            cell["time_us"] += int(ms * 1000)
            if failed:
                cell["errors"]["HTTP 503"] = cell["errors"].get("HTTP 503", 0) + 1
        records.append(stats_record(seconds, time=1_700_000_000.0 + part))
    records.append(end_record("done"))
    return records


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100.0 * len(ordered))) - 1]


def tolerance(ms: float) -> float:
    """The histogram's stated precision around a true value: half its bucket plus the µs cut."""
    return (bucket_width(bucket_of(int(ms * 1000))) / 2 + 1) / 1000.0


@pytest.mark.parametrize("seed", range(8))
def test_merged_percentiles_match_brute_force_within_the_histograms_precision(seed):
    rng = random.Random(seed)
    cores = []
    raw: dict[str, list[float]] = {"/a": [], "/b": []}
    for _core in range(rng.randint(2, 6)):
        samples = []
        for _sample in range(rng.randint(50, 3000)):
            label = rng.choice(("/a", "/b"))
            ms = rng.lognormvariate(math.log(rng.choice((0.4, 8, 120))), 1.0)
            samples.append((rng.randint(0, 9), label, ms, rng.random() < 0.05))
            raw[label].append(ms)
        cores.append(core_records(samples))
    merged = merge(cores)
    summary = summarize(merged, {"rps": 1})
    everything = raw["/a"] + raw["/b"]
    for label, values in [*raw.items(), ("all", everything)]:
        row = summary["latency"]["overall"] if label == "all" else summary["latency"]["labels"][label]
        assert row["count"] == len(values)
        for key, q in [*PERCENTILES, ("min_ms", 0.0), ("max_ms", 100.0)]:
            true = nearest_rank(values, q) if q else min(values)
            assert abs(row[key] - true) <= tolerance(true), (label, key, row[key], true)
            assert abs(row[key] - true) <= 0.005 * true + 0.0015  # 3 significant digits, 1 µs cut


def test_csv_headers_are_locusts_own(tmp_path):
    class Env:  # Locust's writers keep the environment; their columns need nothing from it
        stats = runner = None
    writer = locust_stats.StatsCSVFileWriter(Env(), locust_stats.PERCENTILES_TO_REPORT, str(tmp_path / "x"))
    try:
        assert exports.STATS_COLUMNS == writer.requests_csv_columns
        assert exports.HISTORY_COLUMNS == writer.stats_history_csv_columns
        assert exports.FAILURES_COLUMNS == writer.failures_columns
        assert exports.EXCEPTIONS_COLUMNS == writer.exceptions_columns
    finally:
        writer.close_files()
    assert sorted(f"x{suffix}" for suffix in contract.CSV_SUFFIXES) == sorted(p.name for p in tmp_path.iterdir())


def test_locust_csv_rows_come_from_the_merged_histograms():
    samples = [(sec, "/a", 10.0 * (i + 1), i == 0) for sec in range(4) for i in range(10)]
    merged = merge([core_records(samples), core_records([(1, "/b", 2.0, False)])])
    files = exports.locust_csv(merged)
    stats = list(csv.DictReader(io.StringIO(files["_stats.csv"])))
    assert [row["Name"] for row in stats] == ["/a", "/b", "Aggregated"]
    a = stats[0]
    assert (a["Request Count"], a["Failure Count"], a["Median Response Time"], a["100%"]) == ("40", "4", "50", "100")
    assert float(a["Requests/s"]) == 10.0 and float(a["Average Response Time"]) == pytest.approx(55.0)
    assert stats[2]["Request Count"] == "41"
    history = list(csv.DictReader(io.StringIO(files["_stats_history.csv"])))
    assert [int(row["Timestamp"]) for row in history] == [1_700_000_000 + s for s in range(4)]
    assert [row["Total Request Count"] for row in history] == ["10", "21", "31", "41"]
    assert history[1]["Requests/s"] == "11.000000"
    failures = list(csv.DictReader(io.StringIO(files["_failures.csv"])))
    assert failures == [{"Method": "", "Name": "/a", "Error": "HTTP 503", "Occurrences": "4",
                         "First Seen": "2023-11-14T22:13:20Z", "Last Seen": "2023-11-14T22:13:23Z"}]
    assert files["_exceptions.csv"].strip() == "Count,Message,Traceback,Nodes"


def test_locust_csv_has_the_method_in_its_type_column_and_keeps_methods_apart():
    samples = [(0, "GET /x", 5.0, False), (0, "POST /x", 7.0, True), (1, "GET /a b", 3.0, False)]
    files = exports.locust_csv(merge([core_records(samples)]))
    stats = list(csv.DictReader(io.StringIO(files["_stats.csv"])))
    assert [(row["Type"], row["Name"], row["Request Count"]) for row in stats] == [
        ("GET", "/a b", "1"), ("GET", "/x", "1"), ("POST", "/x", "1"), ("", "Aggregated", "3")]
    failures = list(csv.DictReader(io.StringIO(files["_failures.csv"])))
    assert [(row["Method"], row["Name"]) for row in failures] == [("POST", "/x")]
    assert split_label("GET /a b") == ("GET", "/a b") and split_label("/old") == ("", "/old")


def test_merged_jtl_orders_every_row_by_time_and_drops_a_cut_line(tmp_path):
    header = ["timeStamp", "elapsed", "label"]
    rows_a = [[str(t), "1", "/a"] for t in (5, 1, 9)]
    rows_b = [[str(t), "2", "/b"] for t in (2, 8)]
    for name, rows, tail in (("a.jtl", rows_a, "12"), ("b.jtl", rows_b, "")):
        text = "\n".join(",".join(r) for r in [header, *rows]) + "\n" + tail
        (tmp_path / name).write_text(text)
    assert exports.merge_jtl([tmp_path / "a.jtl", tmp_path / "b.jtl"], tmp_path / "all.jtl") == 5
    got = list(csv.reader((tmp_path / "all.jtl").open()))
    assert got[0] == header and [int(r[0]) for r in got[1:]] == [1, 2, 5, 8, 9]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_text_that_a_spreadsheet_would_run_as_a_formula_is_written_quoted(start):
    name = start + "HYPERLINK(\"http://x\")"
    samples = [(0, f"GET {name}", 5.0, True), (0, "GET /plain", 5.0, False)]
    merged = merge([core_records(samples)])
    merged["exceptions"] = {f"{start}cmd|' /C calc'!A0": {"count": 1, "traceback": f"{start}1+1"}}
    files = exports.locust_csv(merged)
    stats = list(csv.DictReader(io.StringIO(files["_stats.csv"])))
    assert sorted(row["Name"] for row in stats) == sorted(["'" + name, "/plain", "Aggregated"])
    failures = list(csv.DictReader(io.StringIO(files["_failures.csv"])))
    assert [(row["Name"], row["Error"]) for row in failures] == [("'" + name, "HTTP 503")]
    exceptions = list(csv.DictReader(io.StringIO(files["_exceptions.csv"])))
    assert (exceptions[0]["Message"], exceptions[0]["Traceback"]) == (f"'{start}cmd|' /C calc'!A0", f"'{start}1+1")
    assert [row["Count"] for row in exceptions] == ["1"]


def test_the_merged_jtl_quotes_formula_text_and_keeps_numbers(tmp_path):
    header = ["timeStamp", "elapsed", "label", "responseCode", "success", "failureMessage", "bytes"]
    rows = [["1", "-1", "=1+1", "500", "false", "@SUM(A1)", "-3"], ["2", "4", "/ok", "200", "true", "", "0"]]
    with open(tmp_path / "core-0.jtl", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    assert exports.merge_jtl([tmp_path / "core-0.jtl"], tmp_path / "results.jtl") == 2
    got = list(csv.reader((tmp_path / "results.jtl").open()))
    assert got[1:] == [["1", "-1", "'=1+1", "500", "false", "'@SUM(A1)", "-3"], ["2", "4", "/ok", "200", "true", "", "0"]]


def test_the_run_and_each_history_row_carry_wall_clock_time_with_zone_beside_the_relative_time():
    samples = [(sec, "/a", 10.0, False) for sec in range(4)]
    merged = merge([core_records(samples)])
    clock = exports.run_clock(merged)
    # the shared start 1_700_000_000 (2023-11-14 22:13:20 UTC), four seconds recorded
    assert clock == {"start": "2023-11-14T22:13:20.000+00:00", "end": "2023-11-14T22:13:24.000+00:00",
                     "start_epoch": 1_700_000_000.0, "end_epoch": 1_700_000_004.0, "seconds": 4.0}
    history = list(csv.DictReader(io.StringIO(exports.locust_csv(merged)["_stats_history.csv"])))
    assert list(history[0])[:len(exports.HISTORY_COLUMNS)] == exports.HISTORY_COLUMNS  # Locust's own first
    assert [(row["Time (ISO 8601)"], row["Seconds Since Start"]) for row in history] == [
        (f"2023-11-14T22:13:2{s}.000+00:00", str(s)) for s in range(4)]
    assert exports.run_clock(merge([core_records(samples)[1:]])) is None  # no start recorded
