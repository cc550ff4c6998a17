"""The runtime's recorder: hot-path cells become records.py records that merge exactly."""
from __future__ import annotations

import csv
import json
import tempfile

import pytest
from gevent import monkey
from hypothesis import given, strategies as st

from hailstorm_runtime.recorder import FileWriter, Recorder, failure_kind
from hailstorm_runtime.records import bucket_of, Histogram
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize

T0 = 1_795_000_000.0


class CatchResponseError(Exception):
    pass


class Response:
    status_code = 503
    reason = "Service Unavailable"


def test_requests_flush_to_stats_records_and_merge(tmp_path):
    now = [T0 + 0.5]
    rec = Recorder(str(tmp_path), 3, T0, jtl=True, now=lambda: now[0])
    rec.meta(host="h", core=3, clients=2)
    rec.client_started(11, 0.0)
    rec.client_started(13, 0.2)
    rec.on_request("GET", "/a", 12.3456, 10, start_time=T0 + 0.1)
    rec.on_request("GET", "/a", 1234.5, 10, start_time=T0 - 0.2)  # before the start: second -1
    rec.on_request("GET", "/b", 5.0, 0, exception=RuntimeError("x"), start_time=T0 + 1.9, response=Response())
    rec.jtl_row("h 3-11", 2, "GET", "/a", 12.3, 10, start_time=T0 + 0.1)
    rec.sample_active(0, 2)
    rec.flush()
    rec.on_request("GET", "/a", 20.0, 10, exception=CatchResponseError("bad body"), start_time=T0 + 0.9)
    rec.client_overrun(11)
    rec.end("done")
    rec.close()

    lines = [json.loads(line) for line in open(tmp_path / "core-3.jsonl", encoding="utf-8")]
    assert [line["type"] for line in lines] == ["meta", "stats", "stats", "end"]
    assert lines[-1]["requests"] == 4 and lines[-1]["failures"] == 2
    merged = merge([tmp_path / "core-3.jsonl"])
    assert merged["seconds"][0]["GET /a"]["requests"] == 2
    assert merged["seconds"][0]["GET /a"]["errors"] == {"failure: bad body": 1}
    assert merged["seconds"][-1]["GET /a"]["requests"] == 1
    assert merged["seconds"][1]["GET /b"]["errors"] == {"HTTP 503": 1}
    assert merged["late"] == {13: 0.2} and merged["overruns"] == {11: 1} and merged["started"] == 2
    hist = Histogram(merged["seconds"][0]["GET /a"]["hist"])
    assert hist.count == 2 and hist.percentile(50) == 12.35  # bucket 12300-12399 µs, its middle
    s = summarize(merged, {"rps": 1, "rampup": 1, "constant": 1})
    assert s["requests"] == 4 and s["failures"] == 2

    rows = list(csv.reader(open(tmp_path / "core-3.jtl", encoding="utf-8")))
    assert len(rows[0]) == 17 and rows[0][0] == "timeStamp" and rows[0][-1] == "delayFromSchedule"
    assert rows[1][:4] == [str(int((T0 + 0.1) * 1000)), "12", "/a", ""] and rows[1][5] == "h 3-11"


# response times in ms as Locust reports them: fractions of a µs, and up to hours (every branch of
# bucket_of, the 3-significant-digit steps of large values included)
response_times = st.one_of(st.floats(min_value=0, max_value=1e7, allow_nan=False),
                           st.integers(0, 10**7), st.sampled_from([0.0, 0.9999, 1.0, 9.99, 10.0, 99.99, 100.0,
                                                                   999.999, 1000.0, 9999.999, 10_000.0]))


@given(response_times)
def test_the_inlined_bucket_of_a_request_is_results_bucket_of(response_time):
    with tempfile.TemporaryDirectory() as work:
        rec = Recorder(work, 0, T0, now=lambda: T0 + 0.5)
        try:
            rec.on_request("GET", "/a", response_time, 0, start_time=T0 + 0.1)
            cell = rec.cells[(0, "GET", "/a")]
        finally:
            rec.close()
    us = int(response_time * 1000.0)
    assert cell[4] == {bucket_of(us): 1}, (response_time, us)


def test_status_file_is_replaced_atomically(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 2.0)
    rec.iterations_total, rec.iterations = 40, 7  # flushed, and counted since
    rec.write_status("running", 5, 100, 49.5, iteration_rate=24.75)
    assert rec.writer.drain()
    status = json.loads((tmp_path / "core-0.status.json").read_text())
    assert status == {"core": 0, "state": "running", "elapsed": 2.0, "active": 5, "requests": 100, "rps": 49.5,
                      "iterations": 47, "iteration_rate": 24.75, "failures": 0, "hist": {}, "time_us": 0}
    assert not (tmp_path / "core-0.status.json.tmp").exists()


def test_the_status_file_carries_the_histogram_of_every_response_time_so_far(tmp_path):
    """What the controller's p95 of each progress interval is the growth of: cumulative, in
    records.py's buckets, only those not empty, as of the last flush."""
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 2.0)

    def status():
        rec.write_status("running", 1, rec.requests, 1.0)
        assert rec.writer.drain()
        return json.loads((tmp_path / "core-0.status.json").read_text())

    rec.on_request("GET", "/a", 12.0, 0, start_time=T0 + 0.1)
    rec.on_request("GET", "/b", 12.04, 0, start_time=T0 + 0.2, exception=OSError("reset"))
    rec.flush()
    assert status()["hist"] == {"12000": 2} and status()["time_us"] == 24040
    rec.on_request("GET", "/a", 0.5, 0, start_time=T0 + 1.1)
    assert status()["hist"] == {"12000": 2}  # not flushed yet
    rec.flush()
    later = status()
    assert later["hist"] == {"500": 1, "12000": 2} and later["time_us"] == 24540 and later["requests"] == 3
    assert Histogram(later["hist"]).percentile(50) == Histogram({bucket_of(12000): 1}).percentile(50)
    rec.close()


