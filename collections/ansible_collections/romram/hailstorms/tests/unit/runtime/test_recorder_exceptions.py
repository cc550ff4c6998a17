"""Exceptions raised in a locustfile's tasks are recorded by kind with one traceback, and merge."""
from __future__ import annotations

import sys

from hailstorm_runtime.records import meta_record
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import compact_core, read_records
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize, summary_lines
from hailstorm_runtime.recorder import Recorder


def raise_and_record(recorder: Recorder, exception: Exception) -> None:
    try:
        raise exception
    except Exception as error:  # noqa: BLE001 - as Locust hands it to user_error
        recorder.on_user_error(user_instance=None, exception=error, tb=sys.exc_info()[2])


def test_exceptions_are_counted_by_kind_with_one_traceback_and_merged(tmp_path):
    recorder = Recorder(str(tmp_path), 0, 1000.0, now=lambda: 1001.0)
    recorder.write(meta_record(host="h", core=0, start_time=1000.0))
    for _attempt in range(3):
        raise_and_record(recorder, KeyError("token"))
    raise_and_record(recorder, ValueError("bad json\nsecond line"))
    recorder.flush()
    raise_and_record(recorder, KeyError("token"))
    recorder.flush()
    recorder.close()
    merged = merge([tmp_path / "core-0.jsonl"])
    summary = summarize(merged, {"rps": 1, "rampup": 1, "constant": 0})
    assert [(row["kind"], row["count"]) for row in summary["exceptions"]] == [("KeyError: 'token'", 4),
                                                                              ("ValueError: bad json", 1)]
    assert "raise exception" in summary["exceptions"][0]["traceback"]
    assert "locustfile exception x4: KeyError: 'token'" in summary_lines(summary)
    # compacted on the host, the same
    records, _bad = read_records(tmp_path / "core-0.jsonl")
    assert merge([compact_core(records)])["exceptions"] == merged["exceptions"]
