"""Checks on the controller before any host is touched, through the real playbooks: the locustfile
(for every backend, the local one too) and hailstorm_ variables that no role reads."""
from __future__ import annotations

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
