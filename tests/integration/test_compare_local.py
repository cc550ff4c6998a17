"""Is it slower than last time? Two real local runs of the same plan against the bundled feeder,
the second with its latency route set higher (/wait/<ms>, the ms from the load processes'
environment): the comparison, a relative threshold that gates, report.yml re-judging without a
host, and results/index.html in a browser."""
from __future__ import annotations

import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import CHROMIUM, load
from harness import ansible_playbook, feeder, local_aliases

LOCUSTFILE = '''
import os

from locust import HttpUser, task


class Waiting(HttpUser):
    @task
    def wait(self):
        self.client.get("/wait/" + os.environ["WAIT_MS"], name="/wait")
'''
# about 10 s of load each: 2 s ramp-up, 7 s constant, 1 s ramp-down at 20 rps on one core
PLAN = {"hailstorm_rps": 20, "hailstorm_pace": "1s", "hailstorm_rampup": "2s", "hailstorm_constant": "7s",
        "hailstorm_rampdown": "1s"}
# the slow run's answers take SLOW_MS: far above what a busy machine adds to the fast run's p95 (89 ms
# measured at load 6-7 on 2 cores, from 5 ms quiet), so the slower run is slower whatever the load
FAST_MS, SLOW_MS = 5, 300
RELATIVE = {"p95_ms": {"max_increase": "10%"}}

NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("HAILSTORMS_REQUIRE_BROWSER"),
                                    reason="Debian's chromium is not installed (apt-get install -y chromium)")


def p95_of(summary: dict) -> float:
    """The p95 (ms) of the judged phase, computed here from the summary's merged histogram: the
    bucket (µs lower bounds, 3 significant digits) holding the ceil(0.95 n)-th request, its midpoint."""
    hist = sorted((int(lower), n) for lower, n in summary["histograms"]["overall"]["hist"].items())
    rank, seen = math.ceil(0.95 * sum(n for _lower, n in hist)), 0
    for lower, n in hist:
        seen += n
        if seen >= rank:
            width = 1 if lower < 1000 else 10 ** (len(str(lower)) - 3)
            return (lower + width / 2) / 1000.0
    raise AssertionError("empty histogram")


