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
          dry_run: bool = False, rps: float | None = None, timeout: float = locustfile.IMPORT_TIMEOUT,
          locust_args: list[str] | None = None) -> dict:
    path = tmp_path / "locustfile.py"
    if source is not None:
        path.write_text(source)
    problem = locustfile.before_import(str(path), str(tmp_path))
    if problem:
        return {"failed": True, "msg": problem}
    done = subprocess.run(locustfile.check_argv(python, str(path), locust_args or [], dry_run=dry_run, timeout=timeout),
                          capture_output=True, text=True,
                          timeout=120, env=locustfile.check_env(os.environ, str(RUNTIME), environment), cwd=tmp_path,
                          check=False)
    return locustfile.verdict(str(path), python, REQUIREMENTS, done.returncode, done.stdout, done.stderr,
                              locust_args or [], rps=rps)


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


def test_a_load_test_shape_is_sampled_for_the_plan(tmp_path):
    result = check(tmp_path, USERS + """
from locust import LoadTestShape

class Steps(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        return None if t >= 7 else ((10, 10 / 3) if t < 4 else (20, 20))
""")
    assert result["failed"] is False, result["msg"]
    assert result["shape_classes"] == ["Steps"] and result["shape"]["name"] == "Steps"
    assert result["shape"]["points"] == [[0, 0], [3, 10], [4, 10], [4.5, 20], [7, 20], [7, 0]]
    assert result["msg"].endswith("its LoadTestShape Steps was sampled (6 breakpoints, 7 s) and is planned exactly")


def test_a_load_test_shape_that_cannot_be_planned_is_refused_with_what_to_write(tmp_path):
    result = check(tmp_path, SHAPE)  # asks for no users
    assert result["failed"] is True and result["shape_classes"] == ["Steps"]
    assert result["msg"] == (
        f"hailstorm_locustfile: the LoadTestShape Steps in {tmp_path}/locustfile.py asks for no users before its "
        "tick() returns None, so the run would send nothing; return (user_count, spawn_rate) with user_count > 0 "
        "from tick() for a while first (Locust's stages example)")
    result = check(tmp_path, USERS + """
from locust import LoadTestShape

class Adaptive(LoadTestShape):
    def tick(self):
        return self.get_current_user_count() + 1, 1
""")
    assert result["failed"] is True and result["msg"] == (
        f"hailstorm_locustfile: {tmp_path}/locustfile.py defines the LoadTestShape Adaptive, which cannot be "
        "planned: the LoadTestShape Adaptive reads runner.user_count in tick(): a shape that depends on the run's "
        "state (user counts, statistics) cannot be planned ahead; write tick() from get_run_time() only (Locust's "
        "stages example), or give the curve as hailstorm_stages")


def test_a_shapes_fixed_user_classes_are_the_runs_and_only_they_are_dry_run(tmp_path):
    result = check(tmp_path, USERS + """
from locust import LoadTestShape

class OnlyFast(LoadTestShape):
    def tick(self):
        return (5, 5, [Fast]) if self.get_run_time() < 3 else None
""", dry_run=True)
    assert result["failed"] is False, result["msg"]
    assert result["user_classes"] == ["Fast"] and result["shape"]["user_classes"] == ["Fast"]
    assert result["requests_per_iteration"]["classes"] == {"Fast": 1.0}
    assert "user classes Fast (named by the LoadTestShape OnlyFast, of Fast, Shopper)" in result["msg"]


