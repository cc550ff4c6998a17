# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of everything a user gives besides the run settings: the run id, paths, and the
numeric and boolean options of the roles.

Pure Python (no Ansible). Every value given with ``-e`` is a string ('50', '1e3', 'abc'): each
option is converted here, once, on the controller, or refused with a message that names the
variable, the value and a fix that is itself valid. The checks run before any host is touched.
"""
from __future__ import annotations

import math
import posixpath
import re
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from ansible_collections.romram.hailstorms.plugins.module_utils import contract
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

RUN_ID_MAX = 64
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
# A preview (plan.yml, --check) writes only this file into the run's results directory; a run
# may take over a directory that holds nothing else (a launched run's holds launch.json too).
PREVIEW_FILES = frozenset({contract.PLAN_FILE})
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n", ""}


def run_id(value: Any) -> str:
    """The run id, refused unless it is a safe directory and unit name.

    Letters, digits, '.', '_', '-'; no leading dot; 1 to 64 characters. It names a directory on
    the controller and on every load host, containers and systemd drop-ins.
    """
    text = "" if value is None else str(value)
    if not text or len(text) > RUN_ID_MAX or not _RUN_ID_RE.match(text):
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", text).lstrip(".-")[:RUN_ID_MAX] or "run1"
        raise PlanError(
            f"hailstorm_run_id: {value!r} is not a safe run id; use 1 to {RUN_ID_MAX} letters, digits, "
            f"'.', '_' or '-', not starting with a dot (for example hailstorm_run_id={safe})"
        )
    return text


def absolute_path(value: Any, name: str) -> str:
    """An absolute path without '..' components or control characters, normalised."""
    text = "" if value is None else str(value)
    if not text.startswith("/"):
        raise PlanError(f"{name}: {value!r} is not an absolute path; give one that starts with '/', "
                        f"such as {name}=/var/lib/hailstorms")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise PlanError(f"{name}: {value!r} contains a control character; give a plain absolute path")
    if ".." in text.split("/"):
        raise PlanError(f"{name}: {value!r} contains '..'; give the directory itself, "
                        f"such as {name}={posixpath.normpath(text)}")
    return posixpath.normpath(text)


def results_run_dir(results_dir: Any, run: Any, overwrite: Any = False,
                    entries: Iterable[str] | None = None) -> dict[str, Any]:
    """Where the run's results go on the controller, and whether an old directory must go first.

    `entries` are the names in that directory if it exists (None: it does not). A directory
    that holds more than a preview's plan.json is refused unless `overwrite` (then it is removed
    before the run, never appended to).
    """
    path = posixpath.join(absolute_path(results_dir, "hailstorm_results_dir"), run_id(run))
    return {"path": path, "remove": used_directory(path, run, overwrite, entries, PREVIEW_FILES)}


def host_run_dir(work_dir: Any, run: Any, overwrite: Any = False,
                 entries: Iterable[str] | None = None) -> dict[str, Any]:
    """The run's work directory on a load host (hailstorm_work_dir/run id), and whether an earlier
    run's directory must go first: one that holds anything is refused unless `overwrite` (its
    data.json, start signal and records would mix with the new run's)."""
    path = posixpath.join(absolute_path(work_dir, "hailstorm_work_dir"), run_id(run))
    return {"path": path, "remove": used_directory(path, run, overwrite, entries)}


def used_directory(path: str, run: Any, overwrite: Any, entries: Iterable[str] | None,
                   reusable: frozenset[str] = frozenset()) -> bool:
    """Whether the directory `path` of run `run` must be removed before the run (it holds more than
    `reusable` and `overwrite` is true); refused when it holds more without `overwrite`."""
    overwrite = to_bool(overwrite, "hailstorm_overwrite")
    found = None if entries is None else sorted(entries)
    if found is None:
        return False
    if overwrite:
        return True
    if set(found) <= reusable:
        return False
    shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
    raise PlanError(
        f"hailstorm_run_id: {run!r} was used before: {path} exists and holds {shown}; a run never "
        "adds to another run's results. Give a new hailstorm_run_id (unset: a UTC timestamp), or "
        "hailstorm_overwrite=true to remove that directory first"
    )


