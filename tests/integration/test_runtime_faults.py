"""Faults of a load process, run for real (the runtime against the bundled feeder): records that
cannot be written stop the load at once and say why; a process killed with SIGKILL loses at most
about one flush interval of records, and the run's state says so.

Measured here (2-core machine): a kill -9 at 50 rps per core left 17 to 52 requests unrecorded
(the requests of the last flush interval, FLUSH_EVERY = 1 s, plus the current second); the test
bounds it at 2 s of the core's rate."""
from __future__ import annotations

import json
import resource
import signal
import time
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state

import harness
from harness import feeder

# The tests that measure timing (records lost to a kill, a stall's length, the requests in flight at a stop) run
# alone, after the parallel tests (pytest.ini); the others (what a fault leaves in the results) run in parallel
TIMING = pytest.mark.serial

LOCUSTFILE = """
from locust import HttpUser, constant_pacing, task


class Paced(HttpUser):
    wait_time = constant_pacing(1)

    def on_start(self):
        self.path = f"/c{self.hailstorm.client_id}"

    @task
    def hit(self):
        self.client.get(self.path, name="/c")
"""


def start_cores(tmp_path: Path, url: str, clients: int, constant: float, cores: int, preexec=None,
                text: str = LOCUSTFILE, environment: dict | None = None):
    settings = {"clients": clients, "rps": clients, "pace": 1.0, "rampup": 2.0, "constant": constant,
                "rampdown": 1.0}
    return harness.start_cores(tmp_path, url, settings, text, cores=cores, deadline_grace=5, preexec=preexec,
                               environment=environment)


def arrivals(log: Path) -> list[tuple[float, int]]:
    out = []
    for line in log.read_text().splitlines():
        stamp, _, path = line.partition(" ")
        if path.startswith("/c"):
            out.append((float(stamp), int(path[2:])))
    return out


