#!/usr/bin/env python3
"""Paced capacity of one load core: the hailstorms runtime against plain Locust, side by side.

For each planned rate R (pace 1 s, so R clients), both run the same FastHttpUser locustfile (one
GET per task) in one process pinned to one CPU, against the bundled feeder pinned to another:
  - hailstorms: a one-core plan of R clients, R rps, ramp-up and constant phase as given;
  - plain Locust: R users, `constant_pacing(1)`, spawned over the same ramp-up.
Everything is measured AT THE TARGET (the feeder's arrival log), over the constant phase
(hailstorms: its planned window; plain Locust: from 1 s after its ramp-up to 1 s before its end):
  rate      requests per second that arrived, and its ratio to R;
  CoV       coefficient of variation of the arrivals in 100 ms bins (0 = perfectly even);
  first     lateness of each client's first request: hailstorms against its planned slot;
            plain Locust (no planned slots) against the even spawn line i / spawn rate shifted
            to fit its first requests best; RMS and max;
  CPU       the load process's CPU over the constant phase (fraction of one CPU, /proc);
  limited   the runtime's own verdict (summary's generator_limited).
Then flat out (`--flat-users` users, no wait): the runtime's throughput over plain Locust's
(benchmarks/runtime_overhead.py's runs, one round each). With --memory N: the runtime's RSS
before its first client and with N clients active (pace 20 s), per 10,000 clients.

    .venv/bin/python benchmarks/capacity.py [--rps 500,1000,1500,2000,3000] [--rampup 5] [--constant 12]
        [--flat-users 50] [--flat-seconds 12] [--memory 10000] [--profile DIR]

Run it under the shared lock (flock /tmp/heavy.lock ...). --profile records the runtime's
ramp-up and constant phase with py-spy (pinned in requirements.txt) into DIR/rps-R-<phase>.txt
(py-spy's raw format: one folded stack and its sample count a line); a profiled run's figures
are not comparable (py-spy stops the process for each sample).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from runtime_overhead import COLLECTION, LOCUSTFILE as FLAT_LOCUSTFILE, count, pin, run_once  # noqa: E402
from harness import cpu_seconds, start_feeder  # noqa: E402  (tests/integration, on the path by runtime_overhead)
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries  # noqa: E402
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, planner  # noqa: E402
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize  # noqa: E402

LOCUSTFILE = '''
import itertools
import os

from locust import FastHttpUser, constant_pacing, task

_order = itertools.count()


class Paced(FastHttpUser):
    wait_time = constant_pacing(1)

    def on_start(self):
        hailstorm = getattr(self, "hailstorm", None)
        client = hailstorm.client_id if hailstorm else next(_order)
        self.path = f"{os.environ['BENCH_TAG']}-c{client}"

    @task
    def hit(self):
        self.client.get(self.path, name="/bench")
'''


def bin_cov(times: list[float], lo: float, hi: float, width: float = 0.1) -> float:
    counts = [0] * max(1, int(round((hi - lo) / width)))
    for t in times:
        i = int((t - lo) / width)
        if 0 <= i < len(counts):
            counts[i] += 1
    mean = statistics.fmean(counts)
    return statistics.pstdev(counts) / mean if mean else math.inf


def arrivals_of(log: Path, tag: str) -> dict[int, list[float]]:
    """Arrival times per client of the run tagged `tag`."""
    per_client: dict[int, list[float]] = {}
    prefix = f" {tag}-c"
    for line in log.read_text().splitlines():
        stamp, _, path = line.partition(" ")
        if (" " + path).startswith(prefix):
            per_client.setdefault(int(path[len(prefix) - 1:]), []).append(float(stamp))
    return per_client


def figures(per_client: dict[int, list[float]], lo: float, hi: float, rps: float,
            planned_first: dict[int, float], cpu: float) -> dict[str, float]:
    times = sorted(t for ts in per_client.values() for t in ts)
    late = [min(per_client[c]) - planned for c, planned in planned_first.items() if c in per_client]
    missing = len(planned_first) - len(late)
    rate = sum(1 for t in times if lo <= t < hi) / (hi - lo)
    return {"rate": rate, "ratio": rate / rps, "cov": bin_cov(times, lo, hi),
            "first_rms_ms": 1000 * math.sqrt(statistics.fmean(x * x for x in late)) if late else math.nan,
            "first_max_ms": 1000 * max(late) if late else math.nan, "never": missing, "cpu": cpu / (hi - lo)}


def run_hailstorms(rps: int, args: argparse.Namespace, tmp: Path, locustfile: Path, target: str,
                   log: Path, load_cpu: int | None, name: str = "") -> dict[str, float]:
    name = name or str(rps)  # of this run's tag and files
    tag = f"/h{name}"
    settings = {"clients": rps, "rps": rps, "pace": 1.0, "rampup": args.rampup, "constant": args.constant,
                "rampdown": 0.0}
    t0 = time.time() + 3.0
    work = tmp / f"work-{name}"
    data = contract.host_data(plan_queries.host_slice(planner.make_plan(settings, [("bench", 1)]), "bench"), "capacity",
                              target, str(locustfile), str(work), start_time=t0)
    data_path = tmp / f"data-{name}.json"
    data_path.write_text(json.dumps(data))
    env = {**os.environ, "BENCH_TAG": tag, "PYTHONPATH": str(COLLECTION / "runtime")}
    proc = subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(data_path), "--core", "0"],
                            env=env, preexec_fn=pin(load_cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lo, hi = t0 + args.rampup, t0 + args.rampup + args.constant
    spy = None
    if args.profile:  # ramp-up and constant phase, one file each (py-spy's sampling slows the process)
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        for phase, begin, seconds in (("rampup", t0, args.rampup), ("constant", lo, args.constant)):
            time.sleep(max(0.0, begin - time.time()))
            if spy is not None:
                spy.wait(timeout=60)
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid),
                                    "--duration", str(int(seconds)), "--rate", "200", "--format", "raw",
                                    "--output", str(Path(args.profile) / f"rps-{rps}-{phase}.txt")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(max(0.0, lo - time.time()))
    cpu0 = cpu_seconds(proc.pid)
    time.sleep(max(0.0, hi - time.time()))
    cpu1 = cpu_seconds(proc.pid)
    _, err = proc.communicate(timeout=args.rampup + args.constant + 60)
    if proc.returncode != 0:
        raise SystemExit(f"hailstorms run at {rps} rps failed ({proc.returncode}): {err[-2000:]}")
    if spy is not None:
        spy.wait(timeout=60)
    time.sleep(1.5)  # the feeder writes its arrival log every second
    clients = plan_queries.core_clients(data["plan"], data["cores"][0])
    planned = {c.client_id: t0 + next(plan_queries.request_times(c, 1.0)) for c in clients}
    result = figures(arrivals_of(log, tag), lo, hi, rps, planned, cpu1 - cpu0)
    summary = summarize(merge(sorted(work.glob("core-*.jsonl"))), data["plan"])
    result["limited"] = bool(summary["generator_limited"])
    result["lag_ms"] = summary["cores"][0]["load"]["lag_ms_mean"] or 0.0
    return result


def run_plain(rps: int, args: argparse.Namespace, locustfile: Path, target: str, log: Path,
              load_cpu: int | None) -> dict[str, float]:
    tag = f"/p{rps}"
    env = {**os.environ, "BENCH_TAG": tag}
    spawn_rate = rps / args.rampup
    seconds = args.rampup + args.constant + 2
    began = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
                             "-u", str(rps), "-r", f"{spawn_rate:g}", "-t", f"{int(math.ceil(seconds))}s",
                             "--host", target, "--loglevel", "ERROR"],
                            env=env, preexec_fn=pin(load_cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    # Locust's start (imports) is not known in advance: find its first arrival, then its window
    p0 = None
    while p0 is None and time.time() < began + 20:
        time.sleep(1.2)
        firsts = [ts[0] for ts in arrivals_of(log, tag).values()]
        p0 = min(firsts) if firsts else None
    if p0 is None:
        proc.kill()
        raise SystemExit(f"plain Locust at {rps} rps sent nothing: {proc.communicate()[1][-2000:]}")
    lo, hi = p0 + args.rampup + 1.0, p0 + args.rampup + args.constant - 1.0
    time.sleep(max(0.0, lo - time.time()))
    cpu0 = cpu_seconds(proc.pid)
    time.sleep(max(0.0, hi - time.time()))
    cpu1 = cpu_seconds(proc.pid)
    _, err = proc.communicate(timeout=seconds + 60)
    if proc.returncode not in (0, 1):  # 1: Locust's exit code when a request failed
        raise SystemExit(f"plain Locust at {rps} rps failed ({proc.returncode}): {err[-2000:]}")
    time.sleep(1.5)
    # plain Locust has no planned slots: its even spawn line i / spawn rate, shifted to fit best
    per_client = arrivals_of(log, tag)
    shift = statistics.fmean(min(ts) - i / spawn_rate for i, ts in per_client.items())
    planned = {i: shift + i / spawn_rate for i in range(rps)}
    result = figures(per_client, lo, hi, rps, planned, cpu1 - cpu0)
    result["limited"], result["lag_ms"] = None, None
    return result


def flat_out(args: argparse.Namespace, tmp: Path, target: str, log: Path, load_cpu: int | None) -> tuple[float, float]:
    flat = tmp / "flat.py"
    flat.write_text(FLAT_LOCUSTFILE.format(base="FastHttpUser"))
    ns = SimpleNamespace(users=args.flat_users, seconds=args.flat_seconds)
    rates = []
    for kind in ("plain", "runtime"):
        path = f"/flat-{kind}"
        window, _cpu = run_once(kind, path, tmp, flat, target, ns, load_cpu)
        time.sleep(1.5)
        rates.append(count(log, path, *window) / (window[1] - window[0]))
    return rates[0], rates[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return math.nan


def memory(clients: int, args: argparse.Namespace, tmp: Path, locustfile: Path, target: str,
           load_cpu: int | None) -> tuple[float, float]:
    """RSS of one load process before its first client and with `clients` clients active (each
    with its own user object, session and connection; pace 20 s so that the rate stays low)."""
    pace, rampup, constant = 20.0, 8.0, 4.0
    settings = {"clients": clients, "rps": clients / pace, "pace": pace, "rampup": rampup, "constant": constant,
                "rampdown": 0.0}
    t0 = time.time() + 3.0
    data = contract.host_data(plan_queries.host_slice(planner.make_plan(settings, [("bench", 1)]), "bench"), "memory",
                              target, str(locustfile), str(tmp / "work-memory"), start_time=t0)
    (tmp / "data-memory.json").write_text(json.dumps(data))
    env = {**os.environ, "BENCH_TAG": "/m", "PYTHONPATH": str(COLLECTION / "runtime")}
    proc = subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(tmp / "data-memory.json"),
                             "--core", "0"], env=env, preexec_fn=pin(load_cpu), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(max(0.0, t0 - 0.3 - time.time()))
    before = rss_mib(proc.pid)
    time.sleep(max(0.0, t0 + rampup + constant - 0.5 - time.time()))
    during = rss_mib(proc.pid)
    _, err = proc.communicate(timeout=rampup + constant + 60)
    if proc.returncode != 0:
        raise SystemExit(f"memory run failed ({proc.returncode}): {err[-2000:]}")
    return before, during


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", default="500,1000,1500,2000,3000", help="planned rates, comma-separated")
    parser.add_argument("--rampup", type=float, default=5.0)
    parser.add_argument("--constant", type=float, default=12.0)
    parser.add_argument("--flat-users", type=int, default=50, help="as runtime_overhead.py: see its FLAT_PACE")
    parser.add_argument("--flat-seconds", type=float, default=12.0, help="0: no flat-out runs")
    parser.add_argument("--only", choices=("hailstorms", "plain"), help="run one side only")
    parser.add_argument("--profile", help="directory for py-spy profiles of the runtime's constant phase")
    parser.add_argument("--memory", type=int, default=0, help="also measure RSS with this many clients (e.g. 10000)")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    feeder_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    rates = [int(r) for r in args.rps.split(",") if r.strip()]
    rows: list[tuple[int, str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        locustfile = tmp / "paced.py"
        locustfile.write_text(LOCUSTFILE)
        log = tmp / "arrivals.log"
        feeder, target = start_feeder("--arrival-log", str(log), stdout=subprocess.DEVNULL,
                                      preexec_fn=pin(feeder_cpu))
        try:
            for rps in rates:
                if args.only != "plain":
                    rows.append((rps, "hailstorms", run_hailstorms(rps, args, tmp, locustfile, target, log, load_cpu)))
                    print_row(*rows[-1])
                if args.only != "hailstorms":
                    rows.append((rps, "plain Locust", run_plain(rps, args, locustfile, target, log, load_cpu)))
                    print_row(*rows[-1])
            flat = flat_out(args, tmp, target, log, load_cpu) if args.flat_seconds > 0 and not args.only else None
            rss = memory(args.memory, args, tmp, locustfile, target, load_cpu) if args.memory else None
        finally:
            feeder.terminate()
            feeder.wait(timeout=10)
    print(f"\none load process on CPU {load_cpu}, feeder on CPU {feeder_cpu}; pace 1 s, ramp-up {args.rampup:g} s, "
          f"constant {args.constant:g} s; FastHttpUser GET; measured at the target")
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(table_row(*row))
    if rss:
        print(f"\nmemory: RSS {rss[0]:.0f} MiB before the first client, {rss[1]:.0f} MiB with {args.memory} clients "
              f"active: {(rss[1] - rss[0]) * 1024 / args.memory:.1f} KiB per client, "
              f"{(rss[1] - rss[0]) * 10000 / args.memory:.0f} MiB per 10,000 clients")
    if flat:
        print(f"\nflat out, {args.flat_users} FastHttpUsers, no wait: plain Locust {flat[0]:.0f} rps, "
              f"hailstorms {flat[1]:.0f} rps, ratio {flat[1] / flat[0]:.3f}")


HEADER = ("| planned rps | runner | constant phase rps (ratio) | CoV 100 ms | first request RMS / max ms "
          "| CPU | mean loop lag ms | generator-limited |")


def table_row(rps: int, kind: str, f: dict[str, float]) -> str:
    limited = "-" if f["limited"] is None else ("yes" if f["limited"] else "no")
    lag = "-" if f["lag_ms"] is None else f"{f['lag_ms']:.1f}"
    never = f" ({f['never']:.0f} never)" if f["never"] else ""
    return (f"| {rps} | {kind} | {f['rate']:.0f} ({f['ratio']:.3f}) | {f['cov']:.3f} | "
            f"{f['first_rms_ms']:.0f} / {f['first_max_ms']:.0f}{never} | {100 * f['cpu']:.0f} % | {lag} | {limited} |")


def print_row(rps: int, kind: str, f: dict[str, float]) -> None:
    print(table_row(rps, kind, f), flush=True)


if __name__ == "__main__":
    main()
