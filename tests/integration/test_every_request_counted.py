"""Nothing a locustfile does hides a request from the results: the real runtime against the
bundled feeder, whose arrival log is what the target got, compared with what the core recorded.

- request listeners of the locustfile that raise each of Locust's control exceptions
  (RescheduleTask, RescheduleTaskImmediately, StopUser, InterruptTaskSet) and ordinary ones, on
  failed and on successful requests;
- catch_response blocks (HttpUser and FastHttpUser) that raise an exception of the locustfile:
  counted as failures with that exception (Locust drops them), and one that raises
  RescheduleTask after the answer came: counted by its status;
- FastHttpUser.rest(), and a custom client that fires events.request itself;
- Locust's runtime API: spawning_complete fires (a locustfile waiting for it in on_start runs),
  runner.user_count / state / stats.total are live, runner.quit() ends the core's load.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge

import harness
from harness import feeder

RAISING_LISTENERS = '''
from locust import FastHttpUser, HttpUser, events, task
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

RAISE = {"/status/500": RescheduleTask, "/status/502": RescheduleTaskImmediately,
         "/status/503": StopUser, "/status/504": InterruptTaskSet, "/status/404": ValueError,
         "/ok": KeyError}


@events.request.add_listener
def stop_on_failure(name, exception=None, **_kwargs):
    # Locust's documented pattern: end the task on the first failure (and worse)
    kind = RAISE.get(name)
    if kind is not None:
        raise kind(name)


class Mixed(HttpUser):
    weight = 3
    sent = 0

    @task
    def hit(self):
        Mixed.sent += 1  # every path in turn, over all Mixed users
        self.client.get(["/status/500", "/status/502", "/status/503", "/status/504", "/status/404", "/ok",
                         "/fine"][Mixed.sent % 7])


class Blocks(FastHttpUser):
    sent = 0

    @task
    def block(self):
        Blocks.sent += 1
        with self.client.get("/blocks", catch_response=True) as response:
            if Blocks.sent % 2:
                raise RuntimeError("the body did not parse")
            if response.status_code == 200:
                raise RescheduleTask()

    @task
    def rest(self):
        with self.rest("GET", "/rest") as response:
            if response.js is None:
                pass


class Plain(HttpUser):
    @task
    def block(self):
        with self.client.get("/plainblock", catch_response=True) as response:
            raise ZeroDivisionError("locustfile bug")


class Custom(HttpUser):
    @task
    def custom(self):
        self.client.get("/custom-real")
        self.environment.events.request.fire(request_type="CUSTOM", name="custom-fired", response_time=1.0,
                                             response_length=0, exception=None, context={})
'''


def core_records(work: Path) -> dict:
    return merge([str(path) for path in sorted(work.glob("core-*.jsonl"))])


def arrivals(log: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.strip()]


def run_direct(tmp_path: Path, text: str, clients: int = 20, constant: float = 3.0, cores: int = 1):
    log = tmp_path / "arrivals.log"
    settings = {"clients": clients, "rps": clients, "pace": 1.0, "rampup": 1.0, "constant": constant,
                "rampdown": 1.0}
    with feeder(log) as url:
        _plan, _data, work, _t0, procs = harness.start_cores(tmp_path, url, settings, text, cores=cores,
                                                            deadline_grace=5)
        codes = [proc.wait(timeout=60) for proc in procs]
    return codes, core_records(work), arrivals(log), work


@pytest.fixture(scope="module")
def raising(tmp_path_factory):
    return run_direct(tmp_path_factory.mktemp("raising"), RAISING_LISTENERS)


def label_counts(merged: dict) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for per_label in merged["seconds"].values():
        for label, cell in per_label.items():
            row = out.setdefault(label, [0, 0])
            row[0] += cell["requests"]
            row[1] += cell["failures"]
    return out


def test_every_request_the_target_got_is_recorded_whatever_the_listeners_raise(raising):
    codes, merged, got, _work = raising
    counts = label_counts(merged)
    real = {label: row for label, row in counts.items() if not label.startswith("CUSTOM")}
    assert sum(row[0] for row in real.values()) == len(got), (counts, len(got))
    for path in ("/status/500", "/status/502", "/status/503", "/status/504", "/status/404", "/ok", "/fine",
                 "/blocks", "/rest", "/plainblock", "/custom-real"):
        at_target = got.count(path)
        recorded = sum(row[0] for label, row in real.items() if label.split(" ", 1)[1] == path)
        assert recorded == at_target, (path, recorded, at_target)
    assert codes == [0]


def test_failed_requests_behind_a_raising_listener_are_failures(raising):
    _codes, merged, _got, _work = raising
    counts = label_counts(merged)
    for path in ("/status/500", "/status/502", "/status/503", "/status/504", "/status/404"):
        requests, failures = counts[f"GET {path}"]
        assert requests > 0 and failures == requests, (path, counts[f"GET {path}"])
    assert counts["GET /ok"][1] == 0 and counts["GET /fine"][1] == 0


def test_a_catch_response_block_that_raises_is_a_failure_with_that_exception(raising):
    _codes, merged, _got, _work = raising
    errors: dict[str, int] = {}
    for per_label in merged["seconds"].values():
        for label, cell in per_label.items():
            for kind, count in (cell.get("errors") or {}).items():
                errors[f"{label} {kind}"] = errors.get(f"{label} {kind}", 0) + count
    counts = label_counts(merged)
    # every other block raises RuntimeError in the block: failures with that exception; even ones raise
    # the others RescheduleTask after a 200: flow control, counted by the status (a success)
    assert errors.get("GET /blocks RuntimeError: the body did not parse", 0) > 0, errors
    assert 0 < counts["GET /blocks"][1] < counts["GET /blocks"][0]
    assert errors.get("GET /plainblock ZeroDivisionError: locustfile bug") == counts["GET /plainblock"][0] > 0
    # and the exceptions are the locustfile's too, as in Locust
    kinds = merged.get("exceptions") or {}
    assert any(kind.startswith("ZeroDivisionError") for kind in kinds), kinds
    assert any(kind.startswith("RuntimeError") for kind in kinds), kinds


def test_a_custom_client_that_fires_request_events_is_counted(raising):
    _codes, merged, _got, _work = raising
    counts = label_counts(merged)
    assert counts["CUSTOM custom-fired"][0] == counts["GET /custom-real"][0] > 0


RUNTIME_API = '''
import json, os
from locust import HttpUser, events, task

seen = {"spawning_complete": None, "states": set(), "user_counts": [], "stats_total": 0, "test_stop": 0}


@events.spawning_complete.add_listener
def on_spawned(user_count, **_kwargs):
    seen["spawning_complete"] = user_count


@events.test_stop.add_listener
def on_stop(environment, **_kwargs):
    seen["test_stop"] += 1
    seen["stats_total"] = environment.runner.stats.total.num_requests
    seen["states"] = sorted(seen["states"])
    with open(os.path.join(os.environ["API_OUT"]), "w") as handle:
        json.dump(seen, handle)


class Waiting(HttpUser):
    def on_start(self):
        # Locust's example: hold every user until all are spawned
        while self.environment.runner.state != "running":
            self.environment.events.spawning_complete  # noqa: B018 - the hook exists
            import gevent
            gevent.sleep(0.05)

    @task
    def hit(self):
        runner = self.environment.runner
        seen["states"].add(runner.state)
        seen["user_counts"].append(runner.user_count)
        self.client.get("/api")
        if runner.stats.total.num_requests >= QUIT_AFTER:
            runner.quit()
'''


def test_locust_runtime_api_spawning_complete_live_runner_figures_and_quit(tmp_path, monkeypatch):
    out = tmp_path / "api.json"
    monkeypatch.setenv("API_OUT", str(out))
    codes, merged, got, work = run_direct(tmp_path, RUNTIME_API.replace("QUIT_AFTER", "25"), clients=10,
                                          constant=6.0)
    seen = json.loads(out.read_text())
    assert seen["spawning_complete"] == 10  # every client of the core started
    assert seen["states"] == ["running"]  # tasks run only after spawning_complete, as the locustfile waits
    assert max(seen["user_counts"]) == 10
    assert seen["test_stop"] == 1
    # quit after 25 requests: the core's load ended there, recorded with its reason
    core = merged["cores"][0]
    assert str((core.get("end") or {}).get("reason", "")).startswith("quit by the locustfile"), core.get("end")
    assert 25 <= sum(cell["requests"] for per in merged["seconds"].values() for cell in per.values()) == len(got)
    assert len(got) < 10 * 6  # far fewer than the plan's
    assert seen["stats_total"] == len(got)
    assert codes == [0]
