#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time per load host: the lock a run holds from its launch to its end."""
from __future__ import annotations

DOCUMENTATION = r"""
module: hailstorm_lock
short_description: One run at a time on a load host
version_added: 1.0.0
author: romram.hailstorms contributors (@romram)
description:
  - A lock file per load host, taken when a run launches and released when it ends or is stopped. It holds the
    run id, the run's work directory on the host, the controller and the time it was taken.
  - A second run is refused naming the run that holds the lock, also when it has the same run id (the same run
    started twice at once would overwrite the first's data.json and records). A lock whose run is over (no load
    process of it alive, no fresh status file, older than I(hold)) is stale and is replaced, and the module says so.
  - The stop role reads the lock to find a host's running load processes whatever settings its caller has.
options:
  path:
    description: The lock file.
    type: path
    required: true
  state:
    description:
      - C(present) takes the lock for I(run_id) (fails when a live run holds it), C(absent) releases it when
        I(run_id) holds it (or always without I(run_id)), C(read) only reads it.
    type: str
    choices: [present, absent, read]
    default: read
  run_id:
    description: The run taking or releasing the lock.
    type: str
  run_dir:
    description: The run's work directory on this host (its load processes' status and pid files).
    type: path
  controller:
    description: Who runs the run (shown to a second run that is refused).
    type: str
  hold:
    description: Seconds after taking it during which the lock counts as live even before any process wrote a status.
    type: float
    default: 600
  stale:
    description: Seconds after which a status file that is not final no longer shows a live process.
    type: float
    default: 10
  mark_stop:
    description:
      - With O(state=read) (the stop role), when a live run holds the lock, write this file (C(stop.json)) into the
        run's work directory first, if it exists yet, so that the run's launch stops waiting for its processes
        to arm.
    type: str
extends_documentation_fragment:
  - romram.hailstorms.attributes
attributes:
  check_mode:
    description: In check mode the lock is read and judged but not written.
"""

EXAMPLES = r"""
- name: Take this host's lock for the run
  romram.hailstorms.hailstorm_lock:
    path: /run/hailstorms/load1.lock
    state: present
    run_id: 20261129T101500Z
    run_dir: /var/lib/hailstorms/20261129T101500Z
    controller: ci-runner-7
"""

RETURN = r"""
lock:
  description: The lock as it is after the module ran (empty when there is none).
  returned: always
  type: dict
live:
  description: Whether the lock found on the host belongs to a run that is still going.
  returned: always
  type: bool
replaced:
  description: The stale lock that was replaced, if any.
  returned: when a stale lock was replaced
  type: dict
marked:
  description: The stop file written with O(mark_stop) (empty when none was).
  returned: with O(state=read)
  type: str
"""

import glob
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, ownership

from ansible_collections.romram.hailstorms.plugins.module_utils.processes import runtime_pid

FINAL = ("done", "failed")


def read_lock(path: str) -> dict:
    """The lock ({} when there is none, {'unreadable': True} when it is damaged)."""
    return ownership.read(path)


def is_live(lock: dict, hold: float, stale: float, now: float) -> bool:
    """A lock is live while its run can still have load processes: a live pid file of its run, or
    a status file not final and fresher than `stale`; when its processes wrote no status yet,
    while it was taken less than `hold` ago (they are starting)."""
    if not lock or lock.get("unreadable"):
        return False
    run_dir = lock.get("run_dir") or ""
    if any(runtime_pid(name) for name in glob.glob(os.path.join(run_dir, contract.core_pattern(contract.PID)))):
        return True
    statuses = glob.glob(os.path.join(run_dir, contract.core_pattern(contract.STATUS)))
    for name in statuses:
        try:
            with open(name, encoding="utf-8") as handle:
                state = json.load(handle).get("state")
            age = now - os.path.getmtime(name)
        except (OSError, ValueError):
            continue
        if state not in FINAL and age <= stale:
            return True
    return not statuses and now - float(lock.get("taken", 0)) < float(lock.get("hold", hold))


def write_new(path: str, lock: dict) -> bool:
    """Create the lock file only if there is none (atomic: link fails when it exists)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(lock, handle)
    os.chmod(tmp, 0o640)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.remove(tmp)


def describe(lock: dict) -> str:
    taken = lock.get("taken")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(taken))) if taken else "an unknown time"
    return (f"run {lock.get('run_id')!r} (from {lock.get('controller') or 'an unknown controller'}, "
            f"since {when}, work directory {lock.get('run_dir')})")


def refusal(lock: dict, live: bool, run_id: str) -> str | None:
    """Why a run `run_id` may not take this host now (None: it may): a live run holds the lock,
    whatever its run id. The same run id is no exception: a second start of a running run would
    overwrite its data.json and mix two runs' records."""
    if not live:
        return None
    if lock.get("run_id") == run_id:
        return (f"run {run_id!r} is running on this load host already: {describe(lock)}; the same run id started "
                "twice at once is refused (the second start would overwrite the first's data.json and records). "
                "Wait for it to end, or stop it with playbooks/stop.yml, and give a new hailstorm_run_id")
    return (f"this load host is busy with {describe(lock)}; one run at a time per load host: wait for it to end, "
            "or stop it with playbooks/stop.yml")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent", "read"], "default": "read"},
            "run_id": {"type": "str"},
            "run_dir": {"type": "path"},
            "controller": {"type": "str"},
            "hold": {"type": "float", "default": 600.0},
            "stale": {"type": "float", "default": 10.0},
            "mark_stop": {"type": "str"},
        },
        required_if=[("state", "present", ("run_id", "run_dir"))],
        supports_check_mode=True,
    )
    params = module.params
    path, now = params["path"], time.time()
    lock = read_lock(path)
    live = is_live(lock, params["hold"], params["stale"], now)
    if params["state"] == "read":
        marked = ""
        run_dir = lock.get("run_dir") or ""
        if params["mark_stop"] and live and run_dir and os.path.isdir(run_dir) and not module.check_mode:
            marked = os.path.join(run_dir, os.path.basename(params["mark_stop"]))
            with open(marked, "w", encoding="utf-8") as handle:
                json.dump({"at": now, "by": "playbooks/stop.yml"}, handle)
            os.chmod(marked, 0o640)
        module.exit_json(changed=bool(marked), lock=lock, live=live, marked=marked)
    if params["state"] == "absent":
        ours = not params["run_id"] or lock.get("run_id") == params["run_id"]
        if lock and ours and not module.check_mode:
            os.remove(path)
        module.exit_json(changed=bool(lock) and ours, lock={} if ours else lock, live=live and not ours)
    refused = refusal(lock, live, params["run_id"])
    if refused:
        module.fail_json(msg=refused, lock=lock, live=True)
    new = {"run_id": params["run_id"], "run_dir": params["run_dir"], "controller": params["controller"],
           "taken": now, "hold": params["hold"], "pid": os.getpid()}
    result = {"changed": True, "lock": new, "live": False}
    if lock:
        result["replaced"] = lock
    if module.check_mode:
        module.exit_json(**result)
    os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
    if lock:
        try:
            os.replace(path, path + ".stale")
        except FileNotFoundError:
            pass
    if not write_new(path, new):
        module.fail_json(msg=f"this load host is busy with {describe(read_lock(path))} (it took the lock a moment "
                             "ago); one run at a time per load host", lock=read_lock(path), live=True)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
