# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight verdict: per-host findings from what the probes returned, then one verdict.

Pure Python (no Ansible). The controller works in this order: probe -> plan -> verdict. The
preflight role probes every load host (hailstorm_probe, the health URL, the runtime's import
check) and gathers each host's raw results into one small record; the probe gives each host's
usable cores (`probed_cores`), which the plan divides the clients over; then `verdict` runs once,
on the controller, and judges every host from its record and its share of the exact plan
(`plan_share`: its planned requests for the disk, its busiest core's peak rate for the calibrated
capacity). The plan is made only when every host answered its probe: a host that could not be
probed at all (unreachable, no Python, a probe that failed) is a failure with its reason, judged
without a plan, and the verdict always prints. Every rule below has a message that names the
host, the value, the variable and the fix.
"""
from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Mapping, Sequence

from ansible_collections.romram.hailstorms.plugins.module_utils import clock, interpreters, plan_queries, run_settings

MIB = 1048576
# Why a disk was judged against hailstorm_disk_reserve_mb alone.
NOT_PLANNED = "the run's requests are not counted: the run is planned only when every load host answered its probe"
CAPACITY_WARN_FRACTION = 0.7  # of a core's calibrated capacity past which the plan's rate per core is warned about
_STATUS_PREFIX = re.compile(r"^Status code was -?[0-9]+ and not \[[0-9, ]*\]: ")


def core_cpus(cpu_list: Sequence[int], cores: int) -> list[int]:
    """CPU of each load core: the highest CPUs the host allows, leaving the lowest (where the
    system and its interrupts usually run) free when there are spare ones; cycled if fewer."""
    cpus = list(cpu_list) or [0]
    skip = max(len(cpus) - cores, 0)
    return [cpus[(skip + i) % len(cpus)] for i in range(cores)]


def probed_cores(probe: Mapping[str, Any], given: Any = None) -> tuple[int, list[int]]:
    """(usable cores, the CPU of each) of a host from its probe (hailstorm_probe's result): the
    cores are hailstorm_cores (`given`) if set, else the CPUs the host lets a process run on
    minus one, at least 1 (run_settings.usable_cores); the CPUs are `core_cpus` of those. The plan
    divides the clients over these cores and the verdict judges them. Raises PlanError for a
    bad hailstorm_cores."""
    cpus = int(probe.get("cpus") or 1)
    cores = run_settings.usable_cores(cpus, given)
    return cores, core_cpus(list(probe.get("cpu_list") or range(cpus)), cores)


def plan_share(plan: Mapping[str, Any] | None, host: str) -> dict[str, Any] | None:
    """A load host's share of the plan as the verdict judges it, or None (no plan, or the host is
    not in it): cores (its planned cores), requests (the exact count of its planned slots),
    peak_core_rps (the highest rate one of its cores sends: its clients / pace, every client being
    active at the curve's peak, the constant phase of a trapezoid) and cores_total (the run's)."""
    planned = (plan or {}).get("hosts", {}).get(host)
    if not planned:
        return None
    return {"cores": len(planned["cores"]), "requests": int(planned["requests"]),
            "peak_core_rps": max(int(core["clients"]) for core in planned["cores"]) / float(plan["pace"]),
            "cores_total": int(plan["cores_total"])}


def _seconds(delta: Any) -> float | None:
    """Seconds from a command's `delta` ('0:00:01.234567')."""
    try:
        hours, minutes, seconds = str(delta).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (TypeError, ValueError):
        return None


def _check_user(check: Mapping[str, Any]) -> str | None:
    """The user the start-up check imported the locustfile as (its JSON line's "user"), if known."""
    try:
        user = json.loads(str(check.get("stdout") or "")).get("user")
    except (ValueError, AttributeError):
        return None
    return user if isinstance(user, str) else None


