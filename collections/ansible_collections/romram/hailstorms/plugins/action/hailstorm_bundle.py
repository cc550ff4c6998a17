# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_bundle (documentation in plugins/modules/)."""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import bundle
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


class ActionModule(ActionBase):
    """Builds (or finds in the controller's cache) the bundle of a directory; the provision role
    copies it to each load host and unpacks it there (roles/provision/tasks/unpack.yml)."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        patterns = args.get("patterns") or ["*"]
        if isinstance(patterns, str):
            patterns = [patterns]
        try:
            made = bundle.build(str(args.get("src") or ""), str(args.get("name") or ""),
                                [str(pattern) for pattern in patterns])
        except (PlanError, OSError) as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=False, **made)
        return result