def kind_of(value: Any) -> str:
    """What a value is, in a user's words (never a Python class name such as _AnsibleTaggedStr)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    return "a value of another kind"


ENVIRONMENT_EXAMPLE = "hailstorm_environment: {API_TOKEN: \"{{ vault_api_token }}\"}"


def environment_problem(value: Any) -> str | None:
    """A message when hailstorm_environment is not a mapping of environment variable names to
    values; None when it is (or is empty). Its values are never shown: they are secrets."""
    name = "hailstorm_environment"
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        return (f"{name}: expected a mapping of environment variable names to values, got {kind_of(value)} (not "
                f"shown: it may hold a secret); give a mapping, such as {ENVIRONMENT_EXAMPLE} in YAML (the value "
                f"from Ansible Vault), or -e '{{\"{name}\": {{\"API_TOKEN\": \"...\"}}}}'")
    bad = [key for key in value if not isinstance(key, str) or not key.strip() or "=" in key or "\0" in key]
    if bad:
        return (f"{name}: {', '.join(repr(key) for key in bad)} cannot be environment variable names (a name is a "
                f"non-empty string without '='); rename them, such as {ENVIRONMENT_EXAMPLE}")
    return None


def to_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PlanError(f"{name}: expected true or false, got {value!r}; give {name}=true or {name}=false")


class Option(NamedTuple):
    kind: str            # 'int', 'float' or 'bool'
    low: float | None    # smallest accepted value
    high: float | None   # largest accepted value
    unit: str            # what the number counts, for the message


# The options a user may set that are numbers or booleans (run settings are the planner's).
# Bounds: what a run can use; outside them the value is a typing error, not a choice.
OPTIONS: dict[str, Option] = {
    "hailstorm_cores": Option("int", 1, 1024, "usable cores of a load host"),
    "hailstorm_disk_reserve_mb": Option("int", 0, 10_000_000, "MiB kept free on a load host"),
    "hailstorm_disk_bytes_per_request": Option("int", 0, 100_000, "bytes per request"),
    "hailstorm_deadline_grace": Option("int", 1, 3600, "seconds"),
    "hailstorm_progress_interval": Option("int", 1, 3600, "seconds"),
    "hailstorm_clock_samples": Option("int", 1, 100, "samples"),
    "hailstorm_max_clock_offset": Option("float", 0.001, 60, "seconds"),
    "hailstorm_health_timeout": Option("int", 1, 600, "seconds"),
    "hailstorm_startup_seconds": Option("float", 0, 600, "seconds"),
    "hailstorm_nofile_limit": Option("int", 1024, 1 << 30, "open files"),
    "hailstorm_preview_points": Option("int", 1, 1000, "intervals"),
    "hailstorm_docker_stop_timeout": Option("int", 0, 3600, "seconds"),
    "hailstorm_start_lead": Option("float", 0, 3600, "seconds"),
    "hailstorm_exit_code_on_error": Option("int", 0, 255, "the exit code of a failed run; 0: failures never fail it"),
    "hailstorm_jtl": Option("bool", None, None, ""),
    "hailstorm_overwrite": Option("bool", None, None, ""),
    "hailstorm_health_validate_certs": Option("bool", None, None, ""),
    "hailstorm_dry_run": Option("bool", None, None, ""),
}


def option(name: str, value: Any) -> Any:
    """One option converted to its kind, or a PlanError naming it, its value and a valid fix."""
    spec = OPTIONS[name]
    if spec.kind == "bool":
        return to_bool(value, name)
    example = _example(spec)
    if isinstance(value, bool) or value is None:
        number = math.nan
    else:
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            number = math.nan
    if not math.isfinite(number):
        raise PlanError(f"{name}: expected {_kind(spec)} ({spec.unit}), got {value!r}; "
                        f"for example {name}={example}")
    if spec.kind == "int" and number != int(number):
        raise PlanError(f"{name}: expected a whole number ({spec.unit}), got {value!r}; "
                        f"for example {name}={_fmt(spec, _clamp(spec, math.floor(number)))}")
    if spec.low is not None and number < spec.low:
        raise PlanError(f"{name}: {value!r} is under {_fmt(spec, spec.low)} ({spec.unit}); "
                        f"give at least {name}={_fmt(spec, spec.low)}")
    if spec.high is not None and number > spec.high:
        raise PlanError(f"{name}: {value!r} is over {_fmt(spec, spec.high)} ({spec.unit}); "
                        f"give at most {name}={_fmt(spec, spec.high)}")
    return int(number) if spec.kind == "int" else number


def _clamp(spec: Option, number: float) -> float:
    low = spec.low if spec.low is not None else number
    high = spec.high if spec.high is not None else number
    return min(max(number, low), high)


def _kind(spec: Option) -> str:
    return "a whole number" if spec.kind == "int" else "a number"


def _fmt(spec: Option, number: float) -> str:
    return str(int(number)) if spec.kind == "int" else f"{number:g}"


def _example(spec: Option) -> str:
    low = spec.low or 0
    return _fmt(spec, max(low, min(spec.high if spec.high is not None else 10, 10)))


def check_options(values: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Every known option in `values` converted (keys without the `hailstorm_` prefix), or one
    PlanError listing each bad option with its value and fix.

    `hosts` maps a load host to its own options (host variables such as hailstorm_cores); a bad
    one is named with its host. Options that are not set are left out (their role defaults hold).
    """
    checked: dict[str, Any] = {}
    errors: list[str] = []
    for name, value in values.items():
        if name in OPTIONS and value is not None:
            try:
                checked[name[len("hailstorm_"):]] = option(name, value)
            except PlanError as error:
                errors.append(str(error))
    for host, host_values in (hosts or {}).items():
        for name, value in (host_values or {}).items():
            if name in OPTIONS and value is not None and value != values.get(name):
                try:
                    option(name, value)
                except PlanError as error:
                    errors.append(f"{host}: {error}")
    if errors:
        raise PlanError(" -- ".join(errors))
    return checked


