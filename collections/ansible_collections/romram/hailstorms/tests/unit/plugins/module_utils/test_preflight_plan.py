"""probe -> plan -> verdict: the probe's usable cores feed the plan, the verdict judges each host's
share of that exact plan (pure Python: records as the role gathers them, real plans)."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, planner, preflight, run_settings

from test_preflight import CALIBRATED, OPTIONS, record

TRAPEZOID = {"rps": 10.0, "clients": 10, "pace": 1.0, "rampup": 60.0, "constant": 120.0, "rampdown": 60.0}
SPIKE = {"rps": 400.0, "clients": 400, "pace": 1.0, "stages": run_settings.parse_stages([
    {"duration": "60s", "rps": 40}, {"duration": "0s", "rps": 400}, {"duration": "10s", "rps": 400},
    {"duration": "0s", "rps": 40}, {"duration": "60s", "rps": 40}])}


@pytest.mark.parametrize("probe,given,cores,cpus", [
    ({"cpus": 4, "cpu_list": [0, 1, 2, 3]}, None, 3, [1, 2, 3]),   # the CPUs minus one, the lowest left free
    ({"cpus": 4, "cpu_list": [0, 1, 2, 3]}, "", 3, [1, 2, 3]),     # an empty hailstorm_cores is unset
    ({"cpus": 2, "cpu_list": [4, 6]}, 2, 2, [4, 6]),                 # hailstorm_cores, on the CPUs allowed
    ({"cpus": 1, "cpu_list": [0]}, None, 1, [0]),                     # at least one
])
def test_the_probe_gives_the_usable_cores_the_plan_divides_the_clients_over(probe, given, cores, cpus):
    assert preflight.probed_cores(probe, given) == (cores, cpus)


def test_a_bad_hailstorm_cores_gives_no_usable_cores_and_the_verdict_names_it():
    with pytest.raises(plan_queries.PlanError, match="hailstorm_cores: must be a whole number >= 1, got '0'"):
        preflight.probed_cores({"cpus": 4}, "0")
    found = preflight.host_findings("h1", record(cores="0"), OPTIONS)
    assert found["failures"] == ["h1: hailstorm_cores: must be a whole number >= 1, got '0'"]


def test_the_verdict_and_the_plan_count_the_same_cores():
    rec = record(cores=2)
    assert preflight.host_findings("h1", rec, OPTIONS)["usable_cores"] == preflight.probed_cores(rec["probe"], 2)[0]


def test_each_host_is_judged_on_its_own_share_of_the_plan_not_an_even_split():
    # 10 clients over 3 + 1 cores: a's cores get 3, 3, 2 clients, b's 2; an even split would say 3/4 and 1/4
    plan = planner.make_plan(TRAPEZOID, {"a": 3, "b": 1})
    shares = {host: preflight.plan_share(plan, host) for host in ("a", "b")}
    assert shares["a"]["requests"] + shares["b"]["requests"] == plan["expected_requests"] == 1800
    assert shares["a"]["requests"] == sum(core["requests"] for core in plan["hosts"]["a"]["cores"]) != 1800 * 3 // 4
    assert (shares["a"]["peak_core_rps"], shares["b"]["peak_core_rps"]) == (3.0, 2.0)
    assert preflight.plan_share(plan, "c") is None and preflight.plan_share(None, "a") is None


def test_a_disk_too_small_for_the_hosts_planned_requests_names_them():
    plan = planner.make_plan(TRAPEZOID, {"a": 3, "b": 1})
    requests = plan["hosts"]["a"]["requests"]
    options = {**OPTIONS, "disk_bytes_per_request": 100_000, "disk_reserve_mb": 0}  # about 136 MiB for a
    free = requests * 100_000 - 1
    result = preflight.verdict(["a", "b"], {"a": record(probe__disk__free_bytes=free), "b": record(cores=1)}, options, plan)
    assert result["failed"] == [
        f"a: {round(free / preflight.MIB)} MiB free at /var/lib (hailstorm_work_dir=/var/lib/hailstorms), "
        f"{-(-requests * 100_000 // preflight.MIB)} MiB needed ({requests} expected requests x "
        "hailstorm_disk_bytes_per_request=100000 + hailstorm_disk_reserve_mb=0). Fix: free disk space, or set "
        "hailstorm_work_dir to a larger disk."]
    assert result["head"] == "Preflight FAILED on 1 of 2 load hosts"


def test_without_a_plan_a_disk_must_hold_the_reserve_and_the_message_says_why_requests_are_not_counted():
    found = preflight.host_findings("h1", record(probe__disk__free_bytes=50 * preflight.MIB), OPTIONS)
    assert found["failures"] == [
        "h1: 50 MiB free at /var/lib (hailstorm_work_dir=/var/lib/hailstorms), 100 MiB needed (hailstorm_disk_reserve_mb="
        f"100; {preflight.NOT_PLANNED}). Fix: free disk space, or set hailstorm_work_dir to a larger disk."]
    failed, line = preflight.controller_findings({"path": "/r", "free_bytes": 0}, {**OPTIONS, "results_dir": "/r"}, None)
    assert line == "controller: results disk 0 MiB free / 100 needed for the reserve alone (not planned) at /r"
    assert failed[0].startswith(f"controller: 0 MiB free at /r (hailstorm_results_dir=/r), 100 MiB needed "
                                f"(hailstorm_disk_reserve_mb=100; {preflight.NOT_PLANNED}). Fix:")


def test_the_controller_disk_is_judged_from_the_plans_exact_total():
    plan = planner.make_plan(SPIKE, {"a": 4})
    assert plan["expected_requests"] == 7600  # 0 to 40 rps over 60 s, 400 rps for 10 s, 40 rps for 60 s
    needed = 7600 * 200 + 100 * preflight.MIB
    failed, line = preflight.controller_findings({"path": "/r", "free_bytes": needed}, {**OPTIONS, "results_dir": "/r"},
                                                 plan)
    assert failed == [] and line == "controller: results disk 101 MiB free / 102 needed for 7600 planned requests at /r"
    failed, _line = preflight.controller_findings({"path": "/r", "free_bytes": needed - 1},
                                                  {**OPTIONS, "results_dir": "/r"}, plan)
    assert "(7600 expected requests of the run x hailstorm_disk_bytes_per_request=200 + " in failed[0]


def calibrated_findings(capacity: float, plan, host: str = "h1"):
    rec = record(cores=len(plan["hosts"][host]["cores"]))  # the cores the plan has for it
    rec["calibration"] = {**CALIBRATED, "stdout": f'{{"rps_per_cpu_second": {capacity}}}'}
    return preflight.host_findings(host, rec, {**OPTIONS, "calibrate": True}, preflight.plan_share(plan, host))


def test_a_spike_past_the_calibrated_capacity_is_warned_about_though_the_runs_average_is_far_below():
    plan = planner.make_plan(SPIKE, {"h1": 4})  # 100 rps per core for 10 s; about 15 per core on average
    assert plan["expected_requests"] / plan["duration"] / 4 < 15
    warnings = calibrated_findings(120.0, plan)["warnings"]  # warned above 84 rps per core
    assert warnings and warnings[0].startswith("h1: the plan asks 100 rps of each of its 4 load cores, 83 % of the 120 "
                                               "paced rps one core of this host measured")
    assert "(about 5 cores in all instead of 4)" in warnings[0]
    assert calibrated_findings(150.0, plan)["warnings"] == []  # 67 %


def test_the_busiest_core_of_an_uneven_plan_is_judged():
    # 7 clients, 1 s pace, over 3 cores: 3, 2, 2 clients; 3 rps is over 70 % of 4, the even 2.33 would not be
    plan = planner.make_plan({**TRAPEZOID, "clients": 7, "rps": 7.0}, {"h1": 3})
    assert calibrated_findings(4.0, plan)["warnings"][0].startswith("h1: the plan asks 3 rps of each of its 3 load cores")
