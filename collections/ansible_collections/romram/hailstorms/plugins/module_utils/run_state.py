# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a run ended, from its summary and its plan: pure Python, no Ansible.

  completed   every planned load process ran to its planned end and ran the task iterations
              the plan counts, with no failed request and no locustfile exception that the
              thresholds do not allow
  degraded    it ran to the end, but not as planned: a process failed or was ended by its
              deadline with clients still inside a task, clients did not start (the open
              model: arrivals dropped that the thresholds do not allow), the task
              iterations (requests, in records without that count) fell short of the plan or
              went past it, iterations ran but sent no request at all, or a core was
              generator-limited (its own CPU or event loop was the bottleneck, so its rate and
              latencies measured the load generator)
  failed      requests failed or the locustfile raised exceptions, and no threshold allows them
              (failure_rate, exceptions; as Locust's --exit-code-on-error, whose default fails a
              run on any; hailstorm_exit_code_on_error: 0 allows any), or the locustfile set a
              non-zero environment.process_exit_code

The locustfile's own verdict decides, as in Locust, where process_exit_code outranks
--exit-code-on-error: each core's locustfile judges that core's statistics (its
environment.stats) and may set environment.process_exit_code. Any non-zero verdict fails the run
(with that exit code); failures and exceptions of a core whose locustfile set one, 0 included,
are its locustfile's to judge, so when every core set 0 they do not fail the run; those of a core
that set none are judged by the rule above (hailstorm_exit_code_on_error and the thresholds).
hailstorm_thresholds are judged apart from all this (a broken one: exit code 10 of a completed run).
  aborted     a process was stopped on purpose (playbooks/stop.yml, a signal, runner.quit() in
              the locustfile), or the controller stopped the run because a threshold with
              `abort: true` stayed broken (the abort record: the threshold, the time, the planned rate)
  incomplete  results are missing: a process or a host left no end record (killed, lost, its
              disk full), so requests it sent after its last flush are not counted

