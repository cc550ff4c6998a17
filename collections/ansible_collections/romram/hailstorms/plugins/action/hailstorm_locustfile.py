# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_locustfile (documentation in plugins/modules/).
Runs on the controller whatever the task's host: the check is of the controller's locustfile."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import checks, locustfile

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"


def _number(value):
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None  # the plan refuses a bad hailstorm_rps itself, naming it


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("path", "python", "environment", "timeout", "locust_args", "dry_run", "rps",
                             "threshold_labels", "pip_packages"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        args = self._task.args
        path = args.get("path")
        python = str(args.get("python") or sys.executable)
        cwd = os.getcwd()
        locust_args = args.get("locust_args") or []
        timeout = locustfile.import_timeout(args.get("timeout"))
        problem = (locustfile.before_import(path, cwd) or locustfile.bad_locust_args(locust_args)
                   or checks.environment_problem(args.get("environment"))
                   or (timeout if isinstance(timeout, str) else None))
        if problem:
            result.update(failed=True, msg=problem)
            return result
        whole = timeout + locustfile.CHECK_SLACK
        try:
            argv = locustfile.check_argv(python, str(path), locust_args, bool(args.get("dry_run", False)), timeout)
            done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                                  env=locustfile.check_env(os.environ, str(RUNTIME), args.get("environment")),
                                  timeout=whole, check=False)
        except subprocess.TimeoutExpired:
            result.update(locustfile.timed_out(str(path), whole))
            return result
        except OSError as error:
            result.update(failed=True, msg=f"hailstorm_locustfile: cannot run {python} on the controller to check "
                                           f"{path}: {error}; give a Python with Locust as the python option")
            return result
        result.update(locustfile.verdict(str(path), python, str(RUNTIME / "requirements.txt"),
                                         done.returncode, done.stdout, done.stderr, locust_args,
                                         _number(args.get("rps")), [str(label) for label in
                                                                    args.get("threshold_labels") or []],
                                         None if args.get("pip_packages") is None
                                         else [str(package) for package in args.get("pip_packages")]))
        return result
