"""The runtime's honesty about how a run ended, run for real (distribute.yml with the local
backend, real Locust, the bundled feeder): the locustfile's own verdict decides, as in Locust (its
process_exit_code, 0 included, outranks --exit-code-on-error); clients that stop themselves are
named when a run falls short; a load process that fails at import stops the launch at once."""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from harness import BIN, ROOT, feeder, local_aliases, playbook_env

HOST = "verdict00"  # a load host of its own (this machine): its lock is not localhost's, which other tests take


def local_run(results, run_id, target, locustfile, **settings):
    """distribute.yml on HOST (the local backend, the short profile) into `results`."""
    inventory = local_aliases(results, 1, cores=int(settings.pop("cores", 1)), name="verdict")
    extra = {"hailstorm_profile": "short", "hailstorm_target": target, "hailstorm_results_dir": str(results),
             "hailstorm_run_id": run_id, "hailstorm_locustfile": str(locustfile),
             **{f"hailstorm_{name}": value for name, value in settings.items()}}
    return subprocess.run([str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory),
                           "-e", json.dumps(extra)], cwd=ROOT, env=playbook_env(), capture_output=True, text=True,
                          timeout=600, check=False)


# Locust's documented CI gate: a quitting listener judges the core's own statistics
CI_GATE = '''
from locust import HttpUser, events, task

LIMIT = {limit}
failed = []


@events.quitting.add_listener
def _(environment, **_kwargs):
    environment.process_exit_code = 1 if environment.stats.total.fail_ratio > LIMIT else 0


class Shopper(HttpUser):
    @task
    def browse(self):
        with self.client.get("/browse", catch_response=True) as response:
            if not failed:  # one failed request in the whole run
                failed.append(response)
                response.failure("the one planned failure")
'''


def summary_of(results_dir, run_id):
    return json.loads((results_dir / run_id / "summary.json").read_text())


@pytest.mark.parametrize("limit, state, code", [(0.05, "completed", 0), (0.0, "failed", 1)],
                         ids=["under its limit: exit 0", "over its limit: exit 1"])
def test_the_locustfiles_process_exit_code_decides_for_failures(tmp_path, limit, state, code):
    """1 failed request of about 50: a limit of 5 % lets it pass (process_exit_code 0, plain
    Locust exits 0, so does the run), a limit of 0 fails it (1)."""
    locustfile = tmp_path / "gate.py"
    locustfile.write_text(CI_GATE.format(limit=limit))
    with feeder() as url:
        result = local_run(tmp_path, "gate", url, locustfile, cores=1, rps=10, rampup="2s", constant="3s",
                           rampdown="1s")
    out = " ".join(result.stdout.split())
    assert result.returncode == code, result.stdout[-3000:]
    summary = summary_of(tmp_path, "gate")
    assert summary["failures"] == 1 and summary["requests"] > 20, summary["requests"]
    assert summary["state"] == state and summary["cores"][0]["locustfile_exit_code"] == code
    decided = f"the locustfile decided: environment.process_exit_code = {code} on every core (1) (1 of "
    assert decided in out, out[-3000:]
    assert summary["locustfile_decided"].startswith("the locustfile decided")
    report = (tmp_path / "gate" / "report.html").read_text()
    assert 'id="locustfile-verdict">the locustfile decided' in report
    if state == "completed":
        assert "run state: completed" in out and "requests failed" not in " ".join(summary["reasons"])
    else:
        assert f"{HOST} core 0: the locustfile set environment.process_exit_code = 1" in out


# imports fine in the controller's check (`hailstorm_runtime check`), raises in a load process (`run`)
FAILS_ON_THE_LOAD_HOST = '''
import sys

from locust import HttpUser, task

if "run" in sys.argv:
    raise RuntimeError("cannot reach the test database from the load host")


class Shopper(HttpUser):
    @task
    def browse(self):
        self.client.get("/browse")
'''