# --- hailstorm_pip_packages -------------------------------------------------------------------
# A requirement as hailstorm_pip_packages takes it: PEP 508 without URLs, markers or options, i.e.
# a name, optional extras in [], optional version specifiers. Spaces only as separators (a newline
# would add a line, e.g. an option, to the requirements file the load hosts install from).
_PIP_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PIP_SPECIFIER = r"(?:~=|===|==|!=|<=|>=|<|>) *[A-Za-z0-9*][A-Za-z0-9._*+!-]*"
_PIP_REQUIREMENT_RE = re.compile(
    rf"(?P<name>{_PIP_NAME}) *(?:\[ *(?P<extras>{_PIP_NAME}(?: *, *{_PIP_NAME})*) *\])?"
    rf" *(?P<specifier>{_PIP_SPECIFIER}(?: *, *{_PIP_SPECIFIER})*)?")
_PIP_PATH_RE = re.compile(r"[A-Za-z0-9._+-]*[/\\][A-Za-z0-9._+/\\-]*")  # wheels/pkg.whl, a path without a scheme
PIP_EXAMPLE = "locust-plugins==5.0.3"
_PIP_FORM = ("a requirement: a package name, optional extras in [] and optional version specifiers, "
             "such as 'locust-plugins==5.0.3', 'requests[socks]>=2.31,<3' or 'boto3'")


def distribution_key(name: str) -> str:
    """A distribution's name as pip compares names (PEP 503): 'Locust_Plugins' -> 'locust-plugins'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_pins(text: str) -> dict[str, str]:
    """The distributions the runtime's requirements.txt pins, by distribution_key, to their line:
    {"locust": "locust==2.47.0"}. Comments and blank lines are skipped."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        match = _PIP_REQUIREMENT_RE.match(line) if line else None
        if match:
            pins[distribution_key(match.group("name"))] = line
    return pins


def pip_packages(value: Any, pins: Mapping[str, str] | None = None) -> list[str]:
    """hailstorm_pip_packages checked: a list of plain requirements (name, extras, version
    specifiers), each stripped; or one PlanError naming each bad item and a valid fix.

    A package that the runtime pins itself (`pins`, runtime_pins of its requirements.txt: Locust)
    is refused: the load hosts install both lists in one pip resolution, and the local backend runs
    the controller's Locust, so another version of it can only fail; the runtime's version is there.

    Refused: a leading '-' (a pip option such as --index-url or -e, which would change where or
    what pip installs), URLs and paths ('name @ https://...', './pkg', 'git+https://...'),
    environment markers (';'), and any other character (quotes, '$', '`', '|', newlines): the
    requirements go into a file given to pip with -r, so nothing else may reach it.
    """
    name = "hailstorm_pip_packages"
    if value is None or value == "":
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        item = str(value).strip() if isinstance(value, str) else PIP_EXAMPLE
        item = item if _PIP_REQUIREMENT_RE.fullmatch(item) else PIP_EXAMPLE
        raise PlanError(f"{name}: expected a list of pip requirements, got {value!r}; give a list, such as "
                        f"{name}: ['{item}'] in YAML or -e '{{\"{name}\": [\"{item}\"]}}'")
    checked: list[str] = []
    errors: list[str] = []
    for index, item in enumerate(value):
        problem = _pip_requirement_problem(item) or _pinned_problem(item, pins or {})
        if problem:
            errors.append(f"{name}: item {index + 1}, {item!r}, {problem}")
        else:
            checked.append(str(item).strip())
    if errors:
        raise PlanError(" -- ".join(errors))
    return checked


