# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which run is the baseline (hailstorm_baseline) and the run's tag (hailstorm_tag): pure Python.

    hailstorm_baseline: 20261206T122747Z   # a run id: <hailstorm_results_dir>/<id>
    hailstorm_baseline: /ci/artifacts/run-41   # a results directory (holding plan.json, summary.json)
    hailstorm_baseline: last               # the newest completed run of the same profile and target
    hailstorm_baseline: release-41         # the newest run marked hailstorm_tag: release-41

`resolve` finds it and `load` reads it, both before any host is touched; each refusal names the
variable, the value and a fix. docs/comparing-runs.md.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Iterator, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils import compare as compare_module
from ansible_collections.romram.hailstorms.plugins.module_utils.compare import SCHEMA, BLOCK, CompareError

VARIABLE = "hailstorm_baseline"
TAG_VARIABLE = "hailstorm_tag"
LAST = "last"
PLAN_FILE = "plan.json"
SUMMARY_FILE = "summary.json"
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def checked_tag(tag: Any) -> str | None:
    """The tag (None: none) or CompareError naming hailstorm_tag, its value and a fix."""
    if tag is None or tag == "":
        return None
    if not isinstance(tag, str) or not _TAG.match(tag) or tag == LAST:
        raise CompareError(f"{TAG_VARIABLE}: {tag!r} is not a tag; give 1 to 64 letters, digits, '.', '_' or '-' "
                           f"starting with a letter or digit (and not {LAST!r}), e.g. {TAG_VARIABLE}: release-41")
    return tag


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run_dirs(results_dir: str) -> Iterator[tuple[str, str]]:
    """(run id, directory) of every run in the results directory (a directory holding plan.json)."""
    try:
        names = sorted(os.listdir(results_dir))
    except OSError:
        return
    for name in names:
        path = os.path.join(results_dir, name)
        if os.path.isfile(os.path.join(path, PLAN_FILE)):
            yield name, path


def _start(summary: Mapping[str, Any], run_id: str) -> tuple[float, str]:
    return float((summary.get("clock") or {}).get("start_epoch") or 0.0), run_id


def _newest(results_dir: str, own: str | None, keep: Any) -> tuple[str, str] | None:
    """The newest run (by start time, then id) that is not `own` and whose (plan, summary) `keep` accepts."""
    best: tuple[tuple[float, str], str, str] | None = None
    for run_id, path in run_dirs(results_dir):
        if run_id == own:
            continue
        try:
            plan, summary = _read_json(os.path.join(path, PLAN_FILE)), _read_json(os.path.join(path, SUMMARY_FILE))
        except (OSError, ValueError):
            continue
        if not isinstance(plan, Mapping) or not isinstance(summary, Mapping) or not keep(plan, summary):
            continue
        key = _start(summary, run_id)
        if best is None or key > best[0]:
            best = (key, run_id, path)
    return (best[1], best[2]) if best else None