def test_a_load_process_that_fails_at_import_fails_the_launch_at_once_naming_core_and_error(tmp_path):
    """Before: "load processes not armed within hailstorm_arm_timeout=300 s" after the whole
    timeout (one failed process removed the environment file the other had not read yet, so that
    one never wrote a status). Now the wait ends when a process has ended, and says which and why.
    A whole local run takes about 30 s here; the bound is half the arm timeout, far from both."""
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(FAILS_ON_THE_LOAD_HOST)
    started = time.monotonic()
    with feeder() as url:
        result = local_run(tmp_path, "broken", url, locustfile, cores=2, arm_timeout=300)
    took = time.monotonic() - started
    out = " ".join(result.stdout.split())
    assert result.returncode == 2, result.stdout[-3000:]
    assert took < 150, f"the launch took {took:.0f} s"
    assert re.search(HOST + r" core \d exited at import after \d+\.\d s: RuntimeError: cannot reach the test "
                     r"database from the load host", out), result.stdout[-3000:]
    assert "not armed within" not in out, result.stdout[-3000:]
    assert not (tmp_path / ".work" / HOST / "broken" / "environment.json").exists()


STOPS_ITSELF = '''
from locust import HttpUser, task
from locust.exception import StopUser


class Quitter(HttpUser):
    def on_start(self):
        self.iterations = 0

    @task
    def browse(self):
        self.client.get("/browse")
        self.iterations += 1
        if self.iterations == 3:
            raise StopUser()
'''


def test_clients_that_stop_themselves_are_named_as_the_reason_a_run_falls_short(tmp_path):
    locustfile = tmp_path / "quitter.py"
    locustfile.write_text(STOPS_ITSELF)
    with feeder() as url:
        result = local_run(tmp_path, "quitter", url, locustfile, cores=1, rps=10, rampup="2s", constant="6s",
                           rampdown="1s")
    out = " ".join(result.stdout.split())
    summary = summary_of(tmp_path, "quitter")
    clients = summary["starts"]["clients_planned"]
    assert summary["iterations"] == 3 * clients, summary["iterations"]
    assert summary["ended_early"] == [{"how": "StopUser", "iterations": 3, "clients": clients}]
    assert summary["state"] == "degraded" and result.returncode == 11, result.stdout[-3000:]
    line = (f"{3 * clients} task iterations run, {summary['expected_requests']} planned "
            f"({100.0 * 3 * clients / summary['expected_requests']:.1f} %); {clients} clients stopped themselves "
            "with StopUser after 3 iterations")
    assert line in summary["reasons"] and line in out, (summary["reasons"], result.stdout[-3000:])


LOGS_IN = '''
from locust import HttpUser, task


class Member(HttpUser):
    def on_start(self):
        self.client.post("/login")

    @task
    def browse(self):
        self.client.get("/browse")

    def on_stop(self):
        self.client.post("/logout")
'''
# 10 clients at pace 1 s; all stop in "down" and start again in "again"
TWICE = [{"duration": 2, "rps": 10, "name": "up"}, {"duration": 3, "rps": 10, "name": "hold"},
         {"duration": 1, "rps": 0, "name": "down"}, {"duration": 2, "rps": 0, "name": "rest"},
         {"duration": 1, "rps": 10, "name": "again"}, {"duration": 3, "rps": 10, "name": "hold2"},
         {"duration": 1, "rps": 0, "name": "end"}]


def test_stage_lines_count_task_requests_apart_from_on_start_and_on_stop_and_say_restarts(tmp_path):
    locustfile = tmp_path / "member.py"
    locustfile.write_text(LOGS_IN)
    with feeder() as url:
        result = local_run(tmp_path, "member", url, locustfile, cores=1, stages=TWICE, pace="1s")
    out = " ".join(result.stdout.split())
    summary = summary_of(tmp_path, "member")
    assert summary["starts"]["starts_planned"] == 20 and summary["starts"]["clients_started"] == 20, summary["starts"]
    assert "clients started 20/20 (10 clients, 10 restarted in a later stage)" in out, result.stdout[-3000:]
    stages = {stage["name"]: stage for stage in summary["stages"]}
    # every login and logout is counted apart: 2 per client start
    assert sum(stage["other_requests"] for stage in stages.values()) == 2 * 20, stages
    for name in ("hold", "hold2"):  # every client active and inside its iterations the whole stage
        hold = stages[name]
        assert hold["other_requests"] == 0 and hold["task_requests"] == hold["planned_iterations"] == 30, hold
        assert f"stage {name} " in out and "30 task requests against 30 planned iterations (10.00 rps" in out
    again = stages["again"]
    assert again["other_requests"] >= 10 and again["task_requests"] == again["requests"] - again["other_requests"]
    assert "on_start/on_stop requests apart" in out
