#!/usr/bin/env python3
"""The planner with stages: how long a big staged plan takes, and how closely the planned
requests follow five curves, per whole second.

    .venv/bin/python benchmarks/stages_plan.py [--skip-big] [--hosts 1000] [--cores 64] [--clients 1000000]

Part 1 (planning time): `planner.make_plan` for hosts x cores and clients with 20 stages, for three
curves of 20 stages: a double wave, a staircase up and down, and the worst case for the planner, a
sawtooth whose every stage sweeps the whole range (each client starts and stops 10 times). Then the
load-host side: `core_intervals` and `core_arrivals` of one core of 20,000 clients.

Part 2 (planned error): for each curve (step, spike, soak, breakpoint ramp, double wave), every
planned request of every core (`core_arrivals`) is put in its whole second of the run and compared
with the curve's integral over that second: RMS and worst second, in % of the peak rate. This is
the plan (the request times the runtime aims at), not a measurement at a target.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, planner, run_settings  # noqa: E402


def double_wave(peak_one: float, peak_two: float, floor: float, seconds: float, stages: int = 20) -> list[dict]:
    """Locust's double-wave example (two Gaussian waves over a floor), sampled into linear stages."""
    def rate(t: float) -> float:
        x = t / (seconds / 10 * 2 / 3)
        return floor + peak_one * math.exp(-((x - 5) ** 2)) + peak_two * math.exp(-((x - 10) ** 2))
    step = seconds / stages
    out = [{"duration": 0, "rps": round(rate(0), 3)}]
    out += [{"duration": step, "rps": round(rate((i + 1) * step), 3)} for i in range(stages - 1)]
    return out + [{"duration": step, "rps": 0}]


CURVES = {
    # k6's step test: 100, 200, 400 rps for a minute each, steps between, ramps at both ends
    "step": [{"duration": 10, "rps": 100}, {"duration": 60, "rps": 100}, {"duration": 0, "rps": 200},
             {"duration": 60, "rps": 200}, {"duration": 0, "rps": 400}, {"duration": 60, "rps": 400},
             {"duration": 10, "rps": 0}],
    # a spike from 200 to 2,000 rps for 30 s and back
    "spike": [{"duration": 30, "rps": 200}, {"duration": 90, "rps": 200}, {"duration": 0, "rps": 2000},
              {"duration": 30, "rps": 2000}, {"duration": 0, "rps": 200}, {"duration": 60, "rps": 200},
              {"duration": 30, "rps": 0}],
    # a soak: 10 minutes at 500 rps
    "soak": [{"duration": 60, "rps": 500}, {"duration": 600, "rps": 500}, {"duration": 30, "rps": 0}],
    # a breakpoint ramp: 0 to 2,000 rps over 10 minutes
    "breakpoint": [{"duration": 600, "rps": 2000}],
    # Locust's double wave (peaks 1,000 and 600 rps over 100, 5 minutes), 20 stages
    "double wave": double_wave(1000, 600, 100, 300),
}
PACE = 2.0
HOSTS = [("a", 4), ("b", 4)]


def integral(stages: list[dict], a: float, b: float) -> float:
    total, start, rate = 0.0, 0.0, 0.0
    for stage in stages:
        duration, rps = float(stage["duration"]), float(stage["rps"])
        lo, hi = max(a, start), min(b, start + duration)
        if duration > 0 and hi > lo:
            at = [rate + (rps - rate) * (x - start) / duration for x in (lo, hi)]
            total += (at[0] + at[1]) / 2 * (hi - lo)
        start, rate = start + duration, rps
    return total


def staged_settings(stages: list[dict], pace: float, clients: int | None = None) -> dict:
    peak = run_settings.stages_peak(stages)
    clients = clients or round(peak * pace)
    return {"clients": clients, "rps": peak, "pace": clients / peak, "stages": stages}