def resolve(value: Any, results_dir: str, own_run_id: str | None = None, profile: str | None = None,
            target: str | None = None, allow_self: bool = False) -> dict[str, str] | None:
    """{"run_id", "path", "how"} of the baseline `value` names, None for none, else CompareError
    naming hailstorm_baseline, its value and a fix. A run id or a path is taken as named; `last`
    and a tag pick the newest matching run (never the run itself). A run is its own baseline only
    with allow_self (report.yml re-judging a finished run: every delta is 0)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CompareError(f"{VARIABLE}: expected a run id, a results directory, {LAST!r} or a tag, got {value!r}; "
                           f"e.g. {VARIABLE}: {LAST}")
    available = [run_id for run_id, _path in run_dirs(results_dir) if run_id != own_run_id]
    shown = ", ".join(available[-5:]) or "none"
    if value == LAST:
        found = _newest(results_dir, own_run_id, lambda plan, summary: summary.get("state") == "completed" and (
            profile is None or plan.get("profile") == profile) and (target is None or plan.get("target") == target))
        if not found:
            raise CompareError(f"{VARIABLE}: {LAST!r} found no completed run of profile {profile!r} against {target!r} "
                               f"in {results_dir} (runs there: {shown}); give a run id, e.g. {VARIABLE}: "
                               f"{available[-1] if available else '<run id>'}, or run once without a baseline first")
        return {"run_id": found[0], "path": found[1], "how": f"{LAST}: the newest completed run of profile {profile}"}
    if os.sep in value or value.startswith("."):
        path = os.path.abspath(os.path.expanduser(value))
        if not os.path.isfile(os.path.join(path, PLAN_FILE)):
            raise CompareError(f"{VARIABLE}: {value!r} is no results directory of a run (no {PLAN_FILE} in {path}); "
                               "give the directory of one run (results/<run id>) or a run id of "
                               f"{results_dir}: {shown}")
        return {"run_id": os.path.basename(path.rstrip(os.sep)), "path": path, "how": "a results directory"}
    if value == own_run_id and not allow_self:
        raise CompareError(f"{VARIABLE}: {value!r} is this run itself; give an earlier run, e.g. {VARIABLE}: "
                           f"{available[-1] if available else LAST}")
    path = os.path.join(results_dir, value)
    if os.path.isfile(os.path.join(path, PLAN_FILE)):
        return {"run_id": value, "path": path, "how": "a run id"}
    found = _newest(results_dir, own_run_id, lambda plan, _summary: plan.get("tag") == value)
    if found:
        return {"run_id": found[0], "path": found[1], "how": f"the newest run tagged {value}"}
    raise CompareError(f"{VARIABLE}: {value!r} is no run id in {results_dir} and no run there is tagged so "
                       f"({TAG_VARIABLE}); runs there: {shown}; give one of them, {LAST!r}, or a results directory")


def load(found: Mapping[str, str], value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, plan) of the resolved baseline, or CompareError: unreadable, not completed, or
    without the merged histograms."""
    path = found["path"]
    try:
        summary, plan = _read_json(os.path.join(path, SUMMARY_FILE)), _read_json(os.path.join(path, PLAN_FILE))
    except (OSError, ValueError) as exc:
        raise CompareError(f"{VARIABLE}: {value!r} (run {found['run_id']}, {path}) cannot be read: {exc}; rebuild its "
                           f"summary with ansible-playbook playbooks/report.yml -e hailstorm_run_id={found['run_id']} "
                           "or give another run") from None
    if not isinstance(summary, dict) or not isinstance(plan, dict):
        raise CompareError(f"{VARIABLE}: {value!r} (run {found['run_id']}): summary.json or plan.json is not an "
                           "object; give another run")
    if summary.get("state") != "completed":
        raise CompareError(f"{VARIABLE}: {value!r} (run {found['run_id']}) did not complete (state "
                           f"{summary.get('state')!r}): its figures are no measure of the service; give a completed "
                           f"run, e.g. {VARIABLE}: {LAST}")
    block = summary.get(BLOCK)
    if not isinstance(block, Mapping) or block.get("schema") != SCHEMA:
        raise CompareError(f"{VARIABLE}: {value!r} (run {found['run_id']}): its summary.json has no merged histograms "
                           "(written by an older version); add them with ansible-playbook playbooks/report.yml -e "
                           f"hailstorm_run_id={found['run_id']} -e hailstorm_results_dir={os.path.dirname(path)}")
    return summary, plan


def needs_baseline(checked: Mapping[str, Any] | None, found: Any) -> None:
    """CompareError when relative thresholds are set without a baseline (nothing to judge them against)."""
    relative = (checked or {}).get("relative") or []
    if relative and not found:
        names = ", ".join(sorted({f"{rule['threshold']}: {{{rule['bound']}: ...}}" for rule in relative}))
        raise CompareError(f"hailstorm_thresholds: {names} judge this run against a baseline, but {VARIABLE} is "
                           f"not set; set it, e.g. -e {VARIABLE}=last (the newest completed run of this profile), or "
                           "remove the relative thresholds")


def checked_baseline(value: Any, checked: Mapping[str, Any] | None, results_dir: str, run_id: str | None,
                     profile: str | None, settings: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """What the plan role records of the baseline before any host is touched: {"value", "run_id",
    "path", "how", "differences"} (plan_differences against the run's settings), or None without
    one; CompareError for a baseline that cannot be read, is not completed, or for relative
    thresholds without one."""
    found = resolve(value, results_dir, run_id, profile, (settings or {}).get("target"))
    needs_baseline(checked, found)
    if not found:
        return None
    _summary, plan = load(found, value)
    return {"value": value, **found, "differences": compare_module.plan_differences(settings or {}, plan)}


def attach(summary: dict[str, Any], merged: Mapping[str, Any], plan: Mapping[str, Any],
           checked: Mapping[str, Any], path: str, given: Any = None,
           results_dir: str | None = None) -> list[dict[str, Any]]:
    """The comparison of a finished run (hailstorm_results): writes the `histograms` block and,
    with a baseline (`given`: hailstorm_baseline of report.yml, else the one recorded in plan.json
    by the plan role), the `comparison` block into `summary`; returns the relative thresholds'
    verdicts. CompareError for a baseline that cannot be used."""
    summary[BLOCK] = compare_module.histogram_block(merged, plan, checked.get("phase", "constant"))
    recorded = plan.get("baseline") or {}
    run_id = str(plan.get("run_id") or os.path.basename(path.rstrip(os.sep)))
    root = results_dir or os.path.dirname(path.rstrip(os.sep))
    if given and given != recorded.get("value"):
        found = resolve(given, root, run_id, plan.get("profile"), plan.get("target"), allow_self=True)
    elif recorded.get("path"):
        given = recorded.get("value") or recorded["path"]
        found = {"run_id": recorded.get("run_id") or os.path.basename(recorded["path"]), "path": recorded["path"]}
    else:
        found = None
    needs_baseline(checked, found)
    if found is None:
        return []
    base_summary, base_plan = load(found, given)
    summary[compare_module.COMPARISON] = compare_module.compare(summary, base_summary, plan, base_plan, run_id,
                                                                found["run_id"])
    return compare_module.evaluate_relative(checked, summary[compare_module.COMPARISON])
