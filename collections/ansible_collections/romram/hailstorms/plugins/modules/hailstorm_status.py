#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the progress of the load processes of one run on a load host."""
from __future__ import annotations

DOCUMENTATION = r"""
module: hailstorm_status
short_description: Progress of a run's load processes on a load host
version_added: 1.0.0
author: romram.hailstorms contributors (@romram)
description:
  - Reads the C(core-N.status.json) files that every load process rewrites each second and sums them.
  - Optionally waits until a wall-clock time, or until every process has finished.
  - A process whose status file is stale while it claims to run is reported as C(lost).
options:
  path:
    description: The run's work directory on the load host.
    type: path
    required: true
  cores:
    description: Number of load processes planned on this host.
    type: int
    required: true
  wait_until:
    description:
      - Epoch seconds to wait for before reading (no wait when in the past).
      - The wait ends early when every process has finished (done, failed or lost).
    type: float
  wait_done:
    description: Wait until every process is done, failed or lost.
    type: bool
    default: false
  wait_armed:
    description:
      - "Wait until every process is armed (loaded and waiting for its start signal), or until one has
        ended (failed at import, lost): the launch fails then, without waiting for the others."
    type: bool
    default: false
  timeout:
    description: Seconds to wait at most with O(wait_done).
    type: float
    default: 60
  stale:
    description: Seconds after which a running process without a fresh status file counts as lost.
    type: float
    default: 10
  host:
    description: The load host's name in the run, for the messages in RV(generator_limited).
    type: str
extends_documentation_fragment:
  - romram.hailstorms.attributes
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
"""

EXAMPLES = r"""
- name: Read progress 30 s into the run
  romram.hailstorms.hailstorm_status:
    path: /var/lib/hailstorms/20261129T101500Z
    cores: 7
    wait_until: "{{ hs_start_time | float + 30 }}"
"""

RETURN = r"""
cores:
  description:
    - The status of each process, by core index (state armed, waiting, running, done, failed, lost or missing).
    - A failed, lost or missing process has C(log_tail), the last lines of its C(core-N.log), and a failed one its C(reason).
  returned: always
  type: list
  elements: dict
states:
  description: Number of processes in each state.
  returned: always
  type: dict
active:
  description: Active clients on this host.
  returned: always
  type: int
requests:
  description: Requests sent so far from this host.
  returned: always
  type: int
failures:
  description: Failed requests so far on this host (what an abort threshold judges, interval by interval).
  returned: always
  type: int
hist:
  description:
    - The response times (service time) of every request recorded so far on this host, all its processes
      merged - counts by bucket, keyed by the bucket's lower bound in microseconds (the buckets of the
      results, C(records.py)), only the buckets that are not empty.
    - The controller's percentiles of a progress interval (the progress line's p95, the abort thresholds on
      latency) come from its growth since the previous interval, all hosts merged.
  returned: always
  type: dict
time_us:
  description: The total of the response times in RV(hist), microseconds (the mean of an interval).
  returned: always
  type: int
rps:
  description: Request rate of the last second on this host (the second before RV(elapsed)).
  returned: always
  type: float
iterations:
  description: Task iterations run so far on this host (what the plan's rate counts; a task may send several requests).
  returned: always
  type: int
iteration_rate:
  description:
    - Task iterations per second over the last second on this host, what the plan's rps is compared with.
    - V(null) when a process did not report it.
  returned: always
  type: float
elapsed:
  description:
    - Seconds after the shared start time at which the running processes wrote the figures above
      (they write on the same half-second ticks, so this is up to a second before the reading).
    - V(null) when no process is running.
  returned: always
  type: float
stopped:
  description: Whether stop.yml is stopping the run's processes (its C(stop.json) in the run's directory); O(wait_armed) ends then.
  returned: always
  type: bool
not_armed:
  description:
    - "With O(wait_armed), why not every process is armed, first the processes that ended before it
      (C(core 0 exited at import after 9.1 s: RuntimeError: ...)); empty when all are armed."
  returned: always
  type: list
  elements: str
problems:
  description:
    - One line per process that failed, was lost or has no status, with its reason and the last lines of its C(core-N.log).
  returned: always
  type: list
  elements: str
finished:
  description: Whether every process is done, failed or lost.
  returned: always
  type: bool
generator_limited:
  description:
    - One message per process that has become the bottleneck of its own run so far (CPU or
      event-loop lag over the limit for several seconds in a row; see C(records.py)).
  returned: always
  type: list
  elements: str
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, launch
from ansible_collections.romram.hailstorms.plugins.module_utils.records import generator_limited_message, Histogram
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import file_tail

FINAL = (*contract.ENDED, "lost")  # "lost": a status no longer rewritten (the process is gone)
ARMED_OR_LATER = contract.LIVE + FINAL
LOG_TAIL_LINES = 12


def log_tail(path: str, core: int) -> list[str]:
    """The last lines of a process's core-N.log (empty when there is none)."""
    try:
        text, _cut = file_tail(contract.core_file(path, core, contract.LOG), 8192)
    except OSError:
        return []
    return text.splitlines()[-LOG_TAIL_LINES:]


