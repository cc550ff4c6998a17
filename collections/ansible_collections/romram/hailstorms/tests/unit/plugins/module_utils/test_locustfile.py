"""The controller's locustfile check: every message, from the real runtime's `check` on real
locustfiles (Locust's own loader, in a subprocess as the action plugin runs it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import locustfile

RUNTIME = Path(__file__).resolve().parents[4] / "runtime"
REQUIREMENTS = str(RUNTIME / "requirements.txt")

USERS = """
from locust import HttpUser, FastHttpUser, TaskSet, task

class Browse(TaskSet):
    @task
    def home(self):
        self.client.get("/")

class Shopper(HttpUser):
    tasks = [Browse]

class Fast(FastHttpUser):
    @task
    def ping(self):
        self.client.get("/ping")
"""
SHAPE = USERS + """
from locust import LoadTestShape

class Steps(LoadTestShape):
    def tick(self):
        return None
"""


def check(tmp_path: Path, source: str | None, python: str = sys.executable, environment=None,
          dry_run: bool = False, rps: float | None = None) -> dict:
    path = tmp_path / "locustfile.py"
    if source is not None:
        path.write_text(source)
    problem = locustfile.before_import(str(path), str(tmp_path))
    if problem:
        return {"failed": True, "msg": problem}
    done = subprocess.run(locustfile.check_argv(python, str(path), dry_run=dry_run), capture_output=True, text=True,
                          timeout=120, env=locustfile.check_env(os.environ, str(RUNTIME), environment), cwd=tmp_path,
                          check=False)
    return locustfile.verdict(str(path), python, REQUIREMENTS, done.returncode, done.stdout, done.stderr, rps=rps)


def test_an_ordinary_locustfile_passes_and_lists_its_user_classes(tmp_path):
    result = check(tmp_path, USERS)
    assert result["failed"] is False, result["msg"]
    assert result["user_classes"] == ["Fast", "Shopper"]
    assert result["msg"].endswith("user classes Fast, Shopper (Locust 2.47.0)")


def test_a_missing_locustfile_is_named_with_the_fix(tmp_path):
    result = check(tmp_path, None)
    assert result == {"failed": True, "msg": (
        f"hailstorm_locustfile: {tmp_path}/locustfile.py does not exist on the controller; give the path of your "
        "locustfile, e.g. -e hailstorm_locustfile=$PWD/locustfile.py")}


def test_a_relative_missing_path_says_where_it_was_looked_for(tmp_path):
    assert locustfile.before_import("lf/missing.py", str(tmp_path)) == (
        f"hailstorm_locustfile: lf/missing.py does not exist on the controller (a relative path is read from "
        f"{tmp_path}); give the path of your locustfile, e.g. -e hailstorm_locustfile=$PWD/locustfile.py")
    (tmp_path / "lf").mkdir()
    (tmp_path / "lf" / "missing.py").write_text(USERS)
    assert locustfile.before_import("lf/missing.py", str(tmp_path)) is None


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_unset_locustfile_says_where_to_give_it(value):
    assert locustfile.before_import(value, "/") == (
        "hailstorm_locustfile: not set; give your locustfile in hailstorm_profiles (locustfile: "
        "path/to/locustfile.py) or as -e hailstorm_locustfile=path/to/locustfile.py")


def test_a_load_test_shape_is_refused_because_the_plan_is_the_shape(tmp_path):
    result = check(tmp_path, SHAPE)
    assert result["failed"] is True and result["shape_classes"] == ["Steps"]
    assert result["msg"] == (
        f"hailstorm_locustfile: {tmp_path}/locustfile.py defines the LoadTestShape Steps; romram.hailstorms takes "
        "the shape of a run from its plan (hailstorm_rps, hailstorm_rampup, hailstorm_constant, hailstorm_rampdown) "
        "and would not use it: remove the class from the locustfile (keep it in a file of its own for plain "
        "Locust) and give the shape as those settings")


def test_no_user_class(tmp_path):
    result = check(tmp_path, "from locust import HttpUser\nBase = HttpUser\nx = 1\n")
    assert result == {"failed": True, "msg": (
        f"hailstorm_locustfile: {tmp_path}/locustfile.py defines no User class; a locustfile needs at least one "
        "class derived from locust.HttpUser, FastHttpUser or User, with @task methods or a tasks list")}


def test_an_import_error_shows_the_error_and_the_users_line(tmp_path):
    result = check(tmp_path, "from locust import HttpUser\n\nraise RuntimeError('no token in the environment')\n")
    assert result["failed"] is True
    first, traceback = result["msg"].split("\n", 1)
    assert first == (
        f"hailstorm_locustfile: {tmp_path}/locustfile.py does not import with Locust (exit 1): RuntimeError: no "
        f"token in the environment; fix the locustfile (`{sys.executable} -m locust -f {tmp_path}/locustfile.py "
        "--list` shows the same error). Traceback:")
    assert f'File "{tmp_path}/locustfile.py", line 3, in <module>' in traceback
    assert len(traceback.splitlines()) <= locustfile.TRACEBACK_LINES


def test_a_syntax_error_is_an_import_error(tmp_path):
    result = check(tmp_path, "from locust import HttpUser\nclass A(HttpUser)\n")
    assert result["failed"] is True and "SyntaxError" in result["msg"].split("\n", maxsplit=1)[0]


def test_the_runs_environment_reaches_the_import_and_never_the_result(tmp_path):
    source = "import os\nassert os.environ['SHOP_TOKEN'] == 's3cr3t'\n" + USERS
    assert check(tmp_path, source)["failed"] is True  # without it the import fails
    result = check(tmp_path, source, environment={"SHOP_TOKEN": "s3cr3t"})
    assert result["failed"] is False
    assert "s3cr3t" not in json.dumps(result)


def test_a_python_without_locust_says_how_to_install_it(tmp_path):
    python = "/usr/bin/python3"  # Debian's, without Locust
    probe = subprocess.run([python, "-c", "import locust"], capture_output=True, check=False)
    if probe.returncode == 0:  # pragma: no cover - a machine whose system Python has Locust
        pytest.skip(f"{python} has Locust")
    result = check(tmp_path, USERS, python=python)
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"hailstorm_locustfile: cannot check {tmp_path}/locustfile.py on the controller, its Python {python} has "
        "no Locust (ModuleNotFoundError: No module named ")
    assert result["msg"].endswith(f"; install the runtime's pinned requirements there: {python} -m pip install "
                                  f"-r {REQUIREMENTS}")


@pytest.mark.parametrize("stdout", ["", "hello from the locustfile\n", '{"users": []}\n'])
def test_output_that_is_no_report(stdout):
    result = locustfile.verdict("lf.py", "py", REQUIREMENTS, 0, stdout, "")
    assert result["failed"] is True
    assert result["msg"].startswith("hailstorm_locustfile: the check of lf.py printed no report (stdout: ")
    assert result["msg"].endswith("does the locustfile print to stdout or exit at import? Remove that, or guard "
                                  "it with `if __name__ == '__main__':`")


def test_a_timeout_names_the_locustfile_and_the_likely_cause():
    assert locustfile.timed_out("lf.py", 120) == {"failed": True, "msg": (
        "hailstorm_locustfile: importing lf.py on the controller took over 120 s; does it wait for something at "
        "import (a network call, input())? Move that into on_start or a test_start listener")}


def test_the_environment_puts_the_runtime_first_and_keeps_the_callers_path():
    env = locustfile.check_env({"PYTHONPATH": "/mine", "HOME": "/h"}, "/rt", {"N": 3})
    assert env == {"PYTHONPATH": os.pathsep.join(["/rt", "/mine"]), "HOME": "/h", "N": "3"}


CUSTOM = """
from locust import HttpUser, events, tag, task