def test_failure_kinds_keep_the_message_short():
    # the cut is said, never silent
    assert failure_kind(CatchResponseError("x" * 200), None) == "failure: " + "x" * 120 + "…(80 more characters)"
    assert failure_kind(ConnectionRefusedError(), None) == "ConnectionRefusedError"
    assert failure_kind(ConnectionRefusedError(111, "Connection refused"), None) == \
        "ConnectionRefusedError: [Errno 111] Connection refused"
    assert failure_kind(ValueError("bad <object at 0x7f3a9c>\nsecond line"), None) == \
        "ValueError: bad <object at 0x....>"
    assert failure_kind(RuntimeError("500 for url http://..."), Response()) == "HTTP 503"


def test_same_name_with_two_methods_stays_apart_as_in_locust(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 1.0)
    rec.on_request("GET", "/x", 5.0, 1, start_time=T0 + 0.1)
    rec.on_request("POST", "/x", 7.0, 1, start_time=T0 + 0.2)
    rec.on_request("POST", "/x", 9.0, 1, start_time=T0 + 0.3, exception=OSError("reset"))
    rec.end("done")
    rec.close()
    s = summarize(merge([tmp_path / "core-0.jsonl"]), {"rps": 1, "rampup": 0, "constant": 1})
    labels = s["latency"]["labels"]
    assert sorted(labels) == ["GET /x", "POST /x"]
    assert (labels["GET /x"]["requests"], labels["POST /x"]["requests"], labels["POST /x"]["failures"]) == (1, 2, 1)


def test_a_blocked_write_holds_no_caller_and_writes_stay_in_order():
    """A write that blocks (a busy disk) runs on the writer's thread: submit returns while it is
    blocked, later writes wait behind it in order, and drain waits for all of them."""
    disk = monkey.get_original("_thread", "allocate_lock")()  # native, as the runtime's loop is patched
    disk.acquire()  # the "disk" does not answer until released
    written: list[int] = []
    writer = FileWriter()
    writer.submit(lambda: (disk.acquire(), written.append(1)))
    writer.submit(written.append, 2)  # returned although the first write is still blocked
    assert written == []
    assert not writer.drain(timeout=0.05)
    disk.release()
    assert writer.drain()
    assert written == [1, 2]
    assert writer.close() is None
    writer.submit(written.append, 3)  # after close: at once, in the caller
    assert written == [1, 2, 3]


def test_a_failed_write_is_raised_in_the_caller_and_returned_by_close():
    writer = FileWriter()

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    writer.submit(full_disk)
    assert writer.drain()
    with pytest.raises(OSError, match="No space left"):
        writer.submit(print, "never written")
    assert isinstance(writer.close(), OSError)


def test_records_are_all_written_when_the_recorder_closes(tmp_path):
    rec = Recorder(str(tmp_path), 1, T0, now=lambda: T0 + 1.0)
    for second in range(50):
        rec.on_request("GET", "/a", 5.0, 1, start_time=T0 + second)
        rec.flush()
    rec.end("done")
    assert rec.close() is None
    lines = (tmp_path / "core-1.jsonl").read_text().splitlines()
    assert len(lines) == 52 and json.loads(lines[-1])["requests"] == 50


def test_the_open_models_pool_size_and_users_started_per_second_reach_the_merge(tmp_path):
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 2.5)
    rec.meta(host="h", core=0)
    rec.sample_driver({"pool_size": 4, "pool_started": 4}, {}, {0: 4}, 0)
    rec.sample_driver({"pool_size": 9, "pool_started": 9}, {1: 2}, {1: 5}, 1)
    rec.flush()
    rec.sample_driver({"pool_size": 0, "pool_started": 9}, {}, {})  # the end: no second sampled
    rec.end("done")
    rec.close()
    merged = merge([tmp_path / "core-0.jsonl"])
    assert merged["cores"][0]["pool"] == {0: 4, 1: 9}
    assert merged["pool_started"] == {0: 4, 1: 5} and merged["dropped"] == {1: 2}


def test_requests_outside_a_task_iteration_are_counted_apart_per_stage(tmp_path):
    """A client's on_start and on_stop send outside its task iterations (no slot is due then):
    a stage's line counts its task requests against its planned iterations, those apart."""
    from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import compact_core, read_records

    due = [None]
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 3.5)
    rec.due_of = lambda: due[0]
    rec.on_request("POST", "/login", 5.0, 0, start_time=T0 + 0.2)  # on_start
    due[0] = T0 + 0.5
    for k in range(3):  # the task iterations, one a second
        rec.on_request("GET", "/a", 5.0, 0, start_time=T0 + 0.5 + k)
    due[0] = None
    rec.on_request("POST", "/logout", 5.0, 0, start_time=T0 + 2.8)  # on_stop
    rec.end("done")
    rec.close()
    plan = {"rps": 1, "pace": 1, "clients": 1, "stages": [{"start": 0.0, "duration": 3.0, "from_rps": 1.0, "rps": 1.0}]}
    records, _bad = read_records(tmp_path / "core-0.jsonl")
    for source in (records, compact_core(records)):  # as written, and as the host file carries it
        (stage,) = summarize(merge([source]), plan)["stages"]
        assert (stage["requests"], stage["task_requests"], stage["other_requests"]) == (5, 3, 2)
        assert stage["planned_iterations"] == 3.0 and stage["rps"] == 1.0