def small_files():
    """A file-size limit stands in for a full disk: writes past it fail (EFBIG) like ENOSPC does."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))


def test_records_that_cannot_be_written_stop_the_load_and_say_why(tmp_path):
    log = tmp_path / "arrivals.log"
    with feeder(log) as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 20, 30.0, 1, preexec=small_files)
        rc = procs[0].wait(timeout=plan["duration"] + 30)
        ended = time.time()
        # every request the process sent has been read (and stamped) by the feeder
        harness.wait_until(lambda: not harness.open_connections(url), "the feeder to close every connection")
    assert rc == 1
    assert ended < t0 + plan["duration"] - 10, "the load went on although nothing could be recorded"
    status = json.loads((work / "core-0.status.json").read_text())
    assert status["state"] == "failed" and status["reason"].startswith("recording failed:"), status
    assert "File too large" in status["reason"]
    assert "recording failed" in (work / "core-0.log").read_text()
    seen = arrivals(log)
    assert seen and max(t for t, _ in seen) <= ended  # nothing sent after the process stopped
    summary = summarize(merge([work / "core-0.jsonl"]), plan)
    verdict = run_state(summary, {**plan, "hosts": {"local": {"cores": [{"index": 0}]}}})
    assert verdict["state"] in ("degraded", "incomplete"), verdict


@TIMING
def test_a_killed_process_loses_at_most_about_a_second_of_records(tmp_path):
    log = tmp_path / "arrivals.log"
    with feeder(log) as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 100, 10.0, 2)
        time.sleep(max(0.0, t0 + 6.3 - time.time()))
        procs[0].send_signal(signal.SIGKILL)
        killed = time.time()
        for proc in procs:
            proc.wait(timeout=plan["duration"] + 30)
        harness.wait_until(lambda: not harness.open_connections(url), "the feeder to close every connection")
    core0 = {c.client_id for c in plan_queries.core_clients(data["plan"], data["cores"][0])}
    sent = sum(1 for t, client in arrivals(log) if client in core0 and t <= killed)
    summary = summarize(merge([work / "core-0.jsonl"]), plan)
    lost = sent - summary["requests"]
    rate = len(core0) / plan["pace"]
    print(f"\nkill -9 at {killed - t0:.1f} s: {sent} requests at the target, {summary['requests']} recorded, "
          f"{lost} lost ({lost / rate:.2f} s of this core's rate)")
    assert 0 <= lost <= 2 * rate
    verdict = run_state(summary, {**plan, "hosts": {"local": {"cores": [{"index": 0}]}}})
    assert verdict["state"] == "incomplete"
    assert verdict["reasons"][0].startswith("local core 0: no end record")


@TIMING
def test_a_process_stopped_for_seconds_is_a_stall_of_the_load_generator_not_slow_responses(tmp_path):
    """SIGSTOP for 5 s, then SIGCONT (what a paused VM does to every process): the monitor sees its
    own lag probe wake up 5 s late, records the stall, and the run state blames the load process,
    not the target (whose responses were never slow)."""
    with feeder() as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 20, 12.0, 1)
        time.sleep(max(0.0, t0 + 5.0 - time.time()))
        procs[0].send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        time.sleep(5.0)
        procs[0].send_signal(signal.SIGCONT)
        stall = time.monotonic() - stopped
        assert procs[0].wait(timeout=plan["duration"] + 30) == 0
    summary = summarize(merge([work / "core-0.jsonl"]), plan)
    load = summary["cores"][0]["load"]
    print(f"\nstopped {stall:.2f} s; recorded {load['stalls']} stall(s), {load['stalled_seconds']} s, "
          f"from second {load['stalled_from']}, lag up to {load['lag_max_ms']} ms")
    assert load["stalls"] == 1 and load["stalled_from"] in (4, 5)
    # the probe wakes no earlier than the SIGCONT, nor later than a probe interval and a scheduling delay after it
    assert stall - 0.1 <= load["stalled_seconds"] <= stall + 1.0
    assert load["lag_max_ms"] >= 1000 * (stall - 0.1)
    verdict = run_state(summary, {**plan, "hosts": {"local": {"cores": [{"index": 0}]}}})
    assert verdict["state"] == "degraded"
    assert [reason for reason in verdict["reasons"] if "stalled for" in reason] == [
        f"local core 0 stalled for {load['stalled_seconds']:.1f} s (1 stall(s) of at least 1 s, the longest "
        f"{load['stall_max_ms'] / 1000:.1f} s, the first from second {load['stalled_from']}; it used no CPU then and "
        "did not wait for one: the process was not scheduled (stopped with SIGSTOP, a paused VM, memory pressure)): its requests due then were "
        "late and its responses in flight then include the stall, so these are the load generator's figures, not "
        "the target's"]


STUCK_LOCUSTFILE = """
import time

from locust import HttpUser, constant_pacing, task


