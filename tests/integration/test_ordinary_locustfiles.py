"""An ordinary locustfile, run locally through distribute.yml, checked as its user would check the
results: several user classes with weights, a TaskSet, a task that sends three requests (two of
them GET and POST of one name), an exception raised in a task. Preflight's dry run warns about
the requests per task iteration before any load; the summary keeps GET and POST apart, counts the
iterations and says what the rate counted; the exception is recorded with its message and a
traceback; Locust's CSV has the method in its Type column."""
from __future__ import annotations

import csv
import json

import pytest

from harness import feeder, local_run

LOCUSTFILE = '''
from locust import FastHttpUser, HttpUser, TaskSet, task


class Cart(TaskSet):
    @task
    def checkout(self):  # three requests per iteration, two of them the same name
        self.client.get("/cart", name="/cart")
        self.client.post("/cart", name="/cart")
        self.client.get("/pay")


class Shopper(HttpUser):
    weight = 1
    tasks = [Cart]


class Browser(FastHttpUser):
    weight = 1

    @task
    def browse(self):
        self.client.get("/home")
        if self.hailstorm.client_id % 2:
            raise ValueError(f"no stock for item {self.hailstorm.client_id}")
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ordinary")
    locustfile = tmp_path / "shop.py"
    locustfile.write_text(LOCUSTFILE)
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "ordinary", url, locustfile, cores=1, rps=10, rampup="2s", constant="4s",
                           rampdown="1s")
    return result, tmp_path / "ordinary", arrivals


def test_preflight_dry_run_warns_that_the_rate_counts_task_iterations(run):
    result, _run_dir, _arrivals = run
    out = " ".join((result.stdout + result.stderr).split())  # an Ansible warning goes to stderr
    # Shopper 3 requests per iteration, Browser 1, equal weights: 2 on average
    assert "sent 2.00 requests per task iteration on average (Browser 1.00, Shopper 3.00)" in out, result.stdout[-4000:]
    assert "set hailstorm_rps to 5 for 10 requests per second" in out
    assert "dry run: 2.00 requests per iteration on average, so about 20 rps" in out


def test_get_and_post_of_one_name_stay_apart_and_the_iterations_are_counted(run):
    result, run_dir, arrivals = run
    summary = json.loads((run_dir / "summary.json").read_text())
    labels = summary["latency"]["labels"]
    assert {"GET /cart", "POST /cart", "GET /pay", "GET /home"} == set(labels), labels.keys()
    assert labels["GET /cart"]["requests"] == labels["POST /cart"]["requests"] == labels["GET /pay"]["requests"]
    # every request of the run arrived at the target, and each is one label's
    assert summary["requests"] == len([line for line in arrivals.read_text().splitlines() if line.strip()])
    # the plan paces iterations: the run counted them, exactly the planned number (or within one
    # or two at a late start), and the requests per iteration follow the classes' mix
    assert abs(summary["iterations"] - summary["expected_requests"]) <= 2
    shopper = labels["GET /cart"]["requests"]
    browser = labels["GET /home"]["requests"]
    assert shopper + browser == summary["iterations"]
    assert summary["requests_per_iteration"] == pytest.approx((3 * shopper + browser) / (shopper + browser), abs=1e-3)
    assert "hailstorm_rps paces task iterations" in summary["iteration_warning"]
    out = " ".join(result.stdout.split())
    assert f"{summary['iterations']} task iterations (the planned rps paces these)" in out
    assert "WARNING: the locustfile sent" in out


def test_an_exception_in_a_task_is_recorded_with_its_message_and_a_traceback(run):
    result, run_dir, _arrivals = run
    summary = json.loads((run_dir / "summary.json").read_text())
    kinds = {row["kind"]: row for row in summary["exceptions"]}
    raised = [kind for kind in kinds if kind.startswith("ValueError: no stock for item ")]
    assert raised, summary["exceptions"]
    assert sum(kinds[k]["count"] for k in raised) > 0
    assert any("raise ValueError" in kinds[k]["traceback"] and ", in browse" in kinds[k]["traceback"] for k in raised)
    assert "locustfile exception x" in " ".join(result.stdout.split())
    with open(run_dir / "locust_exceptions.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert any(row["Message"].startswith("ValueError: no stock") and "Traceback" in row["Traceback"] for row in rows)


def test_locust_csv_has_the_method_and_the_name(run):
    _result, run_dir, _arrivals = run
    with open(run_dir / "locust_stats.csv", encoding="utf-8") as handle:
        rows = [(row["Type"], row["Name"]) for row in csv.DictReader(handle)]
    assert rows == [("GET", "/cart"), ("POST", "/cart"), ("GET", "/home"), ("GET", "/pay"), ("", "Aggregated")]


def test_exceptions_fail_the_run_as_locust_would_naming_counts_and_kinds(run):
    result, run_dir, _arrivals = run
    summary = json.loads((run_dir / "summary.json").read_text())
    # the exceptions of a task are the locustfile's failures: Locust exits 1 on them (its
    # --exit-code-on-error); three requests per iteration are not a fault
    assert summary["state"] == "failed", (summary.get("reasons"), result.stdout[-3000:])
    assert [reason for reason in summary["reasons"] if "locustfile exceptions: ValueError: no stock" in reason]
    assert result.returncode == 1, result.stdout[-3000:]
    tail = " ".join(result.stdout.split())
    assert "run state: FAILED" in tail and "allow them with hailstorm_thresholds {exceptions: <maximum>}" in tail
    junit = (run_dir / "junit.xml").read_text()
    assert 'name="run: exceptions' in junit and "<failure" in junit
