# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_stop_request (documentation in plugins/modules/)."""
from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import contract
from ansible_collections.romram.hailstorms.plugins.module_utils import checks, ownership
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


class ActionModule(ActionBase):
    """stop.yml records a stop request against the live runs' claims (state=present); distribute.yml
    checks for one against its own claim before each step (state=check) and ends aborted (exit 12)."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        state = str(args.get("state", "check"))
        try:
            results_dir = checks.absolute_path(args.get("results_dir"), "hailstorm_results_dir")
            run_id = checks.run_id(args["run_id"]) if args.get("run_id") not in (None, "") else None
        except PlanError as error:
            raise AnsibleActionFail(str(error)) from None
        host = os.uname().nodename
        if state == "present":
            runs = [run_id] if run_id else ownership.live_runs(results_dir, host)
            owner = ownership.owner_process()
            by = {"pid": owner["pid"], "playbooks": owner["playbooks"], "host": host, "user": ownership.current_user()}
            requests = {}
            for run in runs:
                if self._task.check_mode:
                    continue
                made = ownership.request_stop(results_dir, run, by) if os.path.isdir(results_dir) else {}
                if made:
                    requests[run] = f"stop requested for run {run!r}, owned by {ownership.describe(made['claim'])}"
            result.update(changed=bool(requests), requests=requests, last=ownership.last_of(results_dir, run_id))
            return result
        if state == "report":
            requests = dict(args.get("requests") or {})
            if not self._task.check_mode:  # a launched run whose controller ended, stopped on its hosts
                owner = ownership.owner_process()
                by = {"pid": owner["pid"], "playbooks": owner["playbooks"], "host": host,
                      "user": ownership.current_user()}
                for run in sorted(set(args.get("stopped_runs") or [])):
                    try:
                        run = checks.run_id(run)
                    except PlanError:
                        continue  # not a run id of ours: nothing of it in the results directory
                    if os.path.isdir(results_dir) and ownership.mark_stopped(results_dir, run, by):
                        requests.setdefault(run, f"run {run!r} marked stopped ({results_dir}/{run}/"
                                                 f"{contract.STOPPED_FILE}): hailstorm_overwrite may reuse its id")
            lines = ownership.stop_lines(requests, dict(args.get("stopped") or {}), run_id,
                                         ownership.last_of(results_dir, run_id))
            result.update(changed=False, lines=lines)
            return result
        if state != "check" or not run_id:
            raise AnsibleActionFail("hailstorm_stop_request: state=check needs the run_id")
        claim = ownership.read(ownership.claim_path(results_dir, run_id))
        request = ownership.stop_requested(results_dir, run_id, claim) if claim else {}
        if not request:
            result.update(changed=False, stopped=False)
            return result
        step = str(args.get("step") or "its next step")
        run_dir = os.path.join(results_dir, run_id)
        try:
            os.makedirs(run_dir, mode=0o750, exist_ok=True)
            with open(os.path.join(run_dir, contract.STOPPED_FILE), "w", encoding="utf-8") as handle:
                json.dump({**request, "before": step}, handle)
                handle.write("\n")
        except OSError:
            pass  # the message below still says it
        result.update(failed=True, stopped=True, request=request,
                      msg=ownership.stopped_message(run_id, request, step),
                      hailstorm_exit_code=ownership.EXIT_ABORTED)
        return result