class Stuck(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def hang(self):
        self.client.get("/before")
        time.sleep(1000)  # a task that never returns
"""


def test_clients_stuck_in_a_task_at_the_deadline_are_counted(tmp_path):
    with feeder() as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 6, 1.0, 1, text=STUCK_LOCUSTFILE)
        rc = procs[0].wait(timeout=plan["duration"] + 40)
    assert rc == 0  # the deadline ended it, as it should
    summary = summarize(merge([work / "core-0.jsonl"]), plan)
    core = summary["cores"][0]
    assert core["end"] == "deadline" and core["active_at_end"] == 6, core
    verdict = run_state(summary, {**plan, "hosts": {"local": {"cores": [{"index": 0}]}}})
    assert verdict["state"] == "degraded"
    assert verdict["reasons"][0] == "local core 0: ended by its deadline with 6 client(s) still inside a task " \
                                    "(a task that never returns?)"


RAISING_LOCUSTFILE = """
from locust import HttpUser, constant_pacing, task


class Raising(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def broken(self):
        self.client.get("/fine")
        raise KeyError("token")
"""


def test_exceptions_in_a_task_are_in_the_results_by_kind_with_a_traceback(tmp_path):
    with feeder() as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 5, 3.0, 1, text=RAISING_LOCUSTFILE)
        assert procs[0].wait(timeout=plan["duration"] + 40) == 0
    summary = summarize(merge([work / "core-0.jsonl"]), plan)
    assert [row["kind"] for row in summary["exceptions"]] == ["KeyError: 'token'"]
    # one exception per task iteration, as many as the requests the tasks sent
    assert summary["exceptions"][0]["count"] == summary["requests"] > 0
    assert 'raise KeyError("token")' in summary["exceptions"][0]["traceback"]


SECRET_LOCUSTFILE = """
import os

from locust import HttpUser, constant_pacing, task


class Secret(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def hit(self):
        self.client.get("/" + os.environ["HS_TEST_TOKEN"], name="/{token}")
"""


def test_the_environment_file_with_the_secrets_is_gone_when_the_processes_end(tmp_path):
    """Without any role to remove it (a controller that was interrupted), each load process removes
    the run's environment.json when it ends; both cores read it first."""
    log = tmp_path / "arrivals.log"
    with feeder(log) as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 4, 1.0, 2, text=SECRET_LOCUSTFILE,
                                                  environment={"HS_TEST_TOKEN": "s3cret-4711"})
        assert [proc.wait(timeout=plan["duration"] + 40) for proc in procs] == [0, 0]
    assert not (work / "environment.json").exists()
    summary = summarize(merge([work / "core-0.jsonl", work / "core-1.jsonl"]), plan)
    assert summary["requests"] > 0 and summary["failures"] == 0
    assert log.read_text().count("/s3cret-4711") == summary["requests"]  # both cores had the secret


SLOW_LOCUSTFILE = """
from locust import FastHttpUser, HttpUser, task


class Slow(HttpUser):
    @task
    def slow(self):
        self.client.get("/wait/3000", name="/slow")


class SlowFast(FastHttpUser):
    @task
    def slow(self):
        with self.client.rename_request("/slow-fast"):
            self.client.get("/wait/3000")
"""


@TIMING
def test_requests_waiting_for_their_answer_when_the_run_stops_are_counted_as_interrupted(tmp_path):
    """stop.yml, a signal, an abort: the users are killed, and the requests still waiting for their
    answer (the target got them) are in the results, failed as interrupted, with HttpUser and
    FastHttpUser alike: the target's count is the results' count."""
    log = tmp_path / "arrivals.log"
    with feeder(log) as url:
        plan, data, work, t0, procs = start_cores(tmp_path, url, 20, 20.0, 1, text=SLOW_LOCUSTFILE)
        time.sleep(max(0.0, t0 + 8.0 - time.time()))
        procs[0].send_signal(signal.SIGTERM)
        stopped = time.time()
        assert procs[0].wait(timeout=60) == 0
    at_target = [float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if " /wait/3000" in line]
    summary = summarize(merge([work / "core-0.jsonl"]), plan)
    kinds = summary["failures_by_kind"]
    interrupted = sum(n for kind, n in kinds.items() if "interrupted" in kind)
    # in flight at the stop: what arrived in its last 3 s (the answer's wait); the stop's own time
    # blurs the edge by a few requests
    in_flight = sum(1 for t in at_target if stopped - 3.0 < t <= stopped)
    print(f"\nstopped at {stopped - t0:.1f} s: {len(at_target)} at the target, {summary['requests']} recorded, "
          f"{interrupted} interrupted ({in_flight} arrived in the last 3 s); {kinds}")
    harness.assert_every_arrival_counted(summary["requests"], len(at_target), interrupted)
    assert summary["failures"] == interrupted, kinds
    # each client sends every 4 s (3 s answers skip a slot of its 1 s pace): about 15 of 20 in flight
    assert abs(interrupted - in_flight) <= 4 and interrupted >= 10
    # each under the name Locust gives it: its name, or the session's rename_request
    assert set(summary["latency"]["labels"]) == {"GET /slow", "GET /slow-fast"}, summary["latency"]["labels"]
