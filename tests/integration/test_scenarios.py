"""hailstorm_scenarios run locally (distribute.yml, the local inventory, 2 cores) against the feeder:
two user classes hitting their own paths, each class its own scenario and curve - a ramp to
40 rps held (Browser, /browse), 10 rps then a step to 30 rps (Buyer, /buy) - measured at the target
from the feeder's arrival log, per path.

Checks: each path's requests per second at the target follow its scenario's planned per second
(every slot of the scenario's clients on every core, from plan.json) and its own curve; the target
saw exactly the planned requests of each scenario, and summary.json's per-scenario counts equal the
target's per-path counts; thresholds per scenario pass (exit 0) and break (exit 10); a scenario
naming a class the locustfile lacks is refused before any host; a LoadTestShape whose classes
change runs each class as a scenario; a scenario's tags pick tasks of its own classes only.

The bound at the target: a request crosses a second boundary only when it is a few ms late and its
slot is that close to the boundary; at these rates (10-40 rps) that moves a request or two in a
second, so the RMS against the plan is under 1 request per second (test_shapes_local measured it;
the figures here are printed); the test allows 1.5 requests per second, as test_shapes_local. The
plan itself against the curve is held to 2 % of the peak (the unit tests hold every plan to it).
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, run_settings

from harness import feeder, local_run, start_cores, wait_until


RMS_BOUND = 1.5  # requests per second, measured against the plan at the target
LOCUSTFILE = '''
from locust import HttpUser, task


class Browser(HttpUser):
    @task
    def browse(self):
        self.client.get("/browse")


class Buyer(HttpUser):
    @task
    def buy(self):
        self.client.get("/buy")
'''
SCENARIOS = {
    "browse": {"user_classes": ["Browser"], "rps": 40, "rampup": "6s", "constant": "10s", "rampdown": 0},
    "checkout": {"user_classes": ["Buyer"], "stages": [{"duration": 0, "rps": 10}, {"duration": "8s", "rps": 10},
                                                       {"duration": 0, "rps": 30}, {"duration": "8s", "rps": 30}]},
}
PATHS = {"browse": "/browse", "checkout": "/buy"}


def curve_rate(stages: list, second: int) -> float:
    """The curve's mean rate over [second, second + 1)."""
    pieces = plan_queries._rate_pieces(stages)  # pylint: disable=protected-access
    near = plan_queries._rate_near  # pylint: disable=protected-access
    return statistics.fmean(near(pieces, second + (i + 0.5) / 100, True) for i in range(100))


def rms(values: list[float]) -> float:
    return math.sqrt(statistics.fmean(value * value for value in values)) if values else 0.0


def planned_per_second(plan: dict, name: str, seconds: int) -> list[int]:
    sub = plan["scenarios"][name]
    counts = [0] * seconds
    for host in plan["hosts"].values():
        for core in host["cores"]:
            for t, _client in plan_queries.core_arrivals(sub, core["scenarios"][name]):
                counts[int(t + sub["start"])] += 1
    return counts


