#!/usr/bin/env python3
"""The same plans before and after a change of the planner: plan.json of every test curve,
compared byte for byte between two checkouts.

    .venv/bin/python benchmarks/plan_identity.py --against /work/main [--random 300]

Each checkout's planner runs in its own process (`--dump ROOT`, read-only: nothing is written in
ROOT) over the same cases: the trapezoids the unit tests pin, the stages of the unit, integration
and benchmark tests (step, spike, soak, breakpoint, double wave), Locust's three LoadTestShape
examples sampled by the runtime's shapes.sample, a few hundred seeded random curves (the unit
tests' generator: steps, ramps both ways, holds, gaps) and a curve of 600 short stages. Per case
it prints the sha256 of plan.json's text (as the hailstorm_plan action writes it, without the run's
own fields) and of the preview; plans must match (exit 1 otherwise), previews are reported (a
preview of more stages than hailstorm_preview_points is sampled now, so it may differ on purpose).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import subprocess
import sys
from pathlib import Path

TARGET = "http://127.0.0.1:3456"


def trapezoids() -> dict[str, tuple[dict, list]]:
    return {
        "trapezoid 181 clients": ({"target": TARGET, "rps": 20, "clients": 181, "rampup": "3m"},
                                  [("slave1", 7), ("slave2", 7)]),
        "trapezoid 122 clients": ({"target": TARGET, "rps": 48.8, "clients": 122, "rampup": 20, "constant": "20s",
                                   "rampdown": 7}, [("a", 2), ("b", 3)]),
        "trapezoid 6000 clients": ({"target": TARGET, "rps": 1000, "pace": 6, "rampup": "1m", "constant": 5,
                                    "rampdown": "30s"}, [("a", 3), ("b", 1), ("c", 2)]),
        "trapezoid demo": ({"target": TARGET, "rps": 50, "pace": "2s", "rampup": "20s", "constant": "30s",
                            "rampdown": "10s"}, [("localhost", 1)]),
    }


def double_wave(peak_one: float, peak_two: float, floor: float, seconds: float, stages: int = 20) -> list[dict]:
    def rate(t: float) -> float:
        x = t / (seconds / 10 * 2 / 3)
        return floor + peak_one * math.exp(-((x - 5) ** 2)) + peak_two * math.exp(-((x - 10) ** 2))
    step = seconds / stages
    out = [{"duration": 0, "rps": round(rate(0), 3)}]
    out += [{"duration": step, "rps": round(rate((i + 1) * step), 3)} for i in range(stages - 1)]
    return out + [{"duration": step, "rps": 0}]


def staged_cases() -> dict[str, tuple[dict, list]]:
    spike = [{"duration": "2m", "rps": 200}, {"duration": "5m", "rps": 200}, {"duration": "0s", "rps": 2000},
             {"duration": "30s", "rps": 2000, "name": "spike"}, {"duration": "1m", "rps": 0}]
    at_target = [{"duration": 4, "rps": 40, "name": "ramp"}, {"duration": 4, "rps": 40, "name": "hold"},
                 {"duration": 0, "rps": 80}, {"duration": 4, "rps": 80, "name": "step"}, {"duration": 0, "rps": 120},
                 {"duration": 3, "rps": 120, "name": "spike"}, {"duration": 5, "rps": 0}]
    curves = {
        "step": [{"duration": 10, "rps": 100}, {"duration": 60, "rps": 100}, {"duration": 0, "rps": 200},
                 {"duration": 60, "rps": 200}, {"duration": 0, "rps": 400}, {"duration": 60, "rps": 400},
                 {"duration": 10, "rps": 0}],
        "spike (unit tests)": spike,
        "soak": [{"duration": 60, "rps": 500}, {"duration": 600, "rps": 500}, {"duration": 30, "rps": 0}],
        "breakpoint": [{"duration": 600, "rps": 2000}],
        "double wave 20 stages": double_wave(1000, 600, 100, 300),
        "at target (integration)": at_target,
        "600 short stages": [{"duration": 0.5, "rps": 20 + 10 * (i % 3)} for i in range(600)],
    }
    out = {name: ({"target": TARGET, "pace": "2s", "stages": stages}, [("a", 2), ("b", 2)])
           for name, stages in curves.items()}
    out["double wave 20 stages"][0].update(pace=None, clients=2000)  # a peak of 1039.41 rps
    out["spike (unit tests), pace 1 s"] = ({"target": TARGET, "stages": spike}, [("a", 2), ("b", 2)])
    return out


def random_curves(count: int) -> dict[str, tuple[dict, list]]:
    """The unit tests' curve generator (test_stages.curves) on a seeded random source."""
    rng = random.Random(24)
    out = {}
    for n in range(count):
        hosts = [(f"h{i}", rng.randint(1, 4)) for i in range(rng.randint(1, 3))]
        pace = rng.choice([0.2, 0.5, 1.0, 1.3, 2.0, 3.7, 10.0, 30.0])
        peak = rng.randint(20, 400)
        clients = max(round(peak * pace), sum(c for _n, c in hosts), 20)
        levels, durations = [0.0], []
        for _stage in range(rng.randint(1, 20)):
            kind = rng.choice(["step", "ramp", "ramp", "hold", "gap"])
            level = float(round(rng.choice([0.0, 0.25, 0.5, 0.6180339, 1.0, rng.random()]) * clients))
            if kind == "hold":
                level = levels[-1]
            elif kind == "gap":
                level = 0.0
            if kind in ("hold", "gap") or level == levels[-1]:
                duration = rng.choice([0.5, 1.0, 3.0, 7.5, 12.0])
            elif kind == "step":
                duration = 0.0
            else:
                duration = abs(level - levels[-1]) / rng.choice([10.0, 13.0, 40.0, 250.0])
            if kind == "gap" and levels[-1] > 0:
                levels.append(0.0)
                durations.append(0.0)
            levels.append(level)
            durations.append(duration)
        levels.append(float(clients))
        durations.append(rng.choice([0.0, 1.0, 4.0]) or 0.5)
        stages = [{"duration": d, "rps": a / pace} for d, a in zip(durations, levels[1:])]
        out[f"random curve {n}"] = ({"clients": clients, "rps": clients / pace, "pace": pace, "stages": stages}, hosts)
    return out