class Cells(HTMLParser):
    """The rows of one table (by its class) as lists of cell texts; every <a href>."""

    def __init__(self, cls: str):
        super().__init__()
        self.cls, self.inside, self.rows, self.links, self.cell = cls, False, [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("class") == self.cls or attrs.get("id") == self.cls
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = ""
        if tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table(page: Path, cls: str) -> Cells:
    parser = Cells(cls)
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    results = tmp / "results"
    locustfile = tmp / "waiting.py"
    locustfile.write_text(LOCUSTFILE)
    inventory = local_aliases(tmp, 1, name="compare")
    runs = {}
    with feeder() as url:
        for run_id, wait, extra in (("fast", FAST_MS, {"hailstorm_tag": "release-41"}),
                                    ("slow", SLOW_MS, {"hailstorm_baseline": "release-41",
                                                       "hailstorm_thresholds": RELATIVE})):
            settings = {**PLAN, "hailstorm_target": url, "hailstorm_results_dir": str(results),
                        "hailstorm_run_id": run_id, "hailstorm_locustfile": str(locustfile),
                        "hailstorm_environment": {"WAIT_MS": str(wait)}, **extra}
            runs[run_id] = ansible_playbook("distribute.yml", str(inventory), "-e", json.dumps(settings))
    return results, runs, inventory


def summary(results: Path, run_id: str) -> dict:
    return json.loads((results / run_id / "summary.json").read_text())


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_slower_run_breaks_its_relative_threshold_and_names_both_runs(two_runs):
    results, runs, _inventory = two_runs
    assert runs["fast"].returncode == 0, flat(runs["fast"].stdout)[-3000:]
    out = flat(runs["slow"].stdout)
    assert runs["slow"].returncode == 10, out[-3000:]  # a threshold broken
    assert "baseline: fast (the newest run tagged release-41)" in out
    assert "FAIL: exit code 10 - run completed, 1 of 1 thresholds broken" in out
    junit = (results / "slow" / "junit.xml").read_text()
    case = re.search(r'<testcase name="threshold: p95_ms max_increase against the baseline \(all labels\)"'
                     r'[^>]*time="[0-9.]+"[^>]*>\s*<failure message="([^"]*)"', junit)
    assert case, junit
    assert "in baseline fast" in case.group(1) and "in run slow" in case.group(1) and "BROKEN" in case.group(1)
    assert junit.count("<system-out>") == junit.count("<testcase")  # what was measured, passing cases too


def test_the_delta_table_p95_change_is_that_of_the_two_histograms(two_runs):
    results, _runs, _inventory = two_runs
    fast, slow = summary(results, "fast"), summary(results, "slow")
    expected = p95_of(slow) - p95_of(fast)
    assert expected > (SLOW_MS - FAST_MS) * 0.5  # the feeder was made slower
    row = slow["comparison"]["overall"]["p95_ms"]
    assert row["baseline"] == p95_of(fast) and row["now"] == p95_of(slow) and row["change"] == pytest.approx(expected)
    assert slow["comparison"]["noise"]["all"]["hint"] == "significant"
    # the report's delta table: the row of all labels, p95_ms, its change as shown
    rows = {(r[0], r[1]): r for r in table(results / "slow" / "report.html", "comparison").rows if r}
    shown = rows[("all", "p95_ms")]
    # shown to 0.1 ms ("▲ +282.1 (+991.4 %)"): within half of that of the exact change (282.05 shows as 282.1)
    assert float(shown[4].split()[1]) == pytest.approx(expected, abs=0.05 + 1e-9), shown
    assert shown[4].startswith("\u25b2")  # a regression, marked
    # the block's requests are the constant phase's
    assert slow["histograms"]["overall"]["requests"] == slow["constant_phase"]["requests"]


def test_report_yml_rejudges_without_a_host_and_a_run_against_itself_changes_nothing(two_runs):
    results, _runs, _inventory = two_runs
    common = ["-e", f"hailstorm_results_dir={results}", "-e", json.dumps({"hailstorm_thresholds": RELATIVE})]
    # the local inventory has no host to contact: report.yml reads the results directory alone
    itself = ansible_playbook("report.yml", "local", "-e", "hailstorm_run_id=slow", "-e", "hailstorm_baseline=slow",
                              *common)
    assert itself.returncode == 0, flat(itself.stdout)[-3000:]
    comparison = summary(results, "slow")["comparison"]
    for scope in [comparison["overall"], *comparison["labels"].values()]:
        assert all(row["change"] == 0 for row in scope.values() if row["change"] is not None), scope
    assert comparison["baseline"]["run_id"] == "slow"
    again = ansible_playbook("report.yml", "local", "-e", "hailstorm_run_id=slow", "-e", "hailstorm_baseline=fast",
                             *common)
    assert again.returncode == 10, flat(again.stdout)[-3000:]
    assert summary(results, "slow")["comparison"]["baseline"]["run_id"] == "fast"
    none = ansible_playbook("report.yml", "local", "-e", "hailstorm_run_id=fast", "-e", "hailstorm_baseline=nope",
                            *common)
    assert none.returncode != 0
    assert "hailstorm_baseline: 'nope' is no run id in" in flat(none.stdout), flat(none.stdout)[-2000:]


def test_a_relative_threshold_without_a_baseline_is_refused_before_any_host(two_runs, tmp_path):
    results, _runs, inventory = two_runs
    settings = {**PLAN, "hailstorm_target": "http://127.0.0.1:9", "hailstorm_results_dir": str(tmp_path),
                "hailstorm_run_id": "refused", "hailstorm_thresholds": RELATIVE}
    run = ansible_playbook("distribute.yml", str(inventory), "-e", json.dumps(settings))
    out = flat(run.stdout)
    assert run.returncode != 0
    assert "hailstorm_thresholds: p95_ms: {max_increase: ...} judge this run against a baseline, but " \
           "hailstorm_baseline is not set; set it, e.g. -e hailstorm_baseline=last" in out, out[-2000:]
    assert not (tmp_path / "refused").exists()


@NEEDS_CHROMIUM
def test_the_index_lists_every_run_with_working_links_offline(two_runs):
    results, _runs, _inventory = two_runs
    index = results / "index.html"
    runs = table(index, "runs")
    assert [row[0] for row in runs.rows if row] == ["slow", "fast"]
    assert all((results / link).is_file() for link in runs.links) and len(runs.links) == 2
    page = load(index, "document.querySelectorAll('figure.trend polyline').length")
    assert page.errors == []
    assert page.requests == [index.resolve().as_uri()]  # the page itself, nothing else
    assert page.value == 4  # p95 and p99; failure rate; rate