def test_a_shapes_user_classes_outside_the_runs_are_refused_with_the_fix(tmp_path):
    result = check(tmp_path, USERS + """
from locust import LoadTestShape

class OnlyFast(LoadTestShape):
    def tick(self):
        return (5, 5, [Fast]) if self.get_run_time() < 3 else None
""", locust_args=["Shopper"])
    assert result["failed"] is True and result["msg"] == (
        f"hailstorm_locustfile: the LoadTestShape OnlyFast in {tmp_path}/locustfile.py runs the user classes Fast "
        "but the run uses only Shopper (hailstorm_locust_args=['Shopper']); name Fast there too (e.g. "
        "hailstorm_locust_args: ['Fast', 'Shopper']), or name none there to run every class")
    result = check(tmp_path, USERS + """
from locust import LoadTestShape

class Nobody(LoadTestShape):
    def tick(self):
        return (5, 5, []) if self.get_run_time() < 3 else None
""")
    assert result["failed"] is True and result["msg"] == (
        f"hailstorm_locustfile: the LoadTestShape Nobody in {tmp_path}/locustfile.py returns an empty user_classes "
        "from tick(), so no user would run; return (user_count, spawn_rate) to run all of Fast, Shopper, or name "
        "some of them, e.g. (user_count, spawn_rate, [Fast])")


def test_a_shape_whose_user_classes_change_between_ticks_gives_each_class_its_curve(tmp_path):
    result = check(tmp_path, USERS + """
from locust import LoadTestShape

class Phases(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        return None if t > 3 else (5, 5, [Shopper] if t < 2 else [Fast, Shopper])
""")
    assert result["failed"] is False, result["msg"]
    assert result["shape"]["user_classes"] == ["Fast", "Shopper"]
    assert sorted(result["shape"]["class_points"]) == ["Fast", "Shopper"]


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


def test_a_check_that_runs_over_names_the_locustfile_the_likely_cause_and_a_fix():
    assert locustfile.timed_out("lf.py", 90) == {"failed": True, "msg": (
        "hailstorm_locustfile: the check of lf.py on the controller (its import and a dry run of its tasks) did not "
        "end within 90 s; does a task loop without yielding? Fix the task, or skip the dry run with "
        "hailstorm_dry_run=false")}


@pytest.mark.parametrize("call,said", [("sys.exit(3)", "sys.exit(3)"), ("sys.exit()", "sys.exit()"),
                                       ("sys.exit('no token')", "sys.exit('no token')"), ("sys.exit(0)", "sys.exit(0)")])
def test_a_locustfile_that_exits_at_import_is_refused_with_its_exit_call(tmp_path, call, said):
    result = check(tmp_path, f"import sys\n{call}\n" + USERS)
    assert result == {"failed": True, "msg": (
        f"hailstorm_locustfile: {tmp_path / 'locustfile.py'}: the locustfile called {said} at import; a locustfile "
        f"is imported by Locust and must not exit: remove the call, or guard it with `if __name__ == '__main__':`")}


@pytest.mark.parametrize("body", ["while True:\n    pass\n", "import time\ntime.sleep(3600)\n"])
def test_a_locustfile_that_does_not_finish_importing_is_refused_after_the_import_timeout(tmp_path, body):
    result = check(tmp_path, USERS + body, timeout=1.5)
    assert result == {"failed": True, "msg": (
        f"hailstorm_locustfile: {tmp_path / 'locustfile.py'}: the locustfile did not finish importing within 1.5 s: "
        f"a loop or a wait at import (a network call, input())? Move that into on_start or a test_start listener, "
        f"or give it more time with hailstorm_import_timeout")}


def test_the_import_timeout_is_read_as_seconds_and_a_bad_one_is_named_with_a_fix():
    assert locustfile.import_timeout(None) == locustfile.IMPORT_TIMEOUT == 30
    assert locustfile.import_timeout("45") == 45.0 and locustfile.import_timeout(2.5) == 2.5
    for bad in ("soon", 0, -1, True, [1]):
        assert locustfile.import_timeout(bad) == (
            f"hailstorm_import_timeout: expected the seconds the locustfile's import may take on the controller "
            f"(over 0), got {bad!r}; for example hailstorm_import_timeout=60")


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


TWO_CLASSES = """
from locust import HttpUser, task

class Browse(HttpUser):
    @task
    def home(self):
        self.client.get("/")

class Checkout(HttpUser):
    @task
    def pay(self):
        self.client.get("/pay")
        self.client.get("/receipt")
"""


