"""summary.py: merging the records of many cores exactly, and the summary of a run (pure Python)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    Histogram, end_record, meta_record, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize


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
