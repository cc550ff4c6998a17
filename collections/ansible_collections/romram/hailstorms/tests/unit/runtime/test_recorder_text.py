"""Whatever text a locustfile or a target puts in a request's name, a failure or an exception, the
recorder writes it safe (records.safe_text) and counts the failure: the records stay UTF-8, the
JTL rows are written, two names that are one once cut are one label."""
from __future__ import annotations

import csv

from hailstorm_runtime.recorder import Recorder
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import read_records
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize

T0 = 1_795_000_000.0


class CatchResponseError(Exception):
    pass


class Page:
    status_code = 200
    reason = "OK\ud800"


def test_failures_with_any_text_are_failures_and_their_records_are_utf8(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0, jtl=True, now=lambda: T0 + 2.0)
    rec.meta(host="h", core=0, clients=1)
    for i in range(20):
        rec.on_request("GET", "/x", 1.0, 0, exception=CatchResponseError("bad \ud800 text"), start_time=T0 + 0.1,
                       response=Page())
        rec.jtl_row("h 0-0", 1, "GET", "/x\ud800", 1.0, 0, exception=CatchResponseError("bad \ud800 text\n<html>"),
                    start_time=T0 + 0.1, response=Page())
    rec.on_request("GET\x00", "/y\ud800\n", 1.0, 0, exception=ValueError("\udcff" * 500), start_time=T0 + 0.2)
    try:
        raise KeyError("key \ud800\x1b[0m")
    except KeyError as exc:
        rec.on_user_error(exception=exc, tb=exc.__traceback__)
    rec.end("done")
    assert rec.close() is None  # no write failed
    raw = (tmp_path / "core-0.jsonl").read_bytes()
    raw.decode("utf-8")
    records, bad = read_records(tmp_path / "core-0.jsonl", problems := [])
    assert bad == 0 and problems == []  # nothing for the merge to make safe: it was at record time
    summary = summarize(merge([records]), {"rps": 1})
    assert summary["requests"] == 21 and summary["failures"] == 21
    kinds = summary["failures_by_kind"]
    assert kinds["failure: bad \\ud800 text"] == 20
    assert kinds["ValueError: " + "\\udcff" * 120 + "…(380 more characters)"] == 1
    assert "GET\\x00 /y\\ud800\\n" in summary["latency"]["labels"]
    assert [row["kind"] for row in summary["exceptions"]] == ["KeyError: 'key \\ud800\\x1b[0m'"]
    assert "\\ud800" in summary["exceptions"][0]["traceback"] and "\n" in summary["exceptions"][0]["traceback"]
    with open(tmp_path / "core-0.jtl", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 21 and rows[1][2] == "/x\\ud800" and rows[1][4] == "OK\\ud800"
    assert rows[1][8] == "bad \\ud800 text [HTML page, HTTP 200, 6 characters: ]"


def test_names_the_same_once_cut_are_one_label(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 2.0)
    rec.on_request("GET", "/" + "a" * 600 + "1", 1.0, 0, start_time=T0 + 0.1)
    rec.on_request("GET", "/" + "a" * 600 + "2", 1.0, 0, exception=OSError("reset"), start_time=T0 + 0.1)
    rec.end("done")
    rec.close()
    merged = merge([tmp_path / "core-0.jsonl"])
    (label, cell), = merged["seconds"][0].items()
    assert label == "GET /" + "a" * 499 + "…(102 more characters)"
    assert (cell["requests"], cell["failures"]) == (2, 1)
