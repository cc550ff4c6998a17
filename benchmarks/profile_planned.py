#!/usr/bin/env python3
"""Where a planned request's CPU goes: py-spy samples of the runtime (closed or open model) at a
planned rate, against plain Locust flat out, both on CPU 0 against nginx on CPU 1 (the setup of
side_by_side.py), over the constant phase.

Each sample's innermost frame is put in one part by its file: the runtime's own code
(hailstorm_runtime: pacing, pool, recorder, capture), Locust (user, task, events, its own
statistics), geventhttpclient (the HTTP client), gevent (hub, timers, greenlet switches, sockets),
the rest (the standard library: socket, ssl, json...). The part's share of the samples times the
µs of CPU per request measured over the same window (/proc) is its cost per request.

py-spy is not a dependency: `pip install py-spy` into a venv of its own (e.g. .cache/bench-venv)
and give it with --py-spy. It needs ptrace (root, or CAP_SYS_PTRACE).

    .venv/bin/python benchmarks/profile_planned.py [--rate 3000] [--model closed] [--seconds 10] \
        [--py-spy .cache/bench-venv/bin/py-spy]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from side_by_side import COLLECTION, FLAT_LOCUSTFILE, PACED_LOCUSTFILE, ROOT, Nginx, cpu_seconds

PARTS = (("hailstorm_runtime/", "the runtime's own code"), ("(locust/", "Locust"),
         ("(geventhttpclient/", "geventhttpclient"), ("(gevent/", "gevent (hub, timers, switches, sockets)"),
         ("(http/cookiejar", "the standard library's cookie jar (Locust's per-request cookies)"))


def part_of(frame: str) -> str:
    for needle, name in PARTS:
        if needle in frame:
            return name
    return "other (standard library, C)"


def profile(argv: list[str], env: dict, start_after: float, seconds: float, py_spy: str, nginx: Nginx,
            out: Path) -> dict:
    proc = subprocess.Popen(["taskset", "-c", "0", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(start_after)
    begin, cpu0 = time.time(), cpu_seconds(proc.pid)
    subprocess.run([py_spy, "record", "--pid", str(proc.pid), "--rate", "250", "--duration", str(int(seconds)),
                    "--format", "raw", "--output", str(out), "--nonblocking"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end, cpu1 = time.time(), cpu_seconds(proc.pid)
    proc.wait(timeout=120)
    time.sleep(1.5)
    requests = len(nginx.stamps(begin, end))
    parts: collections.Counter = collections.Counter()
    functions: collections.Counter = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.split(";")[-1]
        n = int(count)
        total += n
        parts[part_of(leaf)] += n
        functions[leaf] += n
    per_request = 1e6 * (cpu1 - cpu0) / max(1, requests)
    return {"requests": requests, "rate": round(requests / (end - begin), 1), "us_per_request": round(per_request, 1),
            "samples": total,
            "parts": {name: {"share": round(n / total, 3), "us": round(per_request * n / total, 1)}
                      for name, n in parts.most_common()},
            "top": [(leaf, round(n / total, 3)) for leaf, n in functions.most_common(15)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--model", default="closed", choices=("closed", "open"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--raw", help="a directory to keep py-spy's raw stacks in (planned.txt, flat.txt)")
    parser.add_argument("--py-spy",
                        default=shutil.which("py-spy") or str(ROOT / ".cache" / "bench-venv" / "bin" / "py-spy"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "collections"))
    from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner

    with tempfile.TemporaryDirectory(prefix="hailstorm-profile-") as tmp:
        work = Path(tmp)
        raw = Path(args.raw) if args.raw else work
        raw.mkdir(parents=True, exist_ok=True)
        nginx = Nginx(work)
        try:
            (work / "paced.py").write_text(PACED_LOCUSTFILE)
            settings = {"clients": int(args.rate), "rps": args.rate, "pace": 1.0, "rampup": 1.0,
                        "constant": args.seconds + 4.0, "rampdown": 0.0}
            plan = planner.make_plan(settings, [("bench", 1)])
            data = contract.host_data(plan_queries.host_slice(plan, "bench"), "bench", nginx.url, str(work / "paced.py"),
                                      str(work), start_time=time.time() + 4.0)
            data["plan"]["model"] = args.model
            (work / "data.json").write_text(json.dumps(data))
            env = {**os.environ, "PYTHONPATH": str(COLLECTION / "runtime")}
            planned = profile([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(work / "data.json"),
                               "--core", "0"], env, 6.5, args.seconds, args.py_spy, nginx, raw / "planned.txt")
            (work / "flat.py").write_text(FLAT_LOCUSTFILE)
            flat = profile([str(Path(sys.executable).parent / "locust"), "-f", str(work / "flat.py"), "--headless",
                            "-u", "50", "-r", "50", "--run-time", f"{int(args.seconds + 8)}s", "--host", nginx.url,
                            "--only-summary", "--loglevel", "WARNING"], dict(os.environ), 4.0, args.seconds,
                           args.py_spy, nginx, raw / "flat.txt")
        finally:
            nginx.stop()
    print(json.dumps({"planned": planned, "locust_flat_out": flat}, indent=1))
    names = list(dict.fromkeys(list(planned["parts"]) + list(flat["parts"])))
    print(f"\n| part | hailstorms {args.model} at {args.rate:g}/s (µs per request) "
          "| Locust flat out (µs per request) |")
    print("|---|---|---|")
    for name in names:
        a, b = planned["parts"].get(name, {}), flat["parts"].get(name, {})
        print(f"| {name} | {a.get('us', 0)} ({100 * a.get('share', 0):.0f} %) | {b.get('us', 0)} "
              f"({100 * b.get('share', 0):.0f} %) |")
    print(f"| all | {planned['us_per_request']} at {planned['rate']:,.0f}/s | {flat['us_per_request']} at "
          f"{flat['rate']:,.0f}/s |")


if __name__ == "__main__":
    main()
