"""Abort on a broken threshold mid-run, for real: two load hosts (aliases of this machine, the
local backend) against the bundled feeder's /fail_after route, which answers 200 for 20 s from
its first request and 500 from then on. With `failure_rate: {limit: 1%, abort: true, after: 5s}`
the controller stops every host: the last request the target logs comes within `after` + one
progress interval (+ the time the controller takes to stop, measured) of the breakage, the run is
`aborted` with the aborted exit code (not the broken-threshold one), and every result is kept."""
from __future__ import annotations

import csv
import json
import subprocess

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import EXIT_CODES

from harness import BIN, ROOT, feeder, local_aliases, playbook_env

BREAKS_AFTER, AFTER, INTERVAL = 20, 5, 2  # seconds
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


@pytest.fixture(scope="module")
def aborted_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("abort")
    inventory = local_aliases(tmp, 2, name="breaking")
    locustfile = tmp / "breaking.py"
    locustfile.write_text(LOCUSTFILE)
    log = tmp / "arrivals.log"
    results = tmp / "results"
    settings = {"hailstorm_rps": 40, "hailstorm_pace": "1s", "hailstorm_rampup": "2s", "hailstorm_constant": "60s",
                "hailstorm_rampdown": "2s", "hailstorm_progress_interval": INTERVAL,
                "hailstorm_locustfile": str(locustfile), "hailstorm_results_dir": str(results),
                "hailstorm_run_id": "broken",
                "hailstorm_thresholds": {"failure_rate": {"limit": "1%", "abort": True, "after": f"{AFTER}s"}}}
    with feeder(log) as url:
        run = subprocess.run(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory), "-f", "2",
             "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={url}", "-e", json.dumps(settings)],
            cwd=ROOT, env={**playbook_env(), "ANSIBLE_LOG_PATH": str(tmp / "ansible.log")}, capture_output=True, text=True, timeout=300, check=False)
    (tmp / "output.txt").write_text(run.stdout + run.stderr)  # to read after a failure
    arrivals = sorted(float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if line.strip())
    return run, results / "broken", arrivals


def test_the_controller_stops_every_host_within_after_and_one_interval_of_the_breakage(aborted_run):
    run, run_dir, arrivals = aborted_run
    summary = json.loads((run_dir / "summary.json").read_text())
    breakage = arrivals[0] + BREAKS_AFTER  # the target's own clock: 20 s after its first request
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
    assert summary["requests"] == len(arrivals)
    assert summary["failures"] > 0 and set(summary["failures_by_kind"]) == {"HTTP 500"}
    with open(run_dir / "locust_stats.csv", encoding="utf-8") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["Aggregated"]["Request Count"]) == len(arrivals)
    assert int(rows["Aggregated"]["Failure Count"]) == summary["failures"]
    with open(run_dir / "locust_stats_history.csv", encoding="utf-8") as handle:
        history = list(csv.DictReader(handle))
    assert len(history) > 20 and history[0]["Time (ISO 8601)"].endswith("+00:00")
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
