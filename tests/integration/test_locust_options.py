"""What a locustfile gets from Locust's command line and gives back: a real
environment.parsed_options (Locust's parser: defaults, the locustfile's own arguments,
hailstorm_locust_args such as --tags), and environment.process_exit_code honoured."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ansible_collections.romram.hailstorms.plugins.module_utils import contract

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms" / "runtime"

LOCUSTFILE = '''
import json
import os
import time

from locust import User, constant, events, tag, task


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--shop-id", default="s1", help="the shop the test buys in")
    parser.add_argument("--fail-at-end", action="store_true")


@events.test_start.add_listener
def _(environment, **_kwargs):
    options = environment.parsed_options
    with open(os.path.join(os.environ["MARKS"], "options.json"), "w") as handle:
        json.dump({"shop_id": options.shop_id, "tags": options.tags, "exclude_tags": options.exclude_tags,
                   "host": options.host, "locustfile": options.locustfile,
                   "stop_timeout": options.stop_timeout, "csv_prefix": options.csv_prefix}, handle)


@events.quitting.add_listener
def _(environment, **_kwargs):
    if environment.parsed_options.fail_at_end:
        environment.process_exit_code = 3


class Shopper(User):
    wait_time = constant(0)

    def fire(self, name):
        events.request.fire(request_type="TASK", name=name, response_time=1.0, response_length=0,
                            exception=None, context={}, start_time=time.time())

    @tag("checkout")
    @task
    def checkout(self):
        self.fire("checkout")

    @task
    def browse(self):
        self.fire("browse")
'''


def run_core(tmp_path: Path, locust_args: list[str], source: str = LOCUSTFILE) -> subprocess.CompletedProcess:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(source)
    (tmp_path / "marks").mkdir()
    data = contract.host_data(
        {"host": "lh1", "host_index": 0, "hosts": 1,
         # 8 clients x about 3 iterations: each of the two tasks is picked at random, so both show
         # up unless all 24 picks agree (p = 2^-23)
         "plan": {"clients": 8, "rps": 8, "pace": 1.0, "gap": 0.0625, "stop_gap": 0.0, "rampup": 0.5,
                  "constant": 2.5, "rampdown": 0, "duration": 3.0},
         "cores": [{"index": 0, "slot": 0, "clients": 8, "first_client": 0, "client_step": 1,
                    "first_start": 0.03125, "start_step": 0.0625, "phase_first": 0, "phase_step": 3,
                    "first_stop": 3.0, "stop_step": 0.0}]},
        "opts", "http://127.0.0.1:9", str(locustfile), str(tmp_path / "work"), start_time=time.time() + 2.0,
        deadline_grace=5, locust_args=locust_args)
    (tmp_path / "data.json").write_text(json.dumps(data))
    env = {**os.environ, "PYTHONPATH": str(RUNTIME), "MARKS": str(tmp_path / "marks")}
    return subprocess.run([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(tmp_path / "data.json"),
                           "--core", "0"], env=env, capture_output=True, text=True, timeout=60)


def records(tmp_path: Path) -> str:
    return (tmp_path / "work" / "core-0.jsonl").read_text()


def test_parsed_options_carry_locusts_defaults_the_locustfiles_arguments_and_the_tags(tmp_path):
    result = run_core(tmp_path, ["--tags", "checkout", "--shop-id", "s9"])
    assert result.returncode == 0, result.stderr
    options = json.loads((tmp_path / "marks" / "options.json").read_text())
    assert options == {"shop_id": "s9", "tags": ["checkout"], "exclude_tags": None, "host": "http://127.0.0.1:9",
                       "locustfile": str(tmp_path / "locustfile.py"), "stop_timeout": 0.0, "csv_prefix": None}
    text = records(tmp_path)
    assert '"TASK checkout"' in text and '"TASK browse"' not in text  # --tags as Locust applies it
    assert json.loads((tmp_path / "work" / "core-0.status.json").read_text())["state"] == "done"


def test_without_arguments_the_defaults_and_every_task(tmp_path):
    result = run_core(tmp_path, [])
    assert result.returncode == 0, result.stderr
    options = json.loads((tmp_path / "marks" / "options.json").read_text())
    assert (options["shop_id"], options["tags"]) == ("s1", None)
    text = records(tmp_path)
    assert '"TASK checkout"' in text and '"TASK browse"' in text


def test_process_exit_code_fails_the_core_naming_host_and_core(tmp_path):
    result = run_core(tmp_path, ["--fail-at-end"])
    assert result.returncode == 3
    assert "the locustfile set environment.process_exit_code = 3: host lh1, core 0 failed" in result.stderr
    assert json.loads((tmp_path / "work" / "core-0.status.json").read_text())["state"] == "failed"


HTTP_LOCUSTFILE = '''
from locust import HttpUser, events, tag, task


@events.quitting.add_listener
def _(environment, **_kwargs):
    if environment.stats.total.num_requests > 0:  # the usual CI pattern: a verdict on the run
        environment.process_exit_code = 1


class Shopper(HttpUser):
    @tag("checkout")
    @task
    def checkout(self):
        self.client.get("/checkout")

    @task
    def browse(self):
        self.client.get("/browse")
'''


def test_a_local_run_passes_the_tags_and_fails_on_the_locustfiles_exit_code(tmp_path):
    from harness import feeder, local_run

    locustfile = tmp_path / "verdict.py"
    locustfile.write_text(HTTP_LOCUSTFILE)
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "verdict", url, locustfile, cores=1, rps=10, rampup="2s", constant="2s",
                           rampdown="1s", locust_args=["--tags", "checkout"])
    assert result.returncode == 1, result.stdout[-3000:]  # the locustfile's process_exit_code, as Locust exits
    out = " ".join(result.stdout.split())
    assert "run state: FAILED" in out, result.stdout[-3000:]
    assert "localhost core 0: the locustfile set environment.process_exit_code = 1" in out
    paths = {line.split()[-1] for line in arrivals.read_text().splitlines() if line.strip()}
    assert paths == {"/checkout"}
    summary = json.loads((tmp_path / "verdict" / "summary.json").read_text())
    assert summary["state"] == "failed" and summary["requests"] > 0
    assert summary["cores"][0]["locustfile_exit_code"] == 1


TWO_CLASSES = '''
import time

from locust import User, constant, events, task


def fire(name):
    events.request.fire(request_type="TASK", name=name, response_time=1.0, response_length=0, exception=None,
                        context={}, start_time=time.time())


class Browse(User):
    wait_time = constant(0)

    @task
    def browse(self):
        fire("browse")


class Checkout(User):
    wait_time = constant(0)

    @task
    def checkout(self):
        fire("checkout")
'''


def test_user_class_names_in_the_arguments_run_only_those_classes(tmp_path):
    # 8 clients picked by weight over both classes would give Browse some (p = 2^-8 that none)
    result = run_core(tmp_path, ["Checkout"], TWO_CLASSES)
    assert result.returncode == 0, result.stderr
    text = records(tmp_path)
    assert '"TASK checkout"' in text and '"TASK browse"' not in text


def test_a_local_run_with_a_user_class_name_sends_only_that_classes_requests(tmp_path):
    from harness import feeder, local_run

    locustfile = tmp_path / "two.py"
    locustfile.write_text("from locust import HttpUser, task\n\n\nclass A(HttpUser):\n    @task\n    def a(self):\n"
                          "        self.client.get('/a')\n\n\nclass B(HttpUser):\n    @task\n    def b(self):\n"
                          "        self.client.get('/b')\n")
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "only-a", url, locustfile, cores=1, rps=10, rampup="1s", constant="2s",
                           rampdown="1s", locust_args=["A"])
    assert result.returncode == 0, result.stdout[-3000:]
    paths = [line.split()[-1] for line in arrivals.read_text().splitlines() if line.strip()]
    assert paths and set(paths) == {"/a"}
    summary = json.loads((tmp_path / "only-a" / "summary.json").read_text())
    assert summary["requests"] == len(paths)
