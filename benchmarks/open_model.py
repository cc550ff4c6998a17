#!/usr/bin/env python3
"""The open model beside the closed model: CPU per request at a steady rate, and the memory of a
pool of users.

1. CPU per request: one core's plan at `--rate` iterations/s (FastHttpUser, one request per
   iteration) against the bundled feeder, run by the real runtime with model closed, then open,
   interleaved `--rounds` times. The load process's CPU time (user + system, from os.wait4) over
   its whole life, less the same process's CPU for a plan with no request at all (start-up, Locust's
   import), divided by the requests the target logged.
2. Memory per 10,000 users: the open model against a target that answers after 2 s, so the pool
   grows to about rate x 2 users; the process's peak RSS (ru_maxrss) less that of the steady run,
   per user, x 10,000.

    .venv/bin/python benchmarks/open_model.py [--rate 1000] [--seconds 10] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "collections"), str(ROOT / "tests" / "integration")]
from harness import COLLECTION, feeder  # noqa: E402
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner  # noqa: E402

LOCUSTFILE = '''
from locust import FastHttpUser, task


class Steady(FastHttpUser):
    @task
    def hit(self):
        self.client.get(PATH, name="hit")
'''


def run_core(url: str, path: str, rate: float, seconds: float, model: str, cap: int | None = None) -> dict:
    """One core's run; returns the process's rusage figures, the planned and the recorded requests."""
    with tempfile.TemporaryDirectory(prefix="hailstorm-open-bench-") as tmp:
        work = Path(tmp)
        locustfile = work / "locustfile.py"
        locustfile.write_text(LOCUSTFILE.replace("PATH", repr(path)))
        settings = {"clients": max(1, int(rate)), "rps": max(1.0, rate), "pace": 1.0, "rampup": 1.0, "constant": seconds,
                    "rampdown": 1.0}
        plan = planner.make_plan(settings, [("bench", 1)])
        data = contract.host_data(plan_queries.host_slice(plan, "bench"), "bench", url, str(locustfile), str(work),
                                  start_time=time.time() + 4.0)
        data["plan"].update(model=model, **({"max_clients": cap} if cap else {}))
        (work / "data.json").write_text(json.dumps(data))
        env = {**os.environ, "PYTHONPATH": str(COLLECTION / "runtime")}
        proc = subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(work / "data.json"),
                                 "--core", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(proc.pid, 0)
        end = [json.loads(line) for line in (work / "core-0.jsonl").read_text().splitlines()
               if '"type":"end"' in line]
        return {"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss, "status": status,
                "planned": plan["expected_requests"],
                "requests": (end[0] if end else {}).get("requests", 0), "end": end[0] if end else {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    per_request: dict[str, list[float]] = {"closed": [], "open": []}
    rss: dict[str, list[int]] = {"closed": [], "open": []}
    with tempfile.TemporaryDirectory() as logs:
        log = Path(logs) / "arrivals.log"
        with feeder(log) as url:
            idle = run_core(url, "/hit", 1, 0.0, "closed")  # start-up and import, a request or two
            base_cpu = idle["cpu"]
            for _round in range(args.rounds):
                for model in ("closed", "open"):
                    before = len(log.read_text().splitlines()) if log.exists() else 0
                    out = run_core(url, "/hit", args.rate, args.seconds, model)
                    time.sleep(1.5)  # the feeder writes its log once a second
                    at_target = len(log.read_text().splitlines()) - before
                    per_request[model].append(1e6 * (out["cpu"] - base_cpu) / max(1, at_target))
                    rss[model].append(out["maxrss_kib"])
                    print(f"{model:6s} {at_target:6d} requests at the target ({out['requests']} recorded), "
                          f"CPU {out['cpu']:.2f} s, {per_request[model][-1]:.1f} µs per request, "
                          f"max RSS {out['maxrss_kib'] / 1024:.0f} MiB", flush=True)
            slow = run_core(url, "/wait/2000", args.rate / 4, args.seconds, "open", cap=100_000)
    users = int(slow["end"].get("pool_max") or 0)
    steady_rss = statistics.median(rss["open"])
    closed, opened = statistics.median(per_request["closed"]), statistics.median(per_request["open"])
    print(f"\nCPU per request (median of {args.rounds}): closed {closed:.1f} µs, open {opened:.1f} µs "
          f"({100 * (opened / closed - 1):+.1f} %)")
    if users:
        per_user = (slow["maxrss_kib"] - steady_rss) * 1024 / users
        print(f"open model against a 2 s target at {args.rate / 4:g}/s: pool of {users} users, peak RSS "
              f"{slow['maxrss_kib'] / 1024:.0f} MiB: about {per_user * 10_000 / 2**20:.0f} MiB per 10,000 users")


if __name__ == "__main__":
    main()
