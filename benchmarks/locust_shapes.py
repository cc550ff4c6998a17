#!/usr/bin/env python3
"""Locust's three LoadTestShape examples (stages, step load, double wave) at the target: plain
Locust against this collection's planned run, each measured at the bundled feeder's arrival log
per whole second against the shape's own curve.

    .venv/bin/python benchmarks/locust_shapes.py [--scale N] [--pace 1] [--skip-plain] [--only stages]

The shapes are Locust's examples (examples/custom_shape/) with their times divided by a scale (5
for the stages example, its 140 s become 28 s; 5 for step load, 120 s become 24 s; 10 for double
wave, 600 s become 60 s; --scale gives one for all), spawn rates multiplied by it, user counts as
they are: the three run in about 5 minutes in all, each shape twice (planned, plain).

The shape's own curve: the active users Locust's runner moves towards each tick's user_count at
its spawn_rate (the runtime's shapes.sample replays that on a fake clock), as a rate of
users / pace, the pace of every user (`constant_pacing(pace)`). Its integral over each whole second
of the run is what that second should get. Each system's error is the RMS over the shape's seconds
of (requests in the second - that), in % of the shape's peak rate; "worst" is the worst second.

- plain: `locust -f shape.py --headless` (one process, the shape drives it), timed from Locust's
  test_start event (when the shape starts).
- planned: the collection's distribute.yml on this machine (inventories/local, the local backend):
  the check samples the shape, the plan follows its curve, timed from the run's shared start
  (start.json). "plan" is the plan's own request times (no machine in the way).

Sends load to loopback only. A busy machine (other test runs) shows in both: say so with figures.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(COLLECTION / "runtime"))
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries  # noqa: E402
from harness import feeder, local_run  # noqa: E402
from hailstorm_runtime.shapes import sample  # noqa: E402

USERS = '''
import json
import math
import os
import time

from locust import FastHttpUser, LoadTestShape, constant_pacing, events, task

SCALE = {scale}


@events.test_start.add_listener
def _started(**_kwargs):
    if os.environ.get("SHAPE_T0_FILE"):  # plain Locust only: when the shape starts
        with open(os.environ["SHAPE_T0_FILE"], "w") as handle:
            json.dump(time.time(), handle)


class Paced(FastHttpUser):
    wait_time = constant_pacing({pace})

    @task
    def hit(self):
        self.client.get("/shape")
'''

SCALES = {"stages": 5.0, "step load": 5.0, "double wave": 10.0}  # the examples' times divided by these
SHAPES = {
    # examples/custom_shape/stages.py
    "stages": '''
class StagesShape(LoadTestShape):
    stages = [
        {"duration": 10, "users": 10, "spawn_rate": 10},
        {"duration": 30, "users": 50, "spawn_rate": 10},
        {"duration": 60, "users": 100, "spawn_rate": 10},
        {"duration": 120, "users": 100, "spawn_rate": 10},
        {"duration": 130, "users": 10, "spawn_rate": 10},
        {"duration": 140, "users": 1, "spawn_rate": 1},
    ]

    def tick(self):
        run_time = self.get_run_time() * SCALE
        for stage in self.stages:
            if run_time < stage["duration"]:
                return stage["users"], stage["spawn_rate"] * SCALE
        return None
''',
    # examples/custom_shape/step_load.py
    "step load": '''
class StepLoadShape(LoadTestShape):
    step_time = 30
    step_load = 10
    spawn_rate = 10
    time_limit = 120

    def tick(self):
        run_time = self.get_run_time() * SCALE
        if run_time > self.time_limit:
            return None
        current_step = math.floor(run_time / self.step_time) + 1
        return current_step * self.step_load, self.spawn_rate * SCALE
''',
    # examples/custom_shape/double_wave.py
    "double wave": '''
class DoubleWave(LoadTestShape):
    min_users = 20
    peak_one_users = 60
    peak_two_users = 40
    time_limit = 600

    def tick(self):
        run_time = round(self.get_run_time() * SCALE)
        if run_time < self.time_limit:
            user_count = (
                (self.peak_one_users - self.min_users)
                * math.e ** -(((run_time / (self.time_limit / 10 * 2 / 3)) - 5) ** 2)
                + (self.peak_two_users - self.min_users)
                * math.e ** -(((run_time / (self.time_limit / 10 * 2 / 3)) - 10) ** 2)
                + self.min_users
            )
            return round(user_count), round(user_count) * SCALE
        return None
''',
}


def shape_curve(path: Path) -> dict:
    """The shape's active-user curve (shapes.sample of its LoadTestShape, on a fake clock)."""
    spec = importlib.util.spec_from_file_location(f"shape_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    from locust import LoadTestShape

    shape = next(value for value in vars(module).values()
                 if isinstance(value, type) and issubclass(value, LoadTestShape) and value is not LoadTestShape)
    return sample(shape())


def expected(points: list[list[float]], pace: float, seconds: int) -> list[float]:
    """The curve's requests in each whole second: the integral of users / pace over it (the
    curve is linear between breakpoints; two at the same time are a step)."""
    out = [0.0] * seconds
    for (t0, u0), (t1, u1) in zip(points, points[1:]):
        if t1 <= t0:
            continue
        for second in range(max(0, math.floor(t0)), min(seconds, math.ceil(t1))):
            a, b = max(t0, second), min(t1, second + 1)
            if b > a:
                ua = u0 + (u1 - u0) * (a - t0) / (t1 - t0)
                ub = u0 + (u1 - u0) * (b - t0) / (t1 - t0)
                out[second] += (ua + ub) / 2 * (b - a) / pace
    return out


def per_second(stamps: list[float], t0: float, seconds: int) -> list[int]:
    counts = [0] * seconds
    for stamp in stamps:
        second = math.floor(stamp - t0)
        if 0 <= second < seconds:
            counts[second] += 1
    return counts


def arrivals(log: Path) -> list[float]:
    return [float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if line.strip()]


def errors(counts: list[int] | list[float], curve: list[float], peak: float) -> tuple[float, float]:
    """(RMS, worst) of the per-second error against the curve, in % of the peak rate."""
    errs = [n - e for n, e in zip(counts, curve)]
    return (100 * math.sqrt(sum(e * e for e in errs) / len(errs)) / peak, 100 * max(abs(e) for e in errs) / peak)


def planned_counts(plan: dict, seconds: int) -> list[int]:
    times = [t for host in plan["hosts"].values() for core in host["cores"]
             for interval in plan_queries.core_intervals(plan, core)
             for t in plan_queries.request_times(interval, plan["pace"])]
    return per_second(times, 0.0, seconds)


def run_plain(locustfile: Path, tmp: Path, duration: float) -> tuple[list[float], float]:
    t0_file = tmp / f"{locustfile.stem}-t0.json"
    log = tmp / f"{locustfile.stem}-plain.log"
    with feeder(log) as url:
        subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
                        "--host", url, "--loglevel", "ERROR", "-t", f"{math.ceil(duration) + 10}s"],
                       env={**os.environ, "SHAPE_T0_FILE": str(t0_file)}, capture_output=True,
                       timeout=duration + 120, check=False)
    return arrivals(log), float(json.loads(t0_file.read_text()))