def calibration_figures(calibration: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """(the calibration's figures, None) or (None, why there are none) from the calibrate
    command's result as the role records it: rc, stdout (its JSON line), stderr."""
    if not calibration:
        return None, ("the runtime is not provisioned on this host yet, or the backend is not systemd (the "
                      "calibration runs the provisioned runtime, as the start-up check does)")
    if calibration.get("rc") is not None and int(calibration["rc"]) != 0:
        tail = " | ".join(str(calibration.get("stderr") or "").splitlines()[-3:]) or "no message"
        return None, f"the calibration failed (rc {calibration['rc']}): {tail}"
    try:
        figures = json.loads(str(calibration.get("stdout") or "").strip().splitlines()[-1])
        capacity = float(figures["rps_per_cpu_second"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None, f"the calibration printed no result: {str(calibration.get('stdout') or '')[:200]!r}"
    if math.isnan(capacity) or capacity <= 0:
        return None, f"the calibration measured no capacity ({capacity})"
    return figures, None


def capacity_warning(host: str, capacity: float, per_core_rps: float, cores: int, total_cores: int,
                     fraction: float = CAPACITY_WARN_FRACTION) -> str | None:
    """A warning when the plan asks more of each core of this host than `fraction` of what one
    core measured it can send (calibrated requests per CPU-second), else None."""
    if per_core_rps <= fraction * capacity:
        return None
    needed = math.ceil(per_core_rps * total_cores / (fraction * capacity))
    return (f"{host}: the plan asks {per_core_rps:.0f} rps of each of its {cores} load cores, "
            f"{100 * per_core_rps / capacity:.0f} % of the {capacity:.0f} paced rps one core of this host measured "
            f"(hailstorm_calibrate; warned above {100 * fraction:.0f} %): its cores may not hold the planned rate "
            f"(the run's summary says so if they do not). Fix: more load cores or hosts (about {needed} cores in all "
            f"instead of {total_cores}), or a lower hailstorm_rps.")


def become_finding(host: str, become: Mapping[str, Any] | None, backend: Any) -> str | None:
    """The failure of a host whose connection user cannot become root, or None.

    become: None when not checked (the local backend runs as the controller's user), else user
    (the connection user), method (ansible_become_method), ok (a command run with become
    succeeded) and msg (why not). The systemd and docker backends install the runtime, write the
    units and start the load processes as root; the load itself runs as hailstorm_user.
    """
    if not become or become.get("ok"):
        return None
    method = become.get("method") or "sudo"
    why = " ".join(str(become.get("msg") or "no answer").split())
    return (f"{host}: the connection user {become.get('user') or '(default)'} cannot become root with {method}: {why}. "
            f"Fix: hailstorm_backend={backend} installs and starts the load processes as root: give that user "
            f"{method} rights (passwordless, or its password in ansible_become_password kept in Ansible Vault, "
            "or --ask-become-pass), or connect as root (ansible_user=root).")


def host_findings(host: str, record: Mapping[str, Any] | None, options: Mapping[str, Any],
                  share: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """failures, warnings, figures, usable cores and CPUs of one host from its raw record and its
    `share` of the plan (`plan_share`; None: not planned, then its disk must hold the reserve only).

    record: probe (hailstorm_probe's result), health (ansible.builtin.uri's), check (the runtime
    check command's, or None), cores (hailstorm_cores or None), connection (ansible_connection),
    work_dir, calibration (the runtime calibrate command's, or None), become (None when the
    backend needs no root, else user, method and ok/msg of one command run with become). options:
    max_clock_offset, health_url, disk_bytes_per_request, disk_reserve_mb, startup_seconds,
    backend, locustfile, calibrate (whether the calibration was asked for); for the systemd backend's
    interpreter (interpreters.choose): python (hailstorm_python), install_python
    (hailstorm_install_python), wheel_versions (interpreters.wheel_versions of hailstorm_wheelhouse).
    """
    failures: list[str] = []
    warnings: list[str] = []
    found: dict[str, Any] = {"host": host, "failures": failures, "warnings": warnings, "figures": {},
                             "usable_cores": None, "core_cpus": None, "ready_seconds": None,
                             "startup_seconds": None, "clock": None, "round_trip": None, "interpreter": None}
    record = record or {}
    probe = record.get("probe") or {}
    connection = record.get("connection") or "ssh"
    if options.get("backend") == "local" and connection != "local":
        failures.append(
            f"{host}: hailstorm_backend=local starts the load processes on the controller, but this host is "
            f"reached with ansible_connection={connection}. Fix: use hailstorm_backend=systemd or docker for "
            "remote hosts, or only localhost with ansible_connection=local.")
    if not record:
        failures.insert(0, f"{host}: preflight stopped on this host before its probe (see its error above).")
        return found
    if probe.get("unreachable"):
        failures.insert(0, f"{host}: unreachable: {str(probe.get('msg') or '').strip()}. Fix: check ansible_host, "
                           "ansible_user and the SSH key of this host, or remove it from the load hosts.")
        return found
    if not probe.get("python"):
        failures.insert(0, f"{host}: the probe failed: {str(probe.get('msg') or 'no result').strip()}. Fix: install "
                           "python3 on the host (Ansible's modules run with it), or set ansible_python_interpreter "
                           "for it.")
        return found

    become_failure = become_finding(host, record.get("become"), options.get("backend"))
    if become_failure:
        failures.append(become_failure)

    python = probe["python"]
    shown_python = python.get("version")
    if options.get("backend") == "systemd":
        choice = interpreters.choose(host, probe.get("interpreters") or [], probe.get("distro"),
                                     options.get("python") or "", bool(options.get("install_python")),
                                     options.get("wheel_versions") or [])
        found["interpreter"] = choice
        if choice["failure"]:
            failures.append(choice["failure"])
        else:
            shown_python = (f"{choice['version']} ({choice['python']}"
                            + (f", installed by provision: {' '.join(choice['install'])}" if choice["install"] else "")
                            + ")")

    cpus = int(probe.get("cpus") or 1)
    cpu_list = list(probe.get("cpu_list") or range(cpus))
    given = record.get("cores")
    try:
        cores, found["core_cpus"] = probed_cores(probe, given)
    except plan_queries.PlanError as error:
        failures.append(f"{host}: {error}")
        cores, found["core_cpus"] = probed_cores(probe)
    if given not in (None, "") and cores > cpus:
        failures.append(f"{host}: hailstorm_cores={given} but the host lets processes run on only {cpus} CPUs "
                        f"{cpu_list}. Fix: set hailstorm_cores to at most {cpus} (better {max(cpus - 1, 1)}, "
                        "leaving one for the system), or unset it.")
    found["usable_cores"] = cores

    limit = float(options["max_clock_offset"])
    measured = probe.get("clock") or {}
    estimate = clock.ClockEstimate(float(measured.get("offset", 0.0)), float(measured.get("uncertainty", 0.0)),
                                   float(measured.get("round_trip", 0.0)), int(measured.get("samples", 0)),
                                   bool(measured.get("consistent", True)))
    state = clock.verdict(estimate, limit)
    found["clock"] = {"offset": estimate.offset, "uncertainty": estimate.uncertainty, "state": state.state}
    shown = f"{estimate.offset:+.4f} s (+- {estimate.uncertainty:.4f} s, so between {state.low:+.4f} and {state.high:+.4f} s)"
    fix = ("synchronise the clocks of this host and the controller with chrony or NTP (chronyc makestep; "
           "chronyc tracking shows the offset)")
    if state.state == "fail":
        failures.append(f"{host}: clock offset {shown} against the controller is certainly over "
                        f"hailstorm_max_clock_offset={limit:g} s. Fix: {fix}, or raise hailstorm_max_clock_offset.")
    elif not estimate.consistent:
        warnings.append(f"{host}: the clock was stepped during the measurement; check that only one time service "
                        "(chrony or NTP) runs there.")
    elif state.state == "warn":
        warnings.append(f"{host}: clock offset {shown} may be over hailstorm_max_clock_offset={limit:g} s (the "
                        f"shortest round trip, {estimate.round_trip:.3f} s, does not resolve it); {fix} to be sure.")

    health = record.get("health") or {}
    status = int(health.get("status", -1) if health.get("status") is not None else -1)
    if status < 100 or status >= 500:
        answer = _STATUS_PREFIX.sub("", str(health.get("msg") or "no answer")).strip() or "no answer"
        why = f"HTTP {status}" if status > 0 else answer
        failures.append(f"{host}: the target does not answer at hailstorm_health_url={options['health_url']} ({why}). "
                        "Fix: start the target, open the network path from this host to it, or set "
                        "hailstorm_health_url to a URL that answers.")

    expected = share["requests"] if share else None
    needed = (expected or 0) * int(options["disk_bytes_per_request"]) + int(options["disk_reserve_mb"]) * MIB
    disk = probe.get("disk") or {}
    free = int(disk.get("free_bytes") or 0)
    if free < needed:
        per_request = f"expected requests x hailstorm_disk_bytes_per_request={options['disk_bytes_per_request']}"
        counted, why = _counted(expected, per_request)
        failures.append(
            f"{host}: {round(free / MIB)} MiB free at {disk.get('path')} (hailstorm_work_dir={record.get('work_dir')}), "
            f"{math.ceil(needed / MIB)} MiB needed ({counted}hailstorm_disk_reserve_mb={options['disk_reserve_mb']}"
            f"{why}). Fix: free disk space, or set hailstorm_work_dir to a larger disk.")

    check = record.get("check") or {}
    startup = None
    if check.get("rc") is not None and int(check["rc"]) != 0:
        tail = " | ".join(str(check.get("stderr") or "").splitlines()[-3:])
        failures.append(f"{host}: the runtime cannot load the locustfile {options.get('locustfile')} (rc {check['rc']}): "
                        f"{tail}. Fix: the locustfile (it must import with Locust and define a user class).")
    elif check.get("rc") == 0 and str(check.get("stdout") or "").startswith("{"):
        startup = _seconds(check.get("delta"))
    found["startup_seconds"] = startup
    check_user = _check_user(check)

    round_trip = float(probe.get("module_round_trip") or 0.0)
    found["round_trip"] = round_trip
    ready = round(round_trip + (startup if startup is not None else float(options["startup_seconds"]))
                  + abs(estimate.offset) + estimate.uncertainty, 3)
    found["ready_seconds"] = ready
    capacity = None
    if options.get("calibrate"):
        calibrated, why = calibration_figures(record.get("calibration"))
        if calibrated is None:
            warnings.append(f"{host}: no capacity calibration: {why}.")
        else:
            capacity = float(calibrated["rps_per_cpu_second"])
            if share:
                warning = capacity_warning(host, capacity, share["peak_core_rps"], share["cores"], share["cores_total"])
                if warning:
                    warnings.append(warning)
    found["figures"] = {
        "python": shown_python, "check_user": check_user, "cpus": cpus, "usable_cores": cores, "core_cpus": found["core_cpus"],
        "clock_offset": round(estimate.offset, 4), "clock_uncertainty": round(estimate.uncertainty, 4),
        "round_trip": round(round_trip, 3), "target_status": status,
        "disk_free_mib": round(free / MIB), "disk_needed_mib": math.ceil(needed / MIB),
        "expected_requests": expected, "startup_seconds": startup, "ready_seconds": ready,
        "capacity_rps_per_core": capacity,
    }
    return found


def free_space(path: str) -> dict[str, Any]:
    """The nearest existing directory of `path` (it need not exist yet) and its file system's
    free bytes (what an unprivileged writer may use), as hailstorm_probe reports a load host's."""
    found = os.path.abspath(path)
    while not os.path.isdir(found) and os.path.dirname(found) != found:
        found = os.path.dirname(found)
    stats = os.statvfs(found)
    return {"path": found, "free_bytes": stats.f_bavail * stats.f_frsize}


def controller_findings(disk: Mapping[str, Any] | None, options: Mapping[str, Any],
                        plan: Mapping[str, Any] | None) -> tuple[list[str], str | None]:
    """(failures, report line) of the controller's results disk (hailstorm_results_dir): it gets
    every host's records, the merged files and the report, and a copy more of every request with
    hailstorm_jtl (each host's rows and the merged results.jtl). The need is the load hosts'
    (hailstorm_disk_bytes_per_request per request) for the plan's expected_requests, plus
    hailstorm_disk_reserve_mb (that alone without a plan). `disk` is free_space's; None: not checked."""
    if not disk:
        return [], None
    expected = int(plan["expected_requests"]) if plan else None
    copies = 2 if options.get("jtl") else 1
    per_request = int(options["disk_bytes_per_request"])
    needed = (expected or 0) * per_request * copies + int(options["disk_reserve_mb"]) * MIB
    free = int(disk.get("free_bytes") or 0)
    line = (f"controller: results disk {round(free / MIB)} MiB free / {math.ceil(needed / MIB)} needed "
            f"{_needed_for(expected)} at {disk.get('path')}")
    if free >= needed:
        return [], line
    jtl = " x 2 (hailstorm_jtl keeps every request twice)" if copies == 2 else ""
    counted, why = _counted(expected, f"expected requests of the run x hailstorm_disk_bytes_per_request={per_request}{jtl}")
    return [f"controller: {round(free / MIB)} MiB free at {disk.get('path')} (hailstorm_results_dir="
            f"{options.get('results_dir')}), {math.ceil(needed / MIB)} MiB needed ({counted}hailstorm_disk_reserve_mb="
            f"{options['disk_reserve_mb']}{why}). Fix: free disk space on the controller, or set hailstorm_results_dir "
            "to a larger disk."], line


def _counted(expected: int | None, per_request: str) -> tuple[str, str]:
    """The requests' part of a disk message and, without a plan, why they are not counted."""
    if expected is None:
        return "", f"; {NOT_PLANNED}"
    return f"{expected} {per_request} + ", ""


def _needed_for(expected: int | None) -> str:
    return f"for {expected} planned requests" if expected is not None else "for the reserve alone (not planned)"


def _line(host: str, figures: Mapping[str, Any]) -> str:
    if not figures:
        return f"{host}: (no figures)"
    return (f"{host}: python {figures['python']}, cores {figures['usable_cores']} (CPUs "
            f"{','.join(map(str, figures['core_cpus']))}), clock {figures['clock_offset']:+.4f} s +- "
            f"{figures['clock_uncertainty']:.4f}, target HTTP {figures['target_status']}, disk "
            f"{figures['disk_free_mib']} MiB free / {figures['disk_needed_mib']} needed "
            f"{_needed_for(figures['expected_requests'])}, ready "
            f"{figures['ready_seconds']:.2f} s"
            + (f", locustfile checked as {figures['check_user']}" if figures.get("check_user") else "")
            + (f", paced capacity {figures['capacity_rps_per_core']:.0f} rps per core"
               if figures.get("capacity_rps_per_core") else ""))


def verdict(hosts: Sequence[str], records: Mapping[str, Mapping[str, Any] | None], options: Mapping[str, Any],
            plan: Mapping[str, Any] | None = None, controller_disk: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every host's findings and one verdict: head, report lines, failures, per-host findings,
    each host judged with its share of `plan` (None: not planned, a host failed its probe); with
    `controller_disk` (free_space of hailstorm_results_dir), the controller's too."""
    findings = {host: host_findings(host, records.get(host), options, plan_share(plan, host)) for host in hosts}
    failed = [message for host in hosts for message in findings[host]["failures"]]
    warned = [message for host in hosts for message in findings[host]["warnings"]]
    bad = sum(1 for host in hosts if findings[host]["failures"])
    controller_failed, controller_line = controller_findings(controller_disk, options, plan)
    head = (f"Preflight FAILED on {bad} of {len(hosts)} load hosts" if failed
            else f"Preflight passed on all {len(hosts)} load hosts")
    if controller_failed:
        head += " and FAILED on the controller" if failed else " but FAILED on the controller"
    failed += controller_failed
    report = ([head + ":"] + [_line(host, findings[host]["figures"]) for host in hosts]
              + ([controller_line] if controller_line else [])
              + [f"ERROR {message}" for message in failed] + [f"WARNING {message}" for message in warned])
    return {"head": head, "failed": failed, "warnings": warned, "report": report, "hosts": findings}


def judge(hosts: Sequence[str], records: Mapping[str, Mapping[str, Any] | None], options: Mapping[str, Any],
          plan: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The verdict as the controller gives it (romram.hailstorms.hailstorm_preflight_verdict): the
    wheelhouse's Python versions read (hailstorm_wheelhouse, the systemd backend's interpreter) and
    the free space of hailstorm_results_dir, then `verdict`."""
    options = dict(options)
    wheelhouse = str(options.get("wheelhouse") or "")
    if wheelhouse and os.path.isdir(wheelhouse):
        options["wheel_versions"] = interpreters.wheel_versions(
            sorted(name for name in os.listdir(wheelhouse) if name.endswith(".whl")))
    controller = free_space(str(options["results_dir"])) if options.get("results_dir") else None
    return verdict(hosts, records, options, plan or None, controller)
