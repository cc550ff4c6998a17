"""The merge never dies on a record: a line of a core file or a host file that is not UTF-8 JSON
of the record format is left out, counted and named (file, line, why) in the summary's warnings,
and the rest is merged; a text that is not safe is made so, named, and its figures kept."""
from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.romram.hailstorms.plugins.module_utils import report
from ansible_collections.romram.hailstorms.plugins.module_utils.records import end_record, meta_record, stats_record
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import (
    HOST_FILE, MAX_NAMED, run_sources, unpack_host_files, write_host_file)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize, summary_lines

PLAN = {"rps": 2, "clients": 2, "duration": 3, "expected_requests": 6, "hosts": {"h1": {"cores": [0], "requests": 6}}}


def cell(requests: int, failures: int = 0, errors: dict | None = None) -> dict:
    return {"requests": requests, "failures": failures, "bytes": 0, "time_us": 1000 * requests,
            "errors": errors or {}, "hist": {"1000": requests}}


def good_lines() -> list[bytes]:
    return [json.dumps(record).encode() for record in (
        meta_record(host="h1", core=0, start_time=1000.0, clients=2),
        stats_record({0: {"GET /a": cell(2)}}, time=1001.0),
        end_record("done", requests=5, failures=3))]


BAD_LINES = {
    b'{"type": "stats", "seconds": {"1": {"GET /a": {"requ': "not JSON",
    b'{"type": "stats", "seconds": {"1": {"GET /\xff": ' + json.dumps(cell(7)).encode() + b"}}}": "invalid UTF-8",
    json.dumps({"type": "stats", "seconds": {"1": {"GET /a": {**cell(1), "requests": "many"}}}}).encode():
        "field 'seconds' of a stats record is not of the record format",
    json.dumps({"type": "stats", "seconds": {"1": {"GET /a": cell(1)}}, "active": {"x": 1}}).encode():
        "field 'active' of a stats record is not of the record format",
    json.dumps({"type": "stats", "late": {"3": float("nan")}}).encode(): "field 'late'",
    json.dumps({"type": "meta", "start_time": "soon"}).encode(): "field 'start_time' of a meta record",
    json.dumps([1, 2]).encode(): "not a record (a JSON list",
}
# a surrogate (what json.loads gives for "\ud800"), kept with its figures, made safe
SURROGATE = json.dumps(stats_record({1: {"GET /a": cell(3, 3, {"failure: bad \ud800 text": 3})}},
                                    time=1002.0)).encode()


def core_file(path: Path) -> Path:
    lines = good_lines()
    path.write_bytes(b"\n".join(lines[:2] + list(BAD_LINES) + [SURROGATE] + lines[2:]) + b"\n")
    return path


def assert_named(warnings: list[str], where: str) -> None:
    for number, why in enumerate(BAD_LINES.values(), 3):  # the bad lines are lines 3-9
        assert any(w.startswith(f"{where}: line {number}: ") and why in w and w.endswith("left out")
                   for w in warnings), (number, why, warnings)
    assert any(w.startswith(f"{where}: line 10: text with a control character or an invalid character")
               for w in warnings), warnings


def test_a_core_file_with_bad_lines_merges_what_it_can_and_names_the_rest(tmp_path):
    path = core_file(tmp_path / "core-0.jsonl")
    merged = merge([path])
    summary = summarize(merged, PLAN)
    assert summary["requests"] == 5 and summary["failures"] == 3  # the failures behind a surrogate are failures
    assert summary["failures_by_kind"] == {"failure: bad \\ud800 text": 3}
    assert summary["cores"][0]["bad_lines"] == len(BAD_LINES)
    assert_named(summary["warnings"], str(path))
    assert len(summary["warnings"]) == len(BAD_LINES) + 1
    json.dumps(summary, ensure_ascii=False).encode("utf-8")  # nothing left that UTF-8 cannot hold
    lines = summary_lines(summary)
    assert f"WARNING: {path}: line 3: not JSON (" in "\n".join(lines)
    page = report.render(merged, summary, PLAN, [], None, {}, {}, None)
    page.encode("utf-8")
    assert "line 4: invalid UTF-8 (byte 42); left out" in page


def test_a_host_file_names_its_hosts_bad_lines_and_its_own(tmp_path):
    run = tmp_path / "work" / "run1"
    run.mkdir(parents=True)
    core_file(run / "core-0.jsonl")
    (run / "core-0.log").write_bytes(b"log \xff\n")
    write_host_file(run)
    fetched = tmp_path / "results" / "run1" / "h1"
    fetched.mkdir(parents=True)
    host_file = (run / HOST_FILE).read_bytes()
    (fetched / HOST_FILE).write_bytes(host_file + b'not json\n{"type": "core", "records": 3}\n'
                                      + b'{"type": "core", "source": "core-9.jsonl", "records": [{"type": '
                                      + b'"stats", "seconds": {"0": {"GET /b": {"requests": null}}}}]}\n')
    warnings: list[str] = []
    sources = run_sources(fetched.parent, warnings)
    merged = merge(sources, warnings)
    summary = summarize(merged, PLAN)
    assert summary["requests"] == 5 and summary["failures"] == 3
    from_host = [w.removeprefix("h1: ") for w in summary["warnings"] if w.startswith("h1: ")]
    assert_named(from_host, str(run / "core-0.jsonl"))
    lines = len(host_file.splitlines())
    assert f"h1/host.jsonl: line {lines + 1}: not JSON (Expecting value, column 1; cut by a kill?); left out" \
        in summary["warnings"]
    assert f"h1/host.jsonl: line {lines + 2} (None): no list of records; left out" in summary["warnings"]
    assert (f"h1/host.jsonl: line {lines + 3} (core-9.jsonl), record 1: field 'seconds' of a stats record is not of "
            "the record format; left out") in summary["warnings"]
    assert unpack_host_files(fetched.parent) == [str(fetched / "core-0.log")]
    assert (fetched / "core-0.log").read_text(encoding="utf-8") == "log \ufffd\n"  # the host's tail: decoded there
    assert not list(fetched.glob("*.tmp"))


def test_the_names_of_one_files_bad_lines_are_bounded(tmp_path):
    path = tmp_path / "core-0.jsonl"
    path.write_bytes(b"\n".join(good_lines() + [b"{cut"] * 50) + b"\n")
    warnings = merge([path])["warnings"]
    assert len(warnings) == MAX_NAMED + 1 and warnings[-1] == "... and 40 more such lines"
