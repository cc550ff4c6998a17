#!/usr/bin/env python3
"""Throughput of the hailstorms runtime against plain Locust, same locustfile, one core each.

Both load the same locustfile and run the same number of users flat out against the bundled
feeder (on another CPU when the machine has two or more). The runtime gets a plan whose pace is
1 ms (FLAT_PACE), far below what a user can do, so every request overruns and pacing never limits it: what
is left is the cost of the runtime's scheduling and recording. Requests are counted AT THE
TARGET (the feeder's arrival log) in a steady window of each run, and the load process's CPU
time is read from /proc over the same window: the CPU cost per request is the robust figure on a
shared machine (throughput per core is its inverse); wall-clock rps is printed too.

    .venv/bin/python benchmarks/runtime_overhead.py [--users 50] [--seconds 15] [--rounds 3] [--user-class fast]
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
from harness import COLLECTION, cpu_seconds, start_feeder  # noqa: E402
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner  # noqa: E402

# The runtime's pace in a flat-out run: well below a request's time (50 users flat out take 5-7 ms
# a request each), so that pacing does not limit. An overrunning client waits for its next slot on
# the lattice, up to one pace, by design: with 20 users (2 ms a request each) that wait cost a
# fifth of the throughput (0.77), and a shorter pace (10 µs) costs more CPU than it saves (0.70:
# a gevent timer of a few µs per request; libev wakes up for it no sooner than after 1 ms idle).
FLAT_PACE = 1e-3

LOCUSTFILE = '''
import os

from locust import {base}, constant, task


class Bench({base}):
    wait_time = constant(0)

    def on_start(self):
        self.path = os.environ["BENCH_PATH"]

    @task
    def hit(self):
        self.client.get(self.path, name="/{{name}}")
'''


def pin(cpu: int | None):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def count(arrivals: Path, path: str, lo: float, hi: float) -> int:
    """Requests of one run that arrived at the target in [lo, hi)."""
    return sum(1 for line in arrivals.read_text().splitlines()
               if line.endswith(" " + path) and lo <= float(line.split(" ", 1)[0]) < hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each run")
    parser.add_argument("--user-class", choices=("http", "fast"), default="http")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each (median reported)")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    feeder_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    base = "HttpUser" if args.user_class == "http" else "FastHttpUser"

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        locustfile = tmp / "bench.py"
        locustfile.write_text(LOCUSTFILE.format(base=base))
        arrivals = tmp / "arrivals.log"
        feeder, target = start_feeder("--arrival-log", str(arrivals), stdout=subprocess.DEVNULL,
                                      preexec_fn=pin(feeder_cpu))
        figures: dict[str, list[tuple[float, float]]] = {"plain": [], "runtime": []}
        try:
            for round_ in range(args.rounds):
                for kind in ("plain", "runtime"):  # interleaved: drifts of a shared VM hit both alike
                    path = f"/{kind[0]}{round_}"
                    window, cpu = run_once(kind, path, tmp, locustfile, target, args, load_cpu)
                    time.sleep(1.5)  # the feeder writes its arrival log every second
                    n = count(arrivals, path, *window)
                    seconds = window[1] - window[0]
                    figures[kind].append((n / seconds, cpu / n * 1e6))
                    print(f"round {round_ + 1} {kind:8s} {n / seconds:8.1f} rps, {cpu / n * 1e6:6.1f} µs CPU "
                          f"per request, load process {100 * cpu / seconds:.0f} % busy", flush=True)
        finally:
            feeder.terminate()
            feeder.wait(timeout=10)

    med = {kind: (statistics.median(r for r, _ in rows), statistics.median(c for _, c in rows))
           for kind, rows in figures.items()}
    (plain_rps, plain_cpu), (ours_rps, ours_cpu) = med["plain"], med["runtime"]
    record_us, pace_us = hot_path_micro()
    print(f"hot path in-process: recorder {record_us:.2f} µs + pacer {pace_us:.2f} µs per request "
          f"= {100 * (record_us + pace_us) / plain_cpu:.1f} % of plain Locust's CPU per request")
    print(f"users {args.users} ({base}), load process on CPU {load_cpu}, feeder on CPU {feeder_cpu}, "
          f"{args.rounds} interleaved rounds, medians:")
    print(f"plain Locust:        {plain_rps:8.1f} rps  {plain_cpu:6.1f} µs CPU/request")
    print(f"hailstorms runtime:  {ours_rps:8.1f} rps  {ours_cpu:6.1f} µs CPU/request")
    print(f"throughput ratio runtime/plain: {ours_rps / plain_rps:.3f} (wall clock, sensitive to a shared VM)")
    print(f"CPU-cost ratio runtime/plain:   {ours_cpu / plain_cpu:.3f} "
          f"(overhead {100 * (ours_cpu / plain_cpu - 1):+.1f} %; throughput per core = 1 / CPU per request)")


def hot_path_micro(n: int = 200_000) -> tuple[float, float]:
    """CPU µs per request added by the runtime's own hot path, measured in-process: the
    recorder's request listener and the pacer's wait_time (its sleep is a timer, as any pacing)."""
    sys.path.insert(0, str(COLLECTION / "runtime"))
    from hailstorm_runtime.recorder import Recorder
    from hailstorm_runtime.schedule import PacedWait, Pacer

    class NoSleep:
        time = staticmethod(time.time)

        @staticmethod
        def sleep_until(when: float) -> None:
            return None

        @staticmethod
        def seconds_until(when: float) -> float:
            return 0.0

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(tmp, 0, t0)
        started = time.process_time()
        for i in range(n):
            recorder.on_request("GET", "/{name}", 1.5 + i % 97, 12, start_time=t0 + i * 1e-4)
        record = (time.process_time() - started) / n * 1e6
        recorder.close()
    wait = PacedWait(Pacer(t0, plan_queries.Client(0, 0.0, 0.0005, 1e9), 0.001), NoSleep, RuntimeError,
                     lambda client: None)
    started = time.process_time()
    for _ in range(n):
        wait()
    return record, (time.process_time() - started) / n * 1e6


def run_once(kind: str, path: str, tmp: Path, locustfile: Path, target: str, args: argparse.Namespace,
             load_cpu: int | None) -> tuple[tuple[float, float], float]:
    """Run one kind; return its steady window (wall clock) and the CPU seconds it used in it."""
    env = {**os.environ, "BENCH_PATH": path}
    if kind == "plain":
        command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
                   "-u", str(args.users), "-r", str(args.users), "-t", f"{int(args.seconds)}s",
                   "--host", target, "--loglevel", "ERROR"]
        begin = time.time() + 3.0  # Locust's import (~1.5 s) and spawn done
    else:
        # the runtime: one core, a FLAT_PACE pace (never the limit), 1 s ramp-up, no ramp-down
        settings = {"clients": args.users, "rps": args.users / FLAT_PACE, "pace": FLAT_PACE, "rampup": 1.0,
                    "constant": args.seconds - 1.0, "rampdown": 0.0}
        t0 = time.time() + 2.0
        data = contract.host_data(plan_queries.host_slice(planner.make_plan(settings, [("bench", 1)]), "bench"),
                                  "bench", target, str(locustfile), str(tmp / f"work{path.replace('/', '-')}"),
                                  start_time=t0)
        (tmp / "data.json").write_text(json.dumps(data))
        command = [sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(tmp / "data.json"), "--core", "0"]
        env["PYTHONPATH"] = str(COLLECTION / "runtime")
        begin = t0 + 1.0  # all users started
    window = (begin, begin + args.seconds - 4.0)
    proc = subprocess.Popen(command, preexec_fn=pin(load_cpu), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    time.sleep(max(0.0, window[0] - time.time()))
    cpu0 = cpu_seconds(proc.pid)
    time.sleep(max(0.0, window[1] - time.time()))
    cpu1 = cpu_seconds(proc.pid)
    if proc.wait(timeout=args.seconds + 60) != 0:
        raise SystemExit(f"{kind} run failed with exit code {proc.returncode}")
    return window, cpu1 - cpu0


if __name__ == "__main__":
    main()
