# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: exit_code
type: aggregate
short_description: Exit ansible-playbook with the run's outcome (completed, thresholds broken, degraded, failed, ...)
version_added: 2.0.0
description:
  - Ansible ends a playbook with a failed task with exit code 2, whatever failed. With this callback
    enabled, a run's playbook (distribute.yml, collect.yml, report.yml) exits with the code of the run's
    outcome instead, so that CI can tell them apart - 0 completed and every threshold met, 10 a threshold
    broken, 11 degraded, 12 aborted, 13 incomplete, and for a failed run (failed requests or locustfile
    exceptions that no threshold allows) hailstorm_exit_code_on_error (1 by default, as Locust's
    C(--exit-code-on-error)) or the locustfile's C(environment.process_exit_code).
  - The collect role hands the code over with C(ansible.builtin.set_stats) (key C(hailstorm_exit_code)); a task
    that fails with the run's outcome (a run stopped before its start, 12) returns it as C(hailstorm_exit_code) in
    its result; a playbook that failed otherwise before the run's results were merged keeps Ansible's own code.
  - "Enable it in ansible.cfg: C(callbacks_enabled = romram.hailstorms.exit_code) (this project's ansible.cfg does),
    or with the environment variable C(ANSIBLE_CALLBACKS_ENABLED=romram.hailstorms.exit_code)."
requirements:
  - enabled in callbacks_enabled
"""

import sys

from ansible.plugins.callback import CallbackBase

STAT = "hailstorm_exit_code"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "romram.hailstorms.exit_code"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._failed_code = None

    def v2_runner_on_failed(self, result, ignore_errors=False):
        # a task of the collection that fails with the run's outcome (a run stopped before its
        # start: 12) hands it over in its result; set_stats cannot, it does not run after a failure
        code = (getattr(result, "_result", None) or {}).get(STAT)
        if code and not ignore_errors and self._failed_code is None:
            self._failed_code = code

    def v2_playbook_on_stats(self, stats):
        code = (getattr(stats, "custom", None) or {}).get("_run", {}).get(STAT)
        if code is None:
            code = self._failed_code
        try:
            code = int(code)
        except (TypeError, ValueError):
            return
        if code:
            # raised past Ansible's callback dispatch (SystemExit is no Exception): ansible-playbook
            # ends with this code after its recap, its temporary files cleaned as on any exit
            sys.stdout.flush()
            raise SystemExit(code)
