"""The execution environment image (make ee) runs the real thing: ansible-doc of the collection's
modules, and romram.hailstorms.distribute with the local backend inside the container against the
bundled feeder on this machine (host network), the inventory and locustfile mounted, the results
written to this machine's filesystem as the user the container runs as. A broken threshold exits
as from a venv. Opt-in (make ee-test): building the image takes minutes."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import feeder, local_run

IMAGE = "hailstorms-ee:latest"
UID = GID = 1000  # not root: the results must belong to the user the container runs as
SHORT = {"rps": 10, "pace": "1s", "rampup": "3s", "constant": "6s", "rampdown": "2s"}
LOCUSTFILE = '''from locust import HttpUser, task


class EeUser(HttpUser):
    @task
    def hello(self):
        self.client.get("/ee")
'''


def docker_run(work: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "--network", "host", "--user", f"{UID}:{GID}", "--group-add", "0",
                           "-v", f"{work}:/work", "-w", "/work", IMAGE, *command],
                          capture_output=True, text=True, timeout=600, check=False)


def environment(tmp_path: Path, target: str, thresholds: dict | None = None) -> Path:
    """An inventory for the container: its own localhost with the local backend."""
    work = tmp_path / "work"
    (work / "inventory" / "group_vars").mkdir(parents=True)
    (work / "inventory" / "locustfiles").mkdir()
    (work / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"load_hosts": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}}}))
    settings = {"hailstorm_backend": "local", "hailstorm_results_dir": "/work/results",
                "hailstorm_work_dir": "/work/results/.work", "hailstorm_run_id": "ee",
                "hailstorm_profiles": {"default": {**SHORT, "target": target,
                                                   "locustfile": "/work/inventory/locustfiles/locustfile.py"}}}
    if thresholds:
        settings["hailstorm_thresholds"] = thresholds
    (work / "inventory" / "group_vars" / "all.yml").write_text(yaml.safe_dump(settings))
    (work / "inventory" / "locustfiles" / "locustfile.py").write_text(LOCUSTFILE)
    for path in [work, *work.rglob("*")]:
        os.chown(path, UID, GID)
    return work


@pytest.fixture(scope="module", autouse=True)
def image():
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, check=False).returncode:
        pytest.fail(f"no image {IMAGE}: build it with `make ee` (make ee-test does)")


def test_the_image_documents_the_collections_modules(tmp_path):
    result = docker_run(tmp_path, "ansible-doc", "romram.hailstorms.hailstorm_results")
    assert result.returncode == 0, result.stderr
    assert "romram.hailstorms.hailstorm_results" in result.stdout


def test_distribute_from_the_image_sends_the_plan_and_leaves_the_results_to_the_caller(tmp_path):
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        work = environment(tmp_path, url)
        result = docker_run(work, "ansible-playbook", "romram.hailstorms.distribute", "-i", "inventory")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    run = work / "results" / "ee"
    summary = json.loads((run / "summary.json").read_text())
    planned = json.loads((run / "plan.json").read_text())["expected_requests"]
    received = [line for line in arrivals.read_text().splitlines() if line.endswith(" /ee")]
    assert summary["state"] == "completed"
    assert summary["requests"] == planned == len(received)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [run, *run.rglob("*")]}
    assert owners == {(UID, GID)}


def test_a_broken_threshold_exits_as_from_a_venv(tmp_path):
    thresholds = {"p95_ms": 0.001}
    with feeder() as url:
        work = environment(tmp_path, url, thresholds)
        from_image = docker_run(work, "ansible-playbook", "romram.hailstorms.distribute", "-i", "inventory")
        from_venv = local_run(tmp_path / "venv", "ee-venv", url, work / "inventory" / "locustfiles" / "locustfile.py",
                              "-e", json.dumps({"hailstorm_thresholds": thresholds, **{f"hailstorm_{k}": v for k, v in SHORT.items()}}))
    assert "p95_ms (all labels)" in from_image.stdout and "BROKEN" in from_image.stdout, from_image.stdout[-3000:]
    assert from_image.returncode == from_venv.returncode != 0
