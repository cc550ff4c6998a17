"""The readable summary the collect role prints."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils.results import summary_lines

SUMMARY = {
    "requests": 520, "failures": 2, "failure_rate": 2 / 520, "expected_requests": 500.0,
    "constant_phase": {"from": 6, "to": 14, "rps": 39.875, "target_rps": 40.0, "ratio": 0.9969},
    "failures_by_kind": {"HTTP 503": 2},
    "latency": {"overall": {"p50_ms": 4.2, "p95_ms": 69.7, "p99_ms": 83.0},
                "labels": {"/a": {"requests": 500, "failures": 2, "p50_ms": 3.4, "p95_ms": 11.7, "p99_ms": 24.8},
                           "/slow": {"requests": 20, "failures": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}}},
    "pacing": {"overruns": 3, "clients_affected": 1},
    "starts": {"clients_started": 40, "clients_planned": 40, "late_clients": 1, "max_late": 0.012},
    "cores": [{"end": "done"}, {"end": "deadline"}],
}


def test_summary_lines_show_what_a_user_checks():
    lines = summary_lines(SUMMARY)
    assert lines[0] == "520 requests (planned 500), 2 failed (0.38 %)"
    assert lines[1] == "constant phase 6-14 s: 39.88 rps against 40 target (99.7 %)"
    assert "failure x2: HTTP 503" in lines
    assert any(line.split() == ["/a", "500", "2", "3.4", "11.7", "24.8"] for line in lines)
    assert any(line.split() == ["/slow", "20", "0", "-", "-", "-"] for line in lines)
    assert any(line.split() == ["all", "520", "2", "4.2", "69.7", "83.0"] for line in lines)
    assert "pacing overruns: 3 (1 clients); clients started 40/40, 1 late (max 12 ms)" in lines
    assert lines[-1] == "load processes: 2, ended: deadline, done"


def test_no_constant_phase_no_line():
    lines = summary_lines({**SUMMARY, "constant_phase": None})
    assert not any(line.startswith("constant phase") for line in lines)
