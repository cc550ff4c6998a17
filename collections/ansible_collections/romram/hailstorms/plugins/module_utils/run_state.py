# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a run ended, from its summary and its plan: pure Python, no Ansible.

  completed   every planned load process ran to its planned end and ran the task iterations
              the plan counts
  degraded    it ran to the end, but not as planned: a process failed or was ended by its
              deadline with clients still inside a task, clients did not start, the task
              iterations (requests, in records without that count) fell short of the plan, or a core was generator-limited (its own CPU or event loop
              was the bottleneck, so its rate and latencies measured the load generator)
  aborted     a process was stopped on purpose (playbooks/stop.yml, a signal)
  incomplete  results are missing: a process or a host left no end record (killed, lost, its
              disk full), so requests it sent after its last flush are not counted

The worst state wins (incomplete > aborted > degraded > completed); every reason names the host
and core. Anything but `completed` fails distribute.yml with the reasons in its last lines.
"""
from __future__ import annotations

from typing import Any, Mapping

from .results import count_against_plan

ORDER = ("completed", "degraded", "aborted", "incomplete")
# requests may fall short of the exact plan by this much without degrading the run: a client
# stopped on a slot at a float boundary, a start a few ms late (measured: at most 2 on local runs)
SHORT_REQUESTS = 4
SHORT_SHARE = 0.005


def _core_name(core: Mapping[str, Any]) -> str:
    return f"{core.get('host') or '?'} core {core.get('core', '?')}"


def run_state(summary: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """{'state': ..., 'reasons': [...]} for a summary from results.summarize and its plan."""
    found: dict[str, list[str]] = {state: [] for state in ORDER}
    cores = list(summary.get("cores") or [])
    for core in cores:
        end = str(core.get("end") or "")
        name = _core_name(core)
        if core.get("locustfile_exit_code"):
            found["degraded"].append(f"{name}: the locustfile set environment.process_exit_code = "
                                     f"{core['locustfile_exit_code']}")
        if end == "done":
            continue
        if end.startswith("signal"):
            found["aborted"].append(f"{name}: stopped ({end}) before its planned end")
        elif end == "deadline":
            stuck = core.get("active_at_end")
            found["degraded"].append(f"{name}: ended by its deadline with {stuck if stuck is not None else 'some'} "
                                     "client(s) still inside a task (a task that never returns?)")
        elif end.startswith("missing"):
            found["incomplete"].append(f"{name}: no end record (killed, lost or out of disk); requests sent after "
                                       "its last flush are not counted")
        else:
            found["degraded"].append(f"{name}: ended '{end}'")
    planned_hosts = plan.get("hosts") or {}
    seen = {(core.get("host"), core.get("core")) for core in cores}
    for host, figures in planned_hosts.items():
        for planned_core in figures.get("cores") or []:
            if (host, planned_core.get("index")) not in seen:
                found["incomplete"].append(f"{host} core {planned_core.get('index')}: no results at all "
                                           "(the process never started, or its records were not fetched)")
    starts = summary.get("starts") or {}
    planned_clients, started = starts.get("clients_planned"), starts.get("clients_started")
    if planned_clients and started is not None and started < planned_clients:
        found["degraded"].append(f"{planned_clients - started} of {planned_clients} planned clients never started")
    expected = summary.get("expected_requests")
    sent, iterations = count_against_plan([summary])
    what = "task iterations run" if iterations else "requests sent"
    if expected and sent < expected - max(SHORT_REQUESTS, SHORT_SHARE * expected):
        found["degraded"].append(f"{sent} {what}, {expected} planned ({100.0 * sent / expected:.1f} %)")
    for message in summary.get("generator_limited") or []:
        found["degraded"].append(str(message))
    state = "completed"
    for candidate in ORDER:
        if found[candidate]:
            state = candidate
    reasons = [reason for candidate in reversed(ORDER) for reason in found[candidate]]
    return {"state": state, "reasons": reasons}


def state_lines(verdict: Mapping[str, Any]) -> list[str]:
    """The run state as the last lines of a run's output."""
    if verdict["state"] == "completed":
        return ["run state: completed"]
    return [f"run state: {verdict['state'].upper()}"] + [f"  - {reason}" for reason in verdict["reasons"]]
