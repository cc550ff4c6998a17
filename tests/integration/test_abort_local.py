"""Abort on a broken threshold mid-run, for real: two load hosts (aliases of this machine, the
local backend) against the bundled feeder's /fail_after route, which answers 200 for 12 s from
its first request and 500 from then on. With `failure_rate: {limit: 1%, abort: true, after: 5s}`
the controller stops every host: the last request the target logs comes within `after` + one
progress interval (+ the time the controller takes to stop, measured) of the breakage, the run is
`aborted` with the aborted exit code (not the broken-threshold one), and every result is kept.
The same on latency against /slow_after, whose answers take 800 ms from 12 s on, with
`p95_ms: {limit: 500, abort: true, after: 5s}`: judged on the p95 of each progress interval,
all hosts merged, which the progress lines show beside the failures per second."""
from __future__ import annotations

import csv
import json
import re
import subprocess
from datetime import datetime

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import EXIT_CODES

from harness import BIN, ROOT, assert_every_arrival_counted, feeder, local_aliases, playbook_env

pytestmark = pytest.mark.serial  # measures timing: runs alone, after the parallel tests (pytest.ini)

INTERRUPTED = "Interrupted: interrupted: the run stopped before the answer came"
BREAKS_AFTER, AFTER, INTERVAL = 12, 5, 2  # seconds
# What stopping takes once the controller decided: the stop role's first tasks up to the one that
# ends the processes (measured 1.6 s from the decision to the load's end by Ansible's log
# timestamps, on this 2-core machine busy with other tests), and the status files' age when read
# (written every second): the bound's room beyond after + one interval, about twice that.
STOPPING = 4.0
LOCUSTFILE = f'''
from locust import HttpUser, task


class Breaking(HttpUser):
    @task
    def hit(self):
        self.client.get("/fail_after/{BREAKS_AFTER}/500", name="/fail_after")
'''

SLOW_MS = 800  # /slow_after's answers from BREAKS_AFTER on: a pace of 1 s keeps every client on plan
SLOW_LOCUSTFILE = f'''
from locust import HttpUser, task


class Slowing(HttpUser):
    @task
    def hit(self):
        self.client.get("/slow_after/{BREAKS_AFTER}/{SLOW_MS}", name="/slow_after")
'''
# the progress line's figures of the last interval: "last 2.0 s: 0.0 failures/s, p95 5.1 ms; "
LAST_INTERVAL = re.compile(r"(\d+)/\d+ s: [^']*?; last ([\d.]+) s: ([\d.]+) failures/s, p95 ([\d.]+ ms|none); ")


def _run(tmp, locustfile_text, run_id, thresholds):
    """distribute.yml on two aliases of this machine against the feeder: (the run, its results
    directory, the arrival times the feeder logged, sorted)."""
    inventory = local_aliases(tmp, 2, name="breaking")
    locustfile = tmp / "breaking.py"
    locustfile.write_text(locustfile_text)
    log = tmp / "arrivals.log"
    results = tmp / "results"
    settings = {"hailstorm_rps": 40, "hailstorm_pace": "1s", "hailstorm_rampup": "2s", "hailstorm_constant": "60s",
                "hailstorm_rampdown": "2s", "hailstorm_progress_interval": INTERVAL,
                "hailstorm_locustfile": str(locustfile), "hailstorm_results_dir": str(results),
                "hailstorm_run_id": run_id, "hailstorm_thresholds": thresholds}
    with feeder(log) as url:
        run = subprocess.run(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory), "-f", "2",
             "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={url}", "-e", json.dumps(settings)],
            cwd=ROOT, env={**playbook_env(), "ANSIBLE_LOG_PATH": str(tmp / "ansible.log")}, capture_output=True, text=True, timeout=300, check=False)
    (tmp / "output.txt").write_text(run.stdout + run.stderr)  # to read after a failure
    arrivals = sorted(float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if line.strip())
    return run, results / run_id, arrivals


@pytest.fixture(scope="module")
def aborted_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("abort"), LOCUSTFILE, "broken",
                {"failure_rate": {"limit": "1%", "abort": True, "after": f"{AFTER}s"}})


@pytest.fixture(scope="module")
def slowed_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("slow"), SLOW_LOCUSTFILE, "slowed",
                {"p95_ms": {"limit": 500, "abort": True, "after": f"{AFTER}s"}})