def shape_cases(root: Path) -> dict[str, tuple[dict, list]]:
    """Locust's custom_shape examples (stages, step load, double wave), sampled by the runtime."""
    sys.path.insert(0, str(root / "collections/ansible_collections/romram/hailstorms/runtime"))
    from hailstorm_runtime.shapes import sample  # noqa: E402  pylint: disable=import-outside-toplevel

    class Stages:
        stages = [(10, 10, 10), (30, 50, 10), (60, 100, 10), (120, 100, 10), (130, 10, 10), (140, 1, 1)]

        def __init__(self):
            self.now = 0.0

        def get_run_time(self):
            return self.now

        def tick(self):
            for duration, users, rate in self.stages:
                if self.get_run_time() < duration:
                    return users, rate
            return None

    class StepLoad(Stages):
        def tick(self):
            if self.get_run_time() > 120:
                return None
            return (math.floor(self.get_run_time() / 30) + 1) * 10, 10

    class DoubleWave(Stages):
        def tick(self):
            run_time = round(self.get_run_time())
            if run_time >= 600:
                return None
            users = (40 * math.e ** -(((run_time / 40) - 5) ** 2) + 20 * math.e ** -(((run_time / 40) - 10) ** 2)
                     + 20)
            return round(users), round(users)

    out = {}
    for name, shape in (("shape stages", Stages), ("shape step load", StepLoad), ("shape double wave", DoubleWave)):
        try:
            sampled = sample(shape())
        except Exception as error:  # pylint: disable=broad-except
            out[name] = ({"error": f"{type(error).__name__}: {error}"}, [])
            continue
        out[name] = ({"target": TARGET, "pace": "2s", "rps": 50, "rampup": 20, "shape": sampled}, [("a", 2), ("b", 1)])
    return out


def dump(root: Path, count: int) -> dict[str, dict[str, str]]:
    sys.path.insert(0, str(root / "collections"))
    from ansible_collections.romram.hailstorms.plugins.module_utils import planner  # noqa: E402
    try:  # the settings and the preview in modules of their own (since the planner was split)
        from ansible_collections.romram.hailstorms.plugins.module_utils import plan_preview, run_settings  # noqa: E402
    except ImportError:  # a checkout from before: all in planner.py
        plan_preview = run_settings = planner

    cases = {**trapezoids(), **staged_cases(), **shape_cases(root), **random_curves(count)}
    out = {}
    for name, (given, hosts) in cases.items():
        if "error" in given:
            out[name] = {"plan": given["error"], "preview": ""}
            continue
        if "target" not in given:  # settings already resolved (the random curves)
            settings = given
        elif "shape" in given:
            base = {key: value for key, value in given.items() if key != "shape"}
            settings = run_settings.resolve_shaped_settings({"default": base}, "default", None, given["shape"])[0]
        else:
            settings = run_settings.resolve_settings({"default": given})[0]
        plan = planner.make_plan(settings, hosts)
        text = json.dumps(plan, indent=1, default=str) + "\n"
        out[name] = {"plan": hashlib.sha256(text.encode()).hexdigest(),
                     "preview": hashlib.sha256("\n".join(plan_preview.preview(plan)).encode()).hexdigest(),
                     "stages": str(len(plan.get("stages") or []))}
    return out


def run_dump(root: Path, count: int) -> dict[str, dict[str, str]]:
    result = subprocess.run([sys.executable, __file__, "--dump", str(root), "--random", str(count)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="the other checkout (the old planner), e.g. /work/main")
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--random", type=int, default=300, help="seeded random curves (default 300)")
    args = parser.parse_args()
    if args.dump:
        print(json.dumps(dump(args.dump, args.random)))
        return 0
    here = Path(__file__).resolve().parents[1]
    old, new = run_dump(args.against or here, args.random), run_dump(here, args.random)
    differ = [name for name in new if old.get(name, {}).get("plan") != new[name]["plan"]]
    previews = [name for name in new if old.get(name, {}).get("preview") != new[name]["preview"]]
    for name in new:
        if name.startswith("random curve") and name not in differ:
            continue
        print(f"{name:<34} stages {new[name].get('stages', '-'):>4}  plan.json {new[name]['plan'][:16]} "
              f"{'same' if name not in differ else 'DIFFERS (was ' + old.get(name, {}).get('plan', '?')[:16] + ')'}"
              f"  preview {'same' if name not in previews else 'differs'}")
    randoms = [name for name in new if name.startswith("random curve")]
    print(f"{len(randoms)} random curves: {sum(1 for n in randoms if n not in differ)} plan.json the same, "
          f"{sum(1 for n in randoms if n in previews)} previews differ")
    print(f"{len(new) - len(differ)} of {len(new)} plans byte for byte the same as in {args.against or here}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
