#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_claim
short_description: Claim a run id on the controller before anything of the run is written
version_added: "2.0.0"
description:
  - One command at a time on a run id. distribute.yml, plan.yml (and C(--check)), collect.yml and report.yml claim
    the run id first, under an exclusive lock, in I(results_dir)C(/.claims/<run id>.json); the claim names its
    owner (the ansible-playbook process, its playbooks, user@host, since when).
  - A second command on a run id whose owner still runs is refused with the owner named and writes nothing; a claim
    whose owner has ended is taken over. The owner may claim again.
  - For a run or a preview it then decides the results directory (C(plugins/module_utils/checks.py)) - a used one is
    refused, or removed with I(overwrite) - but a launched run that may still be running on its load hosts is never
    removed (C(plugins/module_utils/ownership.py), docs/guarantees.md).
options:
  results_dir:
    description: hailstorm_results_dir.
    type: path
    required: true
  run_id:
    description: The run id.
    type: str
    required: true
  kind:
    description: What the command does with the run (shown to a refused second command).
    type: str
    choices: [run, preview, collect, report]
    default: run
  overwrite:
    description: hailstorm_overwrite (run and preview only).
    type: bool
    default: false
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: Claims in check mode too (a preview is a command on the run id).
author: romram.hailstorms contributors (@romram)
"""

EXAMPLES = r"""
- name: Claim the run id
  romram.hailstorms.hailstorm_claim:
    results_dir: "{{ hailstorm_results_dir }}"
    run_id: "{{ hailstorm_run_id }}"
    kind: run
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
claim:
  description: The claim (run_id, kind, pid, pid_start, playbooks, host, user, since).
  returned: success
  type: dict
path:
  description: The run's results directory.
  returned: success
  type: str
removed:
  description: The names the removed results directory held (hailstorm_overwrite).
  returned: success
  type: list
  elements: str
replaced:
  description: The stale claim that was taken over ({} when none).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"results_dir": {"type": "path", "required": True},
                       "run_id": {"type": "str", "required": True},
                       "kind": {"type": "str", "choices": ["run", "preview", "collect", "report"], "default": "run"},
                       "overwrite": {"type": "bool", "default": False}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_claim is an action plugin; it runs on the controller")


if __name__ == "__main__":
    main()
