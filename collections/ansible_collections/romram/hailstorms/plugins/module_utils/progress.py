# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress line of a run: pure Python, no Ansible (the collect role calls it once per
interval through a filter, on the controller).

One line whatever the number of hosts: totals against the plan at the moment the processes
wrote their figures, hosts counted by state, the few hosts furthest behind their share of the
plan named, and the generator-limited cores. The plan's rate counts task iterations (a task may
send several requests): the rate compared with it is the hosts' task iterations per second,
with their request rate beside it (a host that did not report iterations counts its requests).
It grows with the number of hosts only through the counts, never by listing them. With the
figures of the last interval (abort_check's `interval`) it also says the failures per second and
the p95 of the service time over that interval, all hosts merged.
"""
from __future__ import annotations

from typing import Any, Mapping

from .planner import active_clients
from . import contract
from .records import Histogram, histogram_growth
from .summary import latency_figures
from .thresholds import abort_verdict

BEHIND_LISTED = 3  # hosts named as furthest behind their plan
BEHIND_RATIO = 0.9  # a host under this share of its planned rate is behind
PROBLEM_STATES = ("failed", "lost", "missing")


def host_state(status: Mapping[str, Any]) -> str:
    """One word for a host from its processes' states: a problem first, then the least advanced."""
    states = status.get("states") or {}
    if not states:
        return "unknown"
    for problem in PROBLEM_STATES:
        if states.get(problem):
            return problem
    for state in contract.LIVE:
        if states.get(state):
            return state
    return "done" if set(states) == {"done"} else sorted(states)[0]


def plan_rate(status: Mapping[str, Any]) -> float:
    """What a host's progress is compared with the plan by: its task iterations per second, or its
    requests per second when it did not report iterations."""
    rate = status.get("iteration_rate")
    return float(rate if rate is not None else status.get("rps") or 0)


def progress(plan: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]], offset: float) -> dict[str, Any]:
    """Figures of one progress line. `hosts` maps each load host to what romram.hailstorms.hailstorm_status
    read there (an empty mapping for a host that could not be read)."""
    pace = float(plan["pace"])
    elapsed = [float(s["elapsed"]) for s in hosts.values() if isinstance(s.get("elapsed"), (int, float))]
    at = min(elapsed) if elapsed else float(offset)
    planned_active = active_clients(plan, at)
    planned_rps = active_clients(plan, at - 0.5) / pace if elapsed else planned_active / pace
    totals = {key: sum(float(s.get(key) or 0) for s in hosts.values()) for key in ("active", "rps", "requests")}
    iterations_known = any(s.get("iteration_rate") is not None for s in hosts.values())
    totals["rate"] = sum(plan_rate(s) for s in hosts.values())
    by_state: dict[str, int] = {}
    for status in hosts.values():
        state = host_state(status)
        by_state[state] = by_state.get(state, 0) + 1
    clients = max(1, int(plan["clients"]))
    behind = []
    planned_hosts = plan.get("hosts") or {}
    for name, status in hosts.items():
        share = float((planned_hosts.get(name) or {}).get("clients", 0)) / clients
        expected = planned_rps * share
        if expected > 0 and host_state(status) == contract.RUNNING:
            ratio = plan_rate(status) / expected
            if ratio < BEHIND_RATIO:
                behind.append((ratio, name))
    behind.sort()
    limited = [message for status in hosts.values() for message in status.get("generator_limited") or []]
    opened = [s for s in hosts.values() if "arrivals_sent" in s]  # the open model's hosts
    pool = ({key: sum(int(s.get(key) or 0) for s in opened)
             for key in ("arrivals_sent", "arrivals_dropped", "pool_size", "pool_started")} if opened else None)
    return {"pool": pool, "offset": float(offset), "at": at, "active": int(totals["active"]), "planned_active": planned_active,
            "rps": totals["rps"], "planned_rps": planned_rps, "requests": int(totals["requests"]),
            "rate": totals["rate"], "iterations_known": iterations_known,
            "hosts_by_state": dict(sorted(by_state.items())), "behind": [(name, ratio) for ratio, name in behind],
            "generator_limited": limited}


def last_interval(interval: Mapping[str, Any] | None) -> str:
    """The words of the progress line on the last interval (abort_check's `interval`): its failures
    per second and the p95 of its service time, "" before the first interval of the run."""
    seconds = float((interval or {}).get("seconds") or 0)
    if seconds <= 0:
        return ""
    p95 = ((interval or {}).get("latency") or {}).get("p95_ms")
    return (f"last {seconds:.1f} s: {float(interval.get('failures_per_s') or 0):.1f} failures/s, "
            f"p95 {'none' if p95 is None else f'{p95:.1f} ms'}; ")


