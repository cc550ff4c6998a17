# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller and the runtime on a load host agree on: the files of a run's work
directory, the states a load process goes through, the grace defaults. One home, shared with the
runtime (runtime/hailstorm_runtime/contract.py is a symlink to this file, as plan_queries.py,
planner.py and records.py are): pure Python, no Ansible, no Locust. `host_data` is the one builder of a load
host's data.json: the launch role (through the host_data filter), the runtime's calibration, the
tests and the benchmarks all write what it returns.

A run's work directory on a load host (hailstorm_work_dir/<run id>) holds:

  data.json               the host's slice of the plan and the run's settings (no secrets)
  environment.json        hailstorm_environment, 0600, removed once every process is armed
  start.json              the start signal: {"start_time": epoch}, written when every process is armed
  stop.json               written by stop.yml before it stops the processes: the launch's wait ends at once
  core-N.pid              a load process's pid, while it runs
  core-N.status.json      its status, rewritten every second (STATES)
  core-N.jsonl            its records (records.py)
  core-N.log              its output
  core-N.jtl              its JTL rows (hailstorm_jtl)
  host.jsonl              the host's merge of its cores, what the controller fetches (HOST_FILE)

A run's results directory on the controller (hailstorm_results_dir/<run id>) holds the files
named below (RESULTS_FILES), and one directory per load host with what was fetched from it. The
roles name them through one variable each (roles/common/vars/main.yml, _hailstorm_*_file_name;
tests/unit/roles/test_file_names.py keeps those equal to these).
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

DATA_FILE = "data.json"
ENV_FILE = "environment.json"
START_FILE = "start.json"
STOP_FILE = "stop.json"
HOST_FILE = "host.jsonl"

# a run's results directory on the controller
PLAN_FILE = "plan.json"  # the run's plan (hailstorm_plan); alone, the preview of --check
LAUNCH_FILE = "launch.json"  # written by the launch role once every load host's lock is taken
ABORT_FILE = "abort.json"  # the collect role stopped the run on an abort threshold
STOPPED_FILE = "stopped.json"  # a run stopped before its start: who stopped it and when
SUMMARY_FILE = "summary.json"  # the merged figures (hailstorm_results)
REPORT_FILE = "report.html"  # the self-contained report
JUNIT_FILE = "junit.xml"  # one testcase per run-state check and per threshold
GRAFANA_DASHBOARD_FILE = "grafana-dashboard.json"  # the Grafana dashboard with the run's hailstorm_report_queries
JTL_FILE = "results.jtl"  # every request, all cores merged by time (hailstorm_jtl)
CSV_PREFIX = "locust"  # Locust's CSV layout: CSV_PREFIX + each of CSV_SUFFIXES
CSV_SUFFIXES = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
CSV_SCHEDULE_SUFFIX = "_stats_from_schedule.csv"  # _stats.csv's layout, response times from schedule
RESULTS_FILES = (PLAN_FILE, LAUNCH_FILE, ABORT_FILE, STOPPED_FILE, SUMMARY_FILE, REPORT_FILE, JUNIT_FILE, JTL_FILE,
                 *(CSV_PREFIX + suffix for suffix in CSV_SUFFIXES + (CSV_SCHEDULE_SUFFIX,)))

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

# what a load-host command writes on the last line of its stderr when it fails on purpose: its own
# reason after RUNTIME_SAYS, or Locust's own words for a locustfile without a User class
RUNTIME_SAYS = "hailstorm_runtime: "
NO_USER_CLASS = "No User class found!"

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
    """A load host's data.json (DATA_FILE): its slice of the plan (plan_queries.host_slice: host,
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
