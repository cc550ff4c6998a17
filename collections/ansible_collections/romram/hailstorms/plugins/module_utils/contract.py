# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller and the runtime on a load host agree on: the files of a run's work
directory, the states a load process goes through, the grace defaults. One home, shared with the
runtime (runtime/hailstorm_runtime/contract.py is a symlink to this file, as planner.py and
results.py are): pure Python, no Ansible, no Locust.

A run's work directory on a load host (hailstorm_work_dir/<run id>) holds:

  data.json               the host's slice of the plan and the run's settings (no secrets)
  environment.json        hailstorm_environment, 0600, removed once every process is armed
  start.json              the start signal: {"start_time": epoch}, written when every process is armed
  core-N.pid              a load process's pid, while it runs
  core-N.status.json      its status, rewritten every second (STATES)
  core-N.jsonl            its records (results.py)
  core-N.log              its output
  core-N.jtl              its JTL rows (hailstorm_jtl)
  host.jsonl              the host's merge of its cores, what the controller fetches (results.HOST_FILE)
"""
from __future__ import annotations

import os

DATA_FILE = "data.json"
ENV_FILE = "environment.json"
START_FILE = "start.json"
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
