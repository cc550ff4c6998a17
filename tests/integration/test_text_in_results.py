"""No text breaks the results: a real run (distribute.yml on the local backend against the
bundled feeder) whose every request fails with a lone surrogate in its message - r.failure() in a
catch_response block, an exception raised in one, a request name - or with an HTML page, as a
locustfile passes on json.loads' "\\ud800" or an endpoint's error body. Every request is a failure,
the run fails as plain Locust's would (exit code 1), the report is written, no partial file."""
from __future__ import annotations

import json
import subprocess

import pytest

import harness
from harness import feeder

LOCUSTFILE = '''
from locust import HttpUser, task

BAD = "bad \\ud800 text"  # what json.loads gives for a body with "\\ud800"
PAGE = ("Unexpected answer: <!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><pre>"
        + "secret stack trace " * 300 + "</pre></body></html>")


class Texts(HttpUser):
    @task
    def failure(self):
        with self.client.get("/failure", catch_response=True) as response:
            response.failure(BAD)

    @task
    def raises(self):
        with self.client.get("/raises", catch_response=True):
            raise ValueError(BAD)

    @task
    def named(self):
        with self.client.get("/named", name="/named " + BAD, catch_response=True) as response:
            response.failure(BAD + "\\x1b[31m")

    @task
    def page(self):
        with self.client.get("/page", catch_response=True) as response:
            response.failure(PAGE)
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("text")
    locustfile, log, results = tmp / "texts.py", tmp / "arrivals.log", tmp / "results"
    locustfile.write_text(LOCUSTFILE)
    inventory = harness.local_aliases(tmp, 1, name="texts")  # its own lock: other local runs may be under way
    with feeder(log) as url:
        played = subprocess.run(
            [str(harness.BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory),
             "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={results}",
             "-e", "hailstorm_run_id=texts", "-e", f"hailstorm_locustfile={locustfile}", "-e", "hailstorm_rps=8",
             "-e", "hailstorm_rampup=2s", "-e", "hailstorm_constant=4s", "-e", "hailstorm_rampdown=1s"],
            cwd=harness.ROOT, env=harness.playbook_env(), capture_output=True, text=True, timeout=600, check=False)
    arrivals = [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.strip()]
    return played, results / "texts", arrivals


def test_every_request_is_a_failure_whatever_its_text(run):
    played, results, arrivals = run
    assert (results / "summary.json").exists(), played.stdout[-3000:]
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    assert len(arrivals) > 20
    assert summary["requests"] == summary["failures"] == len(arrivals), (summary["requests"], summary["failures"])
    kinds = summary["failures_by_kind"]
    assert kinds["failure: bad \\ud800 text"] == arrivals.count("/failure"), kinds
    assert kinds["ValueError: bad \\ud800 text"] == arrivals.count("/raises"), kinds
    assert kinds["failure: bad \\ud800 text\\x1b[31m"] == arrivals.count("/named"), kinds
    page = [kind for kind in kinds if kind.startswith("failure: Unexpected answer: [HTML page, HTTP 200, ")]
    assert page and kinds[page[0]] == arrivals.count("/page") and "502 Bad Gateway" in page[0], kinds
    assert "GET /named bad \\ud800 text" in summary["latency"]["labels"]
    assert [row["kind"] for row in summary["exceptions"]] == ["ValueError: bad \\ud800 text"]
    # as plain Locust judges a run whose requests failed: exit code 1
    assert summary["state"] == "failed" and summary["exit_code"] == 1, summary["reasons"]
    assert played.returncode == 1, played.stdout[-3000:]
    assert "run state: FAILED" in played.stdout


def test_the_report_is_written_readable_without_the_page_and_no_partial_file_is_left(run):
    _played, results, _arrivals = run
    report = (results / "report.html").read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "bad \\ud800 text" in report and "[HTML page, HTTP 200, " in report
    assert "secret stack trace" not in report  # the page is not copied
    assert "secret stack trace" not in (results / "summary.json").read_text(encoding="utf-8")
    assert not [path for path in results.rglob("*") if path.name.endswith((".tmp", ".new"))]
