#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_probe
short_description: Probe a load host before a run (Python, CPUs, free disk, clock offset)
version_added: "1.0.0"
description:
  - Runs a small probe with the host's Python over the task's connection, without copying a
    module; works on hosts whose Python is too old for Ansible modules, so that the version
    can be reported.
  - Measures the host's clock offset against the controller at sub-second resolution, as NTP
    does, by reading the controller's clock just before and just after each of several
    commands that read the host's clock. See C(plugins/module_utils/clock.py).
  - Times one ordinary module task on the host (C(module_round_trip)).
  - Read-only; supports check mode.
options:
  python:
    description: The interpreter to probe. Default the host's C(ansible_python_interpreter), else C(python3).
    type: str
  path:
    description:
      - A directory (it need not exist yet) whose file system's free space is reported; the
        nearest existing parent is measured.
    type: str
    default: /
  samples:
    description: Number of clock samples after the probe itself (more narrow the uncertainty).
    type: int
    default: 5
  max_offset:
    description:
      - The largest accepted clock offset (seconds). When given, up to four times O(samples) are
        taken while the uncertainty is over half of it or the interval straddles it, so that the
        verdict (fail only when certainly over) is settled where the connection allows.
    type: float
  cores:
    description:
      - C(hailstorm_cores) of the host (unset or empty, its CPUs minus one, at least 1). Gives
        RV(usable_cores) and RV(core_cpus) (C(plugins/module_utils/preflight.py), C(probed_cores)),
        which are left out when it is not a whole number >= 1 (the preflight verdict names it).
    type: raw
  interpreters:
    description:
      - Names (looked for in the connection's C(PATH), then C(/usr/local/bin), C(/usr/bin), C(/bin)) or
        absolute paths of interpreters to run on the host; each one's path, version and whether it
        can create a venv are returned in RV(interpreters), in this order
        (C(plugins/module_utils/interpreters.py) chooses among them).
    type: list
    elements: str
    default: []
author:
  - romram.hailstorms contributors (@romram)
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
"""

EXAMPLES = r"""
- name: Probe the load host
  romram.hailstorms.hailstorm_probe:
    path: /var/lib/hailstorms
  register: __preflight_probe
"""

RETURN = r"""
python:
  description: The probed interpreter.
  returned: success
  type: dict
  sample: {"executable": "/usr/bin/python3", "version": "3.11.2", "version_info": [3, 11, 2]}
interpreters:
  description:
    - One entry per name of O(interpreters), in that order; its C(path) is null when it is not on the host;
      its C(venv) says whether C(venv) and C(ensurepip) import (C(python3 -m venv) works).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "python3.11", "path": "/usr/bin/python3.11", "version": "3.11.2", "venv": true, "error": null}]
distro:
  description: The host's C(/etc/os-release) (id, version_id, id_like, pretty_name), empty when there is none.
  returned: success
  type: dict
  sample: {"id": "debian", "version_id": "11", "pretty_name": "Debian GNU/Linux 11 (bullseye)"}
cpus:
  description: CPUs this host lets a process run on (its scheduler affinity).
  returned: success
  type: int
cpu_list:
  description: The ids of those CPUs, ascending.
  returned: success
  type: list
  elements: int
  sample: [0, 1, 2, 3]
cpu_count:
  description: CPUs of the machine.
  returned: success
  type: int
disk:
  description: The nearest existing directory of I(path) and its file system's free bytes.
  returned: success
  type: dict
  sample: {"path": "/var/lib", "free_bytes": 85899345920}
clock:
  description:
    - C(offset) host clock minus controller clock (seconds); the true offset lies within
      C(offset) +- C(uncertainty). C(round_trip) is the shortest command round trip (seconds).
      C(consistent) is false if a clock was stepped during the measurement.
  returned: success
  type: dict
  sample: {"offset": 0.0012, "uncertainty": 0.004, "round_trip": 0.011, "samples": 6,
           "consistent": true, "method": "date"}
module_round_trip:
  description:
    - Seconds one ordinary module task (C(ansible.builtin.ping)) took on this host, seen from the
      controller (transfer, interpreter start-up, return).
  returned: success
  type: float
  sample: 0.42
usable_cores:
  description: The cores of this host the plan gives load (O(cores), else RV(cpus) minus one, at least 1).
  returned: success, unless O(cores) is not a whole number >= 1
  type: int
  sample: 3
core_cpus:
  description: The CPU each of those cores is pinned to (the highest ones, leaving the lowest for the system).
  returned: success, unless O(cores) is not a whole number >= 1
  type: list
  elements: int
  sample: [1, 2, 3]
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"python": {"type": "str"}, "path": {"type": "str", "default": "/"},
                       "samples": {"type": "int", "default": 5}, "max_offset": {"type": "float"},
                       "cores": {"type": "raw"},
                       "interpreters": {"type": "list", "elements": "str", "default": []}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_probe runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
