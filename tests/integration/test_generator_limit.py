"""A run whose load generator is the bottleneck says so, and a light one does not.

The real playbook on this machine with two load cores: the locustfile burns CPU in every task of
the clients of core 0 only (70 ms per request at 20 requests a second: 1.4 CPU seconds a
second, and the event loop blocked most of the time), while core 1's clients only send their
GET. Core 0 must be reported generator-limited in the progress lines and in the summary; core 1
(and the run's other figures) must not.
"""
from __future__ import annotations

import json
import re

import pytest

from harness import ansible_playbook, feeder

pytestmark = pytest.mark.serial  # measures timing: runs alone, after the parallel tests (pytest.ini)

LOCUSTFILE = '''
import time

from locust import HttpUser, task


class Burner(HttpUser):
    @task
    def hit(self):
        if self.hailstorm.core_index == 0:
            end = time.process_time() + 0.07
            while time.process_time() < end:
                pass
        self.client.get("/burn", name="/burn")
'''
MESSAGE = "results from localhost core {} are generator-limited; plan fewer rps per core"
PROGRESS = re.compile(r"\d+/\d+ s: active .*?(?=\d+/\d+ s: active|TASK \[)")


def test_an_overloaded_core_is_reported_generator_limited_and_a_light_one_is_not(tmp_path):
    locustfile = tmp_path / "burner.py"
    locustfile.write_text(LOCUSTFILE)
    with feeder() as url:
        result = ansible_playbook(
            "distribute.yml", "local", "-e", "hailstorm_profile=short", "-e", "hailstorm_cores=2",
            "-e", f"hailstorm_locustfile={locustfile}", "-e", "hailstorm_progress_interval=4",
            "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={tmp_path}", "-e", "hailstorm_run_id=sat")
    # a generator-limited run is degraded: it says so in its exit code and its last lines
    assert result.returncode != 0, result.stdout[-6000:] + result.stderr
    assert "run state: DEGRADED" in result.stdout
    summary = json.loads((tmp_path / "sat" / "summary.json").read_text())
    loads = {core["core"]: core["load"] for core in summary["cores"]}
    print("\n" + json.dumps(loads, indent=1))
    assert loads[0]["generator_limited"] and loads[0]["limited_seconds"] >= 4
    assert not loads[1]["generator_limited"]
    assert loads[1]["cpu_max"] < 0.9
    # on a machine busy with other work, core 0 gets only part of a CPU and its loop is held for
    # seconds at a time: it is then reported as stalled too (the same cause); a stall of a second or
    # more of the light core (the machine's, not its own work) is reported as such, never as a limit
    named = [m.split(" (")[0] for m in summary["generator_limited"]]
    assert named[0] == MESSAGE.format(0) and MESSAGE.format(1) not in named, named
    assert all(re.match(r"localhost core [01] stalled for ", m) for m in named[1:]), named
    (tmp_path / "stdout").write_text(result.stdout)
    output = " ".join(result.stdout.split())  # the YAML output folds long lines
    assert f"WARNING: {summary['generator_limited'][0]}" in output
    progress = PROGRESS.findall(output)
    print("\n".join(progress))
    assert any(MESSAGE.format(0) in line for line in progress), progress
    assert not any(MESSAGE.format(1) in line for line in progress), progress
    # the light core kept its plan: its clients all started on time and never overran
    assert summary["failures"] == 0
