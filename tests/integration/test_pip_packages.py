"""hailstorm_pip_packages with the local backend: the controller's Python must already have them
(nothing is installed into it), and a locustfile that uses them (locust-plugins, pinned in
requirements.txt on a line tagged `# hailstorm_pip_packages`) runs with their listeners and
command line arguments: `--check-fail-ratio` turns failed requests into the locustfile's exit
code, which fails the run."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import ROOT, ansible_playbook, feeder, local_run

SHORT = {"cores": 1, "rps": 10, "pace": "1s", "rampup": "1s", "constant": "2s", "rampdown": "1s"}

def tagged_packages() -> list[str]:
    """The requirements of requirements.txt tagged `# hailstorm_pip_packages` (as the molecule
    scenarios and scripts/testhosts.sh read them)."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if re.match(r"[A-Za-z0-9].*# *hailstorm_pip_packages\s*$", line)]

PLUGINS = next(p for p in tagged_packages() if p.startswith("locust-plugins=="))

# The marker listener is registered before locust_plugins is imported: Locust fires `quitting` in
# reverse order, so it runs after locust-plugins' check and shows what that check did (the check
# sets exit_code_on_error to 0 whenever --check-fail-ratio is given).
LOCUSTFILE = '''
import logging

import locust
from locust import HttpUser, events, task

@events.quitting.add_listener
def _after_the_check(environment, **_kwargs):
    options = environment.parsed_options
    logging.getLogger("hs-test").info(
        "after locust-plugins' check: check_fail_ratio=%s exit_code_on_error=%s fail_ratio=%.3f requests=%d "
        "process_exit_code=%s", options.check_fail_ratio, options.exit_code_on_error,
        environment.runner.stats.total.fail_ratio, environment.runner.stats.total.num_requests,
        environment.process_exit_code)

import locust_plugins  # noqa: E402 - after the marker above; registers its arguments and listeners

class Shopper(HttpUser):
    @task
    def get(self):
        self.client.get("PATH")
'''

def run(tmp_path: Path, run_id: str, path: str, *extra: str):
    locustfile = tmp_path / f"{run_id}.py"
    locustfile.write_text(LOCUSTFILE.replace("PATH", path))
    with feeder() as url:
        return local_run(tmp_path, run_id, url, locustfile, *extra, pip_packages=[PLUGINS],
                         locust_args=["--check-fail-ratio", "0.01"], **SHORT)

def core_log(tmp_path: Path, run_id: str) -> str:
    return (tmp_path / run_id / "localhost" / "core-0.log").read_text()

def listeners_ran(log: str) -> dict[str, str]:
    assert "'NoneType' object has no attribute" not in log, log[-3000:]
    assert "hook failed" not in log and "Traceback" not in log, log[-3000:]
    marker = re.search(r"after locust-plugins' check: check_fail_ratio=(\S+) exit_code_on_error=(\S+) "
                       r"fail_ratio=(\S+) requests=(\d+) process_exit_code=(\S+)", log)
    assert marker, log[-3000:]
    return dict(zip(["check_fail_ratio", "exit_code_on_error", "fail_ratio", "requests", "process_exit_code"],
                    marker.groups()))

def test_locust_plugins_check_fail_ratio_fails_a_run_whose_requests_fail(tmp_path):
    result = run(tmp_path, "plugins-fail", "/status/500")
    assert result.returncode == 3, result.stdout[-3000:]  # the locustfile's process_exit_code, as Locust exits
    out = " ".join(result.stdout.split())
    assert "run state: FAILED" in out, result.stdout[-3000:]
    assert "localhost core 0: the locustfile set environment.process_exit_code = 3" in out, result.stdout[-3000:]
    log = core_log(tmp_path, "plugins-fail")
    marker = listeners_ran(log)
    # locust-plugins parsed its own argument, saw every request fail and set the exit code
    assert marker["check_fail_ratio"] == "0.01" and marker["exit_code_on_error"] == "0"
    assert float(marker["fail_ratio"]) == 1.0 and int(marker["requests"]) > 0 and marker["process_exit_code"] == "3"
    assert "CHECK FAILED: fail ratio was 100.00% (threshold 1.00%)" in log
    summary = json.loads((tmp_path / "plugins-fail" / "summary.json").read_text())
    assert summary["state"] == "failed" and summary["requests"] == int(marker["requests"])
    assert summary["cores"][0]["locustfile_exit_code"] == 3
    assert any("process_exit_code = 3" in reason for reason in summary["reasons"]), summary["reasons"]

def test_locust_plugins_check_passes_a_run_whose_requests_succeed(tmp_path):
    result = run(tmp_path, "plugins-pass", "/status/200")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "run state: completed" in " ".join(result.stdout.split()), result.stdout[-3000:]
    marker = listeners_ran(core_log(tmp_path, "plugins-pass"))
    assert marker["check_fail_ratio"] == "0.01" and marker["exit_code_on_error"] == "0"  # the check ran
    assert float(marker["fail_ratio"]) == 0.0 and int(marker["requests"]) > 0 and marker["process_exit_code"] == "None"
    summary = json.loads((tmp_path / "plugins-pass" / "summary.json").read_text())
    assert summary["state"] == "completed" and summary["cores"][0]["locustfile_exit_code"] is None

@pytest.mark.parametrize("package, message", [
    ("hailstorms-no-such-package==1.0",
     "hailstorm_pip_packages: hailstorms-no-such-package==1.0 is not installed in the controller's Python ({python}), "
     "which the local backend runs: pip install 'hailstorms-no-such-package==1.0'"),
    ("locust-plugins<5",
     "hailstorm_pip_packages: locust-plugins<5 does not match locust-plugins 5.0.3, installed in the controller's "
     "Python ({python}), which the local backend runs: pip install 'locust-plugins<5'"),
])
def test_a_package_the_controllers_python_lacks_fails_the_local_run_before_any_load(tmp_path, package, message):

    locustfile = tmp_path / "plain.py"
    locustfile.write_text("from locust import HttpUser, task\n\n\nclass U(HttpUser):\n    @task\n    def t(self):\n"
                          "        self.client.get('/')\n")
    result = local_run(tmp_path, "missing", "http://127.0.0.1:9", locustfile, pip_packages=[package], **SHORT)
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert re.search(re.escape(message).replace(re.escape("{python}"), r"/\S*python[0-9.]*"), out), result.stdout[-3000:]
    assert "Probe the load host" not in result.stdout  # failed before any host was probed
    assert not (tmp_path / "missing" / "localhost").exists() and not (tmp_path / ".work").exists()


def test_a_pip_option_is_refused_before_any_host_is_touched(tmp_path):
    result = ansible_playbook(
        "distribute.yml", "local", "-e", f"hailstorm_results_dir={tmp_path}", "-e", "hailstorm_run_id=option",
        "-e", json.dumps({"hailstorm_pip_packages": ["--index-url=https://example.invalid/simple"]}))
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert ("hailstorm_pip_packages: item 1, '--index-url=https://example.invalid/simple', is a pip option, "
            "not a requirement") in out, result.stdout[-3000:]
    assert "Probe the load host" not in result.stdout
