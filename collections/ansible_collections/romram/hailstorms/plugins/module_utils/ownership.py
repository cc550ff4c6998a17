# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns a run id on the controller, and whether it has been asked to stop.

The ownership rule (docs/guarantees.md, "One owner per run id"):

- Every controller command on a run id -- distribute.yml (a run), plan.yml and --check (a
  preview), collect.yml, report.yml -- first claims the id: one claim file per run id,
  hailstorm_results_dir/.claims/<run id>.json, taken under an exclusive lock (flock) before the
  command writes or removes anything of that run. The claim names its owner: the ansible-playbook
  process (pid and its start time, so a reused pid is not taken for it), the playbooks it runs,
  user@host and since when.
- A claim is live while its owner process lives. A second command on a live claim is refused with
  the owner named, and writes nothing; a claim whose owner has ended is stale and is taken over.
  The owner itself may claim again (every role of one playbook does).
- A run that was launched (its results directory holds launch.json) may still be running on its
  load hosts after its controller ended (ctrl-c: the load goes on). hailstorm_overwrite=true is
  refused for it until its planned end has passed, it was collected (summary.json) or stopped.
- A preview may replace only a preview's plan.json (checks.results_run_dir), never a run's.

The stop rule: stop.yml records a stop request against the live claim of each run it stops
(<run id>.stop.json beside the claim, naming who asked and when); distribute.yml checks for a
request against its own claim before each step (probe, plan, verdict, provision, launch, the start
signal) and ends `aborted` (exit 12), naming who stopped it and when. A request is bound to the
claim it was made against: it never stops a later run of the same id.

Pure Python (no Ansible): the action plugins hailstorm_claim and hailstorm_stop_request call it.
"""
from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import time
from typing import Any, Iterator, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils import contract

CLAIMS_DIR = ".claims"
CLAIM_SUFFIX = ".json"
# stop requests and locks in directories of their own: a run id cannot hold a '/', so no run id's
# claim is another's stop request or lock (a suffix could be part of a run id: "x.stop")
STOPS_DIR = "stop"
LOCKS_DIR = "lock"
# the commands that claim a run id (what the claim says its owner is doing)
KINDS = ("run", "preview", "collect", "report")
EXIT_ABORTED = 12  # README: how a run ends


class OwnershipError(Exception):
    """A command may not act on a run id now (the message names the owner and the fix)."""


def claims_dir(results_dir: str) -> str:
    return os.path.join(results_dir, CLAIMS_DIR)


def claim_path(results_dir: str, run_id: str) -> str:
    return os.path.join(claims_dir(results_dir), run_id + CLAIM_SUFFIX)


def stop_path(results_dir: str, run_id: str) -> str:
    return os.path.join(claims_dir(results_dir), STOPS_DIR, run_id + CLAIM_SUFFIX)


def process_start(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (/proc/<pid>/stat, field 22), or
    None when it does not exist: with the pid, it names one process (a pid can be reused)."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except (OSError, ValueError):
        return None
    return text.rsplit(")", 1)[-1].split()[19]


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _is_ansible_playbook(argv: list[str]) -> bool:
    return any(os.path.basename(arg).startswith("ansible-playbook") for arg in argv[:2])


def playbooks(argv: list[str]) -> list[str]:
    """The playbook files on an ansible-playbook command line (their base names only: the rest of
    a command line may hold values given with -e, never shown)."""
    found, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-e", "--extra-vars", "-i", "--inventory", "-l", "--limit", "-t", "--tags", "--skip-tags",
                   "-u", "--user", "--vault-id", "--vault-password-file", "-f", "--forks", "-M", "--module-path",
                   "--private-key", "-c", "--connection", "-T", "--timeout"):
            skip = True
        elif not arg.startswith("-") and arg.endswith((".yml", ".yaml")):
            found.append(os.path.basename(arg))
    return found


def owner_process(start: int | None = None) -> dict[str, Any]:
    """The process that owns what this command does: the ansible-playbook process above `start`
    (default: this process) -- its workers are forks with its command line, so the outermost of a
    chain of them -- else the parent of `start` (an embedding program)."""
    pid = start if start is not None else os.getpid()
    seen, found = pid, None
    for _step in range(64):
        argv = _cmdline(seen)
        if argv and _is_ansible_playbook(argv):
            found = (seen, argv)
        elif found:
            break
        seen = _parent(seen)
        if seen <= 1:
            break
    if found:
        return {"pid": found[0], "pid_start": process_start(found[0]), "playbooks": playbooks(found[1])}
    parent = _parent(pid) or pid
    return {"pid": parent, "pid_start": process_start(parent), "playbooks": []}


def read(path: str) -> dict[str, Any]:
    """A claim or stop request ({} when there is none; {'unreadable': True} when it is damaged)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {"unreadable": True}
    return data if isinstance(data, dict) else {"unreadable": True}


