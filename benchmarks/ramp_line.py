#!/usr/bin/env python3
"""The ramp-up at the target: requests per whole second against the straight line
rps x (second + 0.5) / rampup, planned (the planner's own request times), measured at the bundled
feeder with the real runtime (2 core processes), and measured for plain Locust with the same users
(`constant_pacing(pace)`, one process, its own spawn rate clients / rampup), side by side.

    .venv/bin/python benchmarks/ramp_line.py [--plans 200:100:20,1000:100:10,6000:1000:60] [--skip-plain]

Each plan is clients:rps:rampup (pace = clients / rps). Figures are the RMS of the per-second
error over the ramp-up and the worst second, as % of rps. Sends load to loopback only.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "collections"), str(ROOT / "tests" / "integration")]
from harness import COLLECTION, start_feeder  # noqa: E402
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner  # noqa: E402

LOCUSTFILE = '''
from locust import FastHttpUser, constant_pacing, task


class Paced(FastHttpUser):
    wait_time = constant_pacing({pace})

    def on_start(self):
        hailstorm = getattr(self, "hailstorm", None)
        self.path = f"/c{{hailstorm.client_id}}" if hailstorm else "/plain"

    @task
    def hit(self):
        self.client.get(self.path, name="/hit")
'''


def errors(per_second: list[int], rps: float, rampup: float) -> tuple[float, float]:
    """(RMS, worst) of the per-second error against the line, in % of rps."""
    errs = [n - rps * (i + 0.5) / rampup for i, n in enumerate(per_second)]
    rms = math.sqrt(sum(e * e for e in errs) / len(errs))
    return 100 * rms / rps, 100 * max(abs(e) for e in errs) / rps


def per_second(times: list[float], start: float, seconds: int) -> list[int]:
    counts = [0] * seconds
    for t in times:
        i = math.floor(t - start)
        if 0 <= i < seconds:
            counts[i] += 1
    return counts


def planned(plan: dict) -> list[int]:
    times = [t for host in plan["hosts"].values() for core in host["cores"]
             for c in plan_queries.core_clients(plan, core) for t in plan_queries.request_times(c, plan["pace"])]
    return per_second(times, 0.0, int(plan["rampup"]))


def arrivals(log: Path, prefix: str, after: float) -> list[float]:
    out = []
    for line in log.read_text().splitlines():
        stamp, _, path = line.partition(" ")
        if path.startswith(prefix) and float(stamp) >= after:
            out.append(float(stamp))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", default="200:100:20,1000:100:10,6000:1000:60")
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "arrivals.log"
        feeder, target = start_feeder("--arrival-log", str(log), stdout=subprocess.DEVNULL)
        try:
            for spec in args.plans.split(","):
                clients, rps, rampup = (float(x) for x in spec.split(":"))
                clients = int(clients)
                pace = clients / rps
                settings = {"clients": clients, "rps": rps, "pace": pace, "rampup": rampup, "constant": 2.0,
                            "rampdown": 1.0}
                plan = planner.make_plan(settings, [("local", 2)])
                locustfile = tmp / "paced.py"
                locustfile.write_text(LOCUSTFILE.format(pace=pace))
                t0 = time.time() + 5.0
                data = contract.host_data(plan_queries.host_slice(plan, "local"), "bench", target, str(locustfile),
                                          str(tmp / f"work-{clients}"), start_time=t0)
                (tmp / "data.json").write_text(json.dumps(data))
                env = {**os.environ, "PYTHONPATH": str(COLLECTION / "runtime")}
                procs = [subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data",
                                           str(tmp / "data.json"), "--core", str(core["index"])],
                                          env=env, stderr=subprocess.DEVNULL) for core in data["cores"]]
                for proc in procs:
                    proc.wait(timeout=plan["duration"] + 60)
                ours = per_second(arrivals(log, "/c", t0 - 1), t0, int(rampup))
                plain = None
                if not args.skip_plain:
                    began = time.time()
                    subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                                    "--only-summary", "-u", str(clients), "-r", f"{clients / rampup:g}",
                                    "-t", f"{int(rampup) + 2}s", "--host", target, "--loglevel", "ERROR"],
                                   capture_output=True, timeout=rampup + 60, check=False)
                    times = arrivals(log, "/plain", began)
                    plain = per_second(times, min(times), int(rampup)) if times else None
                rows.append((spec, errors(planned(plan), rps, rampup), errors(ours, rps, rampup),
                             errors(plain, rps, rampup) if plain else None))
        finally:
            feeder.terminate()
            feeder.wait(timeout=10)
    print(f"{'plan clients:rps:rampup':<24} {'planned RMS/worst':>18} {'at target RMS/worst':>20} "
          f"{'plain Locust RMS/worst':>23}   (% of rps, per whole second of the ramp-up)")
    for spec, plan_e, ours_e, plain_e in rows:
        plain_text = f"{plain_e[0]:.2f} / {plain_e[1]:.2f}" if plain_e else "-"
        print(f"{spec:<24} {plan_e[0]:>8.2f} / {plan_e[1]:<7.2f} {ours_e[0]:>9.2f} / {ours_e[1]:<8.2f} "
              f"{plain_text:>23}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