def run_planned(locustfile: Path, tmp: Path, pace: float) -> tuple[list[float], float, dict]:
    log = tmp / f"{locustfile.stem}-planned.log"
    run_id = f"shape-{locustfile.stem}"
    with feeder(log) as url:
        result = local_run(tmp, run_id, url, locustfile, pace=f"{pace:g}s")
    if result.returncode != 0:
        raise SystemExit(f"the planned run of {locustfile.name} failed:\n{result.stdout[-4000:]}{result.stderr}")
    run = tmp / run_id
    plan = json.loads((run / "plan.json").read_text())
    t0 = float(json.loads((run / "localhost" / "start.json").read_text())["start_time"])
    return arrivals(log), t0, plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, help="divide every example's times by this (default: SCALES)")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between a user's requests")
    parser.add_argument("--only", choices=sorted(SHAPES), action="append", help="run only these shapes")
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    rows = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="locust-shapes-") as tmp_name:
        tmp = Path(tmp_name)
        for name in args.only or list(SHAPES):
            locustfile = tmp / f"{name.replace(' ', '_')}.py"
            scale = args.scale or SCALES[name]
            locustfile.write_text(USERS.format(scale=scale, pace=args.pace) + SHAPES[name])
            curve_points = shape_curve(locustfile)
            seconds = math.floor(curve_points["duration"])
            curve = expected(curve_points["points"], args.pace, seconds)
            peak = max(users for _t, users in curve_points["points"]) / args.pace
            stamps, t0, plan = run_planned(locustfile, tmp, args.pace)
            ours = per_second(stamps, t0, seconds)
            plain = None
            if not args.skip_plain:
                plain_stamps, plain_t0 = run_plain(locustfile, tmp, curve_points["duration"])
                plain = per_second(plain_stamps, plain_t0, seconds)
            rows.append((name, scale, seconds, peak, errors(planned_counts(plan, seconds), curve, peak),
                         errors(ours, curve, peak), errors(plain, curve, peak) if plain else None))
            print(f"{name}: shape {[round(c, 1) for c in curve]}\n  planned at target {ours}\n"
                  f"  plain Locust      {plain}", file=sys.stderr)
    print(f"Locust's LoadTestShape examples, pace {args.pace:g} s "
          f"({time.time() - started:.0f} s in all); error per whole second against the shape's curve, "
          "RMS / worst, % of the peak rate")
    print(f"{'shape':<12} {'times /':>7} {'seconds':>7} {'peak rps':>8} {'plan':>15} {'planned at target':>18} "
          f"{'plain Locust':>15}")
    for name, scale, seconds, peak, plan_e, ours_e, plain_e in rows:
        plain_text = f"{plain_e[0]:.2f} / {plain_e[1]:.1f}" if plain_e else "-"
        print(f"{name:<12} {scale:>7g} {seconds:>7} {peak:>8g} {plan_e[0]:>7.2f} / {plan_e[1]:<5.1f} "
              f"{ours_e[0]:>9.2f} / {ours_e[1]:<6.1f} {plain_text:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
