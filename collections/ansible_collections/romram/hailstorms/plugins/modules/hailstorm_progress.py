#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_progress
short_description: One progress line of a run and its abort thresholds judged, whatever the number of load hosts
version_added: "2.0.0"
author:
  - romram.hailstorms contributors (@romram)
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
description:
  - Called once per progress interval, on the controller, by romram.hailstorms.collect
    (C(plugins/module_utils/progress.py)).
  - Merges every host's figures of the last interval (their status files carry cumulative figures; the
    interval's are their growth since O(previous)), judges the abort thresholds on them, and gives one line.
options:
  plan:
    description: The run's plan (C(hs_plan)).
    type: dict
    required: true
  statuses:
    description: Each load host's status (romram.hailstorms.hailstorm_status's result); a host left out has none.
    type: dict
    required: true
  thresholds:
    description: The run's checked thresholds (their abort limits are judged).
    type: dict
    default: {}
  previous:
    description: The last call's RV(check) ({} the first time - the interval since the start).
    type: dict
    default: {}
  offset:
    description: The progress moment, in seconds since the start.
    type: float
    required: true
attributes:
  check_mode:
    description: Merges and judges the same in check mode; it writes nothing.
"""

EXAMPLES = r"""
- name: Merge the last interval, judge the abort thresholds, one progress line
  romram.hailstorms.hailstorm_progress:
    plan: "{{ hs_plan }}"
    statuses: "{{ statuses_by_host }}"
    thresholds: "{{ hs_thresholds }}"
    previous: "{{ last_check | default({}) }}"
    offset: 30
  register: progress
  run_once: true
"""

RETURN = r"""
check:
  description:
    - The merged totals (the next call's O(previous)), C(at), C(interval) (the last interval's figures),
      C(broken), C(broken_since), C(offset), and C(threshold) and C(reason) ("" while no abort threshold stopped
      the run).
  returned: always
  type: dict
line:
  description: The progress line.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"plan": {"type": "dict", "required": True}, "statuses": {"type": "dict", "required": True},
                       "thresholds": {"type": "dict", "default": {}}, "previous": {"type": "dict", "default": {}},
                       "offset": {"type": "float", "required": True}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_progress runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
