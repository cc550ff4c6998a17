# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_preflight_verdict (documentation in plugins/modules/);
the decisions are module_utils/preflight.py's (judge, verdict)."""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, preflight


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("hosts", "records", "options", "plan"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        hosts = args.get("hosts")
        if not isinstance(hosts, list):
            raise AnsibleActionFail("romram.hailstorms.hailstorm_preflight_verdict: hosts must be a list of inventory names")
        records = {host: record if isinstance(record, dict) else None
                   for host, record in dict(args.get("records") or {}).items()}
        try:
            verdict = preflight.judge([str(host) for host in hosts], records, dict(args.get("options") or {}),
                                      dict(args["plan"]) if args.get("plan") else None)
        except plan_queries.PlanError as error:
            raise AnsibleActionFail(f"romram.hailstorms.hailstorm_preflight_verdict: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise AnsibleActionFail(
                f"romram.hailstorms.hailstorm_preflight_verdict: unexpected input ({error!r})") from None
        result.update(changed=False, verdict=verdict)  # nested: its `failed` lists failures, not the task's state
        return result
