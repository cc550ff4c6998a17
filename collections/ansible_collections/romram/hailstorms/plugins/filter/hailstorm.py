# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that expose the planner to playbooks (documentation in the sidecar YAML files).

Public: run_settings, plan, host_slice, plan_preview, plan_at, usable_cores (and thresholds, in thresholds.py).
The others are the roles' plumbing, documented as internal (their sidecars' short_description starts with
"Internal:"; scripts/collection_readme.py lists them apart): they may change with the roles."""
from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.module_utils import (
    checks, contract, launch, live_metrics, plan_queries, planner, settings_gate, urls)
# run_settings and plan_preview are also the names of the filters that expose them
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_preview as previews
from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings as settings_of


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


def run_settings(profiles: Any, selection: str = "default", overrides: Any = None, shape: Any = None) -> dict[str, Any]:
    """The resolved run settings; with `shape` (the locustfile check's sampled LoadTestShape),
    the shape's curve replaces the stack's trapezoid or stages (run_settings.resolve_shaped_settings)."""
    def resolve() -> dict[str, Any]:
        return settings_gate.resolved(_as_dict(profiles, "run_settings", "hailstorm_profiles"), selection,
                                      _as_dict(overrides, "run_settings", "the overrides"),
                                      _as_dict(shape, "run_settings", "the shape") or None)
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


def checked_url(value: Any, name: str) -> str:
    """An http(s) URL without credentials, or "" (off), or an error naming the variable."""
    return _planned("checked_url", urls.checked_url, value, name)


def live_metrics_environment(environment: Any, headers: Any = None) -> dict[str, Any]:
    """The load processes' environment file: hailstorm_environment with the remote write's headers."""
    return _planned("live_metrics_environment", live_metrics.environment_headers,
                    _as_dict(environment, "live_metrics_environment", "hailstorm_environment"),
                    _as_dict(headers, "live_metrics_environment", "hailstorm_prometheus_headers"))


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
            "start_lead": start_lead,
            "run_limits": run_limits,
            "signal_verdict": signal_verdict,
            "checked_options": checked_options,
            "checked_url": checked_url,
            "live_metrics_environment": live_metrics_environment,
        }
