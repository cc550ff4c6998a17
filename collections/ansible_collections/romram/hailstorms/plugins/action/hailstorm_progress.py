# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_progress (documentation in plugins/modules/); the
decisions are module_utils/progress.py's (abort_check, progress_line)."""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, progress


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("plan", "statuses", "thresholds", "previous", "offset"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        try:
            plan = dict(args["plan"])
            statuses = {str(host): dict(status) if isinstance(status, dict) else {}
                        for host, status in dict(args.get("statuses") or {}).items()}
            offset = float(args["offset"])
            check = progress.abort_check(plan, statuses, args.get("thresholds") or {}, args.get("previous") or {},
                                         offset)
            line = progress.progress_line(plan, statuses, offset, check.get("interval") or None)
        except plan_queries.PlanError as error:
            raise AnsibleActionFail(f"romram.hailstorms.hailstorm_progress: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise AnsibleActionFail(f"romram.hailstorms.hailstorm_progress: unexpected input ({error!r})") from None
        result.update(changed=False, check=check, line=line)
        return result
