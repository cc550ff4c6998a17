# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The launch's timing decisions: pure Python, no Ansible (the launch role calls them through
filters, once, on the controller).

Arm, then fire: every load process is started first and gets ready (Locust and the locustfile
imported, the users about to be built) while it waits for its start signal; the controller sets
the shared start time only when every process on every host says it is armed. So the lead covers
the start signal's trip (one small file copied to every host at once), not the backends' start-up.
"""
from __future__ import annotations

import math
from typing import Any

from .plan_queries import PlanError
from .records import LATE_SIGNAL

# The start signal is one small file copied to every host in parallel: the copy module makes about
# three round trips, after the last check for a stop request (one more). The margin covers a busy
# controller: on a 2-core machine running other work, a signal took 2.5 s more than 3 measured trips
# (make test, 3 pytest workers beside molecule).
SIGNAL_ROUND_TRIPS = 4
LEAD_MARGIN = 2.5
MAX_LEAD = 600.0
# Seconds a load process lives beyond the plan: the deadline grace, then the hard exit of the
# runtime (5 s) and a margin; the backend's limit (systemd RuntimeMaxSec, the local backend's
# async timeout) is the last resort behind the runtime's own deadline.
LIMIT_MARGIN = 30.0
# An armed process waits this long for its start signal beyond the controller's own wait for
# every process to be armed.
SIGNAL_WAIT_MARGIN = 60.0


def _seconds(value: Any, name: str, minimum: float, maximum: float = math.inf) -> float:
    if isinstance(value, bool):
        raise PlanError(f"{name}: expected seconds, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise PlanError(f"{name}: expected seconds such as 10, got {value!r}") from None
    if not math.isfinite(seconds) or not minimum <= seconds <= maximum:
        bound = f"between {minimum:g} and {maximum:g}" if math.isfinite(maximum) else f"at least {minimum:g}"
        raise PlanError(f"{name}: must be {bound} seconds, got {value!r}")
    return seconds


def start_lead(round_trip: Any, given: Any = None) -> float:
    """Seconds from the moment the start time is chosen to the shared start: hailstorm_start_lead
    when given, else SIGNAL_ROUND_TRIPS x the measured round trip to the slowest host plus
    LEAD_MARGIN (every process is armed already, so nothing else has to fit in)."""
    if given is not None and given != "":
        return _seconds(given, "hailstorm_start_lead", 0.1, MAX_LEAD)
    trip = _seconds(round_trip, "the measured round trip", 0.0)
    return round(min(MAX_LEAD, SIGNAL_ROUND_TRIPS * trip + LEAD_MARGIN), 2)


def armed_wait(arm_timeout: Any) -> float:
    """How long an armed load process waits for its start signal: the controller's own wait for
    every process (hailstorm_arm_timeout) plus SIGNAL_WAIT_MARGIN; then it exits, having sent
    nothing, so no process is left waiting when the controller is gone."""
    return _seconds(arm_timeout, "hailstorm_arm_timeout", 1.0) + SIGNAL_WAIT_MARGIN


def run_time_limit(duration: Any, deadline_grace: Any, arm_timeout: Any, lead: Any = MAX_LEAD) -> int:
    """Whole seconds a load process may live from its own start at most (systemd RuntimeMaxSec,
    the local backend's async timeout): armed, then the lead, the plan, the deadline grace and
    LIMIT_MARGIN."""
    total = (armed_wait(arm_timeout) + _seconds(lead, "the start lead", 0.0)
             + _seconds(duration, "the plan's duration", 0.0)
             + _seconds(deadline_grace, "hailstorm_deadline_grace", 0.0) + LIMIT_MARGIN)
    return int(math.ceil(total))


def suggested_lead(start_time: Any, signalled_at: Any, lead_given: Any) -> int:
    """A lead that would have covered this signal's trip twice over (whole seconds, valid)."""
    took = float(lead_given) + float(signalled_at) - float(start_time)
    return int(min(MAX_LEAD, max(2.0, math.ceil(2 * took + LEAD_MARGIN))))


def signal_verdict(start_time: Any, signalled_at: Any, lead_given: Any, late_signal: float = LATE_SIGNAL) -> str | None:
    """None when the start signal reached every host in time; otherwise the failure message (the
    processes refuse a signal more than `late_signal` s after the start time it names)."""
    late = float(signalled_at) - float(start_time)
    if late <= late_signal:
        return None
    return (f"the start signal reached the load hosts {late:.2f} s after the shared start time, so the load "
            f"processes refuse it and send nothing; set hailstorm_start_lead (seconds) to more than the "
            f"signal took, e.g. -e hailstorm_start_lead={suggested_lead(start_time, signalled_at, lead_given)}, "
            "or find what slows the controller's connections")


def not_armed(host: str, cores: list[dict[str, Any]], arm_timeout: Any, stopped: bool = False) -> list[str]:
    """Why a load host's processes are not all armed, for the launch's failure (empty: all are).
    A process that ended first (failed at import, lost) is the reason and is said at once:
    "lh1 core 0 exited at import after 9.1 s: RuntimeError: no database" (its status's reason,
    written by the runtime); else the processes still loading when hailstorm_arm_timeout ran out.
    `cores`: the statuses hailstorm_status reads (state, reason); `stopped`: stop.yml stopped them
    (the run's stop.json), the reason before any other."""
    if stopped:
        return [f"{host}: its load processes were stopped by playbooks/stop.yml while they armed; no load was sent"]
    ended = [core for core in cores if core.get("state") in ("done", "failed", "lost")]
    if ended:
        lines = []
        for core in ended:
            who, reason = f"{host} core {core.get('core')}", str(core.get("reason") or "")
            if core["state"] == "lost":
                lines.append(f"{who} was lost before it was armed: its status stopped changing (killed?)")
            elif reason.startswith("exited "):
                lines.append(f"{who} {reason}")
            else:
                lines.append(f"{who} ended before it was armed: {reason or 'see its log'}")
        return lines + ["no load was sent; the host's other load processes exit by themselves (or run "
                        "playbooks/stop.yml); the last lines of each failed process's log follow"]
    if all(core.get("state") == "armed" for core in cores):
        return []
    states: dict[str, int] = {}
    for core in cores:
        states[str(core.get("state"))] = states.get(str(core.get("state")), 0) + 1
    return [f"{host}: load processes not armed within hailstorm_arm_timeout={arm_timeout} s (states "
            + ", ".join(f"{state} {count}" for state, count in sorted(states.items())) + "); no load was sent. "
            "Raise hailstorm_arm_timeout if the backend is only slow; the processes that were armed exit by "
            "themselves, or run playbooks/stop.yml."]
