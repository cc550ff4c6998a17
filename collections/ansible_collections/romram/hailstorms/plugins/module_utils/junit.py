# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""junit.xml of a run, for the test reports of Jenkins, GitLab and GitHub: pure Python.

One testsuite `romram.hailstorms <run id>`; one testcase per run-state check (run_state.CHECKS:
`run: processes`, `run: failures`, ...) and one per threshold (`threshold: p95_ms (all labels)`).
A broken one carries a <failure> whose message is the verdict line the run printed (the run
state's reasons, the threshold's message); every one, passing too, carries the run's duration as
its `time` and what was measured (the verdict line) as its <system-out>. A relative threshold
(compare.evaluate_relative) is `threshold: p95_ms max_increase against the baseline (all labels)`,
its message naming both runs and both figures. Everything is escaped by ElementTree.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Mapping


def junit_xml(summary: Mapping[str, Any], run_id: str, seconds: float | None = None) -> str:
    """The junit.xml text of a summary that carries run_state's `checks` and the thresholds'
    verdicts (summary["thresholds"]["verdicts"])."""
    # (name, failure message or None, classname, what was measured: the passing case's output too)
    cases: list[tuple[str, str | None, str, str]] = []
    if seconds is None:
        seconds = (summary.get("clock") or {}).get("seconds")
    for check in summary.get("checks") or []:
        message = None
        if not check.get("passed"):
            message = f"run state: {str(check.get('state', '')).upper()} - " + " -- ".join(check.get("reasons") or [])
        cases.append((f"run: {check['check']} ({check.get('description', '')})", message, "run",
                      f"run state {check.get('state', '')}: " + (" -- ".join(check.get("reasons") or []) or "passed")))
    for verdict in (summary.get("thresholds") or {}).get("verdicts") or []:
        scope = "all labels" if verdict.get("label") == "all" else verdict.get("label")
        relative = verdict.get("relative")
        name = (f"threshold: {verdict['threshold']} {relative['bound']} against the baseline ({scope})" if relative
                else f"threshold: {verdict['threshold']} ({scope})")
        cases.append((name, None if verdict.get("passed") else str(verdict.get("message", "")),
                      "thresholds", str(verdict.get("message", ""))))
    failures = sum(1 for _name, message, _cls, _out in cases if message is not None)
    suite = ET.Element("testsuite", {
        "name": f"romram.hailstorms {run_id}", "tests": str(len(cases)), "failures": str(failures),
        "errors": "0", "skipped": "0", **({"time": f"{seconds:.3f}"} if seconds is not None else {})})
    for name, message, classname, measured in cases:
        case = ET.SubElement(suite, "testcase", {"name": name, "classname": f"hailstorms.{classname}",
                                                 **({"time": f"{seconds:.3f}"} if seconds is not None else {})})
        if message is not None:
            failure = ET.SubElement(case, "failure", {"message": message, "type": classname})
            failure.text = message
        ET.SubElement(case, "system-out").text = measured
    root = ET.Element("testsuites", {"name": "romram.hailstorms", "tests": str(len(cases)),
                                     "failures": str(failures)})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