@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--shop-id", default="s1")

class Shopper(HttpUser):
    @tag("checkout")
    @task
    def pay(self):
        self.client.get("/pay")
"""


def run_check(tmp_path: Path, source: str, locust_args) -> dict:
    path = tmp_path / "locustfile.py"
    path.write_text(source)
    done = subprocess.run(locustfile.check_argv(sys.executable, str(path), locust_args), capture_output=True,
                          text=True, timeout=120, env=locustfile.check_env(os.environ, str(RUNTIME), None), check=False)
    return locustfile.verdict(str(path), sys.executable, REQUIREMENTS, done.returncode, done.stdout, done.stderr,
                              locust_args)


def test_locust_args_and_the_locustfiles_own_arguments_pass(tmp_path):
    result = run_check(tmp_path, CUSTOM, ["--tags", "checkout", "--shop-id", "s9", "--exclude-tags", "slow"])
    assert result["failed"] is False, result["msg"]


def test_an_unknown_locust_arg_is_named_with_locusts_suggestion(tmp_path):
    result = run_check(tmp_path, CUSTOM, ["--tagz", "checkout"])
    assert result == {"failed": True, "msg": (
        f"hailstorm_locust_args: ['--tagz', 'checkout'] are not all arguments of Locust or of "
        f"{tmp_path}/locustfile.py (unrecognized arguments: --tagz Did you mean '--tags'?); give arguments that "
        f"`locust -f {tmp_path}/locustfile.py --help` lists")}


@pytest.mark.parametrize("value", ["--tags checkout", [["--tags"]], {"tags": "x"}])
def test_locust_args_must_be_a_list(value):
    assert locustfile.bad_locust_args(value) == (
        "hailstorm_locust_args: expected a list of Locust command line arguments, such as ['--tags', 'checkout'], "
        f"got {value!r}")
    assert locustfile.bad_locust_args(["--tags", "checkout"]) is None


MULTI = """
from locust import FastHttpUser, HttpUser, User, task


