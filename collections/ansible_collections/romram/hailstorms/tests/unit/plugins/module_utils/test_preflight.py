"""The preflight verdict, message by message (pure Python: records as the role gathers them)."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import planner, preflight

OPTIONS = {"max_clock_offset": 0.05, "health_url": "http://10.0.0.5:8080",
           "disk_bytes_per_request": 200, "disk_reserve_mb": 100, "startup_seconds": 3.0,
           "backend": "systemd", "locustfile": "/opt/hailstorms/locustfiles/demo.py"}
RUN = {"rps": 100.0, "clients": 100, "pace": 1.0, "rampup": 60.0, "constant": 120.0, "rampdown": 60.0}


def plan(hosts, **changes):
    """The exact plan of RUN (with `changes`) over `hosts` ({hostname: usable cores})."""
    return planner.make_plan({**RUN, **changes}, hosts)


PLAN = plan({"h1": 3})  # 100 rps over 30 + 120 + 30 s: about 18,000 requests, each one counted
GOOD = {
    "probe": {"python": {"version": "3.11.2", "executable": "/usr/bin/python3"}, "cpus": 4, "cpu_list": [0, 1, 2, 3],
              "disk": {"path": "/var/lib", "free_bytes": 10 * 1024 ** 3},
              "clock": {"offset": 0.002, "uncertainty": 0.003, "round_trip": 0.006, "samples": 6, "consistent": True},
              "module_round_trip": 0.4,
              "interpreters": [{"name": "python3.13", "path": None}, {"name": "python3.12", "path": None},
                               {"name": "python3.11", "path": "/usr/bin/python3.11", "version": "3.11.2", "venv": True},
                               {"name": "python3", "path": "/usr/bin/python3", "version": "3.11.2", "venv": True}],
              "distro": {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"}},
    "health": {"status": 200, "msg": "OK"},
    "check": {"rc": 0, "stdout": "{", "stderr": "", "delta": "0:00:01.500000"},
    "cores": None, "connection": "ssh", "work_dir": "/var/lib/hailstorms",
}


def record(**changes):
    rec = copy.deepcopy(GOOD)
    for path, value in changes.items():
        where = rec
        keys = path.split("__")
        for key in keys[:-1]:
            where = where[key]
        where[keys[-1]] = value
    return rec


def findings(rec, options=None, plan_=PLAN):
    return preflight.host_findings("h1", rec, OPTIONS if options is None else options, preflight.plan_share(plan_, "h1"))


def test_a_good_host_passes_with_its_figures():
    found = findings(record())
    assert found["failures"] == [] and found["warnings"] == []
    assert found["usable_cores"] == 3 and found["core_cpus"] == [1, 2, 3]
    assert found["startup_seconds"] == pytest.approx(1.5)
    assert found["ready_seconds"] == pytest.approx(0.4 + 1.5 + 0.002 + 0.003)
    assert found["figures"]["expected_requests"] == PLAN["expected_requests"]
    assert abs(PLAN["expected_requests"] - 100 * (30 + 120 + 30)) <= 100


def test_core_cpus_leave_the_lowest_free_and_cycle_when_short():
    assert preflight.core_cpus([0, 1, 2, 3], 2) == [2, 3]
    assert preflight.core_cpus([4, 6], 3) == [4, 6, 4]


@pytest.mark.parametrize("rec,message", [
    (None, "h1: preflight stopped on this host before its probe"),
    (record(probe={"unreachable": True, "msg": "ssh: connect to host 192.0.2.1 port 22: timed out"}),
     "h1: unreachable: ssh: connect to host 192.0.2.1 port 22: timed out. Fix: check ansible_host"),
    (record(probe={"failed": True, "python": None, "msg": "/usr/bin/python3 did not run on the host (rc 127)"}),
     "h1: the probe failed: /usr/bin/python3 did not run on the host (rc 127). Fix: install python3 on the host"),
    (record(become={"user": "ubuntu", "method": "sudo", "ok": False, "msg": "Missing sudo password"}),
     "h1: the connection user ubuntu cannot become root with sudo: Missing sudo password. Fix: "
     "hailstorm_backend=systemd installs and starts the load processes as root: give that user sudo rights"),
    (record(probe__interpreters=[{"name": "python3", "path": "/usr/bin/python3", "version": "3.9.2", "venv": True}],
            probe__distro={"id": "debian", "version_id": "11", "pretty_name": "Debian GNU/Linux 11 (bullseye)"}),
     "h1: no Python >= 3.11 with venv on this host (Debian GNU/Linux 11 (bullseye): python3 3.9.2 at /usr/bin/python3)"),
    (record(cores=8), "h1: hailstorm_cores=8 but the host lets processes run on only 4 CPUs [0, 1, 2, 3]. Fix: set "
                      "hailstorm_cores to at most 4 (better 3"),
    (record(cores="0"), "h1: hailstorm_cores: must be a whole number >= 1, got '0'"),
    (record(probe__clock__offset=0.2), "h1: clock offset +0.2000 s (+- 0.0030 s, so between +0.1970 and +0.2030 s) "
                                       "against the controller is certainly over hailstorm_max_clock_offset=0.05 s"),
    (record(health={"status": 503, "msg": ""}), "h1: the target does not answer at hailstorm_health_url="
                                                "http://10.0.0.5:8080 (HTTP 503)"),
    (record(health={"status": -1, "msg": "Status code was -1 and not [200]: Request failed: <urlopen error timed out>"}),
     "(Request failed: <urlopen error timed out>). Fix: start the target"),
    (record(probe__disk__free_bytes=50 * 1048576),
     f"h1: 50 MiB free at /var/lib (hailstorm_work_dir=/var/lib/hailstorms), 104 MiB needed ({PLAN['expected_requests']} "
     "expected requests x hailstorm_disk_bytes_per_request=200 + hailstorm_disk_reserve_mb=100)"),
    (record(check={"rc": 1, "stdout": "", "stderr": "a\nb\nSyntaxError: bad", "delta": "0:00:00.3"}),
     "h1: the runtime cannot load the locustfile /opt/hailstorms/locustfiles/demo.py (rc 1): a | b | SyntaxError: bad"),
])
def test_each_failure_names_the_host_the_value_and_the_fix(rec, message):
    failures = findings(rec)["failures"]
    assert any(message in failure for failure in failures), failures
    assert all("Fix:" in failure or "preflight stopped" in failure or "hailstorm_cores:" in failure
               for failure in failures)


def test_the_local_backend_on_a_remote_host_is_refused():
    found = findings(record(), {**OPTIONS, "backend": "local"})
    assert found["failures"] == ["h1: hailstorm_backend=local starts the load processes on the controller, but this "
                                 "host is reached with ansible_connection=ssh. Fix: use hailstorm_backend=systemd or "
                                 "docker for remote hosts, or only localhost with ansible_connection=local."]


@pytest.mark.parametrize("clock,message", [
    ({"offset": 0.059, "uncertainty": 0.064, "round_trip": 0.13, "samples": 5, "consistent": True},
     "h1: clock offset +0.0590 s (+- 0.0640 s, so between -0.0050 and +0.1230 s) may be over "
     "hailstorm_max_clock_offset=0.05 s (the shortest round trip, 0.130 s, does not resolve it)"),
    ({"offset": 0.0, "uncertainty": 0.001, "round_trip": 0.002, "samples": 5, "consistent": False},
     "h1: the clock was stepped during the measurement"),
])
def test_clock_warnings_do_not_fail(clock, message):
    found = findings(record(probe__clock=clock))
    assert found["failures"] == [] and found["warnings"] == [found["warnings"][0]]
    assert message in found["warnings"][0]


def test_without_a_runtime_check_the_assumed_startup_counts():
    found = findings(record(check=None))
    assert found["startup_seconds"] is None and found["ready_seconds"] == pytest.approx(0.4 + 3.0 + 0.005)


def test_the_verdict_always_prints_every_host_and_counts_the_bad_ones():
    records = {"a": record(), "b": record(probe={"unreachable": True, "msg": "timed out"}), "c": None}
    result = preflight.verdict(["a", "b", "c"], records, OPTIONS)  # not planned: b and c have no cores
    assert result["head"] == "Preflight FAILED on 2 of 3 load hosts"
    assert result["report"][0] == "Preflight FAILED on 2 of 3 load hosts:"
    assert result["report"][1].startswith("a: python 3.11.2 (/usr/bin/python3.11), cores 3 (CPUs 1,2,3), clock +0.0020 s +- 0.0030, "
                                          "target HTTP 200, disk 10240 MiB free / ")
    assert result["report"][2:4] == ["b: (no figures)", "c: (no figures)"]
    assert [line.split(":")[0] for line in result["report"][4:]] == ["ERROR b", "ERROR c"]
    # nothing was planned on the absence of b and c: a's disk holds the reserve, and says so
    assert "disk 10240 MiB free / 100 needed for the reserve alone (not planned), ready" in result["report"][1]
    assert result["hosts"]["a"]["figures"]["expected_requests"] is None


def test_the_verdict_passes_when_every_host_passes():
    both = plan({"a": 3, "b": 1})
    result = preflight.verdict(["a", "b"], {"a": record(), "b": record(cores=1)}, OPTIONS, both)
    assert result["failed"] == [] and result["head"] == "Preflight passed on all 2 load hosts"
    assert result["hosts"]["a"]["figures"]["expected_requests"] == both["hosts"]["a"]["requests"]  # 3 of 4 cores
    assert f"needed for {both['hosts']['b']['requests']} planned requests, ready" in result["report"][2]


CALIBRATED = {"rc": 0, "stdout": '{"rps_per_cpu_second": 3600.0, "rps": 1000.0, "cpu": 0.28}', "stderr": ""}


_DEFAULT = object()


def calibrated(calibration=_DEFAULT, rps=100.0):
    rec = record()
    rec["calibration"] = CALIBRATED if calibration is _DEFAULT else calibration
    share = preflight.plan_share(plan({"h1": 3}, rps=rps, clients=int(rps)), "h1")  # pace 1 s: rps / 3 per core
    return preflight.host_findings("h1", rec, {**OPTIONS, "calibrate": True}, share)


def test_a_plan_within_the_calibrated_capacity_passes_and_shows_it():
    found = calibrated(rps=3 * 2500.0)  # 2,500 rps per core, 69 % of 3,600
    assert found["warnings"] == [] and found["failures"] == []
    assert found["figures"]["capacity_rps_per_core"] == 3600.0


def test_a_plan_past_70_percent_of_the_calibrated_capacity_warns_with_the_numbers_and_the_fix():
    found = calibrated(rps=3 * 3000.0)
    assert found["failures"] == []
    assert found["warnings"] == [
        "h1: the plan asks 3000 rps of each of its 3 load cores, 83 % of the 3600 paced rps one core of this host "
        "measured (hailstorm_calibrate; warned above 70 %): its cores may not hold the planned rate (the run's "
        "summary says so if they do not). Fix: more load cores or hosts (about 4 cores in all instead of 3), or a "
        "lower hailstorm_rps."]


@pytest.mark.parametrize("calibration, why", [
    (None, "the runtime is not provisioned on this host yet"),
    ({"rc": 1, "stdout": "", "stderr": "Traceback\nOSError: no port"}, "the calibration failed (rc 1): Traceback | OSError"),
    ({"rc": 0, "stdout": "nonsense", "stderr": ""}, "the calibration printed no result"),
    ({"rc": 0, "stdout": '{"rps_per_cpu_second": 0}', "stderr": ""}, "the calibration measured no capacity"),
])
def test_a_missing_or_failed_calibration_is_a_warning_not_a_failure(calibration, why):
    found = calibrated(calibration)
    assert found["failures"] == []
    assert len(found["warnings"]) == 1 and found["warnings"][0].startswith(f"h1: no capacity calibration: {why}")


def test_without_hailstorm_calibrate_no_calibration_is_looked_at():
    rec = record()
    rec["calibration"] = {"rc": 1, "stdout": "", "stderr": "boom"}
    found = preflight.host_findings("h1", rec, OPTIONS, preflight.plan_share(plan({"h1": 3}, rps=1e6, clients=10 ** 6), "h1"))
    assert found["warnings"] == [] and found["figures"]["capacity_rps_per_core"] is None


def test_capacity_warning_is_none_at_or_below_the_fraction():
    assert preflight.capacity_warning("h", 1000.0, 700.0, 2, 2) is None
    assert preflight.capacity_warning("h", 1000.0, 701.0, 2, 2) is not None


def test_the_report_names_the_user_the_locustfile_was_checked_as():
    checked = record(check__stdout='{"user_classes": ["Demo"], "locust": "2.47.0", "user": "hailstorm"}')
    result = preflight.verdict(["a"], {"a": checked}, OPTIONS, plan({"a": 3}))
    assert result["hosts"]["a"]["figures"]["check_user"] == "hailstorm"
    assert ", locustfile checked as hailstorm" in result["report"][1]
    assert findings(record())["figures"]["check_user"] is None  # an older runtime's line: no user, none shown


def test_a_controller_results_disk_too_small_for_the_run_fails_the_preflight_and_says_what_is_needed():
    # the plan's expected requests (about 18,000) x 200 bytes (x 2 with JTL rows) + 100 MiB
    small = {"path": "/home/ci", "free_bytes": 50 * preflight.MIB}
    options = {**OPTIONS, "results_dir": "/home/ci/results", "jtl": True}
    one = plan({"a": 3})
    result = preflight.verdict(["a"], {"a": record()}, options, one, small)
    assert result["head"] == "Preflight passed on all 1 load hosts but FAILED on the controller"
    assert result["failed"] == [
        f"controller: 50 MiB free at /home/ci (hailstorm_results_dir=/home/ci/results), 107 MiB needed "
        f"({one['expected_requests']} expected requests of the run x hailstorm_disk_bytes_per_request=200 x 2 "
        "(hailstorm_jtl keeps every request twice) + hailstorm_disk_reserve_mb=100). Fix: free disk space on the "
        "controller, or set hailstorm_results_dir to a larger disk."]
    assert (f"controller: results disk 50 MiB free / 107 needed for {one['expected_requests']} planned requests "
            "at /home/ci") in result["report"]
    roomy = preflight.verdict(["a"], {"a": record()}, options, one, {"path": "/", "free_bytes": 10 * 1024 ** 3})
    assert roomy["failed"] == [] and roomy["head"] == "Preflight passed on all 1 load hosts"


def test_the_controller_free_space_is_read_from_the_nearest_existing_directory(tmp_path):
    found = preflight.free_space(str(tmp_path / "results" / "not" / "yet"))
    assert found["path"] == str(tmp_path) and found["free_bytes"] > 0


def test_a_user_that_becomes_root_and_an_unchecked_become_pass():
    assert findings(record(become={"user": "ubuntu", "method": "sudo", "ok": True, "msg": ""}))["failures"] == []
    assert findings(record(become=None))["failures"] == []


def test_the_controller_judges_with_its_results_disk_and_its_wheelhouse(tmp_path):
    """preflight.judge (the action hailstorm_preflight_verdict): the controller's own reads, then the verdict."""
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "locust-2.47.0-cp311-cp311-manylinux_2_17_x86_64.whl").write_text("")
    options = {**OPTIONS, "results_dir": str(tmp_path / "results"), "wheelhouse": str(tmp_path / "wheels")}
    result = preflight.judge(["a"], {"a": record()}, options, None)
    assert result["head"] == "Preflight passed on all 1 load hosts"
    assert any(line.startswith("controller: results disk") and str(tmp_path) in line for line in result["report"])
    assert preflight.judge(["a"], {}, OPTIONS)["report"][1] == "a: (no figures)"  # no record: its failure is named
