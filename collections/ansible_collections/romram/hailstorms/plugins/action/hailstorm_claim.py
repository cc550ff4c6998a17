# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_claim (documentation in plugins/modules/)."""
from __future__ import annotations

import errno
import os
import shutil
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import checks, ownership
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


class ActionModule(ActionBase):
    """Claims a run id for this ansible-playbook on the controller before anything of the run is
    written (module_utils/ownership.py), then decides its results directory."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        kind = str(args.get("kind", "run"))
        try:
            results_dir = checks.absolute_path(args.get("results_dir"), "hailstorm_results_dir")
            run_id = checks.run_id(args.get("run_id"))
            if kind not in ownership.KINDS:
                raise PlanError(f"kind: {kind!r} is not one of {', '.join(ownership.KINDS)}")
            path = os.path.join(results_dir, run_id)
            if os.path.islink(path):
                raise PlanError(f"hailstorm_run_id: {path} is a symbolic link; a run's results directory must be "
                                "a directory of its own. Fix: remove the link, or give another hailstorm_run_id")
            if kind in ("collect", "report"):  # refused before any file of the claim is written
                found = ownership.read(ownership.claim_path(results_dir, run_id))
                if ownership.is_live(found, os.uname().nodename):  # its run, still before its plan
                    raise ownership.OwnershipError(ownership.refusal(run_id, kind, found,
                                                                     ownership.claim_path(results_dir, run_id)))
                if not os.path.isdir(path):
                    raise PlanError(f"hailstorm_run_id: {run_id!r} has no results directory ({path}). Fix: give the "
                                    "run id of a run (ls hailstorm_results_dir), and the hailstorm_results_dir it was "
                                    "run with")
                never = ownership.never_started(run_id, path)
                if never:
                    raise PlanError(never)
            owner = ownership.owner_process()
            taken = ownership.take(results_dir, run_id, kind, owner, host=os.uname().nodename,
                                   user=ownership.current_user())
            removed = []
            if kind in ("run", "preview"):
                entries = os.listdir(path) if os.path.isdir(path) else ([path] if os.path.lexists(path) else None)
                decided = checks.results_run_dir(results_dir, run_id, args.get("overwrite", False), entries)
                if decided["remove"]:
                    refused = ownership.overwrite_refusal(run_id, path, time.time())
                    if refused:
                        raise PlanError(refused)
                    removed = sorted(entries or [])
                    if not self._task.check_mode or kind == "preview":
                        _remove(path)
        except (PlanError, ownership.OwnershipError) as error:
            raise AnsibleActionFail(str(error)) from None
        except OSError as error:
            fix = ("free disk space on the controller, or set hailstorm_results_dir to a larger disk"
                   if error.errno in (errno.ENOSPC, errno.EDQUOT) else
                   "set hailstorm_results_dir to a directory this user may create and write, on a local disk")
            raise AnsibleActionFail(f"hailstorm_results_dir: cannot claim run {args.get('run_id')!r} in "
                                    f"{args.get('results_dir')}: {error.strerror or error}"
                                    f"{' (the disk is full)' if fix.startswith('free') else ''}. Fix: {fix}") from None
        # the claim is the controller's bookkeeping, not a change of anything managed: a second
        # converge is idempotent; removing an earlier run's results (hailstorm_overwrite) is a change
        result.update(changed=bool(removed), claim=taken["claim"], path=path,
                      removed=removed, replaced=taken["replaced"])
        return result


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)  # never follows a symbolic link inside it
        else:
            os.remove(path)
    except OSError as error:
        raise PlanError(f"hailstorm_overwrite: cannot remove the earlier run's results {path}: "
                        f"{error.strerror or error}") from None