def _last_intervals(output):
    """The progress lines' figures of the last interval: [(offset s, interval s, failures/s, p95 ms or None)]
    (Ansible's output wraps long lines: read with the whitespace joined)."""
    return [(int(offset), float(seconds), float(rate), None if p95 == "none" else float(p95[:-3]))
            for offset, seconds, rate, p95 in LAST_INTERVAL.findall(" ".join(output.split()))]


def test_the_controller_stops_every_host_within_after_and_one_interval_of_the_breakage(aborted_run):
    run, run_dir, arrivals = aborted_run
    summary = json.loads((run_dir / "summary.json").read_text())
    breakage = arrivals[0] + BREAKS_AFTER  # the target's own clock: BREAKS_AFTER s after its first request
    last = arrivals[-1]
    print(f"\nlast request {last - breakage:.2f} s after the breakage (bound {AFTER} + {INTERVAL} + {STOPPING:g} s); "
          f"abort judged on figures at {summary['abort']['at']} s since the start")
    assert last - breakage <= AFTER + INTERVAL + STOPPING, (last - breakage, run.stdout[-4000:])
    # the load did not stop before the threshold had been broken for `after` over whole intervals
    assert last - breakage >= AFTER - INTERVAL
    # on every host: both hosts ended by the stop, none ran to its planned end (60 s)
    assert {core["host"] for core in summary["cores"]} == {"breaking00", "breaking01"}
    assert all(core["end"].startswith("signal") for core in summary["cores"]), summary["cores"]


def test_an_aborted_run_says_why_exits_aborted_and_keeps_every_result(aborted_run):
    run, run_dir, arrivals = aborted_run
    assert run.returncode == EXIT_CODES["aborted"] != EXIT_CODES["thresholds broken"], run.stdout[-4000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["state"] == "aborted" and summary["exit_code"] == EXIT_CODES["aborted"]
    abort = summary["abort"]
    # the threshold, since when it was broken and the planned rate then (40 rps in the constant phase)
    reason = summary["reasons"][0]
    assert reason.startswith(f"stopped by the controller at {float(abort['at']):g} s: failure_rate: failure rate ")
    assert f"(abort after {AFTER} s) at a planned 40 rps" in reason and "broken since " in reason
    assert BREAKS_AFTER - INTERVAL <= abort["broken_since"] <= BREAKS_AFTER + 1
    assert "run state: ABORTED" in run.stdout and "ABORT at " in run.stdout
    # every request the target got is in the results: summary, the Locust CSVs
    # (a request still waiting for its answer when the load stopped is failed as interrupted)
    assert_every_arrival_counted(summary["requests"], len(arrivals), summary["failures_by_kind"].get(INTERRUPTED, 0))
    assert summary["failures"] > 0 and set(summary["failures_by_kind"]) - {INTERRUPTED} == {"HTTP 500"}
    with open(run_dir / "locust_stats.csv", encoding="utf-8") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["Aggregated"]["Request Count"]) == summary["requests"]
    assert int(rows["Aggregated"]["Failure Count"]) == summary["failures"]
    with open(run_dir / "locust_stats_history.csv", encoding="utf-8") as handle:
        history = list(csv.DictReader(handle))
    assert len(history) > BREAKS_AFTER and history  # a row a second[0]["Time (ISO 8601)"].endswith("+00:00")
    # the run's wall-clock start and end, to find it in other tools: the target saw it in between
    clock = summary["clock"]
    assert clock["start"].endswith("+00:00") and clock["end"].endswith("+00:00")
    assert clock["start_epoch"] <= arrivals[0] and arrivals[-1] <= clock["end_epoch"]
    # the report says it and marks the moment on the charts
    page = (run_dir / "report.html").read_text()
    assert f'<time datetime="{clock["start"]}">' in page
    assert 'id="abort"' in page and f"aborted by the controller at {float(abort['at']):g} s" in page
    assert "aborted: failure_rate" in page
    assert (run_dir / "junit.xml").exists()


def test_the_progress_lines_say_the_failures_per_second_of_the_last_interval(aborted_run):
    run, run_dir, arrivals = aborted_run
    lines = _last_intervals(run.stdout)
    assert lines, run.stdout[-4000:]
    # 40 requests a second, all failing once broken: an interval wholly after the breakage says about
    # 40 failures/s (its failures over its length, both as the status files counted them)
    after = [rate for offset, seconds, rate, _ in lines if offset - INTERVAL >= BREAKS_AFTER + 1]
    before = [rate for offset, seconds, rate, _ in lines if offset < BREAKS_AFTER]
    assert after and all(20 <= rate <= 60 for rate in after), lines
    assert before and all(rate == 0 for rate in before), lines


