#!/usr/bin/env python3
"""How long the planner takes (in-process, no playbook), printed as a table: the tests assert
what the planner does (a plan's size follows the cores, a refusal does no planning); the time
it takes is a figure of this machine, measured here.

  - make_plan for 1 M clients on 1,000 hosts x 64 cores (half of it counting every request);
  - the refusals of plans beyond sane bounds: 1e9 clients (resolve_settings), 100,000 rps on
    4 cores (check_capacity).

    .venv/bin/python benchmarks/planning.py [--repeat 5]

Best and median of the repeats (a shared machine's other work only adds time).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, planner, run_settings  # noqa: E402

TARGET = "http://10.0.0.5:8080"


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return times


def refused(action: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        except plan_queries.PlanError:
            return
        raise SystemExit("expected a refusal")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    hosts = [(f"load{i:04d}", 64) for i in range(1000)]
    big = {"clients": 1_000_000, "rps": 100_000, "pace": 10, "rampup": 600, "constant": 600, "rampdown": 600}
    capacity = run_settings.resolve_settings({"default": {"target": TARGET, "rampup": 5, "rps": 100_000, "pace": 2}})[0]
    rows = [
        ("make_plan, 1 M clients, 1,000 hosts x 64 cores", timed(lambda: planner.make_plan(big, hosts), args.repeat)),
        ("refusal of 1e9 clients (resolve_settings)",
         timed(refused(lambda: run_settings.resolve_settings(
             {"default": {"target": TARGET, "rampup": 5, "rps": "1e9"}})), args.repeat)),
        ("refusal of 100,000 rps on 4 cores (check_capacity)",
         timed(refused(lambda: run_settings.check_capacity(capacity, [("a", 2), ("b", 2)])), args.repeat)),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'':<{width}}  {'best':>10}  {'median':>10}")
    for label, times in rows:
        print(f"{label:<{width}}  {min(times) * 1000:>8.3f}ms  {statistics.median(times) * 1000:>8.3f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