def same_owner(claim: Mapping[str, Any], owner: Mapping[str, Any], host: str) -> bool:
    return (bool(claim) and claim.get("host") == host and claim.get("pid") == owner.get("pid")
            and claim.get("pid_start") == owner.get("pid_start"))


def is_live(claim: Mapping[str, Any], host: str) -> bool:
    """Whether the claim's owner still runs. A claim made on another controller (a results
    directory shared over the network) cannot be checked from here and counts as live; a damaged
    claim counts as stale."""
    if not claim or claim.get("unreadable"):
        return False
    if claim.get("host") != host:
        return True
    pid, started = claim.get("pid"), claim.get("pid_start")
    # a claim without its owner's start time (no /proc where it was made) cannot be told from a
    # reused pid: its owner counts as ended once that pid is gone
    alive = process_start(pid) if isinstance(pid, int) and pid > 0 else None
    return alive is not None and (started is None or alive == started)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def when(epoch: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))
    except (TypeError, ValueError, OverflowError):
        return "an unknown time"


def describe(claim: Mapping[str, Any]) -> str:
    """'a run (ansible-playbook distribute.yml, pid 4242, alice@box, since 2026-12-06 10:00:00 UTC)'"""
    books = " ".join(claim.get("playbooks") or []) or "a playbook"
    return (f"a {claim.get('kind', 'command')} (ansible-playbook {books}, pid {claim.get('pid')}, "
            f"{claim.get('user') or '?'}@{claim.get('host') or '?'}, since {when(claim.get('since'))})")