class Checkout(HttpUser):
    def on_start(self):
        self.client.post("/login")  # on_start: not part of an iteration

    @task
    def buy(self):
        self.client.get("/cart")
        self.client.post("/cart")
        self.client.get("/pay")


class Browse(FastHttpUser):
    weight = 3

    @task
    def home(self):
        self.client.get("/")


class Queue(User):  # not an HTTP user: not dry-run
    @task
    def poll(self):
        pass
"""


def test_a_dry_run_counts_requests_per_task_iteration_and_warns_with_the_rps_to_plan(tmp_path):
    result = check(tmp_path, MULTI, dry_run=True, rps=100)
    assert result["failed"] is False, result["msg"]
    figures = result["requests_per_iteration"]
    assert figures["classes"] == {"Browse": 1.0, "Checkout": 3.0} and figures["skipped"] == ["Queue"]
    assert figures["mean"] == 1.5 and figures["unsure"] == []  # weights 3 and 1: (3 x 1 + 1 x 3) / 4
    assert "a dry run sent 1.50 requests per task iteration on average" in result["msg"]
    [warning] = result["warnings"]
    assert "sent 1.50 requests per task iteration on average (Browse 1.00, Checkout 3.00)" in warning
    assert "set hailstorm_rps to 66.6667 for 100 requests per second" in warning


def test_a_dry_run_of_one_request_per_task_warns_of_nothing(tmp_path):
    result = check(tmp_path, USERS, dry_run=True, rps=10)
    assert result["failed"] is False, result["msg"]
    assert result["requests_per_iteration"]["mean"] == 1.0 and result["warnings"] == []


def test_iteration_figures_and_warnings():
    report = {"weights": {"A": 1, "B": 1}, "dry_run": {"iterations": 10, "skipped": [], "classes": {
        "A": {"iterations": 10, "requests": 0, "exceptions": 10}, "B": {"iterations": 0, "requests": 0, "exceptions": 0}}}}
    figures = locustfile.requests_per_iteration(report)
    assert figures["mean"] == 0.0 and figures["classes"] == {"A": 0.0} and figures["unsure"] == ["A", "B"]
    [warning] = locustfile.iteration_warnings("lf.py", figures, 50)
    assert "sent no request in its task iterations (A 0.00) (the dry run of A, B raised exceptions or ran" in warning
    assert locustfile.requests_per_iteration({"user_classes": ["A"]}) is None
    assert locustfile.iteration_warnings("lf.py", None) == []
    near = {"mean": 1.04, "classes": {"A": 1.04}, "unsure": []}
    assert locustfile.iteration_warnings("lf.py", near, 10) == []
    assert "divide hailstorm_rps by that mean" in locustfile.iteration_warnings("lf.py", dict(near, mean=2.0))[0]


def test_the_preview_says_what_the_rate_counts():
    assert locustfile.preview_line(None, 50, 2251) == (
        "50 rps and 2251 requests count task iterations (each @task call is one); a task that sends N requests "
        "sends N x as many")
    assert locustfile.preview_line({"mean": 1.5}, 50, 2251).endswith(
        "dry run: 1.50 requests per iteration on average, so about 75 rps and 3376 requests at the target")


def test_a_dry_run_paces_a_tasksets_own_wait_time_as_a_run_does(tmp_path):
    """A TaskSet with its own wait_time (between(5, 10)) defers to the run's pacing: the dry run
    counts its iterations instead of sleeping through them."""
    source = (
        "from locust import HttpUser, TaskSet, between, task\n\n\n"
        "class Flow(TaskSet):\n    wait_time = between(5, 10)\n\n"
        "    @task\n    def two(self):\n        self.client.get('/a')\n        self.client.get('/b')\n\n\n"
        "class Visitor(HttpUser):\n    tasks = [Flow]\n")
    result = check(tmp_path, source, dry_run=True, rps=10)
    assert result["failed"] is False, result["msg"]
    assert result["requests_per_iteration"]["classes"] == {"Visitor": 2.0}
    assert "set hailstorm_rps to 5 for 10 requests per second" in result["warnings"][0]
