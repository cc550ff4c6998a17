#!/usr/bin/env python3
"""A fleet over SSH (issue 29): playbooks/distribute.yml over N systemd test hosts, timed by phase.

For each size N (one after another, never two at once):
  - starts N containers of hailstorms-testhost:base (scripts/testhosts.sh) as molecule does
    (systemd as the command, SYS_ADMIN, the cgroup volume, tmpfs, stop signal SIGRTMIN+3) on a
    docker network of their own (172.30.120.0/24), lets the controller in as root with an SSH key;
  - starts the bundled feeder on the network's gateway address (this machine) with an arrival log;
  - runs distribute.yml twice over real SSH (ControlMaster/ControlPersist, pipelining, --forks):
    `cold` on fresh hosts (provision pushes the runtime and the wheelhouse bundles and installs),
    then `warm` on the same hosts (already provisioned);
  - times each run by phase from the banner of every task as it is printed (the output is read
    line by line; ansible.posix.profile_tasks is enabled too and its recap kept in the log): settings, probe,
    plan, verdict, provision, arming (launch up to every process armed), signal (the round trip and
    the start signal), then after the plan's end the wait for the processes, fetch, merge/report;
    the controller's CPU (ansible-playbook and its children) and the hosts' CPU (the containers'
    cgroups) are sampled every 0.5 s and split by phase the same way;
  - checks every host's first request at the feeder against its slot in plan.json (start.json's
    shared start + the client's first slot), within the clock offset and uncertainty the preflight
    measured for that host (its data.json);
  - removes every container and the network (try/finally: also on failure and ctrl-c).

    .venv/bin/python benchmarks/fleet.py [--hosts 5 10 20] [--forks 50] [--rate 2] [--out FILE]

Opt-in (not in make test): it needs docker and the test host image, and takes minutes.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
sys.path.insert(0, str(COLLECTION / "runtime"))
from hailstorm_runtime import plan_queries  # noqa: E402  (pure Python: no Locust)

BIN = ROOT / ".venv" / "bin"
IMAGE = "hailstorms-testhost:base"
NETWORK = "hs-fleet-bench"
SUBNET, GATEWAY = "172.30.120.0/24", "172.30.120.1"
PORT = 3481
SSH_ARGS = "-C -o ControlMaster=auto -o ControlPersist=60s"
SEND_ALLOWANCE = 0.05  # s, the tolerance of molecule/shared/check_arrivals.py
PREFIX = "hs-fleet-"
TASK = re.compile(r"^TASK \[(.*)\]")
PATH = re.compile(r"^/c(\d+)-h(\d+)$")
# the phases, each opened by the first task (after the previous phase's opening) matching its test
PHASES = [
    ("settings", lambda t: True),
    ("probe", lambda t: t.startswith("romram.hailstorms.preflight :")),
    ("plan", lambda t: t.startswith("romram.hailstorms.plan :")),
    ("verdict", lambda t: t.startswith("romram.hailstorms.preflight :")),
    ("provision", lambda t: t.startswith("romram.hailstorms.provision :")),
    ("arming", lambda t: t.startswith("romram.hailstorms.launch :")),
    ("signal", lambda t: "Check that every load process is armed" in t),
    ("run", lambda t: t.startswith("romram.hailstorms.collect :")),
    ("wait_end", lambda t: "Wait for every load process to finish" in t),
    ("fetch", lambda t: "Merge this host's cores into one file" in t),
    ("merge_report", lambda t: "Merge every host's results" in t),
]


def sh(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs)


def names(count: int) -> list[str]:
    return [f"{PREFIX}{i:03d}" for i in range(1, count + 1)]


def teardown() -> None:
    """Every container of this benchmark and its network, whatever state they are in."""
    found = sh("docker", "ps", "-aq", "--filter", f"name=^{PREFIX}", check=False).stdout.split()
    if found:
        sh("docker", "rm", "-f", *found, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


def start_hosts(count: int, key: Path) -> dict[str, str]:
    """N booted systemd hosts with sshd and the key of root: {inventory name: address}."""
    sh("docker", "network", "create", "--subnet", SUBNET, "--gateway", GATEWAY, NETWORK)
    hosts = {}
    for i, name in enumerate(names(count), start=1):
        address = f"172.30.120.{10 + i}"
        sh("docker", "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--ip", address,
           "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
           "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
           "--stop-signal", "SIGRTMIN+3", IMAGE, "/lib/systemd/systemd")
        hosts[name.replace(PREFIX, "fleet")] = address
    public = key.with_suffix(".pub").read_text()

    def prepare(name: str) -> None:
        end = time.monotonic() + 120
        while True:  # right after `docker run` systemctl may not reach systemd yet (no output)
            booted = sh("docker", "exec", name, "systemctl", "is-system-running", "--wait", check=False).stdout.strip()
            if booted or time.monotonic() > end:
                break
            time.sleep(0.5)
        if booted not in ("running", "degraded"):
            raise RuntimeError(f"{name}: systemd is {booted!r}")
        sh("docker", "exec", "-i", name, "sh", "-c", "mkdir -p -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys"
           " && chmod 600 /root/.ssh/authorized_keys", input=public)
        sh("docker", "exec", name, "systemctl", "enable", "--now", "ssh")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(prepare, names(count)))
    for address in hosts.values():
        wait_port(address, 22)
    return hosts


def wait_port(address: str, port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=2):
                return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def write_inventory(directory: Path, hosts: dict[str, str], key: Path, rate: float) -> Path:
    inventory = directory / "inventory"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "hosts.yml").write_text("load_hosts:\n  hosts:\n" + "".join(
        f"    {name}:\n      ansible_host: {address}\n" for name, address in hosts.items()))
    settings = {
        "ansible_connection": "ssh", "ansible_user": "root", "ansible_ssh_private_key_file": str(key),
        # ControlMaster/ControlPersist: SSH_ARGS (ansible's defaults, given explicitly)
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_ssh_pipelining": True,
        "hailstorm_backend": "systemd", "hailstorm_cores": 1,
        "hailstorm_wheelhouse": str(ROOT / ".cache" / "wheelhouse"),
        "hailstorm_results_dir": str(directory / "results"),
        "hailstorm_progress_interval": 5,
        "hailstorm_profiles": {"default": {
            "target": f"http://{GATEWAY}:{PORT}", "rps": round(rate * len(hosts), 3), "pace": "1s",
            "rampup": "5s", "constant": "12s", "rampdown": "3s",
            "locustfile": str(ROOT / "molecule" / "shared" / "locustfile.py")}},
    }
    (inventory / "group_vars" / "all.yml").write_text(json.dumps(settings, indent=1) + "\n")
    return inventory


def process_cpu(pid: int) -> float:
    """CPU seconds of a process with its reaped children (utime stime cutime cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its live descendants (each with its reaped children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += process_cpu(pid)
        todo.extend(children.get(pid, []))
    return total


def hosts_cpu(ids: list[str]) -> float:
    total = 0
    for cid in ids:
        for hierarchy in ("cpuacct", "cpu,cpuacct", "cpu"):
            path = f"/sys/fs/cgroup/{hierarchy}/docker/{cid}/cpuacct.usage"
            try:
                total += int(Path(path).read_text())
                break
            except OSError:
                continue
    return total / 1e9


def run_playbook(directory: Path, inventory: Path, run_id: str, forks: int, ids: list[str]) -> dict:
    """distribute.yml, timed: every task's banner time, the CPU samples, the output in a log."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1",
               PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_FORKS=str(forks), ANSIBLE_PIPELINING="1",
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(directory / "cp"), ANSIBLE_SSH_ARGS=SSH_ARGS,
               ANSIBLE_CALLBACKS_ENABLED="romram.hailstorms.exit_code,ansible.posix.profile_tasks")
    log = directory / f"{run_id}.log"
    began_wall, began = time.time(), time.monotonic()
    process = subprocess.Popen([str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory),
                                "-e", f"hailstorm_run_id={run_id}"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    samples: list[tuple[float, float, float]] = []
    stop = threading.Event()
    host_cpu0 = hosts_cpu(ids)

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.monotonic() - began, tree_cpu(process.pid), hosts_cpu(ids) - host_cpu0))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tasks: list[tuple[float, str]] = []
    text: list[str] = []
    load = [os.getloadavg()[0]]
    with log.open("w") as out:
        for line in process.stdout:
            now = time.monotonic() - began
            out.write(f"{now:9.3f} {line}")
            text.append(line.strip())
            match = TASK.match(line)
            if match:
                tasks.append((now, match[1]))
    code = process.wait()
    load.append(os.getloadavg()[0])
    # the launch role's and the preflight's lines, wrapped by the yaml result format: read as one text
    joined = " ".join(text)
    lead = re.search(r"lead ([\d.]+) s after every process was armed", joined)
    clocks = {host: (float(offset), float(uncertainty)) for host, offset, uncertainty in
              re.findall(r"'?(\S+): python \S+ \(\S+\), cores \d+ \(CPUs [^)]*\), clock ([+-][\d.]+) s \+- ([\d.]+)",
                         joined)}
    end = time.monotonic() - began
    stop.set()
    sampler.join()
    samples.append((end, samples[-1][1] if samples else 0.0, hosts_cpu(ids) - host_cpu0))
    return {"run_id": run_id, "exit": code, "began": began_wall, "seconds": round(end, 2), "tasks": tasks,
            "samples": samples, "lead": float(lead[1]) if lead else None, "log": str(log), "clocks": clocks,
            "loadavg": load}


def phases(run: dict, plan_end: float | None) -> dict:
    """Seconds, controller CPU and hosts' CPU of each phase (from the task banners' times)."""
    marks, index = [], 0
    for when, name in run["tasks"]:
        if index < len(PHASES) and PHASES[index][1](name):
            marks.append((PHASES[index][0], when))
            index += 1
    marks.append(("end", run["seconds"]))
    samples = run["samples"]

    def at(moment: float) -> tuple[float, float]:
        best = min(samples, key=lambda s: abs(s[0] - moment)) if samples else (0, 0, 0)
        return best[1], best[2]

    result = {}
    for (name, start), (_, stop) in zip(marks, marks[1:]):
        c0, h0 = at(start)
        c1, h1 = at(stop)
        result[name] = {"seconds": round(stop - start, 2), "controller_cpu": round(c1 - c0, 2),
                        "hosts_cpu": round(h1 - h0, 2)}
    if plan_end is not None:
        result["after_plan_end"] = {"seconds": round(run["seconds"] - plan_end, 2)}
    return result


def check_first_requests(run_dir: Path, arrivals: Path, clocks: dict[str, tuple[float, float]]) -> dict:
    """Every host's first planned request at the feeder vs its slot: not earlier than the clock offset
    and its uncertainty the preflight measured for the host allow, nor later than that plus SEND_ALLOWANCE
    (the request's own way: the process's wake-up, a new connection, the feeder's log)."""
    plan = json.loads((run_dir / "plan.json").read_text())
    hosts = sorted(plan["hosts"])
    signal_file = run_dir / hosts[0] / "start.json"
    t0 = json.loads((signal_file if signal_file.exists() else run_dir / hosts[0] / "data.json").read_text())
    t0 = t0["start_time"]
    first: dict[int, float] = {}
    for line in arrivals.read_text().splitlines():
        stamp, _, path = line.partition(" ")
        match = PATH.match(path)
        if match and t0 - 5 <= float(stamp) <= t0 + plan["duration"] + 5:
            client = int(match[1])
            first[client] = min(first.get(client, float(stamp)), float(stamp))
    report, failures = {}, []
    for host in hosts:
        data = json.loads((run_dir / host / "data.json").read_text())
        offset, uncertainty = clocks.get(host, (0.0, 0.0))
        offset = abs(offset)
        slots = {c.client_id: next(plan_queries.request_times(c, plan["pace"]), None)
                 for core in data["cores"] for c in plan_queries.core_clients(data["plan"], core)}
        slots = {k: v for k, v in slots.items() if v is not None}
        client = min(slots, key=slots.get)
        if client not in first:
            failures.append(f"{host}: its first client {client} sent nothing")
            continue
        late = first[client] - (t0 + slots[client])
        bound = offset + uncertainty
        report[host] = {"client": client, "slot": round(slots[client], 3), "late_ms": round(late * 1000, 1),
                        "bound_ms": round(bound * 1000, 1)}
        report[host]["within_clock_bound"] = abs(late) <= bound
        if not -bound <= late <= bound + SEND_ALLOWANCE:
            failures.append(f"{host}: first request {late * 1000:+.1f} ms off its slot (clock offset "
                            f"{offset * 1000:.1f} +- {uncertainty * 1000:.1f} ms, + {SEND_ALLOWANCE * 1000:.0f} ms "
                            "to send it)")
    lates = [r["late_ms"] for r in report.values()]
    return {"start_time": t0, "duration": plan["duration"], "hosts": report, "failures": failures,
            "within_clock_bound": sum(r["within_clock_bound"] for r in report.values()),
            "late_ms": {"min": min(lates), "max": max(lates)} if lates else None,
            "bound_ms_min": min((r["bound_ms"] for r in report.values()), default=None)}


def measure(count: int, forks: int, rate: float, base: Path) -> dict:
    directory = base / f"n{count}"
    subprocess.run(["rm", "-rf", str(directory)], check=True)
    directory.mkdir(parents=True)
    key = directory / "id_ed25519"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hailstorms-fleet", "-f", str(key))
    (directory / "cp").mkdir()
    teardown()
    feeder = None
    result: dict = {"hosts": count, "forks": forks, "rate_per_host": rate}
    try:
        began = time.monotonic()
        hosts = start_hosts(count, key)
        result["containers_ready_s"] = round(time.monotonic() - began, 1)
        ids = [sh("docker", "inspect", "-f", "{{.Id}}", name).stdout.strip() for name in names(count)]
        arrivals = directory / "arrivals.log"
        feeder = subprocess.Popen(
            [str(BIN / "python"), str(COLLECTION / "feeder" / "hailstorm_feeder.py"), "--host", GATEWAY,
             "--port", str(PORT), "--arrival-log", str(arrivals)],
            stdout=(directory / "feeder.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(GATEWAY, PORT, 20)
        inventory = write_inventory(directory, hosts, key, rate)
        for kind in ("cold", "warm"):
            run = run_playbook(directory, inventory, f"fleet{count}-{kind}", forks, ids)
            run_dir = directory / "results" / run["run_id"]
            entry = {"exit": run["exit"], "seconds": run["seconds"], "lead": run["lead"], "log": run["log"],
                     "loadavg": run["loadavg"]}
            try:
                check = check_first_requests(run_dir, arrivals, run["clocks"])
                plan_end = check["start_time"] + check["duration"] - run["began"]
                entry["to_start_s"] = round(check["start_time"] - run["began"], 2)
                entry["first_requests"] = {k: v for k, v in check.items() if k != "hosts"}
                entry["first_requests_by_host"] = check["hosts"]
            except (OSError, KeyError, ValueError, StopIteration) as error:
                plan_end = None
                entry["first_requests"] = {"failures": [f"could not check: {error!r}"]}
            entry["phases"] = phases(run, plan_end)
            armed = [t for t, name in run["tasks"] if "Wait until every load process is armed" in name]
            after = [t for t, name in run["tasks"] if armed and t > armed[0]]
            if armed and after:
                entry["armed_wait_s"] = round(after[0] - armed[0], 2)
            result[kind] = entry
            shown = {k: v for k, v in entry.items() if k != "first_requests_by_host"}
            print(json.dumps({"hosts": count, "run": kind, **shown}), flush=True)
            if "to_start_s" not in entry:  # not launched: the hosts are not provisioned for a warm run
                break
    finally:
        if feeder is not None:
            feeder.terminate()
            feeder.wait(10)
        teardown()
    return result


def table(results: list[dict]) -> str:
    """Seconds by phase (GROUPS) for each N and wheelhouse, the way to the shared start and after the
    plan's end, the CPU to the start signal and the first requests at the feeder."""
    lines = ["| N | wheelhouse | " + " | ".join(GROUPS) + " | command to shared start | lead | after the plan's end "
             "| total | controller / hosts CPU s to the signal | first requests: late ms (within the clock bound) |",
             "|---" * (len(GROUPS) + 8) + "|"]
    for result in results:
        for kind in ("cold", "warm"):
            entry = result.get(kind)
            if not entry or not entry.get("phases"):
                continue
            cells = [f"{grouped(entry, group):.1f}" for group in GROUPS]
            cpu = [sum(grouped(entry, g, field) for g in PHASES_TO_START) for field in ("controller_cpu", "hosts_cpu")]
            first = entry.get("first_requests", {})
            late = first.get("late_ms") or {}
            checked = (f"{late.get('min')}..{late.get('max')} ({first.get('within_clock_bound')}/{result['hosts']})"
                       + (f"; {len(first['failures'])} failed" if first.get("failures") else "")) if late else "-"
            code = "" if entry["exit"] == 0 else f" (exit {entry['exit']})"
            lines.append(f"| {result['hosts']} | {kind}{code} | "
                         + " | ".join(cells) + f" | {entry.get('to_start_s', '-')} | {entry.get('lead', '-')} | "
                         f"{entry['phases'].get('after_plan_end', {}).get('seconds', '-')} | {entry['seconds']} | "
                         f"{cpu[0]:.0f} / {cpu[1]:.0f} | {checked} |")
    return "\n".join(lines)


# the phases as the model and the docs group them: the way to the shared start, then after the plan's end
GROUPS = {"settings": ["settings"], "probe": ["probe"], "plan+verdict": ["plan", "verdict"],
          "provision": ["provision"], "arming": ["arming"], "signal": ["signal"],
          "wait_end": ["wait_end"], "fetch": ["fetch"], "merge_report": ["merge_report"]}


def grouped(entry: dict, group: str, field: str = "seconds") -> float:
    return sum(entry["phases"].get(name, {}).get(field, 0.0) for name in GROUPS[group])


def predict(fit: dict, hosts: int, forks: int, cores: float) -> float:
    """A phase's seconds for `hosts` on a controller of `cores` CPUs with `forks`, the hosts being
    machines of their own: the controller's fixed CPU, then whichever binds: the controller's cores
    (every host's controller CPU shared by `cores`) or the forks' chain (ceil(hosts / forks) rounds of
    one host's latency: its own CPU on the host plus the controller's CPU for it, one after the other)."""
    per_host = fit["hosts_cpu"] + fit["controller_cpu"]
    return fit["fixed"] + max(hosts * fit["controller_cpu"] / cores, -(-hosts // forks) * per_host)


PHASES_TO_START = ("settings", "probe", "plan+verdict", "provision", "arming", "signal")


def model(results: list[dict], sizes: tuple[int, ...] = (100, 500, 1000),
          setups: tuple[tuple[int, float], ...] = ((50, 2), (50, 8), (200, 8))) -> str:
    """Per phase and wheelhouse, fitted over N (least squares): the controller's fixed CPU (the
    intercept) and its CPU per host, the hosts' CPU per host (slopes); this machine's wall time of the
    largest N against what the fit gives when the controller and the hosts share its 2 CPUs; and the
    predictions for separate hosts."""
    largest = max(results, key=lambda r: r["hosts"])
    lines = ["| phase | wheelhouse | controller fixed CPU s | controller CPU s per host | host CPU s per host | "
             f"N={largest['hosts']} here: measured / fit s | "
             + " | ".join(f"{n} hosts, forks {f}, {c:g} CPUs" for n in sizes for f, c in setups) + " |",
             "|---" * (6 + len(sizes) * len(setups)) + "|"]
    totals = {(kind, n, f, c): 0.0 for kind in ("cold", "warm") for n in sizes for f, c in setups}
    for group in GROUPS:
        for kind in ("cold", "warm"):
            points = [(r["hosts"], r[kind]) for r in results if r.get(kind, {}).get("phases")]
            if len(points) < 2:
                continue
            xs = [n for n, _ in points]
            ctl = statistics.linear_regression(xs, [grouped(e, group, "controller_cpu") for _, e in points])
            host = statistics.linear_regression(xs, [grouped(e, group, "hosts_cpu") for _, e in points])
            fit = {"fixed": max(0.0, ctl.intercept), "controller_cpu": max(0.0, ctl.slope),
                   "hosts_cpu": max(0.0, host.slope)}
            here = fit["fixed"] + largest["hosts"] * (fit["controller_cpu"] + fit["hosts_cpu"]) / 2
            measured = grouped(largest[kind], group) if largest.get(kind, {}).get("phases") else float("nan")
            cells = []
            for n in sizes:
                for f, c in setups:
                    seconds = predict(fit, n, f, c)
                    if group in PHASES_TO_START:
                        totals[(kind, n, f, c)] += seconds
                    cells.append(f"{seconds:.0f}")
            lines.append(f"| {group} | {kind} | {fit['fixed']:.1f} | {fit['controller_cpu']:.2f} | "
                         f"{fit['hosts_cpu']:.2f} | {measured:.0f} / {here:.0f} | " + " | ".join(cells) + " |")
    for kind in ("cold", "warm"):
        lines.append(f"| **to the start signal** | {kind} | | | | | "
                     + " | ".join(f"**{totals[(kind, n, f, c)]:.0f}**" for n in sizes for f, c in setups) + " |")
    return "\n".join(lines)


def interrupted(signum, frame) -> None:
    """SIGTERM as ctrl-c: the finally blocks remove the containers and the network."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[20])
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0, help="planned requests per second per host")
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "fleet" / "fleet.json")
    parser.add_argument("--append", action="store_true", help="keep the other sizes already in --out")
    parser.add_argument("--model", action="store_true", help="start nothing: the table and the model of --out")
    args = parser.parse_args()
    if args.model:
        results = json.loads(args.out.read_text())
        print(table(results))
        print()
        print(model(results))
        return 0
    if not (ROOT / "collections" / "ansible_collections" / "ansible" / "posix").is_dir():
        raise SystemExit("no ansible.posix in collections/ (its profile_tasks callback): run scripts/collections.sh")
    if sh("docker", "image", "inspect", IMAGE, check=False).returncode:
        raise SystemExit(f"no image {IMAGE}: build it with scripts/testhosts.sh")
    signal.signal(signal.SIGTERM, interrupted)
    base = args.out.resolve().parent
    base.mkdir(parents=True, exist_ok=True)
    results = []
    if args.out.exists() and args.append:
        results = json.loads(args.out.read_text())
    for count in args.hosts:
        results = [r for r in results if r["hosts"] != count]
        results.append(measure(count, args.forks, args.rate, base))
        results.sort(key=lambda r: r["hosts"])
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"CPU of this command's children: {used.ru_utime + used.ru_stime:.1f} s")
    return 0 if all(r.get(k, {}).get("exit") == 0 and not r[k]["first_requests"].get("failures")
                    for r in results for k in ("cold", "warm")) else 1


if __name__ == "__main__":
    sys.exit(main())