@contextlib.contextmanager
def _locked(results_dir: str, run_id: str) -> Iterator[None]:
    directory = os.path.join(claims_dir(results_dir), LOCKS_DIR)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    fd = os.open(os.path.join(directory, run_id), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write(path: str, data: Mapping[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.write("\n")
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def take(results_dir: str, run_id: str, kind: str, owner: Mapping[str, Any], *, host: str, user: str,
         now: float | None = None) -> dict[str, Any]:
    """Claim `run_id` for `owner` (owner_process()); returns {'claim', 'replaced' (the stale claim
    taken over, or {}), 'already' (the owner held it)}. Raises OwnershipError when another live
    command holds it."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    path = claim_path(results_dir, run_id)
    with _locked(results_dir, run_id):
        found = read(path)
        if same_owner(found, owner, host):
            return {"claim": found, "replaced": {}, "already": True}
        if is_live(found, host):
            raise OwnershipError(refusal(run_id, kind, found, path))
        claim = {"run_id": run_id, "kind": kind, "pid": owner.get("pid"), "pid_start": owner.get("pid_start"),
                 "playbooks": list(owner.get("playbooks") or []), "host": host, "user": user,
                 "since": time.time() if now is None else now}
        _write(path, claim)
        return {"claim": claim, "replaced": found, "already": False}


def refusal(run_id: str, kind: str, owner: Mapping[str, Any], path: str) -> str:
    doing = {"run": "run it", "preview": "preview it", "collect": "collect it", "report": "report it"}[kind]
    remote = owner.get("host") != os.uname().nodename
    fix = (f"if that command has ended on {owner.get('host')}, remove {path}" if remote else
           "wait for it to end, or stop a run with playbooks/stop.yml -e hailstorm_run_id=" + run_id)
    return (f"hailstorm_run_id: run {run_id!r} is owned by {describe(owner)}; one command at a time on a run id, "
            f"so this one does not {doing} and wrote nothing. Fix: {fix}, or give another hailstorm_run_id")


def launched_and_maybe_running(run_dir: str, now: float, hold: float = 0.0) -> str | None:
    """Why the launched run in `run_dir` may still be running on its load hosts (its controller can
    have ended while the load goes on), or None: not launched, collected (summary.json), stopped,
    or past its planned end."""
    launch = read(os.path.join(run_dir, contract.LAUNCH_FILE))
    if not launch or launch.get("unreadable"):
        return None
    if os.path.exists(os.path.join(run_dir, contract.SUMMARY_FILE)):
        return None
    stopped = read(os.path.join(run_dir, contract.STOPPED_FILE))
    if stopped and not stopped.get("unreadable"):
        return None
    ends_by = launch.get("ends_by")
    if ends_by is None:
        plan = read(os.path.join(run_dir, contract.PLAN_FILE))
        duration = float(plan.get("duration") or 0) if not plan.get("unreadable") else 0.0
        ends_by = float(launch.get("launched") or 0) + float(launch.get("hold") or hold) + duration + 60
    if now >= float(ends_by):
        return None
    return (f"it was launched at {when(launch.get('launched'))} and may still be running on its load hosts until "
            f"{when(ends_by)} (no summary.json yet)")


def overwrite_refusal(run_id: str, run_dir: str, now: float) -> str | None:
    running = launched_and_maybe_running(run_dir, now)
    if running is None:
        return None
    return (f"hailstorm_overwrite: run {run_id!r} is not over: {running}; its results are not removed. Fix: wait "
            f"for it to end and collect it (playbooks/collect.yml -e hailstorm_run_id={run_id}), or stop it with "
            f"playbooks/stop.yml -e hailstorm_run_id={run_id}, then overwrite it, or give another hailstorm_run_id")


def never_started(run_id: str, run_dir: str) -> str | None:
    """Why run `run_id` has nothing to collect or report: it was stopped before its start signal
    (stopped.json, and no start recorded in launch.json), or None."""
    stopped = read(os.path.join(run_dir, contract.STOPPED_FILE))
    if not stopped or stopped.get("unreadable"):
        return None
    launch = read(os.path.join(run_dir, contract.LAUNCH_FILE))
    if launch.get("start_time") is not None:
        return None
    by = f"{stopped.get('user') or '?'}@{stopped.get('host') or '?'}"
    step = stopped.get("before") or "its start"
    return (f"hailstorm_run_id: run {run_id!r} was stopped before {step} by {by} at {when(stopped.get('at'))}; "
            f"no load was sent, so there is nothing to collect or report ({run_dir}/{contract.STOPPED_FILE}). Fix: run it "
            f"again with hailstorm_overwrite=true, or give a new hailstorm_run_id")


def mark_stopped(results_dir: str, run_id: str, by: Mapping[str, Any], now: float | None = None) -> bool:
    """stop.yml stopped the load processes of launched run `run_id` on its load hosts (its
    controller had ended: a ctrl-c): say so in its results directory (stopped.json), so that
    hailstorm_overwrite no longer waits for its planned end. False when there is nothing to mark
    (not launched here, collected, or marked already)."""
    run_dir = os.path.join(results_dir, run_id)
    if not os.path.exists(os.path.join(run_dir, contract.LAUNCH_FILE)) or os.path.exists(os.path.join(run_dir, contract.SUMMARY_FILE)):
        return False
    if os.path.exists(os.path.join(run_dir, contract.STOPPED_FILE)):
        return False
    _write(os.path.join(run_dir, contract.STOPPED_FILE),
           {"run_id": run_id, "at": time.time() if now is None else now, **dict(by),
            "before": "its end (on its load hosts)"})
    return True


def request_stop(results_dir: str, run_id: str, by: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """Record a stop request against the live claim of `run_id` (returns it), or {} when no live
    command owns the run id."""
    with _locked(results_dir, run_id):
        claim = read(claim_path(results_dir, run_id))
        if not is_live(claim, os.uname().nodename) or claim.get("kind") not in ("run",):
            return {}
        request = {"run_id": run_id, "at": time.time() if now is None else now, **dict(by),
                   "claim": {key: claim.get(key) for key in ("pid", "pid_start", "host", "since")}}
        _write(stop_path(results_dir, run_id), request)
        return {"request": request, "claim": claim}


def stop_requested(results_dir: str, run_id: str, claim: Mapping[str, Any]) -> dict[str, Any]:
    """The stop request made against `claim` (this command's own), or {}: a request made against an
    earlier claim of the same run id never stops a later run."""
    request = read(stop_path(results_dir, run_id))
    if not request or request.get("unreadable"):
        return {}
    made_for = request.get("claim") or {}
    if any(made_for.get(key) != claim.get(key) for key in ("pid", "pid_start", "host", "since")):
        return {}
    return request


def stopped_message(run_id: str, request: Mapping[str, Any], step: str) -> str:
    return (f"run state: ABORTED - run {run_id!r} was stopped before {step} by {request.get('user') or '?'}@"
            f"{request.get('host') or '?'} (ansible-playbook {' '.join(request.get('playbooks') or []) or 'stop.yml'},"
            f" pid {request.get('pid')}) at {when(request.get('at'))}; nothing more was done")


def live_runs(results_dir: str, host: str) -> list[str]:
    """The run ids whose claims are live runs (what stop.yml stops when no run id is given)."""
    try:
        names = sorted(os.listdir(claims_dir(results_dir)))
    except OSError:
        return []
    found = []
    for name in names:
        if name.endswith(CLAIM_SUFFIX):
            claim = read(os.path.join(claims_dir(results_dir), name))
            if claim.get("kind") == "run" and is_live(claim, host):
                found.append(name[:-len(CLAIM_SUFFIX)])
    return found


def last_of(results_dir: str, run_id: str | None) -> str:
    """What is known of the last run (of `run_id`, else the newest results directory): its state,
    or how far it got, for "no run of id X is running; last: ..."."""
    run_dir = None
    if run_id:
        run_dir = os.path.join(results_dir, run_id)
    else:
        try:
            dirs = [os.path.join(results_dir, name) for name in os.listdir(results_dir)
                    if not name.startswith(".") and os.path.isdir(os.path.join(results_dir, name))]
        except OSError:
            dirs = []
        run_dir = max(dirs, key=os.path.getmtime) if dirs else None
    if not run_dir or not os.path.isdir(run_dir):
        return f"no results of it in {results_dir}" if run_id else f"no run in {results_dir}"
    name = os.path.basename(run_dir)
    summary = read(os.path.join(run_dir, contract.SUMMARY_FILE))
    if summary and not summary.get("unreadable"):
        return f"run {name!r} ended {str(summary.get('state', '?')).upper()} ({run_dir}/{contract.SUMMARY_FILE})"
    if os.path.exists(os.path.join(run_dir, contract.LAUNCH_FILE)):
        return f"run {name!r} was launched and not collected (playbooks/collect.yml -e hailstorm_run_id={name})"
    if os.path.exists(os.path.join(run_dir, contract.STOPPED_FILE)):
        return f"run {name!r} was stopped before its start"
    return f"run {name!r} was planned, never launched ({run_dir}/{contract.PLAN_FILE})"


def stop_lines(requests: Mapping[str, str], stopped: Mapping[str, list], run_id: str | None, last: str) -> list[str]:
    """What stop.yml did: the stop requests recorded, what each load host stopped; or, when it found
    nothing to stop anywhere, "no run ... is running; last: ..." (never a silent success)."""
    lines = list(requests.values())
    for host, what in sorted(stopped.items()):
        if what:
            lines.append(f"{host}: stopped {', '.join(str(item) for item in what)}")
    if lines:
        return lines
    which = f"of id {run_id!r} " if run_id else ""
    return [f"no run {which}is running: no command owns it on this controller and no load host had a load process "
            f"of it; nothing was stopped; last: {last}"]
