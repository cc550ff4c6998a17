"""Histogram, record format, merge and summary of results (pure Python)."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    end_record, histogram_growth, locustfile_verdict, meta_record, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize
from ansible_collections.romram.hailstorms.plugins.module_utils.records import bucket_of, bucket_width, Histogram

latencies = st.lists(st.floats(min_value=0, max_value=120_000, allow_nan=False), max_size=300)


@given(st.integers(0, 10**10))
def test_bucket_holds_the_value_and_keeps_three_significant_digits(us):
    lower = bucket_of(us)
    assert lower <= us < lower + bucket_width(lower)
    assert bucket_of(lower) == lower
    if us >= 1000:
        assert bucket_width(lower) / lower <= 0.01


@settings(max_examples=200)
@given(st.lists(latencies, min_size=1, max_size=6))
def test_merge_is_exact_in_any_order_and_through_json(parts):
    whole = Histogram()
    for part in parts:
        for ms in part:
            whole.record_ms(ms)
    merged = Histogram()
    for part in reversed(parts):
        h = Histogram()
        for ms in part:
            h.record_ms(ms)
        merged.merge(json.loads(json.dumps(h.to_json())))  # as written to core-N.jsonl
    assert merged == whole
    assert merged.count == sum(len(p) for p in parts)


@settings(max_examples=200)
@given(st.lists(st.floats(min_value=0.001, max_value=60_000, allow_nan=False), min_size=1, max_size=300),
       st.sampled_from([50, 95, 99, 100]))
def test_percentile_is_within_one_bucket_of_the_exact_value(values, q):
    h = Histogram()
    for ms in values:
        h.record_ms(ms)
    exact = sorted(values)[max(1, math.ceil(q / 100 * len(values))) - 1]  # nearest rank
    got = h.percentile(q)
    assert got == pytest.approx(exact, rel=0.011, abs=0.0011)


@settings(max_examples=200)
@given(latencies, latencies, st.sampled_from([50.0, 95.0, 99.0, 100.0]))
def test_the_growth_of_a_cumulative_histogram_is_the_histogram_of_the_interval(before, interval, q):
    """A status file's histogram so far, read twice (through JSON, as the controller gets it): the
    difference is exactly the histogram of what was recorded in between, so are its percentiles."""
    earlier, later, alone = Histogram(), Histogram(), Histogram()
    for ms in before:
        earlier.record_ms(ms)
        later.record_ms(ms)
    for ms in interval:
        later.record_ms(ms)
        alone.record_ms(ms)
    grown = histogram_growth(json.loads(json.dumps(later.to_json())), json.loads(json.dumps(earlier.to_json())))
    assert grown == alone and grown.percentile(q) == alone.percentile(q)
    assert histogram_growth(later.to_json(), None) == later


def test_a_bucket_that_shrank_gained_nothing():
    """A process whose last status lost its histogram (a failed core's) takes nothing from the others' growth."""
    assert histogram_growth({"1000": 5, "2000": 3}, {"1000": 2, "2000": 7, "3000": 1}).to_json() == {"1000": 3}


def test_empty_histogram_has_no_percentiles():
    assert Histogram().percentile(50) is None


def _stats(seconds, **kw):
    return stats_record(seconds, **kw)


def _cell(n, failures=0, ms=10.0, errors=None):
    h = Histogram()
    h.record_ms(ms, n)
    return {"requests": n, "failures": failures, "bytes": 5 * n, "time_us": int(ms * 1000) * n,
            "errors": errors or {}, "hist": h.counts}


def _write(path, records):
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def test_merge_of_jsonl_files_sums_deltas(tmp_path):
    a = tmp_path / "h1" / "core-0.jsonl"
    b = tmp_path / "h2" / "core-0.jsonl"
    a.parent.mkdir()
    b.parent.mkdir()
    _write(a, [
        meta_record(host="h1", core=0, clients=2, start_delay=0.0),
        _stats({0: {"/a": _cell(3)}}, active={0: 2}, started=2),
        _stats({0: {"/a": _cell(1)}, 1: {"/b": _cell(2, 1, errors={"HTTP 500": 1})}}, active={1: 2},
               overruns={7: 1}),
        end_record("done", requests=6),
    ])
    _write(b, [
        meta_record(host="h2", core=0, clients=1, start_delay=0.4),
        _stats({1: {"/a": _cell(4, ms=100.0)}}, active={1: 1}, late={3: 0.4}, started=1, overruns={7: 2}),
    ])
    with open(b, "a", encoding="utf-8") as handle:
        handle.write('{"type": "stats", "seconds": {"2": ')  # a writer killed mid-line
    merged = merge([a, b])
    assert merged["seconds"][0]["/a"]["requests"] == 4
    assert merged["seconds"][1]["/a"]["requests"] == 4
    assert merged["seconds"][1]["/b"]["errors"] == {"HTTP 500": 1}
    assert merged["active"] == {0: 2, 1: 3}
    assert merged["overruns"] == {7: 3}
    assert merged["late"] == {3: 0.4}
    assert merged["started"] == 3
    assert [c["bad_lines"] for c in merged["cores"]] == [0, 1]
    # the same records merged in another order give the same result
    again = merge([b, a])
    assert again["seconds"] == merged["seconds"] and again["active"] == merged["active"]

    summary = summarize(merged, {"rps": 4, "rampup": 1, "constant": 1, "clients": 3,
                                 "expected_requests": 10})
    assert summary["requests"] == 10 and summary["failures"] == 1
    assert summary["constant_phase"] == {"from": 1, "to": 2, "requests": 6, "failures": 1, "rps": 6.0,
                                         "succeeded_rps": 5.0, "target_rps": 4.0, "ratio": 1.5,
                                         "succeeded_ratio": 1.25}
    assert summary["failures_by_kind"] == {"HTTP 500": 1}
    assert summary["pacing"] == {"overruns": 3, "clients_affected": 1}
    assert summary["starts"]["late_clients"] == 1 and summary["starts"]["clients_started"] == 3
    assert summary["latency"]["labels"]["/a"]["p50_ms"] == pytest.approx(10.0, rel=0.01)
    assert summary["latency"]["overall"]["p99_ms"] == pytest.approx(100.0, rel=0.01)
    assert summary["series"] == [{"second": 0, "requests": 4, "failures": 0, "active": 2},
                                 {"second": 1, "requests": 6, "failures": 1, "active": 3}]
    cores = {c["host"]: c for c in summary["cores"]}
    assert cores["h1"]["end"] == "done" and cores["h2"]["end"].startswith("missing")
    assert cores["h2"]["start_delay"] == 0.4 and cores["h2"]["late_clients"] == 1
    json.dumps(summary)  # JSON-serializable as written to summary.json


def test_no_constant_phase_gives_none():
    summary = summarize(merge([]), {"rps": 5, "rampup": 10, "constant": 0})
    assert summary["constant_phase"] is None and summary["requests"] == 0 and summary["series"] == []


def test_a_cores_verdict_is_read_from_its_end_record_none_when_not_set():
    """process_exit_code as the locustfile left it (0 is a verdict); a 1.0.0 record wrote 0 for none."""
    assert locustfile_verdict({"process_exit_code": 0}) == 0
    assert locustfile_verdict({"process_exit_code": 2}) == 2
    assert locustfile_verdict({"process_exit_code": None}) is None
    assert locustfile_verdict({"locustfile_exit_code": 0}) is None
    assert locustfile_verdict({"locustfile_exit_code": 3}) == 3
    assert locustfile_verdict({}) is None
