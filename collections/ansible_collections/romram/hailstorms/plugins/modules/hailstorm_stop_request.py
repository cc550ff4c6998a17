#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_stop_request
short_description: Record a stop request for a running run, or check for one
version_added: "2.0.0"
description:
  - With O(state=present) (stop.yml) records a stop request against the live claim of the run I(run_id), or of every
    run a live distribute.yml owns when I(run_id) is not given, naming who asked and when
    (I(results_dir)C(/.claims/<run id>.stop.json)).
  - With O(state=check) (distribute.yml, before each step) fails when a stop request was made against this command's
    own claim, with the message "run state - ABORTED ..." naming who stopped the run and when, writes
    C(stopped.json) in the run's results directory, and returns C(hailstorm_exit_code) 12 (the exit_code callback
    ends the playbook with it). A request made against an earlier claim of the same run id is ignored.
  - With O(state=report) returns the lines stop.yml prints - the requests recorded and what each load host stopped,
    or "no run of id X is running ...; last - ..." when nothing was stopped anywhere.
options:
  results_dir:
    description: hailstorm_results_dir.
    type: path
    required: true
  run_id:
    description: The run id (required with O(state=check)).
    type: str
  state:
    description: Record (V(present)) or check (V(check)).
    type: str
    choices: [present, check, report]
    default: check
  step:
    description: The step about to be taken (for the message).
    type: str
  requests:
    description: With O(state=report), the requests O(state=present) returned.
    type: dict
  stopped:
    description: With O(state=report), load host -> what was stopped there.
    type: dict
  stopped_runs:
    description:
      - With O(state=report), the run ids whose load processes were stopped on the load hosts (their locks); a
        launched run among them whose controller has ended is marked stopped in its results directory
        (C(stopped.json)), so that hailstorm_overwrite may reuse its id.
    type: list
    elements: str
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: With O(state=present) nothing is recorded in check mode.
author: romram.hailstorms contributors (@romram)
"""

EXAMPLES = r"""
- name: Stop the run before its launch if stop.yml asked for it
  romram.hailstorms.hailstorm_stop_request:
    results_dir: "{{ hailstorm_results_dir }}"
    run_id: "{{ hailstorm_run_id }}"
    step: the launch
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
requests:
  description: With O(state=present), run id -> what was requested.
  returned: state=present
  type: dict
last:
  description: With O(state=present), what is known of the last run (for "no run of id X is running; last ...").
  returned: state=present
  type: str
stopped:
  description: With O(state=check), whether a stop request was found.
  returned: state=check
  type: bool
lines:
  description: With O(state=report), what stop.yml did.
  returned: state=report
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"results_dir": {"type": "path", "required": True}, "run_id": {"type": "str"},
                       "state": {"type": "str", "choices": ["present", "check", "report"], "default": "check"},
                       "step": {"type": "str"},
                       "requests": {"type": "dict"}, "stopped": {"type": "dict"},
                       "stopped_runs": {"type": "list", "elements": "str"}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_stop_request is an action plugin; it runs on the controller")


if __name__ == "__main__":
    main()
