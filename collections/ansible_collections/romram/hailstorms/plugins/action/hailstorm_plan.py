# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_plan (documentation in plugins/modules/)."""
from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.release import __version__ as ansible_core_version
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import (
    locustfile, plan_preview, plan_queries, planner, run_settings, versions)


class ActionModule(ActionBase):
    """Plans on the controller, once: the plan, plan.json and the preview, without passing the
    plan (megabytes for a thousand hosts) through templates or a module's arguments."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        try:
            settings, hosts = dict(args["settings"]), [tuple(pair) for pair in args["hosts"]]
            run_settings.check_capacity(settings, hosts)  # sane bounds, refused before any work
            plan = planner.make_plan(settings, hosts)
            lines = plan_preview.preview(plan, int(args.get("points", 12)))
            # after the plan's figures: two lines for a trapezoid, one (its stage table follows) for stages
            dry_run = locustfile.preview_line((args.get("run") or {}).get("requests_per_iteration"),
                                              float(plan["rps"]), int(plan["expected_requests"]))
            lines.insert(1 if plan.get("stages") else 2, dry_run)
        except plan_queries.PlanError as error:
            raise AnsibleActionFail(f"romram.hailstorms.hailstorm_plan: {error}") from None
        except KeyError as error:
            raise AnsibleActionFail(f"romram.hailstorms.hailstorm_plan: missing argument {error}") from None
        path = args.get("path")
        if path and not self._task.check_mode or path and args.get("write_in_check_mode", False):
            # the versions the run is made with, recorded once here (versions.py)
            recorded = {**plan, **dict(args.get("run") or {}),
                        "versions": versions.controller_versions(ansible_core_version)}
            text = json.dumps(recorded, indent=1, default=str) + "\n"
            try:
                with open(path, encoding="utf-8") as handle:
                    same = handle.read() == text
            except OSError:
                same = False
            if not same:  # idempotent: the same plan again changes nothing
                _write(path, text)
            result["changed"] = not same
        if args.get("fact", True):
            result["ansible_facts"] = {"hs_plan": plan}
        result.update(preview=lines, path=path, expected_requests=plan["expected_requests"])
        return result


def _write(path: str, text: str) -> None:
    """plan.json, atomically (0640 in a 0750 directory); a write that fails (a full disk) fails the
    task with the path, the reason and the fix, and leaves no partial file."""
    tmp_path = path + ".tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
        with open(tmp_path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp_path, 0o640)
        os.replace(tmp_path, path)
    except OSError as error:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise AnsibleActionFail(
            f"romram.hailstorms.hailstorm_plan: cannot write the plan at {path}: {error.strerror or error} "
            f"({len(text)} bytes). Fix: free disk space on the controller, or set hailstorm_results_dir to a larger "
            "disk (or one you may write).") from None