@pytest.mark.parametrize("locust_args,named", [
    (["-u", "50"], "-u/--users (given 50) -> the plan's clients: hailstorm_rps x hailstorm_pace (or hailstorm_clients)"),
    (["--users=50"], "-u/--users (given 50) -> the plan's clients"),
    (["--use", "50"], "-u/--users (given 50) -> the plan's clients"),  # argparse's abbreviation
    (["-r5"], "-r/--spawn-rate (given 5.0) -> hailstorm_rampup: the clients start evenly over it"),
    (["-t", "10m"], "-t/--run-time (given 600) -> hailstorm_rampup, hailstorm_constant and hailstorm_rampdown"),
    (["--host", "http://other"], "-H/--host (given 'http://other') -> hailstorm_target"),
    (["--master"], "--master -> the load hosts (the inventory's load_hosts group) and hailstorm_cores"),
    (["--worker"], "--worker -> the load hosts"),
    (["--web-port", "9000"], "-P/--web-port (given 9000) -> nothing: a planned run has no web UI"),
    (["--class-picker"], "--class-picker -> nothing: a planned run has no web UI"),
    (["--csv", "out"], "--csv (given 'out') -> the run's results, written for every run"),
    (["--help"], "-h/--help or -V/--version -> nothing: it makes Locust print and exit"),
    (["--list"], "-l/--list -> nothing: it makes Locust print and exit"),
])
def test_locust_args_that_the_plan_replaces_are_refused_naming_the_setting_to_use(tmp_path, locust_args, named):
    result = run_check(tmp_path, TWO_CLASSES, locust_args)
    assert result["failed"] is True
    assert result["msg"].startswith("hailstorm_locust_args: the plan sets these, or a planned run cannot honour them: ")
    assert named in result["msg"]
    assert result["msg"].endswith(". Fix: remove them from hailstorm_locust_args (and set the settings named)")


def test_every_conflicting_argument_is_named_at_once():
    message = locustfile.conflicting_locust_args({"num_users": 5, "run_time": 60, "headless": True, "tags": ["a"],
                                                  "user_classes": ["A"], "shop_id": "s9"})
    assert message == (
        "hailstorm_locust_args: the plan sets these, or a planned run cannot honour them: -u/--users (given 5) -> the "
        "plan's clients: hailstorm_rps x hailstorm_pace (or hailstorm_clients); -t/--run-time (given 60) -> "
        "hailstorm_rampup, hailstorm_constant and hailstorm_rampdown. Fix: remove them from hailstorm_locust_args "
        "(and set the settings named)")
    assert locustfile.conflicting_locust_args({"headless": True, "tags": ["a"], "skip_log_setup": True}) is None


def test_headless_and_user_class_names_pass_and_only_the_named_classes_are_dry_run(tmp_path):
    path = tmp_path / "locustfile.py"
    path.write_text(TWO_CLASSES)
    argv = locustfile.check_argv(sys.executable, str(path), ["--headless", "Checkout"], dry_run=True)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False,
                          env=locustfile.check_env(os.environ, str(RUNTIME), None))
    result = locustfile.verdict(str(path), sys.executable, REQUIREMENTS, done.returncode, done.stdout, done.stderr,
                                ["--headless", "Checkout"])
    assert result["failed"] is False, result["msg"]
    assert result["user_classes"] == ["Checkout"]
    assert result["requests_per_iteration"]["classes"] == {"Checkout": 2.0}
    assert "user classes Checkout (named in hailstorm_locust_args, of Browse, Checkout)" in result["msg"]


def test_a_user_class_name_the_locustfile_lacks_is_refused_with_its_classes(tmp_path):
    result = run_check(tmp_path, TWO_CLASSES, ["Browse", "Cart"])
    assert result == {"failed": True, "msg": (
        f"hailstorm_locust_args names the user class(es) Cart, which {tmp_path}/locustfile.py does not define; its "
        f"user classes are Browse, Checkout: name some of those, or none to run them all")}


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


