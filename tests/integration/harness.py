"""Helpers to run this checkout's real playbooks and the bundled feeder from tests."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
BIN = Path(sys.executable).parent
T = TypeVar("T")


def playbook_env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                PATH=f"{BIN}:{os.environ['PATH']}")


def ansible_playbook(playbook: str, inventory: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """playbooks/`playbook` with inventories/`inventory` (or the inventory at that absolute path)."""
    where = inventory if inventory.startswith("/") else f"inventories/{inventory}"
    return subprocess.run(
        [str(BIN / "ansible-playbook"), f"playbooks/{playbook}", "-i", where, *args],
        cwd=ROOT, env=playbook_env(), capture_output=True, text=True, timeout=timeout, check=False)


def local_run(results: Path, run_id: str, target: str, locustfile: Path | str, *args: str,
              profile: str = "short", **settings: object) -> subprocess.CompletedProcess:
    """distribute.yml on this machine (inventories/local, the local backend): the run `run_id` of
    `locustfile` against `target` into `results`, with the inventory's `profile` and any
    hailstorm_<name> settings given as keywords (passed as one JSON -e, so lists stay lists)."""
    import json as _json

    extra = {f"hailstorm_{name}": value for name, value in settings.items()}
    return ansible_playbook(
        "distribute.yml", "local", "-e", f"hailstorm_profile={profile}", "-e", f"hailstorm_target={target}",
        "-e", f"hailstorm_results_dir={results}", "-e", f"hailstorm_run_id={run_id}",
        "-e", f"hailstorm_locustfile={locustfile}", *(["-e", _json.dumps(extra)] if extra else []), *args)


def interrupted_of(summary: dict) -> int:
    """The requests a summary counts as failed because a stop, a quit or the deadline cut them (the
    failure kind "Interrupted", with or without its message)."""
    kinds = summary.get("failures_by_kind") or {}
    return sum(count for kind, count in kinds.items() if kind.startswith("Interrupted"))


def assert_every_arrival_counted(recorded: int, at_target: int, interrupted: int) -> None:
    """Every request the target logged is in the results. A run stopped mid-way also counts, failed
    as interrupted, each request its clients had started: one the stop cut while it was still being
    sent never reached the target, so the results may hold more, never more than were interrupted."""
    assert at_target <= recorded <= at_target + interrupted, (
        f"{recorded} requests in the results, {at_target} at the target, {interrupted} interrupted")


FEEDER = COLLECTION / "feeder" / "hailstorm_feeder.py"  # the bundled target


def degraded_by_the_machine_only(summary: dict) -> bool:
    """A run degraded only by its load generator's own verdicts (generator-limited cores, stalls),
    or short of its planned task iterations by no more than the slots its late clients skipped
    (pacing overruns) while its load process said it was over its limit (summary.generator_busy):
    what a run says on a busy 2-CPU test machine whose load process was starved, not a fault of
    what a test checks. Every other reason (failures, drops, thresholds, lost processes) is not."""
    reasons = summary.get("reasons") or []
    over_limit = bool((summary.get("generator_busy") or {}).get("requests")) or any(
        (core.get("load") or {}).get("generator_limited") or (core.get("load") or {}).get("stalls")
        for core in summary.get("cores") or [])

    def machine(reason: str) -> bool:
        if "are generator-limited" in reason or " stalled for " in reason:
            return True
        short = re.match(r"(\d+) task iterations run, (\d+) planned \(", reason)
        return bool(short and over_limit
                    and int(short[2]) - int(short[1]) <= int((summary.get("pacing") or {}).get("overruns") or 0))

    return summary.get("state") == "degraded" and bool(reasons) and all(machine(reason) for reason in reasons)


def free_port(first: int | None = None) -> int:
    """A free loopback port: one the system gives (bind to 0), or with `first` the first free one
    from `first` up to 32767 (for a server whose port is written in its configuration)."""
    if first is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    for port in range(first, 32768):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port from {first} to 32767")


def accepts(port: int) -> bool:
    """Whether a server on this machine accepts connections on the loopback `port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of a process (all its threads), with `children` those of its
    waited-for children too, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in ((11, 12, 13, 14) if children else (11, 12))) / os.sysconf("SC_CLK_TCK")


def start_feeder(*args: str, prefix: tuple[str, ...] | list[str] = (), popen: Callable[..., subprocess.Popen] = subprocess.Popen,
                 **popen_args) -> tuple[subprocess.Popen, str]:
    """The bundled target (feeder/hailstorm_feeder.py) on a free loopback port with its own `args`
    (e.g. --arrival-log PATH), run by `prefix` (default this Python: a wrapper such as
    [python, -c, code, ...]) with `popen` and its `popen_args`; returns (process, base URL) once it
    accepts connections. The caller terminates it (or uses feeder())."""
    port = free_port()
    argv = [*(prefix or [sys.executable]), str(FEEDER), "--host", "127.0.0.1", "--port", str(port), *args]
    process = popen(argv, **popen_args)
    try:
        wait_until(lambda: accepts(port) or process.poll() is not None, "the feeder to accept connections", 60, 0.05)
    except BaseException:
        process.terminate()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"the feeder ended at its start (exit {process.returncode}): {' '.join(argv)}")
    return process, f"http://127.0.0.1:{port}"


@contextmanager
def feeder(arrival_log: Path | None = None) -> Iterator[str]:
    """The bundled target on a free loopback port; yields its base URL."""
    process, url = start_feeder(*(["--arrival-log", str(arrival_log)] if arrival_log else []),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_until(condition: Callable[[], T], what: str, timeout: float = 120, every: float = 0.1) -> T:
    """Poll `condition` until it returns a true value, and return that value: waiting for an event
    (a file, a status, a process state) rather than sleeping. The test fails naming `what` after
    `timeout` seconds, a bound against a hang, not a figure."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(every)


_OPEN_TCP_STATES = {"01", "03", "08"}  # ESTABLISHED, SYN_RECV, CLOSE_WAIT (/proc/net/tcp's st)


def open_connections(url: str) -> int:
    """Connections a loopback server at `url` has accepted (or has queued) and not yet closed:
    0 once it has read every request on them and closed them after its clients closed theirs."""
    port = f"{int(url.rsplit(':', 1)[1].split('/')[0]):04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].rsplit(":", 1)[1] == port and fields[3] in _OPEN_TCP_STATES:
                count += 1
    return count


def local_aliases(directory: Path, count: int, cores: int = 1, name: str = "load") -> Path:
    """An inventory of `count` load hosts that are all this machine (local backend, one work
    directory each), with the local inventory's settings: many load hosts at low rates on one
    machine, for tests and benchmarks. The hosts are `name`00, `name`01, ... (each holds its
    own lock on this machine: tests that may run at once use different names)."""
    inventory = directory / "aliases"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    lines = ["load_hosts:", "  hosts:"]
    for i in range(count):
        lines += [f"    {name}{i:02d}:", "      ansible_connection: local",
                  "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"", f"      hailstorm_cores: {cores}"]
    (inventory / "hosts.yml").write_text("\n".join(lines) + "\n")
    settings = (ROOT / "inventories" / "local" / "group_vars" / "all.yml").read_text()
    (inventory / "group_vars" / "all.yml").write_text(
        settings.replace("{{ inventory_dir }}/../../locustfiles/", f"{ROOT}/locustfiles/"))
    return inventory


def start_cores(tmp_path: Path, target: str, settings: dict, locustfile_text: str, cores: int = 2,
                lead: float = 4.0, deadline_grace: int = 10, preexec=None, stderr=None,
                locust_args: list[str] | None = None, plan_extra=None, environment: dict | None = None):
    """This machine as one load host running the real runtime directly (no playbook): the plan of
    `settings` over `cores` cores (`plan_extra` added to the plan data.json carries, e.g. the open
    model), one process per core started with the shared start `lead` seconds ahead (Locust's
    import takes 1-2 s), with `locust_args` (hailstorm_locust_args); with `environment`, each
    process reads it from the run's 0600 environment.json (--env-file) as the roles start it.
    Returns (plan, data.json, work dir, T0, processes)."""
    import json as _json

    from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner

    locustfile = tmp_path / "locustfile_under_test.py"
    locustfile.write_text(locustfile_text)
    plan = planner.make_plan(settings, [("local", cores)])
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    t0 = time.time() + lead
    data = contract.host_data(plan_queries.host_slice(plan, "local"), "direct", target, str(locustfile), str(work),
                              start_time=t0, deadline_grace=deadline_grace, locust_args=locust_args or [])
    data["plan"].update(plan_extra or {})
    (tmp_path / "data.json").write_text(_json.dumps(data))
    env = {**os.environ, "PYTHONPATH": str(COLLECTION / "runtime")}
    env_file: list[str] = []
    if environment is not None:
        (work / "environment.json").write_text(_json.dumps(environment))
        (work / "environment.json").chmod(0o600)
        env_file = ["--env-file", str(work / "environment.json")]
    procs = [subprocess.Popen([sys.executable, "-m", "hailstorm_runtime", "run", "--data", str(tmp_path / "data.json"),
                               "--core", str(core["index"]), *env_file], env=env, preexec_fn=preexec, stderr=stderr,
                              text=stderr is not None)
             for core in data["cores"]]
    return plan, data, work, t0, procs


def on_a_small_disk(mounts: dict[Path, int], argv: list[str], after: str = "") -> list[str]:
    """`argv` run with each directory of `mounts` on a file system of its own with that many KiB
    free (a tmpfs in a private mount namespace: nothing outside sees it, and it is gone with the
    command); `after`, a shell line, runs in the namespace once `argv` ended (the exit code stays
    argv's). Needs root or unprivileged user namespaces: see small_disks_work()."""
    script = []
    for path, free_kib in mounts.items():
        path.mkdir(parents=True, exist_ok=True)
        script += [f"mount -t tmpfs -o size={free_kib + 64}k,mode=0755 tmpfs '{path}'",
                   f"head -c {64 * 1024} /dev/zero > '{path}/.filler'"]
    script += ["set +e", '"$@"', "rc=$?", after or ":", "exit $rc"]
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private", "sh", "-ec", "\n".join(script), "sh", *argv]


def small_disks_work() -> bool:
    """Whether on_a_small_disk can mount here."""
    try:
        return subprocess.run(["unshare", *([] if os.geteuid() == 0 else ["--user", "--map-root-user"]), "--mount",
                               "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True,
                              timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def interrupt(process: subprocess.Popen, read: bool = True, presses: int = 6, every: float = 20.0) -> str:
    """ctrl-c as a user presses it: SIGINT to the controller's process group, again while it goes
    on (ansible-core 2.19 sometimes ends only the running task on a ctrl-c and goes on to the next
    one: ansible/ansible#86078, seen on a busy machine). With `read`, reads the process's piped
    output and returns it; else '' (its output is read elsewhere)."""
    for _press in range(presses):
        os.killpg(process.pid, signal.SIGINT)
        try:
            if read and process.stdout is not None:
                return process.communicate(timeout=every)[0] or ""
            process.wait(timeout=every)
            return ""
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"the controller did not end after {presses} ctrl-c's, {every:g} s apart")