def _controller_times(ansible_log):
    """From Ansible's log (its timestamps, this machine's clock, as the feeder's): (when the
    controller decided to stop, when the stop role had ended every host's processes), epoch s."""
    decided = ended = None
    task = ""
    for line in ansible_log.read_text().splitlines():
        stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?\| (.*)", line)
        if not stamp:
            continue
        at, text = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp(), stamp.group(2)
        if text.startswith("TASK ["):
            task = text
        elif "Say why the run stops" in task and text.startswith("ok:") and decided is None:
            decided = at
        elif "End the daemonless load processes" in task and text.startswith("changed:") and decided is not None:
            ended = max(ended or at, at)
    return decided, ended


def test_a_latency_threshold_stops_every_host_within_after_and_one_interval_of_the_slowdown(slowed_run):
    run, run_dir, arrivals = slowed_run
    summary = json.loads((run_dir / "summary.json").read_text())
    breakage = arrivals[0] + BREAKS_AFTER  # the target's own clock: its answers take SLOW_MS from then on
    last = arrivals[-1]
    judged = summary["clock"]["start_epoch"] + float(summary["abort"]["at"])  # when the judged figures were written
    decided, ended = _controller_times(run_dir.parent.parent / "ansible.log")
    print(f"\nlast request {last - breakage:.2f} s after the slowdown: judged on figures written "
          f"{judged - breakage:.2f} s after it, decided {decided - judged:.2f} s later, every process ended "
          f"{ended - decided:.2f} s after the decision")
    # what the abort promises: the figures it stopped on were written at most `after` + one interval
    # after the slowdown, + SLOW_MS (a slow request is seen when answered) + 1 s (a flush, every second)
    assert AFTER - INTERVAL <= judged - breakage <= AFTER + INTERVAL + SLOW_MS / 1000 + 1, (judged - breakage)
    # and the load stopped with the stop: no request reached the target after every process had ended
    # (how long the controller took to read, decide and stop is this run's own, printed above)
    assert last <= ended, (last, ended)
    assert {core["host"] for core in summary["cores"]} == {"breaking00", "breaking01"}
    assert all(core["end"].startswith("signal") for core in summary["cores"]), summary["cores"]


def test_a_latency_abort_says_the_threshold_the_time_and_the_planned_rate_and_exits_aborted(slowed_run):
    run, run_dir, arrivals = slowed_run
    assert run.returncode == EXIT_CODES["aborted"], run.stdout[-4000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["state"] == "aborted" and summary["exit_code"] == EXIT_CODES["aborted"]
    abort = summary["abort"]
    reason = summary["reasons"][0]
    assert reason.startswith(f"stopped by the controller at {float(abort['at']):g} s: p95_ms: p95 latency "), reason
    assert "ms > limit 500 ms over the last interval, broken since " in reason
    assert f"(abort after {AFTER} s) at a planned 40 rps" in reason
    assert abort["threshold"] == "p95_ms" and BREAKS_AFTER - INTERVAL <= abort["broken_since"] <= BREAKS_AFTER + 1
    assert abort["interval"]["latency"]["p95_ms"] >= SLOW_MS and "hist" not in abort
    assert "run state: ABORTED" in run.stdout and "ABORT at " in run.stdout
    # every request the target got is in the results: those answered before the stop (at least the
    # ones that arrived SLOW_MS + 0.2 s of answering before the last arrival), and the ones still
    # waiting for their answer when the stop killed their clients, failed as interrupted
    answered = sum(1 for at in arrivals if at < arrivals[-1] - SLOW_MS / 1000 - 0.2)
    interrupted = summary["failures_by_kind"].get(INTERRUPTED, 0)
    assert_every_arrival_counted(summary["requests"], len(arrivals), interrupted)
    assert summary["failures"] == interrupted, summary["failures_by_kind"]
    assert answered <= summary["requests"] - interrupted and interrupted > 0
    # the progress lines: the p95 of each interval, fast before the slowdown, SLOW_MS after, no failures
    lines = _last_intervals(run.stdout)
    before = [p95 for offset, _, _, p95 in lines if offset < BREAKS_AFTER and p95 is not None]
    after = [p95 for offset, _, _, p95 in lines if offset - INTERVAL >= BREAKS_AFTER + 1]
    assert before and all(p95 < 100 for p95 in before), lines
    assert after and all(SLOW_MS <= p95 < SLOW_MS + 200 for p95 in after), lines
    assert all(rate == 0 for _, _, rate, _ in lines), lines