def progress_line(plan: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]], offset: float,
                  interval: Mapping[str, Any] | None = None) -> str:
    """The line a person reads every interval; `interval`: the figures of the last interval (abort_check's)."""
    f = progress(plan, hosts, offset)
    states = ", ".join(f"{state}={count}" for state, count in f["hosts_by_state"].items())
    line = (f"{f['offset']:5.0f}/{int(float(plan['duration']))} s: active {f['active']}/{f['planned_active']}, "
            + (f"{f['rate']:.1f} iterations/s (planned {f['planned_rps']:.1f}), {f['rps']:.1f} rps, "
               if f["iterations_known"] else f"{f['rps']:.1f} rps (planned {f['planned_rps']:.1f}), ")
            + f"{f['requests']} requests; " + last_interval(interval)
            + (f"arrivals sent {f['pool']['arrivals_sent']}, dropped {f['pool']['arrivals_dropped']}, "
               f"pool {f['pool']['pool_size']} users ({f['pool']['pool_started']} started); " if f.get("pool") else "")
            + f"hosts {states}")
    if f["behind"]:
        named = ", ".join(f"{name} {100 * ratio:.0f} %" for name, ratio in f["behind"][:BEHIND_LISTED])
        more = len(f["behind"]) - BEHIND_LISTED
        line += f"; behind their planned rate: {named}" + (f" and {more} more" if more > 0 else "")
    for message in f["generator_limited"]:
        line += f" WARNING: {message}"
    return line


def abort_check(plan: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]], checked: Mapping[str, Any] | None,
                previous: Mapping[str, Any] | None, offset: float) -> dict[str, Any]:
    """The figures of the last progress interval, all hosts merged, and the abort thresholds
    (thresholds.abort_verdict) judged on them. The hosts' status files carry cumulative figures:
    `requests`, `failures` and the histogram of every response time so far (`hist`, `time_us`);
    the interval's are their growth since `previous`, what the last call returned ({} the first
    time: the interval since the start), so its p95 is that of the histogram's growth.

    Returns the merged totals (the next call's `previous`), `at` (seconds since the start: when the
    processes wrote them), `interval` ({"from", "at", "seconds", "requests", "failures",
    "failures_per_s", "planned_rps", "latency": summary.latency_figures of its requests}),
    `broken` ({threshold: since} of the abort thresholds broken up to now), `broken_since` (that
    of the threshold that stops the run, else the earliest, else None), and with `threshold` and
    `reason` (else "") the planned rate at `at`; `offset` is the progress moment judged (the
    collect role stops the run in the interval whose offset it is)."""
    previous = previous or {}
    requests = sum(int(s.get("requests") or 0) for s in hosts.values())
    failures = sum(int(s.get("failures") or 0) for s in hosts.values())
    hist = Histogram()
    for status in hosts.values():
        hist.merge(status.get("hist") or {})
    time_us = sum(int(s.get("time_us") or 0) for s in hosts.values())
    elapsed = [float(s["elapsed"]) for s in hosts.values() if isinstance(s.get("elapsed"), (int, float))]
    at = min(elapsed) if elapsed else float(offset)
    planned_rps = active_clients(plan, at - 0.5) / float(plan["pace"])
    start = float(previous.get("at") or 0.0)
    grown = histogram_growth(hist.counts, previous.get("hist"))
    interval = {"from": start, "at": round(at, 3), "seconds": round(at - start, 3),
                "requests": requests - int(previous.get("requests") or 0),
                "failures": failures - int(previous.get("failures") or 0), "planned_rps": round(planned_rps, 1),
                "latency": latency_figures(grown, max(0, time_us - int(previous.get("time_us") or 0)))}
    interval["failures_per_s"] = round(interval["failures"] / (at - start), 2) if at > start else None
    broken, threshold, reason = abort_verdict(checked, interval, previous.get("broken"))
    return {"requests": requests, "failures": failures, "hist": hist.to_json(), "time_us": time_us,
            "interval": interval, "broken": broken,
            "broken_since": broken[threshold] if threshold else min(broken.values(), default=None),
            "threshold": threshold or "", "reason": reason or "", "at": round(at, 3),
            "planned_rps": interval["planned_rps"], "offset": offset}