def read_status(path: str, cores: int, stale: float) -> list[dict]:
    now = time.time()
    result = []
    for core in range(cores):
        name = contract.core_file(path, core, contract.STATUS)
        try:
            with open(name, encoding="utf-8") as handle:
                status = json.load(handle)
            age = now - os.path.getmtime(name)
        except (OSError, ValueError):
            result.append({"core": core, "state": "missing"})
            continue
        if status.get("state") not in FINAL and age > stale:
            status["state"] = "lost"
        status["core"] = core
        result.append(status)
    for status in result:
        if status["state"] in ("failed", "lost", "missing"):
            status["log_tail"] = log_tail(path, status["core"])
    return result


def problems(path: str, cores: list[dict], host: str | None = None) -> list[str]:
    """What a user needs to see about every process that failed, was lost or never wrote a status
    (each line starts with `host` when given)."""
    lines = []
    for core in cores:
        state = core["state"]
        if state not in ("failed", "lost", "missing"):
            continue
        what = {"failed": f"failed: {core.get('reason') or 'see its log'}",
                "lost": "lost: its status stopped changing (killed, or its host is stuck)",
                "missing": "has written no status (not started yet, or it ended before loading)"}[state]
        tail = core.get("log_tail") or []
        log = contract.core_file(path, core["core"], contract.LOG)
        where = f"last lines of {log}: " + " | ".join(tail) if tail else f"{log} is empty or absent"
        lines.append(f"{host + ' ' if host else ''}core {core['core']} {what}; {where}")
    return lines


def limited_messages(host: str, cores: list[dict]) -> list[str]:
    """The progress lines' warning for each generator-limited core, with its last second's CPU and
    lag: its own load, or other work on the host when its loop mostly waited for a CPU (starved)."""
    return [generator_limited_message(host, core["core"],
                                      {"starved": True, "cpu_max": core.get("cpu"), "wait_max": core.get("wait")}
                                      if core.get("starved") else None)
            + f" (CPU {100 * float(core.get('cpu') or 0):.0f} %, event-loop lag {float(core.get('lag_ms') or 0):.0f} ms)"
            for core in cores if core.get("generator_limited")]


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "cores": {"type": "int", "required": True},
            "wait_until": {"type": "float"},
            "wait_done": {"type": "bool", "default": False},
            "wait_armed": {"type": "bool", "default": False},
            "timeout": {"type": "float", "default": 60.0},
            "stale": {"type": "float", "default": 10.0},
            "host": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["wait_until"] is not None:
        while time.time() < params["wait_until"]:
            if all(core["state"] in FINAL for core in read_status(params["path"], params["cores"], params["stale"])):
                break
            time.sleep(min(1.0, max(0.0, params["wait_until"] - time.time())))
    deadline = time.time() + params["timeout"]
    while True:
        cores = read_status(params["path"], params["cores"], params["stale"])
        finished = all(core["state"] in FINAL for core in cores)
        # armed, or one has ended already (failed at import, lost): the launch fails at once then
        armed = (all(core["state"] in ARMED_OR_LATER for core in cores)
                 or any(core["state"] in FINAL for core in cores))
        # stop.yml is stopping them: no process will arm (a wait for their end goes on: they write
        # their last records as they stop)
        stopped = os.path.exists(os.path.join(params["path"], contract.STOP_FILE))
        waiting = (params["wait_done"] and not finished) or (params["wait_armed"] and not armed and not stopped)
        if not waiting or time.time() >= deadline:
            break
        time.sleep(0.2 if params["wait_armed"] else 0.5)
    states: dict[str, int] = {}
    hist, time_us = Histogram(), 0
    for core in cores:
        states[core["state"]] = states.get(core["state"], 0) + 1
        hist.merge(core.pop("hist", None) or {})  # merged here: one histogram per host, not one per process
        time_us += int(core.pop("time_us", 0))
    module.exit_json(
        changed=False,
        cores=cores,
        states=states,
        active=sum(int(core.get("active", 0)) for core in cores),
        requests=sum(int(core.get("requests", 0)) for core in cores),
        failures=sum(int(core.get("failures", 0)) for core in cores),
        hist=hist.to_json(),
        time_us=time_us,
        rps=round(sum(float(core.get("rps", 0.0)) for core in cores), 1),
        iterations=sum(int(core.get("iterations", 0)) for core in cores),
        iteration_rate=(round(sum(float(core.get("iteration_rate") or 0.0) for core in cores), 1)
                        if all("iteration_rate" in core for core in cores if core["state"] == "running") else None),
        elapsed=min((float(core["elapsed"]) for core in cores if core["state"] == "running" and "elapsed" in core),
                    default=None),
        finished=finished,
        # the open model's arrivals and pool (absent in the closed model)
        **({"arrivals_sent": sum(int(core.get("arrivals_sent") or 0) for core in cores),
            "arrivals_dropped": sum(int(core.get("arrivals_dropped") or 0) for core in cores),
            "pool_size": sum(int(core.get("pool_size") or 0) for core in cores),
            "pool_started": sum(int(core.get("pool_started") or 0) for core in cores)}
           if any("arrivals_sent" in core for core in cores) else {}),
        problems=problems(params["path"], cores, params["host"]),
        not_armed=(launch.not_armed(params["host"] or "this host", cores, params["timeout"], stopped)
                   if params["wait_armed"] else []),
        stopped=stopped,
        generator_limited=limited_messages(params["host"] or "this host", cores),
    )


if __name__ == "__main__":
    main()
