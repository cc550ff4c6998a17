#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop the daemonless load processes of every run on a load host."""
from __future__ import annotations

DOCUMENTATION = r"""
module: hailstorm_stop
short_description: Stop the daemonless (local backend) load processes on a host
version_added: 1.0.0
author:
  - romram.hailstorms contributors (@romram)
description:
  - Reads the C(core-N.pid) files of every run under O(path), checks that each pid still belongs
    to a load process (C(hailstorm_runtime run) on its command line, never a process that reused
    the pid), sends SIGTERM so that it writes its last records, and SIGKILL after O(timeout).
options:
  path:
    description: The work directory holding one sub-directory per run (C(hailstorm_work_dir)).
    type: path
    required: true
  timeout:
    description: Seconds to wait after SIGTERM before SIGKILL (the stop role gives C(_hailstorm_stop_grace)).
    type: float
    required: true
extends_documentation_fragment:
  - romram.hailstorms.attributes
attributes:
  check_mode:
    description: In check mode the processes are found and reported, not signalled.
"""

EXAMPLES = r"""
- name: Stop the local load processes
  romram.hailstorms.hailstorm_stop:
    path: "{{ hailstorm_work_dir }}"
    timeout: 5
"""

RETURN = r"""
stopped:
  description: Pids of the load processes that were running.
  returned: always
  type: list
  elements: int
killed:
  description: Pids that did not end within O(timeout) and got SIGKILL.
  returned: always
  type: list
  elements: int
"""

import glob
import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.romram.hailstorms.plugins.module_utils import contract

from ansible_collections.romram.hailstorms.plugins.module_utils.processes import runtime_pid


def load_processes(path: str) -> list[int]:
    pids = (runtime_pid(name) for name in sorted(glob.glob(os.path.join(path, "*", contract.core_pattern(contract.PID)))))
    return [pid for pid in pids if pid is not None]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={"path": {"type": "path", "required": True},
                       "timeout": {"type": "float", "required": True}},
        supports_check_mode=True,
    )
    pids = load_processes(module.params["path"])
    killed: list[int] = []
    if pids and not module.check_mode:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.time() + module.params["timeout"]
        while time.time() < deadline and any(alive(pid) for pid in pids):
            time.sleep(0.1)
        killed = [pid for pid in pids if alive(pid)]
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
    module.exit_json(changed=bool(pids), stopped=pids, killed=killed)


if __name__ == "__main__":
    main()
