# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that expose the planner to playbooks (documentation in the sidecar YAML files)."""
from __future__ import annotations

import os
from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.module_utils import checks, planner, preflight


def _planned(name: str, function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except planner.PlanError as error:
        raise AnsibleFilterError(f"romram.hailstorms.{name}: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"romram.hailstorms.{name}: unexpected input ({error!r})") from None


def _as_dict(value: Any, name: str, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"romram.hailstorms.{name}: {what} must be a mapping, got {type(value).__name__}")
    return dict(value)


def run_settings(profiles: Any, selection: str = "default", overrides: Any = None) -> dict[str, Any]:
    def resolve() -> dict[str, Any]:
        settings, warnings = planner.resolve_settings(
            _as_dict(profiles, "run_settings", "hailstorm_profiles"), selection,
            _as_dict(overrides, "run_settings", "the overrides"))
        return {**settings, "profile": selection, "warnings": warnings}
    return _planned("run_settings", resolve)


def usable_cores(vcpus: Any, given: Any = None) -> int:
    return _planned("usable_cores", planner.usable_cores, vcpus, given)


def plan(settings: Any, hosts: Any) -> dict[str, Any]:
    if isinstance(hosts, dict):
        pairs = list(hosts.items())
    elif isinstance(hosts, list):
        pairs = [tuple(item) for item in hosts]
    else:
        raise AnsibleFilterError("romram.hailstorms.plan: hosts must be a mapping or a list of [hostname, cores]")
    settings = _as_dict(settings, "plan", "the run settings")

    def checked_plan() -> dict[str, Any]:
        planner.check_capacity(settings, pairs)
        return planner.make_plan(settings, pairs)
    return _planned("plan", checked_plan)


def checked_options(values: Any, host_cores: Any = None) -> dict[str, Any]:
    """The roles' numeric and boolean options converted (keys without hailstorm_), or one error naming each bad one.

    `host_cores` maps each load host to its hailstorm_cores (None: not set), a host variable."""
    hosts = {host: {"hailstorm_cores": cores}
             for host, cores in _as_dict(host_cores, "checked_options", "the hosts' cores").items()}
    return _planned("checked_options", checks.check_options, _as_dict(values, "checked_options", "the options"), hosts)


def run_directory(results_dir: Any, run_id: Any, overwrite: Any = False) -> dict[str, Any]:
    """The run's results directory on the controller (path, remove) after checking the run id and whether it was used."""
    def decide() -> dict[str, Any]:
        path = os.path.join(checks.absolute_path(results_dir, "hailstorm_results_dir"), checks.run_id(run_id))
        entries = os.listdir(path) if os.path.isdir(path) else ([path] if os.path.lexists(path) else None)
        return checks.results_run_dir(results_dir, run_id, overwrite, entries)
    return _planned("run_directory", decide)


def preflight_verdict(hosts: Any, hostvars: Any, options: Any, run: Any = None) -> dict[str, Any]:
    """Per-host findings from the probes' raw records (each host's __preflight_record in `hostvars`;
    a host without one stopped before its probe) and one verdict over all load hosts."""
    if not isinstance(hosts, list):
        raise AnsibleFilterError("romram.hailstorms.preflight_verdict: the hosts must be a list of inventory names")
    records = {host: _record(hostvars, host) for host in hosts}
    return _planned("preflight_verdict", preflight.verdict, hosts, records,
                    _as_dict(options, "preflight_verdict", "the options"),
                    _as_dict(run, "preflight_verdict", "the run settings") or None)


def _record(hostvars: Any, host: str) -> Any:
    try:
        return hostvars[host].get("__preflight_record")
    except (KeyError, AttributeError):
        return None


def checked_path(value: Any, name: str) -> str:
    """An absolute path without '..' (normalised), or an error naming the variable."""
    return _planned("checked_path", checks.absolute_path, value, name)


def host_slice(plan_: Any, hostname: str) -> dict[str, Any]:
    return _planned("host_slice", planner.host_slice, _as_dict(plan_, "host_slice", "the plan"), hostname)


def _clock(seconds: float) -> str:
    seconds = round(seconds, 1)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}" if hours else f"{int(minutes)}:{secs:04.1f}"


def plan_preview(plan_: Any, points: int = 12) -> list[str]:
    def render() -> list[str]:
        p = _as_dict(plan_, "plan_preview", "the plan")
        lines = [
            f"{p['clients']} clients, {p['rps']:g} rps, pace {p['pace']:.3f} s, gap {p['gap']:.4f} s",
            f"ramp-up {_clock(p['rampup'])}, constant {_clock(p['constant'])}, ramp-down {_clock(p['rampdown'])}, "
            f"total {_clock(p['duration'])}, {p['expected_requests']} requests",
            f"{'host':<20} {'cores':>5} {'clients':>7} {'per core':>8} {'first':>8} {'last':>8} {'step':>7} {'requests':>9}",
        ]
        for name, host in p["hosts"].items():
            cores = host["cores"]
            counts = sorted({core["clients"] for core in cores})
            lines.append(
                f"{name[:20]:<20} {len(cores):>5} {host['clients']:>7} {'/'.join(map(str, counts)):>8} "
                f"{min(c['first_start'] for c in cores):>7.2f}s {max(c['last_start'] for c in cores):>7.2f}s "
                f"{cores[0]['start_step']:>6.2f}s {host['requests']:>9}"
            )
        lines.append(f"{'time':>9} {'active':>8} {'rps':>9}   (first, last: client starts; step: per core)")
        for row in planner.timeline(p, int(points)):
            lines.append(f"{_clock(row['offset']):>9} {row['active']:>8} {row['rps']:>9.2f}")
        return lines
    return _planned("plan_preview", render)


def plan_at(plan_: Any, offset: float) -> dict[str, Any]:
    def figures() -> dict[str, Any]:
        p = _as_dict(plan_, "plan_at", "the plan")
        active = planner.active_clients(p, float(offset))
        return {"offset": float(offset), "active": active, "rps": active / float(p["pace"])}
    return _planned("plan_at", figures)


class FilterModule:
    """romram.hailstorms planner filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "run_settings": run_settings,
            "plan": plan,
            "host_slice": host_slice,
            "plan_preview": plan_preview,
            "plan_at": plan_at,
            "usable_cores": usable_cores,
            "checked_options": checked_options,
            "run_directory": run_directory,
            "checked_path": checked_path,
            "preflight_verdict": preflight_verdict,
        }
