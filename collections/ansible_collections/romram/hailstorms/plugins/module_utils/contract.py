# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller and the runtime on a load host agree on: the files of a run's work
directory, the states a load process goes through, the grace defaults. One home, shared with the
runtime (runtime/hailstorm_runtime/contract.py is a symlink to this file, as planner.py and
results.py are): pure Python, no Ansible, no Locust. `host_data` is the one builder of a load
host's data.json: the launch role (through the host_data filter), the runtime's calibration, the
tests and the benchmarks all write what it returns.

A run's work directory on a load host (hailstorm_work_dir/<run id>) holds:

  data.json               the host's slice of the plan and the run's settings (no secrets)
  environment.json        hailstorm_environment, 0600, removed once every process is armed
  start.json              the start signal: {"start_time": epoch}, written when every process is armed
  stop.json               written by stop.yml before it stops the processes: the launch's wait ends at once
  core-N.pid              a load process's pid, while it runs
  core-N.status.json      its status, rewritten every second (STATES)
  core-N.jsonl            its records (results.py)
  core-N.log              its output
  core-N.jtl              its JTL rows (hailstorm_jtl)
  host.jsonl              the host's merge of its cores, what the controller fetches (results.HOST_FILE)
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

DATA_FILE = "data.json"
ENV_FILE = "environment.json"
START_FILE = "start.json"
STOP_FILE = "stop.json"
HOST_FILE = "host.jsonl"

# the files of one load process (core N): core-N + suffix
RECORDS = ".jsonl"
STATUS = ".status.json"
PID = ".pid"
LOG = ".log"
JTL = ".jtl"

# a load process's states (its status file): loaded and waiting for the start signal, waiting for
# the shared start, sending, ended as planned, ended early with a reason
ARMED, WAITING, RUNNING, DONE, FAILED = "armed", "waiting", "running", "done", "failed"
LIVE = (ARMED, WAITING, RUNNING)
ENDED = (DONE, FAILED)

DEADLINE_GRACE = 10  # seconds a load process may outlive the plan before it ends regardless (hailstorm_deadline_grace)


def core_name(core: int | str) -> str:
    """The files' stem of load process `core`: "core-3"."""
    return f"core-{core}"


def core_base(run_dir: str, core: int | str) -> str:
    """The path of load process `core`'s files without their suffix."""
    return os.path.join(run_dir, core_name(core))


def core_file(run_dir: str, core: int | str, suffix: str) -> str:
    """The path of one of load process `core`'s files: core_file(d, 3, STATUS) is d/core-3.status.json."""
    return core_base(run_dir, core) + suffix


def core_pattern(suffix: str) -> str:
    """A glob of that file of every load process: core_pattern(RECORDS) is "core-*.jsonl"."""
    return "core-*" + suffix


def host_data(host_slice: Mapping[str, Any], run_id: str, target: str | None, locustfile: str, work_dir: str, *,
              start_time: float | None = None, arm_timeout: float | None = None, jtl: bool = False,
              locust_args: Sequence[Any] = (), deadline_grace: float = DEADLINE_GRACE,
              remote_write: str | None = None, profile: str | None = None,
              histograms: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A load host's data.json (DATA_FILE): its slice of the plan (planner.host_slice: host,
    host_index, hosts, plan, cores) with the run's settings every load process reads:

      run_id          the run's id (records, metrics labels)
      target          the base URL the requests go to (Locust's --host), or None: the classes' own
      locustfile      its path on the load host
      work_dir        the run's work directory there (the files above)
      start_time      the shared start (epoch s); None: the processes arm and wait for START_FILE
      arm_timeout     seconds an armed process waits for that signal; None: the runtime's default
      jtl             also write JTL rows (hailstorm_jtl)
      locust_args     hailstorm_locust_args, as Locust's command line reads them
      deadline_grace  seconds a process may outlive the plan (hailstorm_deadline_grace)
      metrics         {remote_write: URL or None (live metrics off), profile: the run's profile,
                      histograms: "native" or "classic", buckets: the classic bounds (s)}
                      (`histograms`: live_metrics.checked_buckets' answer)

    No secrets: hailstorm_environment goes to ENV_FILE only."""
    return {**host_slice, "run_id": run_id, "start_time": start_time, "arm_timeout": arm_timeout,
            "target": target, "locustfile": locustfile, "work_dir": work_dir, "jtl": jtl,
            "locust_args": list(locust_args), "deadline_grace": deadline_grace,
            "metrics": {"remote_write": remote_write, "profile": profile,
                        **{k: v for k, v in (histograms or {}).items() if k in ("histograms", "buckets")}}}
