"""Unit tests of the planner filters as playbooks call them."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.filter.hailstorm import FilterModule

FILTERS = FilterModule().filters()
PROFILES = {"default": {"target": "http://127.0.0.1:3456/", "rps": 20, "clients": 181, "rampup": "3m"},
            "high": {"rps": 40, "clients": 362}}


def test_filters_are_registered_and_the_plumbing_is_documented_as_internal():
    assert set(FILTERS) == {"run_settings", "plan", "host_slice", "host_data", "plan_preview", "plan_at", "usable_cores",
                            "start_lead", "run_limits", "signal_verdict", "load_host_cores", "hosts_without_cores",
                            "checked_options", "checked_url", "live_metrics_environment"}
    folder = Path(__file__).resolve().parents[4] / "plugins" / "filter"
    docs = {path.stem: yaml.safe_load(path.read_text())["DOCUMENTATION"] for path in folder.glob("*.yml")}
    from ansible_collections.romram.hailstorms.plugins.filter.thresholds import FilterModule as Thresholds
    # every filter is documented
    assert set(docs) == set(FILTERS) | set(Thresholds().filters())
    public = {name for name, doc in docs.items() if not doc["short_description"].startswith("Internal:")}
    assert public == {"run_settings", "plan", "host_slice", "plan_preview", "plan_at", "usable_cores", "thresholds"}


def test_host_data_is_the_hosts_slice_with_the_run_settings_the_launch_role_writes():
    plan = FILTERS["plan"](FILTERS["run_settings"](PROFILES), {"a": 7, "b": 7})
    data = FILTERS["host_data"](plan, "b", run_id="r1", target="http://t:1", locustfile="/w/r1/l.py", work_dir="/w/r1",
                                start_time=None, arm_timeout=900.0, jtl=True, locust_args=["--tags", "x"],
                                deadline_grace=10, remote_write=None, profile="default")
    assert data == {**FILTERS["host_slice"](plan, "b"), "run_id": "r1", "start_time": None, "arm_timeout": 900.0,
                    "target": "http://t:1", "locustfile": "/w/r1/l.py", "work_dir": "/w/r1", "jtl": True,
                    "locust_args": ["--tags", "x"], "deadline_grace": 10,
                    "metrics": {"remote_write": None, "profile": "default"}}
    with pytest.raises(AnsibleFilterError, match=r"romram.hailstorms.host_data: host 'c' is not in the plan"):
        FILTERS["host_data"](plan, "c", run_id="r1", target=None, locustfile="l.py", work_dir="/w")


def test_run_settings_stacks_profiles_and_reports_them():
    run = FILTERS["run_settings"](PROFILES, "default+high", {"constant": "1m"})
    assert (run["rps"], run["clients"], run["constant"], run["profile"]) == (40, 362, 60, "default+high")
    assert run["target"] == "http://127.0.0.1:3456" and run["warnings"] == []


def test_plan_accepts_a_mapping_or_pairs_and_keeps_host_order():
    run = FILTERS["run_settings"](PROFILES)
    as_pairs = FILTERS["plan"](run, [["b", 7], ["a", 7]])
    as_mapping = FILTERS["plan"](run, {"b": 7, "a": 7})
    assert as_pairs == as_mapping
    assert list(as_pairs["hosts"]) == ["b", "a"] and as_pairs["hosts"]["b"]["clients"] == 91


def test_host_slice_and_preview():
    plan = FILTERS["plan"](FILTERS["run_settings"](PROFILES), {"a": 7, "b": 7})
    mine = FILTERS["host_slice"](plan, "b")
    assert mine["host_index"] == 1 and len(mine["cores"]) == 7 and "hosts" not in mine["plan"]
    lines = FILTERS["plan_preview"](plan, 6)
    assert lines[0].startswith("181 clients, 20 rps, pace 9.050 s")
    assert any(line.startswith("a ") and " 91 " in line for line in lines)
    assert lines[1].endswith(f", {plan['expected_requests']} requests")
    host_rows = [line.split() for line in lines if line.startswith(("a ", "b "))]
    assert sum(int(row[-1]) for row in host_rows) == plan["expected_requests"]
    assert lines[-1].split() == ["6:00.0", "0", "0.00"]


@pytest.mark.parametrize("name,args,message", [
    ("run_settings", (PROFILES, "nope"), r"romram.hailstorms.run_settings: hailstorm_profile: unknown profile\(s\) nope"),
    ("run_settings", ("not a dict",), "romram.hailstorms.run_settings: hailstorm_profiles must be a mapping"),
    ("plan", ({"clients": 3, "rps": 3, "pace": 1, "rampup": 3, "constant": 0, "rampdown": 3}, {"a": 7}),
     "romram.hailstorms.plan: hailstorm_clients: 3 clients cannot keep 7 usable cores busy"),
    ("plan", ({"clients": 3}, "a"), "romram.hailstorms.plan: hosts must be"),
    ("plan", ({"clients": 3}, {"a": 1}), r"romram.hailstorms.plan: unexpected input"),
    ("host_slice", ({"hosts": {"a": {}}}, "z"), "romram.hailstorms.host_slice: host 'z' is not in the plan"),
])
def test_errors_name_the_filter_and_the_setting(name, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS[name](*args)


def test_plan_at_gives_the_planned_line():
    plan = FILTERS["plan"](FILTERS["run_settings"](PROFILES), {"a": 7, "b": 7})
    assert FILTERS["plan_at"](plan, 180.0) == {"offset": 180.0, "active": 181, "rps": pytest.approx(20.0)}
    assert FILTERS["plan_at"](plan, 90.0)["active"] == 91
    assert FILTERS["plan_at"](plan, 360.0)["active"] == 0
