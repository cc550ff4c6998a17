"""A locustfile with a LoadTestShape, planned exactly and run locally (distribute.yml, the local
inventory) against the feeder: the check samples the shape on a fake clock, the plan follows its
curve of users (rate = users / pace, the short profile's pace of 1 s), and the requests per second
at the target follow the plan's per second.

The bound: a request crosses a second boundary at the target only when it is a few ms late and
its slot is that close to the boundary; at these rates (10-20 rps) that moves at most a request
or two in a second, so the RMS over the run is under 1 request per second (measured: see the
printed figures); the test allows 1.5, 7.5 % of the peak of 20 rps.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries

from harness import COLLECTION, feeder, local_run

pytestmark = pytest.mark.serial  # measures timing: runs alone, after the parallel tests (pytest.ini)

RMS_BOUND = 1.5  # requests per second
LOCUSTFILE = '''
from locust import HttpUser, LoadTestShape, task


class Visitor(HttpUser):
    @task
    def home(self):
        self.client.get("/wait/1")


class SmallSteps(LoadTestShape):
    """0 -> 10 users over 3 s, hold 4 s, a step to 20 users held 3 s, the end."""

    def tick(self):
        run_time = self.get_run_time()
        if run_time < 7:
            return 10, 10 / 3
        if run_time < 10:
            return 20, 100
        return None
'''


def test_a_load_test_shape_is_planned_and_followed_at_the_target(tmp_path: Path) -> None:
    locustfile = tmp_path / "shaped.py"
    locustfile.write_text(LOCUSTFILE)
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "shaped", url, locustfile)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    out = " ".join(result.stdout.split())  # the YAML output folds long lines
    assert "the locustfile's LoadTestShape SmallSteps was sampled on a fake clock and is planned exactly" in out

    run = tmp_path / "shaped"
    plan = json.loads((run / "plan.json").read_text())
    assert plan["shape"] == "SmallSteps" and plan["pace"] == 1 and plan["clients"] == 20
    assert [(s["duration"], s["rps"]) for s in plan["stages"]] == [(3, 10), (4, 10), (0.1, 20), (2.9, 20), (0, 0)]
    t0 = float(json.loads((run / "localhost" / "start.json").read_text())["start_time"])
    seconds = math.ceil(plan["duration"])
    planned = [0] * seconds
    for host in plan["hosts"].values():
        for core in host["cores"]:
            for interval in plan_queries.core_intervals(plan, core):
                for t in plan_queries.request_times(interval, plan["pace"]):
                    planned[int(t)] += 1
    measured = [0] * seconds
    stamps = [float(line.split(" ", 1)[0]) - t0 for line in arrivals.read_text().splitlines() if line.strip()]
    for t in stamps:
        if 0 <= t < seconds:
            measured[int(t)] += 1
    rms = math.sqrt(statistics.fmean((m - p) ** 2 for m, p in zip(measured, planned)))
    print(f"\nplanned per second: {planned}\nat the target:      {measured}\n"
          f"RMS {rms:.2f} requests/s ({100 * rms / plan['rps']:.1f} % of the peak {plan['rps']:g} rps)")
    assert len(stamps) == plan["expected_requests"] == sum(planned)
    assert rms <= RMS_BOUND


CLASSES_LOCUSTFILE = '''
from locust import HttpUser, LoadTestShape, task


class Reader(HttpUser):
    weight = 3

    @task
    def read(self):
        self.client.get("/reader")


class Writer(HttpUser):
    @task
    def write(self):
        self.client.get("/writer")


class Admin(HttpUser):
    @task
    def admin(self):
        self.client.get("/admin")


class ReadersAndWriters(LoadTestShape):
    """8 users of Reader and Writer only (by their weights, 3:1) for 6 s, the end."""

    def tick(self):
        return (8, 8, [Writer, Reader]) if self.get_run_time() < 6 else None
'''


def test_a_shapes_fixed_user_classes_run_alone_by_their_weights(tmp_path: Path) -> None:
    sys.path.insert(0, str(COLLECTION / "runtime"))
    from hailstorm_runtime.schedule import ClassPicker  # the runtime's own picker, to know each client's class

    locustfile = tmp_path / "classes.py"
    locustfile.write_text(CLASSES_LOCUSTFILE)
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = local_run(tmp_path, "classes", url, locustfile)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    out = " ".join(result.stdout.split())
    assert "its tick() runs the user classes Reader, Writer, spread by their weights" in out

    plan = json.loads((tmp_path / "classes" / "plan.json").read_text())
    assert plan["user_classes"] == ["Reader", "Writer"]
    picker = ClassPicker([("Reader", 3, 0), ("Writer", 1, 0)])  # the runtime's picker over the shape's classes
    planned = {"/reader": 0, "/writer": 0, "/admin": 0}
    for host in plan["hosts"].values():
        for core in host["cores"]:
            for interval in plan_queries.core_intervals(plan, core):
                path = f"/{picker.pick(interval.client_id).lower()}"
                planned[path] += sum(1 for _t in plan_queries.request_times(interval, plan["pace"]))
    measured = {path: 0 for path in planned}
    for line in arrivals.read_text().splitlines():
        if line.strip():
            measured[line.split(" ", 1)[1]] += 1
    print(f"\nplanned requests per class path: {planned}\nat the target: {measured}")
    assert measured == planned and planned["/admin"] == 0 and planned["/reader"] > planned["/writer"]
