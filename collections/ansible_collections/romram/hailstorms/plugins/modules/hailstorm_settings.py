#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_settings
short_description: Check every setting of a run once, on the controller, before any host is touched
version_added: "2.0.0"
author:
  - romram.hailstorms contributors (@romram)
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
description:
  - The settings gate. Reads the settings it knows from the task's variables (the run settings
    C(hailstorm_<setting>) over C(hailstorm_profiles), the numeric and boolean options, the paths, the URLs,
    C(hailstorm_pip_packages), the live metrics' buckets and headers, C(hailstorm_report_queries),
    C(hailstorm_thresholds), C(hailstorm_baseline), C(hailstorm_tag), C(hailstorm_python)) and checks each
    once (C(plugins/module_utils/settings_gate.py)); a variable that is not defined is not checked.
  - A bad value fails the task with a message that names the variable, the value and a fix.
  - Every URL follows one rule (an http or https URL with a host, no credentials, a port from 1 to 65535).
  - With the local backend, each of C(hailstorm_pip_packages) must be installed in the controller's Python.
  - With O(locustfile_check), the second step after the locustfile check - the run again with its
    LoadTestShape's curve, the classes of C(hailstorm_scenarios) judged against the locustfile's user classes,
    each abort threshold's C(after) judged against the run's final length, and the thresholds of a scenario
    against the run's scenarios.
  - Runs on the controller; reads only (the baseline's files).
options:
  locustfile_check:
    description:
      - The registered result of romram.hailstorms.hailstorm_locustfile. Given, only the second step runs; it
        reads C(hs_run) and C(hs_thresholds), the first step's results.
    type: dict
attributes:
  check_mode:
    description: Checks the same in check mode; it reads the baseline's files only.
"""

EXAMPLES = r"""
- name: Check every setting once (no host is contacted)
  romram.hailstorms.hailstorm_settings:
  register: checked
  run_once: true
  delegate_to: localhost

- name: The run with its LoadTestShape, and the abort thresholds judged on its length
  romram.hailstorms.hailstorm_settings:
    locustfile_check: "{{ locustfile_result }}"
  register: shaped
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
run:
  description: The resolved run settings (what the planner reads), with C(profile) and C(warnings).
  returned: always
  type: dict
  sample: {target: "http://127.0.0.1:8089", rps: 10.0, pace: 1.0, clients: 10, profile: default, warnings: []}
options:
  description: The numeric and boolean options given, converted, keys without C(hailstorm_).
  returned: without locustfile_check
  type: dict
  sample: {dry_run: true, overwrite: false, preview_points: 12}
run_id:
  description: C(hailstorm_run_id) checked, or the UTC time of the check when it is not set.
  returned: without locustfile_check
  type: str
  sample: 20261206T170000Z
run_dir:
  description: The run's results directory on the controller (C(hailstorm_results_dir)/run id).
  returned: without locustfile_check
  type: str
thresholds:
  description: C(hailstorm_thresholds) checked (with the profiles' thresholds).
  returned: without locustfile_check
  type: dict
baseline:
  description: The baseline run found and its differences from this run, or null without one.
  returned: without locustfile_check
  type: dict
tag:
  description: C(hailstorm_tag) checked, or null.
  returned: without locustfile_check
  type: str
live_metrics:
  description: The live histogram's kind and bounds, and the header names (never their values).
  returned: without locustfile_check
  type: dict
settings:
  description:
    - The rest, checked - C(paths) (work_dir, install_dir), C(urls) (keys without C(hailstorm_)),
      C(pip_packages), C(report_queries), C(interpreters) (what the probe runs, systemd backend),
      C(preflight) (the preflight's options) and C(overrides) (the run settings given as variables).
  returned: without locustfile_check
  type: dict
shaped:
  description: Whether the locustfile's LoadTestShape replaced the run's curve.
  returned: with locustfile_check
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"locustfile_check": {"type": "dict"}}, supports_check_mode=True)
    module.fail_json(msg="romram.hailstorms.hailstorm_settings runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
