#!/usr/bin/env python3
"""How long plan.yml takes on the controller, and its peak memory, for long and many-staged curves
and a thousand hosts: the real playbook (ansible-playbook playbooks/plan.yml, the local backend),
timed by /usr/bin/time -v (wall clock, and the largest resident set of ansible-playbook and its
workers), printed as a table.

    .venv/bin/python benchmarks/plan_scale.py [--root /work/main] [--only NAME] [--timeout 600]

Cases (each -e hailstorm_stages=... as JSON):
  - 1 stage of 1,000,000 h and of 1,000 h at 10 rps: over the longest run (plan_queries.MAX_DURATION), refused;
  - 1 stage of a week (168 h) at 10 rps: the longest run, planned;
  - 10,000 stages of 1 s (the most stages a plan may have), alternating 10 and 20 rps;
  - 1,000 hosts x 64 cores, 1,000,000 clients at 100,000 rps, 20 stages (Locust's double wave):
    an inventory generated with hailstorm_cores on every host and ansible_connection local, so
    no host is contacted (plan.yml reads no vCPUs when hailstorm_cores is set).
The local inventory's profile gives the target, the locustfile and a pace of 2 s. `--root` runs
another checkout's playbooks (e.g. the planner before a change; nothing is written there, the
results go to a temporary directory). Each line says how the run ended: the plan's figures, or
the first line of the refusal.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def double_wave(peak: float, seconds: float, stages: int = 20) -> list[dict]:
    """Locust's double wave (peaks 0.9 and 0.6 of `peak` over 0.05), sampled into linear stages."""
    def rate(t: float) -> float:
        x = t / (seconds / 10 * 2 / 3)
        return peak * (0.05 + 0.9 * math.exp(-((x - 5) ** 2)) + 0.6 * math.exp(-((x - 10) ** 2)))
    step = seconds / stages
    return ([{"duration": step, "rps": round(rate((i + 1) * step), 3)} for i in range(stages - 1)]
            + [{"duration": step, "rps": 0}])


def thousand_hosts(directory: Path, hosts: int, cores: int) -> Path:
    """An inventory of `hosts` load hosts with hailstorm_cores: `cores` (never contacted)."""
    inventory = directory / "inventory"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "group_vars" / "all.yml").write_text((HERE / "inventories/local/group_vars/all.yml").read_text())
    lines = ["load_hosts:", "  vars:", f"    hailstorm_cores: {cores}", "    ansible_connection: local", "  hosts:"]
    lines += [f"    load{i:04d}:" for i in range(hosts)]
    (inventory / "hosts.yml").write_text("\n".join(lines) + "\n")
    return inventory


def cases(directory: Path) -> list[tuple[str, str, dict]]:
    wave = double_wave(100_000, 1200)
    return [
        ("1 stage of 1,000,000 h", "local", {"hailstorm_stages": [{"duration": "1000000h", "rps": 10}]}),
        ("1 stage of 1,000 h", "local", {"hailstorm_stages": [{"duration": "1000h", "rps": 10}]}),
        ("1 stage of 168 h (a week)", "local", {"hailstorm_stages": [{"duration": "168h", "rps": 10}]}),
        ("10,000 stages of 1 s", "local",
         {"hailstorm_stages": [{"duration": 1, "rps": 10 if i % 2 == 0 else 20} for i in range(10_000)]}),
        ("1,000 hosts x 64 cores, 20 stages", str(thousand_hosts(directory, 1000, 64)),
         {"hailstorm_stages": wave, "hailstorm_clients": 1_000_000}),
    ]


def measure(root: Path, inventory: str, extra: dict, results: Path, run_id: str, timeout: float) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{root / '.venv/bin'}:{os.environ['PATH']}")
    inventory_path = inventory if inventory.startswith("/") else str(root / "inventories" / inventory)
    extra_file = results / f"{run_id}.json"
    extra_file.write_text(json.dumps({**extra, "hailstorm_results_dir": str(results), "hailstorm_run_id": run_id,
                                      "hailstorm_locustfile": str(root / "locustfiles/demo.py")}))
    command = ["/usr/bin/time", "-v", str(root / ".venv/bin/ansible-playbook"), "playbooks/plan.yml",
               "-i", inventory_path, "-e", f"@{extra_file}"]
    began = time.monotonic()
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"wall": time.monotonic() - began, "rss_mb": math.nan, "outcome": f"not done after {timeout:g} s"}
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.group(1).split(":")))) if wall else \
        time.monotonic() - began
    plan = results / run_id / "plan.json"
    if done.returncode == 0 and plan.exists():
        figures = json.loads(plan.read_text())
        shown = done.stdout.split("Show the plan", 1)[-1].split("PLAY RECAP", 1)[0]
        preview = shown.count("\n    - ") - 1  # a line per item of the message, less "plan written to"
        outcome = (f"planned: {figures['clients']:,} clients, {figures['expected_requests']:,} requests, "
                   f"{sum(h['intervals'] for h in figures['hosts'].values()):,} intervals, "
                   f"plan.json {plan.stat().st_size / 1e6:.1f} MB, preview {preview} lines")
    else:
        said = " ".join((done.stdout + done.stderr).split())
        found = re.search(r"(hailstorm_\w+: [^']{0,150})", said) or re.search(r"(Task failed\.?.{0,80})", said)
        outcome = f"rc {done.returncode}: " + (found.group(1) if found else said[-150:])
    return {"wall": seconds, "rss_mb": int(rss.group(1)) / 1024 if rss else math.nan, "outcome": outcome}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout whose plan.yml runs (default: this one)")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case before it is given up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plan_scale.") as tmp:
        directory = Path(tmp)
        print(f"plan.yml of {args.root}, /usr/bin/time -v: wall clock and the largest resident set")
        print(f"{'case':<36} {'wall s':>7} {'peak MB':>8}  outcome")
        for n, (name, inventory, extra) in enumerate(cases(directory)):
            if args.only and args.only not in name:
                continue
            row = measure(args.root.resolve(), inventory, extra, directory, f"scale{n}", args.timeout)
            print(f"{name:<36} {row['wall']:>7.1f} {row['rss_mb']:>8.0f}  {row['outcome']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