@pytest.mark.serial  # measures timing at the target: alone, after the parallel tests (pytest.ini)
def test_each_scenario_follows_its_own_curve_at_the_target(tmp_path: Path) -> None:
    locustfile = tmp_path / "scenarios.py"
    locustfile.write_text(LOCUSTFILE)
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "scenarios", url, locustfile, cores=2, scenarios=SCENARIOS,
                           thresholds={"scenarios": {"browse": {"failure_rate": 0, "p95_ms": 5000},
                                                     "checkout": {"failure_rate": 0, "overruns": 1000}}})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    out = " ".join(result.stdout.split())  # the YAML output folds long lines
    assert "2 scenarios on the same cores: 70 clients, peak 70 rps in all" in out

    run = tmp_path / "scenarios"
    plan = json.loads((run / "plan.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    t0 = float(json.loads((run / "localhost" / "start.json").read_text())["start_time"])
    assert plan["cores_total"] == 2 and set(plan["scenarios"]) == set(SCENARIOS)
    seconds = math.ceil(plan["duration"])
    measured = {name: [0] * seconds for name in SCENARIOS}
    by_path = {path: name for name, path in PATHS.items()}
    for line in arrivals.read_text().splitlines():
        if line.strip():
            stamp, path = line.split(" ", 1)
            t = float(stamp) - t0
            assert path in by_path and 0 <= t < seconds, line
            measured[by_path[path]][int(t)] += 1
    for name, counts in measured.items():
        sub = plan["scenarios"][name]
        planned = planned_per_second(plan, name, seconds)
        curve = plan_queries.curve_stages(sub, sub["start"])
        whole = range(math.ceil(sub["start"]), math.floor(sub["start"] + sub["duration"]))
        against_plan = rms([counts[s] - planned[s] for s in range(seconds)])
        plan_error = rms([planned[s] - curve_rate(curve, s) for s in whole])
        at_target = rms([counts[s] - curve_rate(curve, s) for s in whole])
        print(f"\n{name}: planned per second {planned}\n{'':>{len(name)}}  at the target      {counts}\n"
              f"RMS at the target vs the plan {against_plan:.2f} requests/s; the plan vs the curve {plan_error:.2f} "
              f"({100 * plan_error / sub['rps']:.2f} % of the peak {sub['rps']:g}); the target vs the curve "
              f"{at_target:.2f} ({100 * at_target / sub['rps']:.2f} %)")
        assert sum(counts) == sum(planned) == sub["expected_requests"]
        assert plan_error <= 0.02 * sub["rps"]
        assert against_plan <= RMS_BOUND
        figures = summary["scenarios"][name]
        assert figures["requests"] == sum(counts) == figures["sent"] == figures["planned"]
        assert figures["failures"] == 0 and figures["user_classes"] == SCENARIOS[name]["user_classes"]
    assert summary["requests"] == sum(sum(counts) for counts in measured.values()) == plan["expected_requests"]


def test_thresholds_per_scenario_break_the_run(tmp_path: Path) -> None:
    locustfile = tmp_path / "scenarios.py"
    locustfile.write_text(LOCUSTFILE)
    short = {"browse": {**SCENARIOS["browse"], "rps": 10, "rampup": "2s", "constant": "2s"},
             "checkout": {"user_classes": ["Buyer"], "rps": 4, "rampup": "1s", "constant": "3s", "rampdown": 0}}
    with feeder() as url:
        result = local_run(tmp_path, "broken", url, locustfile, cores=2, scenarios=short,
                           thresholds={"scenarios": {"checkout": {"p50_ms": "0.001ms"}, "browse": {"p95_ms": 5000}}})
    out = " ".join(result.stdout.split())
    assert result.returncode == 10, out[-4000:]
    assert "1 of 2 thresholds broken" in out
    assert "p50_ms of scenario checkout" in out and "BROKEN" in out


def test_a_scenario_naming_a_class_the_locustfile_lacks_is_refused_before_any_host(tmp_path: Path) -> None:
    locustfile = tmp_path / "scenarios.py"
    locustfile.write_text(LOCUSTFILE)
    wrong = {**SCENARIOS, "checkout": {**SCENARIOS["checkout"], "user_classes": ["Buyers"]}}
    result = local_run(tmp_path, "wrong", "http://127.0.0.1:1", locustfile, cores=2, scenarios=wrong)
    out = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "hailstorm_scenarios.checkout.user_classes: Buyers is not a user class of the locustfile" in out, out[-3000:]
    assert "its classes are Browser, Buyer" in out
    assert not (tmp_path / "wrong" / "localhost").exists()  # no load host was asked for anything


SHAPE_LOCUSTFILE = '''
from locust import HttpUser, LoadTestShape, task


class Reader(HttpUser):
    @task
    def read(self):
        self.client.get("/reader")


class Writer(HttpUser):
    weight = 3

    @task
    def write(self):
        self.client.get("/writer")


class Campaign(LoadTestShape):
    """Readers alone (0 -> 20 users in 2 s, held), then from 6 s readers and writers by weight (1:3)
    of 20 users, then of 40 users from 11 s, the end at 15 s."""

    def tick(self):
        run_time = self.get_run_time()
        if run_time < 6:
            return 20, 10, [Reader]
        if run_time < 11:
            return 20, 100, [Reader, Writer]
        if run_time < 15:
            return 40, 100, [Reader, Writer]
        return None
'''


@pytest.mark.serial  # measures timing at the target: alone, after the parallel tests (pytest.ini)
def test_a_shape_whose_classes_change_runs_each_class_as_a_scenario(tmp_path: Path) -> None:
    locustfile = tmp_path / "campaign.py"
    locustfile.write_text(SHAPE_LOCUSTFILE)
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "campaign", url, locustfile, cores=2)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    out = " ".join(result.stdout.split())
    assert "the locustfile's LoadTestShape Campaign was sampled on a fake clock; its tick() changes the user classes" \
        in out

    run = tmp_path / "campaign"
    plan = json.loads((run / "plan.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    t0 = float(json.loads((run / "localhost" / "start.json").read_text())["start_time"])
    assert plan["shape"] == "Campaign" and set(plan["scenarios"]) == {"Reader", "Writer"}
    assert (plan["scenarios"]["Reader"]["rps"], plan["scenarios"]["Writer"]["rps"]) == (20, 30)  # pace 1 s
    seconds = math.ceil(plan["duration"])
    measured = {name: [0] * seconds for name in plan["scenarios"]}
    for line in arrivals.read_text().splitlines():
        if line.strip():
            stamp, path = line.split(" ", 1)
            t = float(stamp) - t0
            assert path in ("/reader", "/writer") and 0 <= t < seconds, line
            measured[path[1:].capitalize()][int(t)] += 1
    for name, counts in measured.items():
        planned = planned_per_second(plan, name, seconds)
        against_plan = rms([m - p for m, p in zip(counts, planned)])
        print(f"\n{name}: planned per second {planned}\n{'':>{len(name)}}  at the target      {counts}\n"
              f"RMS at the target vs the plan {against_plan:.2f} requests/s")
        assert sum(counts) == sum(planned) == plan["scenarios"][name]["expected_requests"]
        assert summary["scenarios"][name]["requests"] == sum(counts)
        assert against_plan <= RMS_BOUND
    assert measured["Writer"][:6] == [0] * 6 and sum(measured["Writer"]) > sum(measured["Reader"][6:])


TAGS_LOCUSTFILE = '''
from locust import HttpUser, tag, task


class Browser(HttpUser):
    @tag("home")
    @task
    def home(self):
        self.client.get("/browser-home")

    @tag("search")
    @task
    def search(self):
        self.client.get("/browser-search")


class Buyer(HttpUser):
    @tag("home")
    @task
    def home(self):
        self.client.get("/buyer-home")

    @tag("search")
    @task
    def search(self):
        self.client.get("/buyer-search")
'''


def test_a_scenarios_tags_pick_the_tasks_of_its_own_classes_only(tmp_path: Path) -> None:
    settings, _warnings = run_settings.resolve_settings({"default": {"target": "http://127.0.0.1:1", "scenarios": {
        "browse": {"user_classes": ["Browser"], "rps": 10, "rampup": 1, "constant": 2, "rampdown": 0,
                   "tags": ["search"]},
        "buy": {"user_classes": ["Buyer"], "rps": 6, "rampup": 1, "constant": 2, "rampdown": 0}}}})
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as target:
        plan, _data, _work, _t0, procs = start_cores(tmp_path, target, settings, TAGS_LOCUSTFILE, cores=2)
        for proc in procs:
            proc.wait(timeout=plan["duration"] + 60)
            assert proc.returncode == 0
        wait_until(lambda: sum(1 for _ in arrivals.open()) >= plan["expected_requests"],
                   "the feeder to log every planned request", timeout=30)
    paths: dict[str, int] = {}
    for line in arrivals.read_text().splitlines():
        path = line.split(" ", 1)[1]
        paths[path] = paths.get(path, 0) + 1
    assert set(paths) == {"/browser-search", "/buyer-home", "/buyer-search"}  # browse: its tag only; buy: every task
    assert paths["/browser-search"] == plan["scenarios"]["browse"]["expected_requests"]
    assert paths["/buyer-home"] + paths["/buyer-search"] == plan["scenarios"]["buy"]["expected_requests"]
