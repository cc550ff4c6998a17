"""No command, and no order of commands, corrupts a run (issue 24): a second controller command on
a run id while the first runs, in each of the first's phases.

The first command is a real distribute.yml (local backend, one core, a short plan) against the
bundled target with its arrival log. It is paused (SIGSTOP of its process group: the controller and
its workers, not the load processes, which run in sessions of their own) when its output enters a
phase -- its preflight, the arming of its load processes, the merge of its results -- and, during
the load itself, left running. In each phase every other command on the same run id is started:
distribute.yml and plan.yml with other settings, collect.yml, report.yml, distribute.yml with
hailstorm_overwrite=true. Each must be refused naming the first as the owner and write nothing; the
first run's plan.json stays byte for byte its own, and its results hold exactly what the target
logged. stop.yml in the preflight and the arming ends the first run before any load, aborted
(exit 12), naming who stopped it; in the merge, once the load is over, it is said and changes no
result; stop.yml mid-run is test_playbooks_local's
test_stop_aborts_a_local_run_and_keeps_what_was_recorded. (A load host's provisioning is a phase of
the systemd and docker backends only: molecule.)
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import (BIN, ROOT, ansible_playbook, assert_every_arrival_counted, feeder, interrupt, interrupted_of,
                     local_aliases, playbook_env, wait_until)

PHASES = {
    "preflight": "TASK [romram.hailstorms.preflight : Probe the load host",
    "arming": "TASK [romram.hailstorms.launch : Wait until every load process is armed",
    "collecting": "TASK [romram.hailstorms.collect : Merge every host's results",
}
PLAN = ["-e", "hailstorm_rps=10", "-e", "hailstorm_pace=1s", "-e", "hailstorm_rampup=2s",
        "-e", "hailstorm_constant=6s", "-e", "hailstorm_rampdown=1s"]
SLOW_LOCUSTFILE = """
import time

from locust import HttpUser, task

time.sleep(4)  # reading a data file, say


class Reader(HttpUser):
    @task
    def read(self):
        self.client.get("/")