def checked_with_thresholds(tmp_path: Path, source: str, threshold_labels: list[str]) -> dict:
    path = tmp_path / "locustfile.py"
    path.write_text(source)
    done = subprocess.run(locustfile.check_argv(sys.executable, str(path), dry_run=True), capture_output=True,
                          text=True, timeout=120, env=locustfile.check_env(os.environ, str(RUNTIME), None), check=False)
    return locustfile.verdict(str(path), sys.executable, REQUIREMENTS, done.returncode, done.stdout, done.stderr,
                              threshold_labels=threshold_labels)


def test_a_label_threshold_that_matches_no_request_of_an_exhaustive_dry_run_is_refused(tmp_path):
    result = checked_with_thresholds(tmp_path, TWO_CLASSES, ["GET /pay", "/receipt", "GET /chekout"])
    assert result == {"failed": True, "user_classes": ["Browse", "Checkout"], "msg": (
        f"hailstorm_thresholds.labels: 'GET /chekout' matches no request of a dry run of {tmp_path}/locustfile.py "
        f"(labels seen: GET /, GET /pay, GET /receipt; a label is \"METHOD name\" or the name alone), though the dry "
        f"run ran every task of every user class: the run's verdict would fail it. Fix: give a label seen above, or "
        f"remove the threshold")}


RARE_TASK = """
from locust import HttpUser, task


class Shop(HttpUser):
    @task(1000)
    def browse(self):
        self.client.get("/")

    @task(1)
    def refund(self):
        self.client.post("/refund")
"""


def test_a_dry_run_runs_every_task_once_whatever_its_weight(tmp_path):
    """At random, a task of weight 1 beside one of 1000 stays out of 10 iterations 99 times in 100:
    the dry run runs each task once first, so a threshold on its label is judged, not merely warned of."""
    result = checked_with_thresholds(tmp_path, RARE_TASK, ["POST /refund", "GET /nowhere"])
    assert result["failed"] is True
    assert "(labels seen: GET /, POST /refund;" in result["msg"] and "though the dry run ran every task" in result["msg"]


def test_label_thresholds_that_match_pass_and_an_unsure_dry_run_only_warns(tmp_path):
    result = checked_with_thresholds(tmp_path, TWO_CLASSES, ["GET /pay", "/receipt", "/"])
    assert result["failed"] is False and not [w for w in result["warnings"] if "hailstorm_thresholds" in w]
    unsure = TWO_CLASSES + "\nfrom locust import User\n\nclass Other(User):\n    @task\n    def x(self):\n        pass\n"
    result = checked_with_thresholds(tmp_path, unsure, ["GET /chekout"])
    assert result["failed"] is False
    assert [w for w in result["warnings"] if "hailstorm_thresholds" in w] == [
        f"hailstorm_thresholds.labels: 'GET /chekout' matches no request of a dry run of {tmp_path}/locustfile.py "
        f"(labels seen: GET /, GET /pay, GET /receipt; a label is \"METHOD name\" or the name alone); the dry run "
        f"may have missed it (Other not dry-run (no HttpUser / FastHttpUser)): check the label, else its threshold "
        f"fails after the run"]


def test_label_thresholds_without_a_dry_run_say_nothing():
    assert locustfile.threshold_labels_unseen(["GET /x"], None, "lf.py") == (None, [])
    dry = {"labels": ["GET /a"], "skipped": [], "classes": {"A": {"iterations": 10, "exceptions": 0, "all_tasks": False}}}
    refusal, warnings = locustfile.threshold_labels_unseen(["/b"], dry, "lf.py")
    assert refusal is None and "A raised exceptions or did not run each of its tasks (or a TaskSet's)" in warnings[0]
    dry["classes"]["A"]["all_tasks"] = True
    assert locustfile.threshold_labels_unseen(["/b"], dry, "lf.py")[0].startswith(
        "hailstorm_thresholds.labels: '/b' matches no request of a dry run of lf.py")
