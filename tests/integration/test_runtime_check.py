"""`python -m hailstorm_runtime check` and `run` on good and bad locustfiles: Locust's own error
text and a non-zero exit at once, never a hang."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import contract
from harness import wait_until

ROOT = Path(__file__).resolve().parents[2]
# from the package's metadata: importing Locust here would patch this process with gevent (a
# pytest-xdist worker of make test-integration stops answering)
LOCUST_VERSION = importlib.metadata.version("locust")
RUNTIME = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms" / "runtime"
ENV = {**os.environ, "PYTHONPATH": str(RUNTIME)}


def runtime(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hailstorm_runtime", *args], env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def test_check_lists_the_user_classes_of_the_demo():
    result = runtime("check", "--locustfile", str(ROOT / "locustfiles" / "demo.py"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["user_classes"] == ["FeederUser"]
    assert report["weights"] == {"FeederUser": 1} and report["shape_classes"] == []
    assert report["locust"] == LOCUST_VERSION


def test_check_reports_how_long_the_locustfile_took_to_import(tmp_path):
    path = tmp_path / "slow_import.py"
    path.write_text("import time\n\nfrom locust import User, task\n\ntime.sleep(0.4)  # e.g. reading a data file\n\n\n"
                    "class A(User):\n    @task\n    def t(self):\n        pass\n")
    result = runtime("check", "--locustfile", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["import_seconds"] >= 0.4  # the import's own sleep is in it


@pytest.mark.parametrize("content, expected", [
    (None, "Could not find"),
    ("from locust import HttpUser\nclass A(HttpUser)\n", "SyntaxError"),
    ("from locust import HttpUser\nx = 1\n", "No User class found!"),
    ("import not_a_module_anywhere\n", "ModuleNotFoundError"),
])
def test_bad_locustfiles_fail_at_once_with_lockusts_own_text(tmp_path, content, expected):
    path = tmp_path / "locustfile.py"
    if content is not None:
        path.write_text(content)
    result = runtime("check", "--locustfile", str(path))
    assert result.returncode != 0
    assert expected in result.stderr


def test_run_with_a_bad_locustfile_fails_and_says_so_in_its_status(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from locust import HttpUser\nx = 1\n")
    # the start an hour ahead: a run that waited for it would hit the runtime() timeout
    data = contract.host_data(
        {"host": "h", "host_index": 0, "hosts": 1,
         "plan": {"clients": 2, "rps": 1, "pace": 2.0, "gap": 5, "stop_gap": 5, "rampup": 10,
                  "constant": 0, "rampdown": 10, "duration": 20},
         "cores": [{"index": 0, "slot": 0, "clients": 2, "first_client": 0, "client_step": 1,
                    "first_start": 0.0, "start_step": 5.0, "phase_first": 0, "phase_step": 1,
                    "first_stop": 20.0, "stop_step": -5.0}]},
        "bad", "http://127.0.0.1:9", str(bad), str(tmp_path / "work"), start_time=time.time() + 3600, deadline_grace=5)
    (tmp_path / "data.json").write_text(json.dumps(data))
    result = runtime("run", "--data", str(tmp_path / "data.json"), "--core", "0")
    assert result.returncode != 0 and "No User class found!" in result.stderr
    status = json.loads((tmp_path / "work" / "core-0.status.json").read_text())
    assert status["state"] == "failed"
    assert not (tmp_path / "work" / "core-0.pid").exists()


STOPPING_LOCUSTFILE = '''
import os

import gevent
from locust import User, task


class Sleeper(User):
    def on_start(self):
        open(os.path.join(os.environ["MARKS"], f"start-{self.hailstorm.client_id}"), "w").close()

    @task
    def stuck(self):
        gevent.sleep(float(os.environ["TASK_SECONDS"]))

    def on_stop(self):
        open(os.path.join(os.environ["MARKS"], f"stop-{self.hailstorm.client_id}"), "w").close()
'''


def _one_core_plan(tmp_path: Path, start_in: float, duration: float, grace: float) -> Path:
    locustfile = tmp_path / "sleeper.py"
    locustfile.write_text(STOPPING_LOCUSTFILE)
    data = contract.host_data(
        {"host": "h", "host_index": 0, "hosts": 1,
         "plan": {"clients": 2, "rps": 1, "pace": 2.0, "gap": 0.25, "stop_gap": 0.0, "rampup": 0.5,
                  "constant": duration - 0.5, "rampdown": 0, "duration": duration},
         "cores": [{"index": 0, "slot": 0, "clients": 2, "first_client": 0, "client_step": 1,
                    "first_start": 0.0, "start_step": 0.25, "phase_first": 0, "phase_step": 1,
                    "first_stop": duration, "stop_step": 0.0}]},
        "stop", "http://127.0.0.1:9", str(locustfile), str(tmp_path / "work"), start_time=time.time() + start_in,
        deadline_grace=grace)
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    (tmp_path / "marks").mkdir()
    return path


def _end_record(tmp_path: Path) -> dict:
    lines = (tmp_path / "work" / "core-0.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def test_hard_deadline_stops_stuck_users_runs_on_stop_and_exits(tmp_path):
    # the shared start well after Locust's import even on a busy machine: a process that loaded
    # after its whole plan (CI: more than 3 s beside the parallel tests) starts no user and ends "done"
    data = _one_core_plan(tmp_path, start_in=8.0, duration=1.0, grace=1.0)
    # the tasks sleep 120 s, twice the timeout: a process that waited for them would time out
    env = {**ENV, "MARKS": str(tmp_path / "marks"), "TASK_SECONDS": "120"}
    result = subprocess.run([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(data), "--core", "0"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    end = _end_record(tmp_path)
    assert end["type"] == "end" and end["reason"] == "deadline"
    assert sorted(p.name for p in (tmp_path / "marks").iterdir()) == ["start-0", "start-1", "stop-0", "stop-1"]
    assert json.loads((tmp_path / "work" / "core-0.status.json").read_text())["state"] == "done"


def test_sigterm_stops_the_users_gracefully(tmp_path):
    data = _one_core_plan(tmp_path, start_in=2.0, duration=60.0, grace=5.0)
    env = {**ENV, "MARKS": str(tmp_path / "marks"), "TASK_SECONDS": "0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(data), "--core", "0"],
                            env=env, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: len(list((tmp_path / "marks").iterdir())) >= 2, "two task iterations", 30)
    assert (tmp_path / "work" / "core-0.pid").read_text().strip() == str(proc.pid)
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert _end_record(tmp_path)["reason"] == "signal SIGTERM"
    assert {"stop-0", "stop-1"} <= {p.name for p in (tmp_path / "marks").iterdir()}
    assert not (tmp_path / "work" / "core-0.pid").exists()