def _pinned_problem(item: str, pins: Mapping[str, str]) -> str | None:
    match = _PIP_REQUIREMENT_RE.fullmatch(item.strip())
    pin = pins.get(distribution_key(match.group("name"))) if match else None
    if pin is None:
        return None
    return (f"names {match.group('name')}, which romram.hailstorms pins itself ({pin}, in the runtime's "
            f"requirements.txt) on every load host and for the local backend. Fix: remove it from "
            f"hailstorm_pip_packages; the locustfile gets {pin}")


def _pip_requirement_problem(item: Any) -> str | None:
    if not isinstance(item, str):
        return f"is not a string. Fix: give {_PIP_FORM}"
    text = item.strip()
    if not text:
        return "is empty; remove it"
    if text.startswith("-"):
        return ("is a pip option, not a requirement; options (--index-url, -e, -r, ...) are not accepted. Fix: "
                f"give {_PIP_FORM}; for load hosts without the package index put the wheels in hailstorm_wheelhouse")
    if "://" in text or "@" in text or text.startswith((".", "/", "~")) or _PIP_PATH_RE.fullmatch(text):
        return ("is a URL or a path, not a requirement from a package index. Fix: put the package's wheel in "
                f"hailstorm_wheelhouse and give its name and version, such as '{PIP_EXAMPLE}'")
    if not _PIP_REQUIREMENT_RE.fullmatch(text):
        return ("is not a plain requirement (no environment markers, options, quotes, spaces inside a name or "
                f"shell characters). Fix: give {_PIP_FORM}")
    try:
        from packaging.requirements import InvalidRequirement, Requirement  # ansible-core's own dependency
    except ImportError:  # pragma: no cover - the form above is the check then
        return None
    try:
        Requirement(text)
    except InvalidRequirement as error:
        first = str(error).splitlines()[0] if str(error) else "invalid"
        return f"is not a valid requirement ({first}). Fix: give {_PIP_FORM}"
    return None


def controller_pip_packages(requirements: Iterable[str], python: str,
                            version_of: Callable[[str], str] | None = None) -> list[str]:
    """The local backend runs the controller's own Python: each of hailstorm_pip_packages (already
    checked by pip_packages) must be installed there in a version its specifiers accept; nothing is
    installed into the controller's environment. A PlanError names each one missing, with the pip
    command that fixes it; returns the requirements.

    `version_of(name)` gives an installed distribution's version (default importlib.metadata's, i.e.
    the Python this runs in; pass `python` = that Python's path, for the message). Extras are not
    checked (only the named distribution).
    """
    from importlib import metadata

    from packaging.specifiers import SpecifierSet

    version_of = version_of or metadata.version
    requirements = list(requirements)
    errors: list[str] = []
    for text in requirements:
        match = _PIP_REQUIREMENT_RE.fullmatch(text.strip())
        if not match:
            raise PlanError(f"hailstorm_pip_packages: {text!r} is not {_PIP_FORM}")
        where = f"the controller's Python ({python}), which the local backend runs"
        fix = f"pip install '{text}'"
        try:
            installed = version_of(match.group("name"))
        except metadata.PackageNotFoundError:
            errors.append(f"hailstorm_pip_packages: {text} is not installed in {where}: {fix}")
            continue
        specifier = SpecifierSet((match.group("specifier") or "").replace(" ", ""))
        if not specifier.contains(installed, prereleases=True):
            errors.append(f"hailstorm_pip_packages: {text} does not match {match.group('name')} {installed}, "
                          f"installed in {where}: {fix}")
    if errors:
        raise PlanError(" -- ".join(errors))
    return requirements