def planned_errors(name: str, stages: list[dict]) -> dict:
    settings = staged_settings(stages, PACE)
    began = time.perf_counter()
    plan = planner.make_plan(settings, HOSTS)
    planning = time.perf_counter() - began
    seconds = Counter()
    for host in plan["hosts"].values():
        for core in host["cores"]:
            for moment, _client in plan_queries.core_arrivals(plan, core):
                seconds[math.floor(moment)] += 1
    errors = [seconds[i] - integral(stages, i, i + 1) for i in range(math.ceil(plan["duration"]))]
    peak = plan["rps"]
    return {"curve": name, "stages": len(stages), "clients": plan["clients"], "peak": peak,
            "seconds": len(errors), "requests": plan["expected_requests"],
            "rms_pct": 100 * math.sqrt(sum(e * e for e in errors) / len(errors)) / peak,
            "worst_pct": 100 * max(abs(e) for e in errors) / peak,
            "worst_requests": max(abs(e) for e in errors), "plan_s": planning}


def big_curves(peak: float) -> dict[str, list[dict]]:
    wave = double_wave(peak * 0.9, peak * 0.6, peak * 0.05, 1200)
    stairs = [{"duration": 60, "rps": peak * min(i + 1, 20 - i) / 10} for i in range(19)] + [{"duration": 60, "rps": 0}]
    saw = [{"duration": 60, "rps": peak if i % 2 == 0 else 0} for i in range(20)]
    return {"double wave": wave, "staircase up and down": stairs, "sawtooth 0-peak x10 (worst case)": saw}


def big(hosts: int, cores: int, clients: int) -> None:
    host_list = [(f"load{i:04d}", cores) for i in range(hosts)]
    pace = 10.0
    peak = clients / pace
    print(f"planning time: {hosts} hosts x {cores} cores, {clients:,} clients, pace about {pace:g} s, 20 stages")
    print(f"{'curve':<34} {'wall s':>7} {'CPU s':>6} {'intervals':>11} {'requests':>13} {'plan.json MB':>13}")
    for name, stages in big_curves(peak).items():
        rps = run_settings.stages_peak(stages)
        settings = {"clients": clients, "rps": rps, "pace": clients / rps, "stages": stages}
        began, cpu = time.perf_counter(), time.process_time()
        plan = planner.make_plan(settings, host_list)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        intervals = sum(h["intervals"] for h in plan["hosts"].values())
        size = len(json.dumps(plan)) / 1e6
        print(f"{name:<34} {elapsed:>7.2f} {cpu:>6.2f} {intervals:>11,} {plan['expected_requests']:>13,} "
              f"{size:>13.1f}")
    # the load host's side: one core of 20,000 clients (the most a core may have)
    stages = big_curves(2000)["double wave"]
    plan = planner.make_plan({"clients": 20_000, "rps": run_settings.stages_peak(stages),
                              "pace": 20_000 / run_settings.stages_peak(stages), "stages": stages}, [("one", 1)])
    core = plan["hosts"]["one"]["cores"][0]
    began = time.perf_counter()
    intervals = plan_queries.core_intervals(plan, core)
    expand = time.perf_counter() - began
    began = time.perf_counter()
    count = sum(1 for _ in plan_queries.core_arrivals(plan, core))
    arrivals = time.perf_counter() - began
    print(f"one core, 20,000 clients, double wave: core_intervals {expand * 1000:.0f} ms for {len(intervals):,} "
          f"intervals; core_arrivals {count:,} slots in {arrivals:.2f} s ({count / arrivals / 1000:.0f} k slots/s, "
          f"the run lasts {plan['duration']:.0f} s at up to {plan['rps']:.0f} rps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=64)
    parser.add_argument("--clients", type=int, default=1_000_000)
    args = parser.parse_args()
    if not args.skip_big:
        big(args.hosts, args.cores, args.clients)
        print()
    print(f"planned requests per whole second against the curve's integral (pace {PACE:g} s, hosts {HOSTS})")
    print(f"{'curve':<12} {'stages':>6} {'clients':>7} {'peak rps':>8} {'seconds':>7} {'requests':>9} "
          f"{'RMS %':>6} {'worst %':>7} {'worst req':>9} {'plan s':>6}")
    for name, stages in CURVES.items():
        row = planned_errors(name, stages)
        print(f"{row['curve']:<12} {row['stages']:>6} {row['clients']:>7} {row['peak']:>8g} {row['seconds']:>7} "
              f"{row['requests']:>9} {row['rms_pct']:>6.3f} {row['worst_pct']:>7.3f} {row['worst_requests']:>9.2f} "
              f"{row['plan_s']:>6.2f}")


if __name__ == "__main__":
    main()
