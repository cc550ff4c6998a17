"""Checks on the controller before any host is touched, through the real playbooks: the locustfile
(for every backend, the local one too) and hailstorm_ variables that no role reads."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import ansible_playbook

SHAPE = """
from locust import HttpUser, LoadTestShape, task

class Shopper(HttpUser):
    @task
    def home(self):
        self.client.get("/")

class Steps(LoadTestShape):  # depends on the run's state: cannot be planned ahead
    def tick(self):
        return (self.get_current_user_count() + 10, 10) if self.get_run_time() < 60 else None
"""


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("content, message", [
    (None, "does not exist on the controller"),
    (SHAPE, "defines the LoadTestShape Steps, which cannot be planned: the LoadTestShape Steps reads runner.user_count "
            "in tick()"),
    ("from locust import HttpUser\n", "defines no User class"),
    ("import no_such_sdk\n", "does not import with Locust (exit 1): ModuleNotFoundError: No module named 'no_such_sdk'"),
])
def test_a_bad_locustfile_stops_the_plan_before_any_host_is_touched(tmp_path, content, message):
    locustfile = tmp_path / "locustfile.py"
    if content is not None:
        locustfile.write_text(content)
    results = tmp_path / "results"
    # the seed hosts (192.0.2.x) do not exist: any contact would fail the play as unreachable
    result = ansible_playbook("plan.yml", "seed-example", "-e", f"hailstorm_locustfile={locustfile}",
                              "-e", f"hailstorm_results_dir={results}")
    assert result.returncode != 0
    assert f"hailstorm_locustfile: {locustfile} {message}" in flat(result.stdout)
    assert "UNREACHABLE" not in result.stdout
    assert not results.exists()


def test_the_local_backend_checks_the_locustfile_before_preflight(tmp_path):
    missing = tmp_path / "missing.py"
    result = ansible_playbook("distribute.yml", "local", "-e", "hailstorm_profile=short",
                              "-e", f"hailstorm_locustfile={missing}", "-e", f"hailstorm_results_dir={tmp_path}",
                              "-e", "hailstorm_target=http://127.0.0.1:9")
    assert result.returncode != 0
    assert f"hailstorm_locustfile: {missing} does not exist on the controller" in flat(result.stdout)
    assert "romram.hailstorms.preflight :" not in result.stdout  # no preflight task ran
    assert "no core-" not in result.stdout


RANDOM_SHAPE = """
import random
from locust import HttpUser, LoadTestShape, task

class Shopper(HttpUser):
    @task
    def home(self):
        self.client.get("/")

class Lottery(LoadTestShape):
    def tick(self):
        return (random.randint(20, 50), 100) if self.get_run_time() < 20 else None
"""
CLOCK_SHAPE = RANDOM_SHAPE.replace("import random", "import time").replace(
    "random.randint(20, 50)", "20 + int(time.time()) % 2")


@pytest.mark.parametrize("content, seen", [
    (RANDOM_SHAPE, "draws random numbers in tick() (random.randint()): two samplings differ (at "),
    (CLOCK_SHAPE, "reads the wall clock in tick() (time.time()); the plan assumed"),
])
def test_a_shape_the_plan_cannot_replay_is_planned_with_a_warning_kept_in_plan_json(tmp_path, content, seen):
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(content)
    result = ansible_playbook("plan.yml", "seed-example", "-e", f"hailstorm_locustfile={locustfile}",
                              "-e", f"hailstorm_results_dir={tmp_path}", "-e", "hailstorm_run_id=shape")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "UNREACHABLE" not in result.stdout
    assumed = ("the plan assumed the curve sampled at planning time from get_run_time(), replayed exactly")
    assert f"WARNING: the LoadTestShape Lottery {seen}" in flat(result.stdout) and assumed in flat(result.stdout)
    plan = json.loads((tmp_path / "shape" / "plan.json").read_text())
    assert plan["shape"] == "Lottery" and any(seen in text and assumed in text for text in plan["warnings"])


def test_a_misspelt_setting_is_warned_about_with_the_closest_known_one(tmp_path):
    result = ansible_playbook("plan.yml", "seed-example", "-e", "hailstorm_ramup=30",
                              "-e", f"hailstorm_results_dir={tmp_path}", "-e", "hailstorm_run_id=typo")
    assert result.returncode == 0, result.stdout + result.stderr
    output = flat(result.stdout + result.stderr)
    assert ("hailstorm_ramup is not a setting of romram.hailstorms: no role reads it, so it changes nothing; "
            "did you mean hailstorm_rampup?") in output
    assert "hailstorm_rampup?" in output and output.count("is not a setting of") == 1
    assert (Path(tmp_path) / "typo" / "plan.json").exists()


def test_milliseconds_are_a_pace(tmp_path):
    result = ansible_playbook("plan.yml", "seed-example", "-e", "hailstorm_pace=500ms", "-e", "hailstorm_rps=40",
                              "-e", "hailstorm_clients=20", "-e", f"hailstorm_results_dir={tmp_path}",
                              "-e", "hailstorm_run_id=ms")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "20 clients, 40 rps, pace 0.500 s" in result.stdout
