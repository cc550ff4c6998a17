"""The load-host file contract: data.json is built by one function, which the runtime reads back
as the launch role wrote it (the defaults the runtime falls back on are the same)."""
from __future__ import annotations

import json

from ansible_collections.romram.hailstorms.plugins.module_utils import contract, plan_queries, planner

SETTINGS = {"clients": 6, "rps": 3, "pace": 2.0, "rampup": 4.0, "constant": 2.0, "rampdown": 4.0}


def test_host_data_carries_the_slice_and_every_setting_a_load_process_reads():
    plan = planner.make_plan(SETTINGS, [("h1", 2), ("h2", 1)])
    data = contract.host_data(plan_queries.host_slice(plan, "h2"), "r1", "http://t:1", "/w/r1/l.py", "/w/r1")
    assert data == {"host": "h2", "host_index": 1, "hosts": 2, "plan": plan_queries.host_slice(plan, "h2")["plan"],
                    "cores": plan["hosts"]["h2"]["cores"], "run_id": "r1", "start_time": None, "arm_timeout": None,
                    "target": "http://t:1", "locustfile": "/w/r1/l.py", "work_dir": "/w/r1", "jtl": False,
                    "locust_args": [], "deadline_grace": contract.DEADLINE_GRACE,
                    "metrics": {"remote_write": None, "profile": None}}
    assert json.loads(json.dumps(data)) == data  # what the runtime reads back is what was built


def test_host_data_takes_the_start_the_arguments_and_live_metrics():
    plan = planner.make_plan(SETTINGS, [("h1", 1)])
    data = contract.host_data(plan_queries.host_slice(plan, "h1"), "r2", None, "l.py", "/w", start_time=1.5e9,
                              arm_timeout=30.0, jtl=True, locust_args=("--tags", "a"), deadline_grace=3,
                              remote_write="http://prom:9090/api/v1/write", profile="default+high")
    assert (data["start_time"], data["arm_timeout"], data["jtl"], data["locust_args"], data["deadline_grace"]) == (
        1.5e9, 30.0, True, ["--tags", "a"], 3)
    assert data["metrics"] == {"remote_write": "http://prom:9090/api/v1/write", "profile": "default+high"}
    assert data["target"] is None  # the user classes' own host
