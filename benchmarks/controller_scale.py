#!/usr/bin/env python3
"""How the controller keeps up with many load hosts (issue 9), printed as a table:

  - playbooks/plan.yml (a dry run, no host contacted) for 100 and 1,000 hosts x 64 cores with
    1 M clients: wall-clock time of the whole ansible-playbook command;
  - playbooks/distribute.yml on N aliases of this machine (local backend, one core each, a low
    rate): the controller's time from the command's start to the shared start time, from the
    planned end to the command's end, and how late each progress line came after its moment.

    .venv/bin/python benchmarks/controller_scale.py [--hosts 50] [--skip-plan] [--skip-run]

Load goes to the bundled feeder on loopback only.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from harness import BIN, feeder, local_aliases, playbook_env  # noqa: E402

PROGRESS = re.compile(r"(\d+)/(\d+) s: active")


def plan_inventory(directory: Path, hosts: int) -> Path:
    inventory = directory / f"plan{hosts}"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(
        "load_hosts:\n  hosts:\n" + "".join(f"    load{i:04d}:\n      hailstorm_cores: 64\n" for i in range(hosts)))
    (inventory / "group_vars" / "all.yml").write_text(
        "hailstorm_profiles:\n  default:\n    target: http://10.0.0.5:8080\n    rps: 100000\n    clients: 1000000\n"
        f"    rampup: 10m\n    constant: 10m\n    locustfile: {ROOT}/locustfiles/demo.py\n")
    return inventory


def time_plan(directory: Path, hosts: int) -> float:
    inventory = plan_inventory(directory, hosts)
    began = time.perf_counter()
    result = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/plan.yml", "-i", str(inventory),
                             "-e", f"hailstorm_results_dir={directory / 'results'}", "-e", f"hailstorm_run_id=plan{hosts}"],
                            cwd=ROOT, env=playbook_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if result.returncode:
        raise SystemExit(result.stdout[-3000:] + result.stderr)
    return elapsed


def time_run(directory: Path, hosts: int) -> dict:
    inventory = local_aliases(directory, hosts)
    results = directory / "results"
    stamped: list[tuple[float, str]] = []
    with feeder() as url:
        began = time.time()
        process = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory), "-f", str(hosts),
             "-e", "hailstorm_profile=short", "-e", f"hailstorm_rps={hosts}", "-e", "hailstorm_rampup=10s",
             "-e", "hailstorm_constant=30s", "-e", "hailstorm_rampdown=5s", "-e", "hailstorm_progress_interval=5",
             "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={results}", "-e", "hailstorm_run_id=scale"],
            cwd=ROOT, env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def read() -> None:
            for line in process.stdout:
                stamped.append((time.time(), line))

        reader = threading.Thread(target=read)
        reader.start()
        process.wait()
        reader.join()
        ended = time.time()
    data = json.loads((results / ".work" / "load00" / "scale" / "data.json").read_text()) \
        if (results / ".work" / "load00" / "scale" / "data.json").exists() else {}
    start = json.loads((results / ".work" / "load00" / "scale" / "start.json").read_text())["start_time"]
    duration = float(data.get("plan", {}).get("duration", 0))
    armed = next((t for t, line in stamped if "Check that every load process is armed" in line), None)
    late = [t - (start + int(m[1])) for t, line in stamped for m in [PROGRESS.search(line)] if m]
    return {"rc": process.returncode, "before_start": start - began, "arming": (armed or start) - began,
            "after_end": ended - (start + duration), "progress_late": late}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--skip-plan", action="store_true")
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        if not args.skip_plan:
            for hosts in (100, 1000):
                rows.append((f"plan.yml, {hosts} hosts x 64 cores, 1 M clients", f"{time_plan(directory, hosts):.1f} s"))
        if not args.skip_run:
            figures = time_run(directory, args.hosts)
            late = figures["progress_late"] or [0.0]
            rows += [
                (f"distribute.yml, {args.hosts} local hosts: exit code", str(figures["rc"])),
                ("  command start to the shared start (all of it)", f"{figures['before_start']:.1f} s"),
                ("  of which until every process was armed", f"{figures['arming']:.1f} s"),
                ("  planned end to the command's end", f"{figures['after_end']:.1f} s"),
                ("  progress lines: late on average / worst", f"{statistics.fmean(late):.2f} s / {max(late):.2f} s"),
            ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
