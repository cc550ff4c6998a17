#!/usr/bin/env python3
"""What live metrics (hailstorm_prometheus_remote_write) cost a load process.

1. Per flush (once a second, on the event loop and on the push thread): turning a flushed stats
   record into samples (metrics.LiveSeries.add), the WriteRequest's encoding by the protobuf
   library and by hand, snappy (cramjam). CPU time (time.process_time) over many rounds, for
   `--labels` request labels, each with a histogram as wide as a busy second's (`--buckets`).
2. Per request, end to end: the runtime flat out (benchmarks/runtime_overhead.py's runs: one
   core, a 1 ms pace that never limits, the bundled feeder as target) with remote write off and
   on (to a real Prometheus on loopback, `prometheus` on the PATH: Debian's package), rounds
   alternating. CPU seconds of the load process over a steady window (/proc) over the requests
   it recorded in that window (its core-0.jsonl): CPU-µs per request, and capacity (requests per
   CPU-second) on against off. The issue's bound: capacity with it on within 5 % of off.

    .venv/bin/python benchmarks/remote_write.py [--labels 1,10,50] [--users 50] [--seconds 15] [--rounds 3]

Run it under the shared lock (flock /tmp/heavy.lock ...) on a machine shared with others.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from runtime_overhead import COLLECTION, FLAT_PACE, LOCUSTFILE, pin  # noqa: E402
from harness import cpu_seconds, free_port, start_feeder  # noqa: E402  (tests/integration, on the path by runtime_overhead)
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner  # noqa: E402

sys.path.insert(0, str(COLLECTION / "runtime"))
from hailstorm_runtime import metrics  # noqa: E402

T0 = 1_800_000_000.0


def flush_cost(labels: int, buckets: int, rounds: int = 200) -> dict[str, float]:
    """CPU-µs per flush of each step, for `labels` labels with `buckets` histogram keys each."""
    plan = {"rampup": 10, "constant": 1000, "rampdown": 10, "pace": 1.0}
    series = metrics.LiveSeries({"run_id": "bench", "profile": "default", "host": "load01", "core": "0"}, plan, T0)
    hist = {1000 + 10 * i: 3 for i in range(buckets)}
    cells = {f"GET /api/item/{i}": {"requests": 3 * buckets, "failures": 1, "time_us": 3 * sum(hist),
                                    "errors": {"HTTP 500": 1}, "hist": hist} for i in range(labels)}
    record = {"active": {"0": 100}, "iterations": 1000, "load": {"0": {"cpu": 0.5, "lag_ms": 1.0, "lag_max_ms": 2.0}}}
    out: dict[str, float] = {}
    started = time.process_time()
    batches = [series.add({k: cells}, record, T0 + k + 1) for k in range(rounds)]
    out["series_add_us"] = (time.process_time() - started) / rounds * 1e6
    out["samples"] = len(batches[-1])
    for name, encode in (("protobuf_us", metrics.encode_protobuf), ("by_hand_us", metrics.encode_by_hand)):
        encode(batches[0])  # the descriptor is built once
        started = time.process_time()
        for batch in batches:
            body = encode(batch)
        out[name] = (time.process_time() - started) / rounds * 1e6
    started = time.process_time()
    for _ in range(rounds):
        compressed = metrics.snappy(body)
    out["snappy_us"] = (time.process_time() - started) / rounds * 1e6
    out["bytes"], out["snappy_bytes"] = len(body), len(compressed)
    return out


class Prometheus:
    """Debian's prometheus on a free loopback port, remote-write receiver on, storage in `path`."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        (path / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={path / 'prometheus.yml'}", f"--storage.tsdb.path={path / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/-/ready", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("prometheus did not get ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def flat_run(tmp: Path, target: str, users: int, seconds: float, remote_write: str | None,
             load_cpu: int | None) -> tuple[float, int]:
    """One flat-out run of the runtime; (CPU seconds, requests recorded) over its steady window."""
    locustfile = tmp / "locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(base="FastHttpUser"))
    settings = {"clients": users, "rps": users / FLAT_PACE, "pace": FLAT_PACE, "rampup": 1.0,
                "constant": seconds - 1.0, "rampdown": 0.0}
    work = tmp / f"work-{time.time_ns()}"
    t0 = time.time() + 2.0
    data = contract.host_data(plan_queries.host_slice(planner.make_plan(settings, [("bench", 1)]), "bench"), "bench",
                              target, str(locustfile), str(work), start_time=t0, remote_write=remote_write,
                              profile="bench" if remote_write else None)
    (tmp / "data.json").write_text(json.dumps(data))
    env = {**os.environ, "BENCH_PATH": "/hello", "PYTHONPATH": str(COLLECTION / "runtime")}
    proc = subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(tmp / "data.json"),
                             "--core", "0"], preexec_fn=pin(load_cpu), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    first, last = 2, int(seconds) - 2  # whole seconds after the start: users running, not ending
    time.sleep(max(0.0, t0 + first - time.time()))
    cpu0 = cpu_seconds(proc.pid)
    time.sleep(max(0.0, t0 + last - time.time()))
    cpu1 = cpu_seconds(proc.pid)
    if proc.wait(timeout=seconds + 60) != 0:
        raise SystemExit(f"run failed with exit code {proc.returncode} (see {work}/core-0.log)")
    requests = 0
    end = {}
    for line in (work / "core-0.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "stats":
            requests += sum(cell["requests"] for sec, cells in record["seconds"].items() if first <= int(sec) < last
                            for cell in cells.values())
        elif record.get("type") == "end":
            end = record
    live: dict = {}
    if remote_write:
        live = end.get("live_metrics") or {}
        if live.get("lost"):
            raise SystemExit(f"samples lost: {live}")
        live["requests"] = end.get("requests")
    return cpu1 - cpu0, requests, live


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="1,10,50")
    parser.add_argument("--buckets", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-runs", action="store_true", help="only the per-flush figures")
    args = parser.parse_args()
    print("per flush (CPU-µs; once a second per core):")
    print(f"{'labels':>6} {'samples':>7} {'series':>8} {'protobuf':>9} {'by hand':>8} {'snappy':>7} {'bytes':>7} {'snappy':>7}")
    for labels in (int(x) for x in args.labels.split(",")):
        f = flush_cost(labels, args.buckets)
        print(f"{labels:>6} {f['samples']:>7} {f['series_add_us']:>8.0f} {f['protobuf_us']:>9.0f} {f['by_hand_us']:>8.0f} "
              f"{f['snappy_us']:>7.0f} {f['bytes']:>7} {f['snappy_bytes']:>7}")
    if args.skip_runs:
        return
    if not shutil.which("prometheus"):
        raise SystemExit("prometheus is not on the PATH (apt-get install prometheus)")
    cpus = os.cpu_count() or 1
    load_cpu, target_cpu = (0, 1) if cpus >= 2 else (None, None)
    with tempfile.TemporaryDirectory(prefix="hs-remote-write-") as name:
        tmp = Path(name)
        (tmp / "prom").mkdir()
        prometheus = Prometheus(tmp / "prom")
        feeder, target = start_feeder(preexec_fn=pin(target_cpu), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        per_request: dict[str, list[float]] = {"off": [], "on": []}
        own: list[float] = []  # the live metrics' own CPU (loop + push thread) per request of the run
        try:
            for _ in range(args.rounds):
                for kind in ("off", "on"):
                    url = prometheus.url + "/api/v1/write" if kind == "on" else None
                    cpu, requests, live = flat_run(tmp, target, args.users, args.seconds, url,
                                                   load_cpu)
                    per_request[kind].append(cpu / requests * 1e6)
                    extra = ""
                    if live:
                        spent = live["loop_cpu_seconds"] + live["push_cpu_seconds"]
                        own.append(spent / live["requests"] * 1e6)
                        extra = (f"; live metrics' own CPU {spent * 1e3:.1f} ms over the run "
                                 f"({own[-1]:.3f} CPU-µs/request, {live['samples']} samples)")
                    print(f"  {kind:>3}: {requests} requests, {cpu:.2f} CPU-s, {cpu / requests * 1e6:.1f} CPU-µs/request"
                          + extra)
        finally:
            feeder.terminate()
            prometheus.stop()
    off, on = statistics.median(per_request["off"]), statistics.median(per_request["on"])
    print(f"median CPU-µs per request: off {off:.1f}, on {on:.1f}; capacity on/off {off / on:.3f} "
          f"(rounds {args.rounds}, {args.users} users flat out); the live metrics' own CPU, measured in the "
          f"process (thread CPU time of LiveSeries.add and of the push thread): median {statistics.median(own):.3f} "
          f"CPU-µs per request, {statistics.median(own) / off * 100:.2f} % of a request's cost")


if __name__ == "__main__":
    main()
