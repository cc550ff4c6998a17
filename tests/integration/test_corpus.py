"""The locustfiles people copy, run as they are: a corpus written the way Locust's documentation and
examples write locustfiles (tests/integration/files/corpus/), each run by the real runtime against
the bundled feeder, whose arrival log is what the target got. For each one the test checks what a
Locust user would:

- every request the target got is in the results, exactly (a core ended by its deadline may miss
  only the requests in flight then);
- failures are counted as Locust counts them: each locustfile sends its failing requests to paths
  of their own, so the failures are the arrivals at those paths;
- the run's outcome is what Locust's exit code would be: Locust exits 1 when any request failed
  or the locustfile raised (its --exit-code-on-error, default 1), else 0; here the run is
  `completed` (exit 0) exactly when Locust would exit 0.

A few run through distribute.yml too, for the exit code the user sees and for a locustfile that
needs an extra package (hailstorm_pip_packages).

Each run: 6 clients on one core at 6 iterations/s, 1 s ramp-up, 3 s constant, 1 s ramp-down.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state

import harness
from harness import assert_every_arrival_counted, feeder, interrupted_of, local_run

CORPUS = Path(__file__).resolve().parent / "files" / "corpus"
SETTINGS = {"clients": 6, "rps": 6, "pace": 1.0, "rampup": 1.0, "constant": 3.0, "rampdown": 1.0}


@dataclass
class Run:
    """One corpus locustfile's run: the summary, its verdict, the paths the target got, and what
    the locustfile wrote to CORPUS_OUT (if anything)."""
    summary: dict[str, Any]
    verdict: dict[str, Any]
    got: list[str]
    out: dict[str, Any] | None
    codes: list[int]


@dataclass(frozen=True)
class Case:
    """A corpus locustfile and what Locust makes of it. `failing`: the paths whose requests Locust
    counts as failed (None: every request); `raises`: the locustfile raises in every task
    iteration; `check`: what else its user would check."""
    file: str
    failing: tuple[str, ...] | None = ()
    raises: bool = False
    locust_args: tuple[str, ...] = ()
    check: Callable[[Run], None] | None = field(default=None, compare=False)

    @property
    def locust_exit_code(self) -> int:
        """Locust's exit code for this locustfile: 1 on any failure or exception, else 0."""
        return 1 if self.failing is None or self.failing or self.raises else 0


def _one_login_per_user(run: Run) -> None:
    assert run.got.count("/login") == run.summary["starts"]["clients_started"] == SETTINGS["clients"]
    # three URLs of one name: one label, three requests per view_items iteration
    items = run.summary["latency"]["labels"]["GET /item"]["requests"]
    assert items == run.got.count("/item") and items % 3 == 0


def _every_class_ran(run: Run) -> None:
    assert {"/index", "/mobile", "/admin"} == set(run.got), set(run.got)


def _in_order(run: Run) -> None:
    assert run.got.count("/docs") == run.got.count("/favicon") > 0
    assert 0 < len(run.got) - 2 * run.got.count("/docs") <= run.got.count("/docs")  # /page follows /docs


def _listeners_saw_what_the_results_say(run: Run) -> None:
    assert run.out is not None, "test_stop did not write the listener's figures"
    assert (run.out["test_start"], run.out["test_stop"]) == (1, 1)
    assert run.out["requests"] == run.summary["requests"] and run.out["failures"] == run.summary["failures"]
    assert run.out["content-length"] == run.summary["bytes"]