"""
OTHER = ["-e", "hailstorm_rps=7", "-e", "hailstorm_constant=3s"]  # another plan: it must never replace the first's


class First:
    """distribute.yml in a session of its own, paused when its output enters one of `pause_at`."""

    def __init__(self, inventory: Path, results: Path, run_id: str, url: str, pause_at: tuple[str, ...],
                 *extra: str):
        self.markers = {PHASES[phase]: phase for phase in pause_at}
        self.paused: dict[str, threading.Event] = {phase: threading.Event() for phase in pause_at}
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory),
             "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={results}",
             "-e", f"hailstorm_run_id={run_id}", *PLAN, *extra],
            cwd=ROOT, env=dict(playbook_env(), PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            for marker, phase in self.markers.items():
                if line.startswith(marker) and not self.paused[phase].is_set():
                    os.killpg(self.process.pid, signal.SIGSTOP)
                    self.paused[phase].set()

    def wait_paused(self, phase: str) -> None:
        wait_until(lambda: self.paused[phase].is_set() or self.process.poll() is not None,
                   f"the first run to enter its {phase}", timeout=300)
        assert self.paused[phase].is_set(), "".join(self.lines)[-3000:]

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def finish(self) -> str:
        self.process.wait(timeout=300)
        self.reader.join(timeout=30)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def second_commands(inventory: Path, results: Path, run_id: str, url: str) -> dict[str, subprocess.CompletedProcess]:
    """Every other controller command on `run_id`, all at once."""
    common = ["-e", f"hailstorm_results_dir={results}", "-e", f"hailstorm_run_id={run_id}"]
    target = ["-e", f"hailstorm_target={url}", *PLAN, *OTHER]
    commands = {
        "distribute": ("distribute.yml", [*common, *target]),
        "plan": ("plan.yml", [*common, *target]),
        "collect": ("collect.yml", common),
        "report": ("report.yml", common),
        "overwrite": ("distribute.yml", [*common, *target, "-e", "hailstorm_overwrite=true"]),
    }
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {name: pool.submit(ansible_playbook, book, str(inventory), *args, timeout=300)
                   for name, (book, args) in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def assert_refused_naming(done: dict[str, subprocess.CompletedProcess], owner_pid: int, phase: str) -> None:
    for name, result in done.items():
        text = re.sub(r"\s+", " ", result.stdout + result.stderr)
        assert result.returncode != 0, f"{name} during the {phase}: {text[-2000:]}"
        assert f"is owned by a run (ansible-playbook distribute.yml, pid {owner_pid}, " in text, \
            f"{name} during the {phase}: {text[-2000:]}"
        assert "wrote nothing" in text


def arrivals(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.strip())


def test_every_second_command_in_every_phase_is_refused_and_the_first_run_is_exact(tmp_path):
    results, log = tmp_path / "results", tmp_path / "arrivals.log"
    run_dir = results / "race"
    inventory = local_aliases(tmp_path, 1, name="race")  # a lock of its own on this machine
    with feeder(log) as url:
        first = First(inventory, results, "race", url, ("preflight", "arming", "collecting"))
        try:
            first.wait_paused("preflight")  # claimed, nothing written yet
            assert_refused_naming(second_commands(inventory, results, "race", url), first.process.pid, "preflight")
            assert not (run_dir / "plan.json").exists(), "a refused command wrote a plan"
            first.resume()

            first.wait_paused("arming")  # planned and launched, the processes arming
            plan = (run_dir / "plan.json").read_bytes()
            launch = (run_dir / "launch.json").read_bytes()
            assert_refused_naming(second_commands(inventory, results, "race", url), first.process.pid, "arming")
            first.resume()

            work = results / ".work" / "race00" / "race"
            wait_until(lambda: (work / "core-0.status.json").exists()
                       and json.loads((work / "core-0.status.json").read_text() or "{}").get("state") == "running",
                       "the load to run", timeout=120)
            assert_refused_naming(second_commands(inventory, results, "race", url), first.process.pid, "running")

            first.wait_paused("collecting")  # the load is over, the merge about to start
            assert_refused_naming(second_commands(inventory, results, "race", url), first.process.pid, "collecting")
            assert (run_dir / "plan.json").read_bytes() == plan and (run_dir / "launch.json").exists()
            # a stop once the load is over is heard (said, recorded) and changes no result
            stopped = ansible_playbook("stop.yml", str(inventory), "-e", f"hailstorm_results_dir={results}",
                                       "-e", "hailstorm_run_id=race")
            said = re.sub(r"\s+", " ", stopped.stdout)
            assert stopped.returncode == 0 and "stop requested for run 'race'" in said, said[-3000:]
            first.resume()
            output = first.finish()
        finally:
            first.kill()
    assert first.process.returncode == 0, output[-4000:]
    assert (run_dir / "plan.json").read_bytes() == plan, "the first run's plan was replaced"
    assert json.loads(launch)["run_id"] == "race"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["state"] == "completed", summary["reasons"]
    # its results are exactly what the target logged, and what its own plan says
    assert summary["requests"] == arrivals(log) == json.loads(plan)["expected_requests"]


@pytest.mark.parametrize("phase", ["preflight", "arming"])
def test_a_stop_before_the_start_ends_the_run_aborted_naming_who_stopped_it(tmp_path, phase):
    results, log = tmp_path / "results", tmp_path / "arrivals.log"
    inventory = local_aliases(tmp_path, 1, name=f"halt{phase}")
    with feeder(log) as url:
        # processes that take seconds to import their locustfile: stopped before they wrote any status
        slow = tmp_path / "slow.py"
        slow.write_text(SLOW_LOCUSTFILE)
        first = First(inventory, results, "halt", url, (phase,), "-e", f"hailstorm_locustfile={slow}")
        try:
            first.wait_paused(phase)
            stopped = ansible_playbook("stop.yml", str(inventory), "-e", f"hailstorm_results_dir={results}",
                                       "-e", "hailstorm_run_id=halt")
            resumed = time.monotonic()
            said = re.sub(r"\s+", " ", stopped.stdout)
            assert stopped.returncode == 0, said[-3000:]
            assert "stop requested for run 'halt', owned by a run (ansible-playbook distribute.yml, " \
                   f"pid {first.process.pid}" in said, said[-3000:]
            first.resume()
            output = first.finish()
            took = time.monotonic() - resumed
        finally:
            first.kill()
    text = re.sub(r"\s+", " ", output)
    assert first.process.returncode == 12, text[-3000:]  # aborted (README: how a run ends)
    # heard at once, not after hailstorm_arm_timeout (300 s; the wait ends on the run's stop.json):
    # the rest of the playbook is a few tasks
    assert took < 60, f"the stopped run took {took:.0f} s to end"
    step = "the plan" if phase == "preflight" else "the start signal"
    assert f"run state: ABORTED - run 'halt' was stopped before {step} by " in text, text[-3000:]
    assert "(ansible-playbook stop.yml, pid " in text
    assert arrivals(log) == 0  # no load was sent
    record = json.loads((results / "halt" / "stopped.json").read_text())
    assert record["before"] == step and record["playbooks"] == ["stop.yml"]
    # the stop was for that run only: the same run id runs again once overwritten
    again = ansible_playbook("plan.yml", str(inventory), "-e", f"hailstorm_results_dir={results}",
                             "-e", "hailstorm_run_id=halt", "-e", "hailstorm_overwrite=true", *PLAN)
    assert again.returncode == 0, again.stdout[-3000:]


def test_stop_with_nothing_to_stop_says_so_and_what_ran_last(tmp_path):
    results = tmp_path / "results"
    (results / "old").mkdir(parents=True)
    (results / "old" / "summary.json").write_text(json.dumps({"state": "degraded"}))
    stopped = ansible_playbook("stop.yml", str(local_aliases(tmp_path, 1, name="idle")), "-e", f"hailstorm_results_dir={results}",
                               "-e", "hailstorm_run_id=old")
    assert stopped.returncode == 0, stopped.stdout[-3000:]
    text = re.sub(r"\s+", " ", stopped.stdout).replace("''", "'")
    assert "no run of id 'old' is running" in text and "nothing was stopped" in text, text[-3000:]
    assert f"last: run 'old' ended DEGRADED ({results}/old/summary.json)" in text


def test_overwrite_of_a_launched_run_whose_controller_ended_is_refused_until_it_is_over(tmp_path):
    """ctrl-c leaves the load going: its controller's claim has ended, but the results directory of
    a launched run that may still be running is not removed by hailstorm_overwrite=true; stop.yml
    stops it and marks it stopped, and its records are collected."""
    results, log = tmp_path / "results", tmp_path / "arrivals.log"
    run_dir = results / "cut"
    inventory = local_aliases(tmp_path, 1, name="cut")
    with feeder(log) as url:
        # a load long enough to be still going when stop.yml comes (the later -e wins)
        first = First(inventory, results, "cut", url, (), "-e", "hailstorm_constant=90s")
        try:
            work = results / ".work" / "cut00" / "cut"
            wait_until(lambda: (work / "core-0.status.json").exists()
                       and json.loads((work / "core-0.status.json").read_text() or "{}").get("state") == "running",
                       "the load to run", timeout=300)
            interrupt(first.process, read=False)  # ctrl-c: the controller ends, the load goes on
            plan = (run_dir / "plan.json").read_bytes()
            again = ansible_playbook("distribute.yml", str(inventory), "-e", f"hailstorm_target={url}",
                                     "-e", f"hailstorm_results_dir={results}", "-e", "hailstorm_run_id=cut",
                                     "-e", "hailstorm_overwrite=true", *PLAN, *OTHER)
            text = re.sub(r"\s+", " ", again.stdout)
            assert again.returncode != 0 and "hailstorm_overwrite: run 'cut' is not over" in text, text[-3000:]
            assert (run_dir / "plan.json").read_bytes() == plan
            # stop.yml stops it on its host and marks it stopped: its records are still collected
            stopped = ansible_playbook("stop.yml", str(inventory), "-e", f"hailstorm_results_dir={results}")
            said = re.sub(r"\s+", " ", stopped.stdout).replace("''", "'")
            assert stopped.returncode == 0 and "run 'cut' marked stopped" in said, said[-3000:]
            collected = ansible_playbook("collect.yml", str(inventory), "-e", f"hailstorm_results_dir={results}",
                                         "-e", "hailstorm_run_id=cut")
        finally:
            first.kill()
    # stopped mid-run: aborted (exit 12), what was recorded merged
    assert collected.returncode == 12 and "run state: ABORTED" in collected.stdout, collected.stdout[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert_every_arrival_counted(summary["requests"], arrivals(log),
                                 interrupted_of(summary))
