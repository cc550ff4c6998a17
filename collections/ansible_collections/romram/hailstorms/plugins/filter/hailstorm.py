# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that expose the planner to playbooks (documentation in the sidecar YAML files)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.module_utils import (
    checks, contract, interpreters, launch, live_metrics, plan_queries, planner, preflight, progress, scenarios,
    service_metrics, urls)
# run_settings and plan_preview are also the names of the filters that expose them
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_preview as previews
from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings as settings_of

RUNTIME_REQUIREMENTS = Path(__file__).resolve().parents[2] / "runtime" / "requirements.txt"  # the runtime's pins


def _planned(name: str, function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except plan_queries.PlanError as error:
        raise AnsibleFilterError(f"romram.hailstorms.{name}: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"romram.hailstorms.{name}: unexpected input ({error!r})") from None


def _as_dict(value: Any, name: str, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"romram.hailstorms.{name}: {what} must be a mapping, got {checks.kind_of(value)}")
    return dict(value)


def run_settings(profiles: Any, selection: str = "default", overrides: Any = None, shape: Any = None,
                 user_classes: Any = None) -> dict[str, Any]:
    """The resolved run settings; with `shape` (the locustfile check's sampled LoadTestShape),
    the shape's curve replaces the stack's trapezoid or stages (run_settings.resolve_shaped_settings);
    with `user_classes` (the locustfile's, as its check found them) the scenarios' classes are
    checked against them (scenarios.check_classes)."""
    def resolve() -> dict[str, Any]:
        stack = (_as_dict(profiles, "run_settings", "hailstorm_profiles"), selection,
                 _as_dict(overrides, "run_settings", "the overrides"))
        settings, warnings = (
            settings_of.resolve_shaped_settings(*stack, _as_dict(shape, "run_settings", "the shape")) if shape
            else settings_of.resolve_settings(*stack))
        if user_classes is not None:
            scenarios.check_classes(settings, [str(name) for name in user_classes])
        return {**settings, "profile": selection, "warnings": warnings}
    return _planned("run_settings", resolve)


def usable_cores(vcpus: Any, given: Any = None) -> int:
    return _planned("usable_cores", settings_of.usable_cores, vcpus, given)


def plan(settings: Any, hosts: Any) -> dict[str, Any]:
    if isinstance(hosts, dict):
        pairs = list(hosts.items())
    elif isinstance(hosts, list):
        pairs = [tuple(item) for item in hosts]
    else:
        raise AnsibleFilterError("romram.hailstorms.plan: hosts must be a mapping or a list of [hostname, cores]")
    settings = _as_dict(settings, "plan", "the run settings")

    def checked_plan() -> dict[str, Any]:
        settings_of.check_capacity(settings, pairs)
        return planner.make_plan(settings, pairs)
    return _planned("plan", checked_plan)


def checked_options(values: Any, host_cores: Any = None) -> dict[str, Any]:
    """The roles' numeric and boolean options converted (keys without hailstorm_), or one error naming each bad one.

    `host_cores` maps each load host to its hailstorm_cores (None: not set), a host variable."""
    hosts = {host: {"hailstorm_cores": cores}
             for host, cores in _as_dict(host_cores, "checked_options", "the hosts' cores").items()}
    return _planned("checked_options", checks.check_options, _as_dict(values, "checked_options", "the options"), hosts)


def preflight_verdict(hosts: Any, hostvars: Any, options: Any, plan_: Any = None) -> dict[str, Any]:
    """Per-host findings from the probes' raw records (each host's __preflight_record in `hostvars`;
    a host without one stopped before its probe) and their shares of the plan (hs_plan; None: not
    planned), and one verdict over all load hosts."""
    if not isinstance(hosts, list):
        raise AnsibleFilterError("romram.hailstorms.preflight_verdict: the hosts must be a list of inventory names")
    records = {host: _record(hostvars, host) for host in hosts}
    options = _as_dict(options, "preflight_verdict", "the options")
    wheelhouse = Path(str(options.get("wheelhouse") or ""))
    if options.get("wheelhouse") and wheelhouse.is_dir():
        options["wheel_versions"] = interpreters.wheel_versions([path.name for path in wheelhouse.glob("*.whl")])
    controller = preflight.free_space(str(options["results_dir"])) if options.get("results_dir") else None
    return _planned("preflight_verdict", preflight.verdict, hosts, records, options,
                    _as_dict(plan_, "preflight_verdict", "the plan") or None, controller)


def _record(hostvars: Any, host: str) -> Any:
    try:
        return hostvars[host].get("__preflight_record")
    except (KeyError, AttributeError):
        return None


def python_candidates(value: Any) -> list[str]:
    """hailstorm_python checked (an absolute path, or empty), and the interpreters the probe runs on a load
    host: it alone when given, else python3.13, python3.12, python3.11, python3 (interpreters.candidates)."""
    try:
        return interpreters.candidates(interpreters.checked_python(value))
    except interpreters.InterpreterError as error:
        raise AnsibleFilterError(f"romram.hailstorms.python_candidates: {error}") from None


def checked_url(value: Any, name: str) -> str:
    """An http(s) URL without credentials, or "" (off), or an error naming the variable."""
    return _planned("checked_url", urls.checked_url, value, name)


def live_metrics_settings(buckets: Any, thresholds: Any = None, headers: Any = None) -> dict[str, Any]:
    """hailstorm_prometheus_buckets and hailstorm_prometheus_headers checked: data.json's histogram
    settings and the header names (never their values)."""
    def check() -> dict[str, Any]:
        settings = live_metrics.checked_buckets(buckets, _as_dict(thresholds, "live_metrics_settings", "thresholds"))
        return {**settings, "headers": live_metrics.checked_headers(headers)}
    return _planned("live_metrics_settings", check)


def live_metrics_environment(environment: Any, headers: Any = None) -> dict[str, Any]:
    """The load processes' environment file: hailstorm_environment with the remote write's headers."""
    return _planned("live_metrics_environment", live_metrics.environment_headers,
                    _as_dict(environment, "live_metrics_environment", "hailstorm_environment"),
                    _as_dict(headers, "live_metrics_environment", "hailstorm_prometheus_headers"))


def abort_check(hostvars: Any, plan: Any, hosts: Any, checked: Any, previous: Any, offset: Any) -> dict[str, Any]:
    """Every host's figures of the last progress interval merged, the abort thresholds judged on them (progress.abort_check)."""
    statuses = {}
    for name in hosts or []:
        status = hostvars[name].get("__collect_status") if name in hostvars else None
        statuses[name] = dict(status) if isinstance(status, dict) else {}
    return _planned("abort_check", progress.abort_check, _as_dict(plan, "abort_check", "the plan"), statuses,
                    checked, previous, float(offset))


def checked_report_queries(value: Any) -> dict[str, str]:
    """hailstorm_report_queries as {name: PromQL}, or an error naming the variable."""
    return _planned("checked_report_queries", service_metrics.checked_queries, value)


def checked_path(value: Any, name: str) -> str:
    """An absolute path without '..' (normalised), or an error naming the variable."""
    return _planned("checked_path", checks.absolute_path, value, name)


def checked_pip_packages(value: Any, backend: Any = None) -> list[str]:
    """hailstorm_pip_packages checked (a list of plain requirements); with backend 'local' each one
    must also be installed in the Python this filter runs in, the controller's (ansible_playbook_python),
    which the local backend runs."""
    def check() -> list[str]:
        packages = checks.pip_packages(value, checks.runtime_pins(RUNTIME_REQUIREMENTS.read_text(encoding="utf-8")))
        if backend == "local":
            checks.controller_pip_packages(packages, sys.executable)
        return packages
    return _planned("checked_pip_packages", check)


def host_slice(plan_: Any, hostname: str) -> dict[str, Any]:
    return _planned("host_slice", plan_queries.host_slice, _as_dict(plan_, "host_slice", "the plan"), hostname)


def host_data(plan_: Any, hostname: str, **values: Any) -> dict[str, Any]:
    """A load host's data.json: its slice of the plan and the run's settings (contract.host_data)."""
    def build() -> dict[str, Any]:
        return contract.host_data(plan_queries.host_slice(_as_dict(plan_, "host_data", "the plan"), hostname), **values)
    return _planned("host_data", build)


def plan_preview(plan_: Any, points: int = 12) -> list[str]:
    return _planned("plan_preview", lambda: previews.preview(_as_dict(plan_, "plan_preview", "the plan"), int(points)))


def plan_at(plan_: Any, offset: float) -> dict[str, Any]:
    def figures() -> dict[str, Any]:
        p = _as_dict(plan_, "plan_at", "the plan")
        active = planner.active_clients(p, float(offset))
        return {"offset": float(offset), "active": active, "rps": active / float(p["pace"])}
    return _planned("plan_at", figures)


def _core_facts(hostvars: Any, hosts: Any) -> list[tuple[str, Any, Any, Any]]:
    rows = []
    for name in hosts or []:
        host = hostvars[name]
        facts = host.get("ansible_facts") or {}
        rows.append((name, host.get("hs_usable_cores"), host.get("hailstorm_cores"),
                     facts.get("processor_vcpus", host.get("ansible_processor_vcpus"))))
    return rows


def load_host_cores(hostvars: Any, hosts: Any) -> list[list[Any]]:
    return [list(pair) for pair in _planned("load_host_cores",
                                            lambda: settings_of.host_cores(_core_facts(hostvars, hosts)))]


def hosts_without_cores(hostvars: Any, hosts: Any) -> list[str]:
    return _planned("hosts_without_cores", lambda: settings_of.hosts_without_cores(_core_facts(hostvars, hosts)))


def progress_line(hostvars: Any, plan_: Any, hosts: Any, offset: Any, key: str = "__collect_status",
                  interval: Any = None) -> str:
    def line() -> str:
        statuses = {}
        for name in hosts or []:
            status = hostvars[name].get(key) if name in hostvars else None
            statuses[name] = dict(status) if isinstance(status, dict) else {}
        return progress.progress_line(_as_dict(plan_, "progress_line", "the plan"), statuses, float(offset),
                                      _as_dict(interval, "progress_line", "the interval") or None)
    return _planned("progress_line", line)


def start_lead(round_trip: Any, given: Any = None) -> float:
    return _planned("start_lead", launch.start_lead, round_trip, given)


def run_limits(plan_: Any, deadline_grace: Any, arm_timeout: Any) -> dict[str, Any]:
    def limits() -> dict[str, Any]:
        p = _as_dict(plan_, "run_limits", "the plan")
        return {"armed_wait": launch.armed_wait(arm_timeout),
                "run_time_limit": launch.run_time_limit(p["duration"], deadline_grace, arm_timeout)}
    return _planned("run_limits", limits)


def signal_verdict(start_time: Any, signalled_at: Any, lead: Any) -> str:
    return _planned("signal_verdict", launch.signal_verdict, start_time, signalled_at, lead) or ""


class FilterModule:
    """romram.hailstorms planner filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "run_settings": run_settings,
            "plan": plan,
            "host_slice": host_slice,
            "host_data": host_data,
            "plan_preview": plan_preview,
            "plan_at": plan_at,
            "usable_cores": usable_cores,
            "load_host_cores": load_host_cores,
            "hosts_without_cores": hosts_without_cores,
            "progress_line": progress_line,
            "start_lead": start_lead,
            "run_limits": run_limits,
            "signal_verdict": signal_verdict,
            "checked_options": checked_options,
            "checked_path": checked_path,
            "checked_url": checked_url,
            "checked_report_queries": checked_report_queries,
            "live_metrics_settings": live_metrics_settings,
            "live_metrics_environment": live_metrics_environment,
            "abort_check": abort_check,
            "checked_pip_packages": checked_pip_packages,
            "preflight_verdict": preflight_verdict,
            "python_candidates": python_candidates,
        }