def _failures_by_kind(kind: str, path: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert run.summary["failures_by_kind"] == {kind: run.got.count(path)}
    return check


def _rest_failures_say_why(run: Run) -> None:
    kinds = run.summary["failures_by_kind"]
    assert list(kinds) and all("Could not parse response as JSON" in kind for kind in kinds), kinds


def _body_checks(run: Run) -> None:
    assert run.summary["failures_by_kind"] == {"failure: Got wrong response": run.got.count("/wrong")}
    assert run.summary["latency"]["labels"]["GET /status/404"]["failures"] == 0  # response.success()


def _rescheduled_at_the_failure(run: Run) -> None:
    # the confirm step is sent only after a checkout that did not fail
    assert run.got.count("/confirm") == run.got.count("/status/200") > 0
    assert run.got.count("/status/503") > 0


def _the_arguments_reached_the_locustfile(run: Run) -> None:
    assert set(run.got) == {"/corpus-staging"}, set(run.got)


def _csv_rows(run: Run) -> None:
    assert set(run.got) <= {"/c101", "/c102", "/c103"} and len(set(run.got)) > 1, set(run.got)


def _users_ran_after_spawning_complete(run: Run) -> None:
    assert run.summary["requests"] > 0 and set(run.got) == {"/index"}


def _quit_ended_the_core(run: Run) -> None:
    core = run.summary["cores"][0]
    assert str(core["end"]).startswith("quit by the locustfile"), core["end"]
    assert run.verdict["state"] != "completed"
    assert any("quit by the locustfile" in reason for reason in run.verdict["reasons"]), run.verdict["reasons"]
    assert run.summary["iterations"] < run.summary["expected_requests"]  # it ended before the plan did


def _every_request_failed(run: Run) -> None:
    assert run.summary["failures_by_kind"] == {"failure: unexpected answer: 'Hello, order'": run.summary["requests"]}


def _raised_in_every_iteration(run: Run) -> None:
    assert run.summary["requests"] == 0 == len(run.got)
    kinds = {row["kind"]: row["count"] for row in run.summary["exceptions"]}
    assert list(kinds) == ["KeyError: 'p2'"], kinds
    assert kinds["KeyError: 'p2'"] == run.summary["iterations"] > 0


CASES = [
    Case("quickstart.py", check=_one_login_per_user),
    Case("weights_fixed_count.py", check=_every_class_ran),
    Case("taskset.py", failing=("/status/404",), check=_failures_by_kind("HTTP 404", "/status/404")),
    Case("sequential_taskset.py", check=_in_order),
    Case("markov_taskset.py"),
    Case("catch_response.py", failing=("/wrong",), check=_body_checks),
    Case("rest.py", failing=("/notjson",), check=_rest_failures_say_why),
    Case("fasthttp_user.py"),
    Case("events_hooks.py", failing=("/status/500",), check=_listeners_saw_what_the_results_say),
    Case("reschedule_on_failure.py", failing=("/status/503",), check=_rescheduled_at_the_failure),
    Case("custom_arguments.py", locust_args=("--my-argument", "corpus", "--env", "staging"),
         check=_the_arguments_reached_the_locustfile),
    Case("custom_client.py", failing=("/status/503",),  # the client's exception, as Locust shows it
         check=_failures_by_kind("HTTPError: HTTP Error 503: Service Unavailable", "/status/503")),
    Case("locust_plugins_csv.py", check=_csv_rows),
    Case("spawning_complete.py", check=_users_ran_after_spawning_complete),
    Case("stop_on_threshold.py", failing=("/status/500",), check=_quit_ended_the_core),
    Case("every_request_fails.py", failing=None, check=_every_request_failed),
    Case("tasks_raise.py", raises=True, check=_raised_in_every_iteration),
]


def test_the_corpus_is_every_locustfile_in_its_directory():
    assert sorted(case.file for case in CASES) == sorted(path.name for path in CORPUS.glob("*.py"))
    assert len(CASES) >= 15


def run_corpus_file(tmp_path: Path, case: Case, monkeypatch: pytest.MonkeyPatch) -> Run:
    for data in CORPUS.iterdir():  # the locustfile's data files beside it, as the user keeps them
        if data.suffix != ".py":
            shutil.copy(data, tmp_path / data.name)
    out = tmp_path / "out.json"
    monkeypatch.setenv("CORPUS_OUT", str(out))
    log = tmp_path / "arrivals.log"
    with feeder(log) as url:
        plan, _data, work, _t0, procs = harness.start_cores(
            tmp_path, url, SETTINGS, (CORPUS / case.file).read_text(), cores=1, deadline_grace=5,
            locust_args=list(case.locust_args))
        codes = [proc.wait(timeout=120) for proc in procs]
        # every request the process sent has been read (and logged) by the feeder
        harness.wait_until(lambda: not harness.open_connections(url), "the feeder to close every connection")
    summary = summarize(merge(sorted(work.glob("core-*.jsonl"))), plan)
    got = [line.split(" ", 1)[1].split("?")[0] for line in log.read_text().splitlines() if line.strip()]
    return Run(summary, run_state(summary, plan), got, json.loads(out.read_text()) if out.exists() else None, codes)


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory):
    """Each corpus locustfile runs once for the tests of this module (a cache by file name)."""
    done: dict[str, Run] = {}
    patch = pytest.MonkeyPatch()

    def run(case: Case) -> Run:
        if case.file not in done:
            done[case.file] = run_corpus_file(tmp_path_factory.mktemp(case.file.removesuffix(".py")), case, patch)
        return done[case.file]

    yield run
    patch.undo()


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_the_target_got_what_the_results_count_and_the_failures_are_lockusts(corpus_runs, case):
    run = corpus_runs(case)
    summary = run.summary
    assert run.codes == [0], f"the load process exited {run.codes}"
    core = summary["cores"][0]
    # a quit or stop cuts the requests in flight: each is counted, failed as interrupted, and one cut
    # while it was still being sent never reached the target
    interrupted = interrupted_of(summary)
    if core["end"] == "deadline":  # only the requests in flight at the deadline may be missing
        assert 0 <= len(run.got) - summary["requests"] <= (core["active_at_end"] or 0), (len(run.got), core)
    else:
        assert_every_arrival_counted(summary["requests"], len(run.got), interrupted)
    failing = len(run.got) if case.failing is None else sum(run.got.count(path) for path in case.failing)
    assert failing <= summary["failures"] <= failing + interrupted, (summary["failures"], failing, interrupted)
    raised = sum(row["count"] for row in summary.get("exceptions") or [])
    assert (raised > 0) == case.raises, summary.get("exceptions")
    if case.check is not None:
        case.check(run)


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_the_run_succeeds_exactly_when_locust_would_exit_0(corpus_runs, case):
    run = corpus_runs(case)
    assert (run.verdict["state"] == "completed") == (case.locust_exit_code == 0), \
        (run.verdict, run.summary["requests"], run.summary["failures"], run.summary.get("exceptions"))


