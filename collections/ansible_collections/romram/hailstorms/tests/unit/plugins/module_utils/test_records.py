"""records.py: the latency histogram and the record format (pure Python)."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    Histogram, bucket_of, bucket_width, histogram_growth, locustfile_verdict)

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


def test_a_cores_verdict_is_read_from_its_end_record_none_when_not_set():
    """process_exit_code as the locustfile left it (0 is a verdict); a 1.0.0 record wrote 0 for none."""
    assert locustfile_verdict({"process_exit_code": 0}) == 0
    assert locustfile_verdict({"process_exit_code": 2}) == 2
    assert locustfile_verdict({"process_exit_code": None}) is None
    assert locustfile_verdict({"locustfile_exit_code": 0}) is None
    assert locustfile_verdict({"locustfile_exit_code": 3}) == 3
    assert locustfile_verdict({}) is None
