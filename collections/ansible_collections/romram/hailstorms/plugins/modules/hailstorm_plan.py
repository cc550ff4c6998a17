#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_plan
short_description: Plan every client of a run on the controller, write plan.json and a preview
version_added: "1.0.0"
description:
  - Runs the planner (C(plugins/module_utils/planner.py)) once on the controller and sets the fact C(hs_plan).
  - Writes plan.json itself (0640, atomically), so a plan of a thousand hosts never passes through templates.
options:
  settings:
    description: Resolved run settings (romram.hailstorms.run_settings).
    type: dict
    required: true
  hosts:
    description: "[hostname, usable cores] of every load host, in order (romram.hailstorms.load_host_cores)."
    type: list
    elements: list
    required: true
  path:
    description: Where to write plan.json; nothing is written when unset.
    type: path
  run:
    description: Fields added to plan.json (run id, target, profile, ...).
    type: dict
  points:
    description: Intervals of the preview's expected-rate timeline; with stages, also the most stages it lists.
    type: int
    default: 12
  write_in_check_mode:
    description: Write plan.json in check mode too (the preview of C(--check)).
    type: bool
    default: false
  fact:
    description: Set the fact C(hs_plan) (the launch needs it; a dry run does not).
    type: bool
    default: true
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: Plans and previews; writes plan.json only with O(write_in_check_mode).
author: romram.hailstorms contributors (@romram)
"""

EXAMPLES = r"""
- name: Plan every client
  romram.hailstorms.hailstorm_plan:
    settings: "{{ hs_run }}"
    hosts: "{{ hostvars | romram.hailstorms.load_host_cores(groups['load_hosts']) }}"
    path: "{{ hailstorm_results_dir }}/{{ hailstorm_run_id }}/plan.json"
  run_once: true
"""

RETURN = r"""
preview:
  description: The plan as lines to show.
  returned: success
  type: list
  elements: str
path:
  description: plan.json.
  returned: success
  type: str
expected_requests:
  description: Requests the plan sends in all.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"settings": {"type": "dict", "required": True},
                       "hosts": {"type": "list", "elements": "list", "required": True},
                       "path": {"type": "path"}, "run": {"type": "dict"},
                       "points": {"type": "int", "default": 12},
                       "write_in_check_mode": {"type": "bool", "default": False},
                       "fact": {"type": "bool", "default": True}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_plan runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