# --- through distribute.yml: the exit code the user sees, a locustfile that needs a package -----

PLAYBOOK_SETTINGS = {"cores": 1, "rps": SETTINGS["rps"], "pace": "1s", "rampup": "1s", "constant": "3s",
                     "rampdown": "1s"}


def playbook_run(tmp_path: Path, run_id: str, locustfile: str, **settings: object):
    """distribute.yml (local backend) on a corpus locustfile; (result, summary.json, paths the target got)."""
    log = tmp_path / "arrivals.log"
    with feeder(log) as url:
        result = local_run(tmp_path, run_id, url, CORPUS / locustfile, **{**PLAYBOOK_SETTINGS, **settings})
    summary_path = tmp_path / run_id / "summary.json"
    assert summary_path.exists(), result.stdout[-4000:] + result.stderr[-2000:]
    got = [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.strip()]
    return result, json.loads(summary_path.read_text()), got


def test_a_run_whose_every_request_failed_exits_non_zero_naming_the_counts(tmp_path):
    result, summary, got = playbook_run(tmp_path, "allfail", "every_request_fails.py")
    assert summary["requests"] == summary["failures"] == len(got) > 0
    assert result.returncode != 0, result.stdout[-3000:]
    last = " ".join(result.stdout.splitlines()[-40:])
    assert f"{summary['failures']}" in last and "fail" in last.lower(), last


@pytest.mark.parametrize("allowance", [{"exit_code_on_error": 0}, {"thresholds": {"failure_rate": 1}}],
                         ids=["hailstorm_exit_code_on_error=0", "threshold failure_rate=1"])
def test_failures_a_user_allows_do_not_fail_the_run(tmp_path, allowance):
    result, summary, got = playbook_run(tmp_path, "allowed", "every_request_fails.py", **allowance)
    assert summary["requests"] == summary["failures"] == len(got) > 0
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_locustfile_that_needs_an_extra_package_and_a_data_file_runs_through_the_playbook(tmp_path):
    from test_pip_packages import PLUGINS  # the locust-plugins pin that hailstorm_pip_packages tests

    result, summary, got = playbook_run(tmp_path, "plugins", "locust_plugins_csv.py", pip_packages=[PLUGINS],
                                        data_files=[str(CORPUS / "customers.csv")])
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary["state"] == "completed" and summary["failures"] == 0
    assert summary["requests"] == len(got) > 0 and set(got) <= {"/c101", "/c102", "/c103"}
