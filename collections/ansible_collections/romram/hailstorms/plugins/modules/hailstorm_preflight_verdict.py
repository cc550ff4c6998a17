#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_preflight_verdict
short_description: Every load host's preflight findings and one verdict, from the probes' raw results
version_added: "2.0.0"
author:
  - romram.hailstorms contributors (@romram)
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
description:
  - Called once, on the controller, by romram.hailstorms.preflight (C(plugins/module_utils/preflight.py)).
  - A host without a record (unreachable, no Python, a probe that failed) is a failure with its reason, so the
    verdict always prints. The clock fails a host only when its offset is certainly over the limit.
  - Reads on the controller the Python versions of the wheels in the wheelhouse and the free space of the
    results directory.
  - Never fails on a failed host; the role fails the play, once, from the failures in RV(verdict).
options:
  hosts:
    description: The load hosts, in inventory order.
    type: list
    elements: str
    required: true
  records:
    description:
      - Each host's raw preflight record - C(probe) (hailstorm_probe's result), C(health) (status, msg),
        C(check) (the runtime check's rc, stdout, stderr, delta, or null), C(calibration), C(cores),
        C(connection), C(work_dir), C(become). A host left out has none.
    type: dict
    required: true
  options:
    description:
      - The preflight's options (the settings gate's C(hs_settings.preflight)) - max_clock_offset, health_url,
        disk_bytes_per_request, disk_reserve_mb, startup_seconds, backend, locustfile, python, install_python,
        wheelhouse, calibrate, results_dir, jtl.
    type: dict
    required: true
  plan:
    description:
      - The plan (C(hs_plan)) - each host's disk is judged from its planned requests, its calibrated capacity
        from its busiest core's peak rate, the controller's disk from the run's expected requests; null when
        not planned (the disks must then hold hailstorm_disk_reserve_mb alone).
    type: dict
attributes:
  check_mode:
    description: Judges the same in check mode; it reads the controller's disk and wheelhouse only.
"""

EXAMPLES = r"""
- name: Judge all load hosts at once, on the controller
  romram.hailstorms.hailstorm_preflight_verdict:
    hosts: "{{ ansible_play_hosts_all }}"
    records: "{{ records_by_host }}"
    options: "{{ hs_settings.preflight }}"
    plan: "{{ hs_plan | default(none) }}"
  register: preflight
  run_once: true
"""

RETURN = r"""
verdict:
  description:
    - head (one line), report (lines), failed (messages), warnings and hosts (per host - failures, warnings,
      figures, usable_cores, core_cpus, clock, round_trip, startup_seconds, ready_seconds, interpreter).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"hosts": {"type": "list", "elements": "str", "required": True},
                       "records": {"type": "dict", "required": True},
                       "options": {"type": "dict", "required": True},
                       "plan": {"type": "dict"}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_preflight_verdict runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
