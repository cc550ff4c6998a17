#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hailstorm_results
short_description: Merge the per-core results of a hailstorms run and summarize them
version_added: 1.0.0
description:
  - Reads every C(<host>/core-*.jsonl) file under O(path) (the per-core recordings fetched from
    the load hosts), merges them exactly (per-second, per-label deltas and latency histograms
    are summed, never averaged) and writes C(<path>/summary.json).
  - "Returns the summary; runs on the controller (use C(delegate_to: localhost) and C(run_once))."
options:
  path:
    description:
      - The run's results directory, holding one sub-directory per load host with that host's
        C(core-N.jsonl) files.
    type: path
    required: true
  plan:
    description:
      - The run's plan (the C(hailstorm_plan) fact or the C(plan) object of a data.json); used
        for the target rate, the constant phase and the planned client count.
    type: dict
    required: true
  summary_file:
    description: Name of the summary written inside O(path).
    type: str
    default: summary.json
author:
  - romram.hailstorms contributors (@romram)
"""

EXAMPLES = r"""
- name: Merge and summarize the run
  romram.hailstorms.hailstorm_results:
    path: "{{ hailstorm_results_dir }}/{{ hailstorm_run_id }}"
    plan: "{{ hailstorm_plan }}"
  delegate_to: localhost
  run_once: true
  register: __collect_summary
"""

RETURN = r"""
summary:
  description: The run's figures (see results.summarize in module_utils).
  returned: success
  type: dict
  contains:
    state:
      description: How the run ended - completed, degraded, aborted or incomplete (see run_state in module_utils).
      type: str
    reasons:
      description: Why the run is not completed, one line per host and core or per shortfall.
      type: list
      elements: str
    requests:
      description: Requests recorded on all cores.
      type: int
    failures:
      description: Failed requests.
      type: int
    constant_phase:
      description: Achieved against target rps over the whole seconds of the constant phase (null without one).
      type: dict
    failures_by_kind:
      description: Failure count per kind (HTTP code, exception or catch_response message).
      type: dict
    latency:
      description: p50, p95, p99 and max in ms, overall and per label, from merged histograms.
      type: dict
    pacing:
      description: Pacing overruns in total and the number of clients affected.
      type: dict
    starts:
      description: Clients planned, started, and started late.
      type: dict
    cores:
      description: Per core the start delay, late clients, requests, and how the process ended.
      type: list
      elements: dict
    series:
      description: Per second the requests, failures and active clients.
      type: list
      elements: dict
lines:
  description: The summary as readable lines (requests, constant-phase rate, failures, latency per label, pacing, starts).
  returned: success
  type: list
  elements: str
summary_path:
  description: Where the summary was written.
  returned: success
  type: str
files:
  description: The core-N.jsonl files merged.
  returned: success
  type: list
  elements: str
"""

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.romram.hailstorms.plugins.module_utils.results import merge, summarize, summary_lines
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state, state_lines


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            plan=dict(type="dict", required=True),
            summary_file=dict(type="str", default="summary.json"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg="hailstorm_results: path %s is not a directory" % path)
    files = sorted(glob.glob(os.path.join(path, "*", "core-*.jsonl")))
    if not files:
        module.fail_json(msg="hailstorm_results: no <host>/core-*.jsonl files under %s; "
                             "did the collect role fetch the load hosts' results?" % path, files=[])
    try:
        summary = summarize(merge(files), module.params["plan"])
        summary.update(run_state(summary, module.params["plan"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        module.fail_json(msg="hailstorm_results: cannot merge %s: %s" % (path, exc), files=files)
    summary_path = os.path.join(path, module.params["summary_file"])
    changed = True
    if not module.check_mode:
        text = json.dumps(summary, indent=1, sort_keys=True) + "\n"
        if os.path.exists(summary_path):
            with open(summary_path, encoding="utf-8") as handle:
                changed = handle.read() != text
        if changed:
            tmp = summary_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, summary_path)
    module.exit_json(changed=changed, summary=summary, lines=summary_lines(summary) + state_lines(summary),
                     summary_path=summary_path, files=files)


if __name__ == "__main__":
    main()
