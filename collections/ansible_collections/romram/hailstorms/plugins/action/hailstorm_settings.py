# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_settings (documentation in plugins/modules/): the settings
gate. It reads the settings the gate knows from the task's variables and hands them to
module_utils/settings_gate.py, where every decision is made and tested."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import checks, settings_gate

RUNTIME_REQUIREMENTS = Path(__file__).resolve().parents[2] / "runtime" / "requirements.txt"  # the runtime's pins
HEALTH_URL = "hailstorm_health_url"  # its default is the run's target (hs_run.target): templated once the run is known


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("locustfile_check",))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        values = {name: self._templar.template(task_vars[name])
                  for name in settings_gate.names() if name in task_vars and name != HEALTH_URL}
        check = self._task.args.get("locustfile_check")
        try:
            if check is not None:  # after the locustfile check: its LoadTestShape, the abort thresholds' after
                result.update(settings_gate.shaped(values, self._templar.template(task_vars["hs_run"]),
                                                   self._templar.template(task_vars.get("hs_thresholds")),
                                                   (check or {}).get("shape"), (check or {}).get("user_classes")))
            else:
                pins = checks.runtime_pins(RUNTIME_REQUIREMENTS.read_text(encoding="utf-8"))
                result.update(settings_gate.check(
                    values, time.time(), pins,
                    installed=lambda packages: checks.controller_pip_packages(packages, sys.executable),
                    health_url=lambda run: self._health_url(task_vars, run)))
        except (ValueError, TypeError) as error:  # each check's error (a ValueError) names the variable and a fix
            raise AnsibleActionFail(f"romram.hailstorms.hailstorm_settings: {error}") from None
        result["changed"] = False
        return result

    def _health_url(self, task_vars, run):
        """hailstorm_health_url, templated with the resolved run (its default reads hs_run.target); None
        when the play has no such setting (no preflight)."""
        if HEALTH_URL not in task_vars:
            return None
        templar = self._templar.copy_with_new_env(available_variables={**task_vars, "hs_run": run})
        return templar.template(task_vars[HEALTH_URL])
