# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""junit.xml of a run, for the test reports of Jenkins, GitLab and GitHub: pure Python.

One testsuite `romram.hailstorms <run id>`; one testcase per run-state check (run_state.CHECKS:
`run: processes`, `run: failures`, ...) and one per threshold (`threshold: p95_ms (all labels)`).
A broken one carries a <failure> whose message is the verdict line the run printed (the run
state's reasons, the threshold's message). Everything is escaped by ElementTree.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Mapping


def junit_xml(summary: Mapping[str, Any], run_id: str, seconds: float | None = None) -> str:
    """The junit.xml text of a summary that carries run_state's `checks` and the thresholds'
    verdicts (summary["thresholds"]["verdicts"])."""
    cases: list[tuple[str, str | None, str]] = []  # (name, failure message or None, classname)
    for check in summary.get("checks") or []:
        message = None
        if not check.get("passed"):
            message = f"run state: {str(check.get('state', '')).upper()} - " + " -- ".join(check.get("reasons") or [])
        cases.append((f"run: {check['check']} ({check.get('description', '')})", message, "run"))
    for verdict in (summary.get("thresholds") or {}).get("verdicts") or []:
        name = f"threshold: {verdict['threshold']} ({'all labels' if verdict.get('label') == 'all' else verdict.get('label')})"
        cases.append((name, None if verdict.get("passed") else str(verdict.get("message", "")), "thresholds"))
    failures = sum(1 for _name, message, _cls in cases if message is not None)
    suite = ET.Element("testsuite", {
        "name": f"romram.hailstorms {run_id}", "tests": str(len(cases)), "failures": str(failures),
        "errors": "0", "skipped": "0", **({"time": f"{seconds:.3f}"} if seconds is not None else {})})
    for name, message, classname in cases:
        case = ET.SubElement(suite, "testcase", {"name": name, "classname": f"hailstorms.{classname}"})
        if message is not None:
            failure = ET.SubElement(case, "failure", {"message": message, "type": classname})
            failure.text = message
    root = ET.Element("testsuites", {"name": "romram.hailstorms", "tests": str(len(cases)),
                                     "failures": str(failures)})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
