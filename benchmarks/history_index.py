#!/usr/bin/env python3
"""results/index.html over many runs: how long history.write_index takes for N synthetic runs.

Each synthetic run is a plan.json and a summary.json of the size a 10-minute run of 5 labels on
4 cores writes (600 seconds of series, the merged histograms block of 5 labels of ~300 buckets,
about 150 KB), its report.html a stub. Measured: the first index (every summary read: cold, no
index.json yet), then a second one (index.json holds every row: only the directory is listed),
then one after a new run was added.

    .venv/bin/python benchmarks/history_index.py [--runs 1000] [--repeat 3]

Measured on the 2-core development machine (busy with other work), 1,000 runs: see
docs/comparing-runs.md.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "collections"))

from ansible_collections.romram.hailstorms.plugins.module_utils import history  # noqa: E402


def synthetic_run(root: Path, index: int, rng: random.Random) -> None:
    run_id = f"2026{index:06d}T000000Z"
    path = root / run_id
    path.mkdir()
    labels = [f"GET /api/{i}" for i in range(5)]
    hist = {str(1000 + 10 * b): rng.randint(1, 50) for b in range(300)}
    cell = {"requests": 10000, "failures": rng.randint(0, 20), "time_us": 10 ** 8, "hist": hist}
    summary = {
        "state": rng.choice(["completed"] * 9 + ["degraded"]), "exit_code": rng.choice([0] * 9 + [10]),
        "requests": 50000, "failures": 10, "failure_rate": rng.random() / 100,
        "clock": {"start": "2026-12-06T00:00:00+00:00", "start_epoch": 1.7e9 + index * 3600, "seconds": 600.0},
        "constant_phase": {"rps": 80 + rng.random() * 5},
        "latency": {"overall": {"p95_ms": 40 + rng.random() * 10, "p99_ms": 60 + rng.random() * 20},
                    "labels": {label: {"p95_ms": 40.0} for label in labels}},
        "series": [{"second": s, "requests": 80, "failures": 0, "active": 80} for s in range(600)],
        "histograms": {"schema": 1, "overall": cell, "labels": {label: cell for label in labels}},
    }
    (path / "plan.json").write_text(json.dumps({"run_id": run_id, "profile": f"p{index % 3}", "tag": f"r{index}"}))
    (path / "summary.json").write_text(json.dumps(summary, indent=1))
    (path / "report.html").write_text("<!DOCTYPE html><title>stub</title>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cold, warm, one_more = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            rng = random.Random(1)
            for i in range(args.runs):
                synthetic_run(root, i, rng)
            start = time.perf_counter()
            history.write_index(str(root))
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            history.write_index(str(root))
            warm.append(time.perf_counter() - start)
            synthetic_run(root, args.runs, rng)
            start = time.perf_counter()
            history.write_index(str(root))
            one_more.append(time.perf_counter() - start)
            size = (root / "index.html").stat().st_size
    for name, times in (("cold (no index.json)", cold), ("warm", warm), ("one run added", one_more)):
        print(f"{args.runs} runs, {name}: median {statistics.median(times):.3f} s, max {max(times):.3f} s "
              f"over {len(times)}")
    print(f"index.html: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