The worst state wins (incomplete > aborted > failed > degraded > completed); every reason names
the host and core. Each check is also kept apart (`checks`: the junit.xml testcases). Anything
but `completed` fails distribute.yml with the reasons in its last lines, and its exit code tells
the outcome (EXIT_CODES, `exit_code`).
"""
from __future__ import annotations

from typing import Any, Mapping

from .summary import count_against_plan

ORDER = ("completed", "degraded", "failed", "aborted", "incomplete")
# requests may fall short of the exact plan by this much without degrading the run: a client
# stopped on a slot at a float boundary, a start a few ms late (measured: at most 2 on local runs)
SHORT_REQUESTS = 4
SHORT_SHARE = 0.005
EXIT_CODE_ON_ERROR = 1  # hailstorm_exit_code_on_error's default, Locust's --exit-code-on-error's
# The exit code of distribute.yml / report.yml for each outcome (the exit_code callback sets it;
# Ansible's own codes stay: 2 a task failed before or around the run, 4 a parser error, 99 ctrl-c).
# `failed` exits with hailstorm_exit_code_on_error (Locust's default 1), or the code the locustfile
# set as environment.process_exit_code.
EXIT_CODES = {"completed": 0, "thresholds broken": 10, "degraded": 11, "aborted": 12, "incomplete": 13}
# (name, what passing means): one junit.xml testcase each
CHECKS = (
    ("processes", "every load process ran to its planned end and left its records"),
    ("clients", "every planned client started"),
    ("arrivals", "no arrival dropped beyond what the thresholds allow (open model)"),
    ("iterations", "the task iterations the plan counts ran and sent requests"),
    ("generator", "no load generator was the bottleneck"),
    ("failures", "no failed request beyond what the thresholds allow"),
    ("exceptions", "no locustfile exception beyond what the thresholds allow"),
)


def _core_name(core: Mapping[str, Any]) -> str:
    return f"{core.get('host') or '?'} core {core.get('core', '?')}"


def _kinds(counts: Mapping[str, int], limit: int = 3) -> str:
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    more = len(counts) - len(top)
    return ", ".join(f"{kind} x{count}" for kind, count in top) + (f" and {more} more kinds" if more > 0 else "")


def run_state(summary: Mapping[str, Any], plan: Mapping[str, Any], allowed: Mapping[str, Any] | None = None,
              exit_code_on_error: int | None = None, abort: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """{'state': ..., 'reasons': [...], 'checks': [...]} for a summary from summary.summarize and
    its plan. `allowed` is thresholds.allowed_failures of the run's thresholds; exit_code_on_error
    (hailstorm_exit_code_on_error, else the plan's, else 1): 0 lets failures and exceptions pass.
    `abort` is what the controller recorded when it stopped the run on an abort threshold
    (progress.abort_check: `at` seconds since the start, `reason`), else None."""
    if exit_code_on_error is None:
        exit_code_on_error = int(plan.get("exit_code_on_error", EXIT_CODE_ON_ERROR))
    allowed = allowed or {}
    found: dict[str, list[tuple[str, str]]] = {state: [] for state in ORDER}  # state: [(check, reason)]

    def add(state: str, check: str, reason: str) -> None:
        found[state].append((check, reason))

    if abort:  # first among the reasons: why every process was stopped
        add("aborted", "processes", f"stopped by the controller at {float(abort['at']):g} s: {abort['reason']}")
    cores = list(summary.get("cores") or [])
    undecided = [core for core in cores if core.get("locustfile_exit_code") is None]  # judged by the default rule
    for core in cores:
        end = str(core.get("end") or "")
        name = _core_name(core)
        if core.get("locustfile_exit_code"):
            add("failed", "processes", f"{name}: the locustfile set environment.process_exit_code = "
                                       f"{core['locustfile_exit_code']}")
        if end == "done":
            continue
        if end.startswith("signal"):
            add("aborted", "processes", f"{name}: stopped ({end}) before its planned end")
        elif end.startswith("quit by the locustfile"):
            add("aborted", "processes", f"{name}: {end}; the other cores kept to the plan")
        elif end == "deadline":
            stuck = core.get("active_at_end")
            add("degraded", "processes", f"{name}: ended by its deadline with {stuck if stuck is not None else 'some'} "
                                         "client(s) still inside a task (a task that never returns?)")
        elif end.startswith("missing"):
            add("incomplete", "processes", f"{name}: no end record (killed, lost or out of disk); requests sent "
                                           "after its last flush are not counted")
        else:
            add("degraded", "processes", f"{name}: ended '{end}'")
    planned_hosts = plan.get("hosts") or {}
    seen = {(core.get("host"), core.get("core")) for core in cores}
    for host, figures in planned_hosts.items():
        for planned_core in figures.get("cores") or []:
            if (host, planned_core.get("index")) not in seen:
                add("incomplete", "processes", f"{host} core {planned_core.get('index')}: no results at all "
                                               "(the process never started, or its records were not fetched)")
    starts = summary.get("starts") or {}
    planned_clients, started = starts.get("clients_planned"), starts.get("clients_started")
    arrivals = summary.get("arrivals")  # the open model: users start on demand, arrivals may be dropped
    if arrivals:
        dropped, allowed_drops = int(arrivals.get("dropped") or 0), int(allowed.get("dropped") or 0)
        if dropped > allowed_drops:
            add("degraded", "arrivals", f"{dropped} of {arrivals.get('planned')} arrivals dropped: no user within "
                                        f"their tolerance of their slot (pool cap {arrivals.get('pool_cap_per_core')} "
                                        "users per core, reached); raise hailstorm_max_clients, or allow them with "
                                        "hailstorm_thresholds {dropped: <maximum>}")
    scenario_drops = _scenario_drops(summary, allowed)
    for name, (dropped, planned, cap) in scenario_drops.items():
        if dropped > cap:
            add("degraded", "arrivals", f"scenario {name}: {dropped} of {planned} arrivals dropped: no user within "
                                        "their tolerance of their slot; raise its max_clients, or allow them with "
                                        f"hailstorm_thresholds {{scenarios: {{{name}: {{dropped: <maximum>}}}}}}")
    if not arrivals and planned_clients and started is not None and \
            started < (starts.get("starts_planned") or planned_clients):
        planned_starts = starts.get("starts_planned") or planned_clients
        add("degraded", "clients", f"{planned_clients - started} of {planned_clients} planned clients never started"
            if planned_starts == planned_clients else
            f"{planned_starts - started} of {planned_starts} planned client starts did not happen ({planned_clients} "
            f"clients, {planned_starts - planned_clients} restarts in later stages)")
    expected = summary.get("expected_requests")
    sent, iterations = count_against_plan([summary])
    what = "task iterations run" if iterations else "requests sent"
    margin = max(SHORT_REQUESTS, SHORT_SHARE * expected) if expected else 0
    if arrivals:  # dropped arrivals are said above; what was not dropped must have been sent
        expected = int(expected or 0) - int(arrivals.get("dropped") or 0)
    elif scenario_drops:  # the open scenarios' too
        expected = int(expected or 0) - sum(dropped for dropped, _planned, _cap in scenario_drops.values())
    if expected and sent < expected - margin:
        add("degraded", "iterations", f"{sent} {what}, {expected} planned ({100.0 * sent / expected:.1f} %)"
            + "".join(f"; {line}" for line in ended_early_lines(summary.get("ended_early") or [])))
    elif expected and sent > expected + margin:
        add("degraded", "iterations", f"{sent} {what}, {expected} planned: more than planned "
                                      f"({100.0 * sent / expected:.1f} %; a second run with the same run id?)")
    requests = int(summary.get("requests") or 0)
    exceptions = {row["kind"]: int(row["count"]) for row in summary.get("exceptions") or []}
    raised = sum(exceptions.values())
    if iterations and sent and not requests:
        add("degraded", "iterations", f"{sent} task iterations ran and sent no request at all"
                                      + (f" ({raised} locustfile exceptions: {_kinds(exceptions)})" if raised else ""))
    for message in summary.get("generator_limited") or []:
        add("degraded", "generator", str(message))
    if exit_code_on_error and len(undecided) == len(cores):
        failures = _unallowed_failures(summary, allowed)
        if failures:
            count = sum(failures.values())
            add("failed", "failures", f"{count} of {requests} requests failed ({100.0 * count / max(1, requests):.2f} %): "
                                      f"{_kinds(failures)}; allow failures with hailstorm_thresholds "
                                      "{failure_rate: '1%'} (or hailstorm_exit_code_on_error: 0)")
        if raised and not allowed.get("exceptions"):
            add("failed", "exceptions", f"{raised} locustfile exceptions: {_kinds(exceptions)}; allow them with "
                                        "hailstorm_thresholds {exceptions: <maximum>} (or hailstorm_exit_code_on_error: 0)")
    elif exit_code_on_error and undecided:  # some cores' locustfile decided: the others' by the default rule
        names = ", ".join(_core_name(core) for core in undecided)
        failed = min(sum(int(core.get("failures") or 0) for core in undecided),
                     sum(_unallowed_failures(summary, allowed).values()))
        sent = sum(int(core.get("requests") or 0) for core in undecided)
        if failed:
            add("failed", "failures", f"{failed} of {sent} requests failed on the core(s) whose locustfile set no "
                                      f"environment.process_exit_code ({names}); allow failures with "
                                      "hailstorm_thresholds {failure_rate: '1%'}, or set process_exit_code on every "
                                      "core (or hailstorm_exit_code_on_error: 0)")
        raised_there = sum(int(core.get("exceptions") or 0) for core in undecided)
        if raised_there and not allowed.get("exceptions"):
            add("failed", "exceptions", f"{raised_there} locustfile exceptions on the core(s) whose locustfile set "
                                        f"no environment.process_exit_code ({names}); allow them with "
                                        "hailstorm_thresholds {exceptions: <maximum>} "
                                        "(or hailstorm_exit_code_on_error: 0)")
    state = "completed"
    for candidate in ORDER:
        if found[candidate]:
            state = candidate
    reasons = [reason for candidate in reversed(ORDER) for _check, reason in found[candidate]]
    checks = []
    for check, passing in CHECKS:
        broken = [(candidate, reason) for candidate in reversed(ORDER) for name, reason in found[candidate]
                  if name == check]
        checks.append({"check": check, "description": passing, "passed": not broken,
                       "state": broken[0][0] if broken else "completed", "reasons": [r for _s, r in broken]})
    return {"state": state, "reasons": reasons, "checks": checks,
            "locustfile_decided": locustfile_decided(cores, undecided, requests, int(summary.get("failures") or 0),
                                                     raised)}


def locustfile_decided(cores: list[Mapping[str, Any]], undecided: list[Mapping[str, Any]], requests: int,
                       failures: int, raised: int) -> str | None:
    """What the locustfile's own verdicts (environment.process_exit_code) decided, in words; None
    when no core's locustfile set one."""
    codes = [int(core["locustfile_exit_code"]) for core in cores if core.get("locustfile_exit_code") is not None]
    if not codes:
        return None
    counted = f"{failures} of {requests} requests failed" + (f", {raised} locustfile exceptions" if raised else "")
    where = f"on every core ({len(codes)})" if not undecided else f"on {len(codes)} of {len(cores)} cores"
    if any(codes):
        verdict = (f"environment.process_exit_code = {max(codes)} {where} ({counted}): the run failed by the "
                   "locustfile's verdict")
    else:
        verdict = (f"environment.process_exit_code = 0 {where} ({counted}): its verdict outranks "
                   "hailstorm_exit_code_on_error, as Locust's process_exit_code outranks --exit-code-on-error")
    if undecided:
        verdict += (f"; the failures of the {len(undecided)} core(s) that set none are judged by "
                    "hailstorm_exit_code_on_error and the thresholds")
    return "the locustfile decided: " + verdict


def ended_early_lines(rows: list[Mapping[str, Any]]) -> list[str]:
    """The clients that ended before their planned stop (summary `ended_early`), one line per way:
    "10 clients stopped themselves with StopUser after 3 iterations" (a range when their counts differ)."""
    by_how: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        by_how.setdefault(str(row["how"]), []).append((int(row["iterations"]), int(row["clients"])))
    lines = []
    for how, counts in sorted(by_how.items(), key=lambda item: -sum(n for _ran, n in item[1])):
        clients = sum(n for _ran, n in counts)
        low, high = min(ran for ran, _n in counts), max(ran for ran, _n in counts)
        after = (f"after {low} iteration{'' if low == 1 else 's'}" if low == high
                 else f"after {low} to {high} iterations")
        noun = "client" if clients == 1 else "clients"
        if how == "StopUser":
            lines.append(f"{clients} {noun} stopped {'itself' if clients == 1 else 'themselves'} with StopUser {after}")
        elif how == "User.stop()":
            lines.append(f"{clients} {noun} stopped by User.stop() {after}")
        else:
            lines.append(f"{clients} {noun} ended early by an exception ({how}) {after}")
    return lines


def _scenario_drops(summary: Mapping[str, Any], allowed: Mapping[str, Any]) -> dict[str, tuple[int, Any, int]]:
    """The open scenarios' (hailstorm_scenarios) dropped arrivals: name: (dropped, planned, the most
    allowed: its own dropped threshold, else the run's, else 0)."""
    out: dict[str, tuple[int, Any, int]] = {}
    for name, row in (summary.get("scenarios") or {}).items():
        arrivals = row.get("arrivals")
        if arrivals:
            own = ((allowed.get("scenarios") or {}).get(name) or {}).get("dropped")
            cap = own if own is not None else allowed.get("dropped", 0)
            out[name] = (int(arrivals.get("dropped") or 0), arrivals.get("planned"), int(cap or 0))
    return out


def _unallowed_failures(summary: Mapping[str, Any], allowed: Mapping[str, Any]) -> dict[str, int]:
    """Failed requests by kind that no failure_rate threshold allows (all of them without one).
    With hailstorm_scenarios and a failure_rate of some scenarios: the failures of the others, by
    scenario (and those of requests outside any scenario's users)."""
    if allowed.get("all"):
        return {}
    covered_scenarios = {name for name, given in (allowed.get("scenarios") or {}).items() if given.get("failures")}
    if covered_scenarios and summary.get("scenarios"):
        rows = summary["scenarios"]
        out = {f"scenario {name}": int(row.get("failures") or 0) for name, row in rows.items()
               if name not in covered_scenarios and row.get("failures")}
        outside = int(summary.get("failures") or 0) - sum(int(row.get("failures") or 0) for row in rows.values())
        if outside > 0:
            out["outside any scenario's users"] = outside
        return out
    covered = set(allowed.get("labels") or ())
    if not covered:
        return {kind: int(count) for kind, count in (summary.get("failures_by_kind") or {}).items() if count}
    out: dict[str, int] = {}
    for label, row in ((summary.get("latency") or {}).get("labels") or {}).items():
        name = label.split(" ", 1)[1] if " " in label else label
        if label in covered or name in covered or not row.get("failures"):
            continue
        out[f"{label}"] = out.get(label, 0) + int(row["failures"])
    return out


def exit_code(state: str, thresholds_broken: bool, exit_code_on_error: int = EXIT_CODE_ON_ERROR,
              locustfile_exit_code: int = 0) -> int:
    """The exit code of a run's playbook (EXIT_CODES): the state's, a broken threshold's for a
    completed run; `failed` exits with the locustfile's process_exit_code if it set one, else
    hailstorm_exit_code_on_error."""
    if state == "failed":
        return int(locustfile_exit_code or exit_code_on_error or 1)
    if state == "completed":
        return EXIT_CODES["thresholds broken"] if thresholds_broken else 0
    return EXIT_CODES[state]


def state_lines(verdict: Mapping[str, Any]) -> list[str]:
    """The run state as the last lines of a run's output."""
    decided = [f"  {verdict['locustfile_decided']}"] if verdict.get("locustfile_decided") else []
    if verdict["state"] == "completed":
        return ["run state: completed"] + decided
    return [f"run state: {verdict['state'].upper()}"] + [f"  - {reason}" for reason in verdict["reasons"]] + decided
