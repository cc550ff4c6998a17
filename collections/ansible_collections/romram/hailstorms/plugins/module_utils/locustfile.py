# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's check of the run's locustfile, before any host is touched, for every backend.

The locustfile is imported by Locust's own loader in a subprocess of the controller's Python
(`python -m hailstorm_runtime check --locustfile PATH`, the runtime the load hosts run), which
prints one JSON report: the user classes, the LoadTestShape classes, Locust's version. This module
builds that command and turns its outcome into one verdict with one message. Every message names
`hailstorm_locustfile`, the path, and what to do.

A LoadTestShape is refused: the plan (hailstorm_rps, hailstorm_rampup, hailstorm_constant,
hailstorm_rampdown) is the shape of a run, so a shape class would silently not be used.
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

CHECK_TIMEOUT = 120.0  # seconds an import may take on the controller before the check gives up
TRACEBACK_LINES = 15  # of the import's traceback, shown in the message
NO_USER_CLASS = "No User class found!"  # the runtime's (Locust's) own words
_NO_LOCUST = ("No module named 'locust'", "No module named 'gevent'", "No module named hailstorm_runtime")


def check_argv(python: str, locustfile: str, locust_args: Sequence[str] = ()) -> list[str]:
    """The command, run with PYTHONPATH set to the collection's runtime directory."""
    return [python, "-m", "hailstorm_runtime", "check", "--locustfile", locustfile,
            "--locust-args-json", json.dumps([str(arg) for arg in locust_args])]


def bad_locust_args(locust_args: Any) -> str | None:
    """A message when hailstorm_locust_args is not a list of strings."""
    if not isinstance(locust_args, (list, tuple)) or not all(isinstance(a, (str, int, float)) for a in locust_args):
        return (f"hailstorm_locust_args: expected a list of Locust command line arguments, such as "
                f"['--tags', 'checkout'], got {locust_args!r}")
    return None


def check_env(base: Mapping[str, str], runtime_dir: str, environment: Mapping[str, Any] | None) -> dict[str, str]:
    """The subprocess's environment: the controller's, the run's hailstorm_environment (a
    locustfile may read it at import), and the runtime on PYTHONPATH."""
    env = dict(base)
    env.update({str(key): str(value) for key, value in (environment or {}).items()})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (runtime_dir, base.get("PYTHONPATH", "")) if p)
    return env


def before_import(locustfile: Any, cwd: str) -> str | None:
    """A message when the path alone is wrong (unset, missing); None when it can be imported."""
    if locustfile is None or str(locustfile).strip() == "":
        return ("hailstorm_locustfile: not set; give your locustfile in hailstorm_profiles "
                "(locustfile: path/to/locustfile.py) or as -e hailstorm_locustfile=path/to/locustfile.py")
    path = str(locustfile)
    full = os.path.join(cwd, path)
    if not os.path.exists(full):
        where = "" if os.path.isabs(path) else f" (a relative path is read from {cwd})"
        return (f"hailstorm_locustfile: {path} does not exist on the controller{where}; "
                f"give the path of your locustfile, e.g. -e hailstorm_locustfile=$PWD/locustfile.py")
    return None


def _tail(text: str, lines: int = TRACEBACK_LINES) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def verdict(locustfile: str, python: str, requirements: str, rc: int | None, stdout: str, stderr: str,
            locust_args: Sequence[str] = ()) -> dict[str, Any]:
    """The check's outcome as a task result: {'failed': bool, 'msg': str, ...report}."""
    last = _tail(stderr, 1)
    lines = (stderr or "").strip().splitlines()
    argparse_error = next((k for k, line in enumerate(lines) if ": error: " in line), None)
    if rc == 2 and argparse_error is not None:  # Locust's parser, on hailstorm_locust_args
        why = " ".join([lines[argparse_error].split(": error: ", 1)[1], *lines[argparse_error + 1:]]).strip()
        return {"failed": True, "msg": (
            f"hailstorm_locust_args: {list(locust_args)!r} are not all arguments of Locust or of {locustfile} "
            f"({why}); give arguments that `locust -f {locustfile} --help` lists")}
    if rc != 0:
        if any(marker in (stderr or "") for marker in _NO_LOCUST):
            return {"failed": True, "msg": (
                f"hailstorm_locustfile: cannot check {locustfile} on the controller, its Python {python} has no "
                f"Locust ({last}); install the runtime's pinned requirements there: "
                f"{python} -m pip install -r {requirements}")}
        if last == NO_USER_CLASS:
            return {"failed": True, "msg": (
                f"hailstorm_locustfile: {locustfile} defines no User class; a locustfile needs at least one "
                f"class derived from locust.HttpUser, FastHttpUser or User, with @task methods or a tasks list")}
        return {"failed": True, "msg": (
            f"hailstorm_locustfile: {locustfile} does not import with Locust (exit {rc}): {last}; fix the "
            f"locustfile (`{python} -m locust -f {locustfile} --list` shows the same error). "
            f"Traceback:\n{_tail(stderr)}")}
    try:
        report = json.loads((stdout or "").strip().splitlines()[-1])
        users, shapes = list(report["user_classes"]), list(report.get("shape_classes") or [])
    except (IndexError, ValueError, KeyError, TypeError):
        return {"failed": True, "msg": (
            f"hailstorm_locustfile: the check of {locustfile} printed no report (stdout: {_tail(stdout, 3)!r}); "
            f"does the locustfile print to stdout or exit at import? Remove that, or guard it with "
            f"`if __name__ == '__main__':`")}
    if shapes:
        return {"failed": True, "user_classes": users, "shape_classes": shapes, "msg": (
            f"hailstorm_locustfile: {locustfile} defines the LoadTestShape {', '.join(shapes)}; romram.hailstorms "
            f"takes the shape of a run from its plan (hailstorm_rps, hailstorm_rampup, hailstorm_constant, "
            f"hailstorm_rampdown) and would not use it: remove the class from the locustfile (keep it in a "
            f"file of its own for plain Locust) and give the shape as those settings")}
    return {"failed": False, "changed": False, "user_classes": users, "shape_classes": [],
            "locust": report.get("locust"), "import_seconds": report.get("import_seconds"),
            "msg": f"{locustfile}: user classes {', '.join(users)} (Locust {report.get('locust')})"}


def timed_out(locustfile: str, timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
    return {"failed": True, "msg": (
        f"hailstorm_locustfile: importing {locustfile} on the controller took over {timeout:g} s; does it wait "
        f"for something at import (a network call, input())? Move that into on_start or a test_start listener")}
