# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One settings gate: every setting of a run checked once, on the controller, before any host is
touched (the action romram.hailstorms.hailstorm_settings is its thin wrapper; the roles read only
its result).

Pure Python (no Ansible): `values` maps a variable's name (hailstorm_rps) to its value as the
play gives it; a variable that is not defined is absent and is not checked (a role that does not
run here has its defaults elsewhere). Each check is the module that owns the rule: run_settings
(the run), checks (options, paths, pip packages), urls (one rule for every URL), live_metrics,
service_metrics, thresholds, baseline, interpreters. A bad value raises that module's error (a
ValueError) whose message names the variable, the value and a fix.
"""
from __future__ import annotations

import posixpath
import time
from typing import Any, Callable, Iterable, Mapping

from . import baseline, checks, interpreters, live_metrics, run_settings, scenarios, service_metrics, thresholds, urls

PREFIX = "hailstorm_"
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"  # a run id when none is given: the UTC time of the check
PATHS = ("hailstorm_work_dir", "hailstorm_install_dir")  # absolute paths on the load hosts
URLS = ("hailstorm_prometheus_remote_write", "hailstorm_prometheus_url", "hailstorm_grafana_url",
        "hailstorm_health_url")  # urls.checked_url, one rule; "" (off) where the setting allows it
# The settings the gate reads besides the run settings (run_settings.SETTING_KEYS) and the options (checks.OPTIONS).
OTHERS = (
    "hailstorm_run_id", "hailstorm_profiles", "hailstorm_profile", "hailstorm_backend", "hailstorm_results_dir",
    *PATHS, *URLS, "hailstorm_pip_packages", "hailstorm_report_queries", "hailstorm_thresholds",
    "hailstorm_thresholds_phase", "hailstorm_baseline", "hailstorm_tag", "hailstorm_prometheus_buckets",
    "hailstorm_prometheus_headers", "hailstorm_python", "hailstorm_install_python", "hailstorm_wheelhouse",
    "hailstorm_calibrate",
)


def names() -> tuple[str, ...]:
    """Every variable the gate reads: the run settings, the options and the others."""
    return (*(PREFIX + key for key in run_settings.SETTING_KEYS), *checks.OPTIONS, *OTHERS)


def overrides_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The run settings given as hailstorm_<setting> (each beats the profiles)."""
    return {key: values[PREFIX + key] for key in run_settings.SETTING_KEYS if PREFIX + key in values}


def resolved(profiles: Mapping[str, Any] | None, selection: str = "default", overrides: Mapping[str, Any] | None = None,
             shape: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run settings resolved (run_settings), with the profile stack's name and the warnings; with
    `shape` (the locustfile check's sampled LoadTestShape) the shape's curve instead of the trapezoid or stages."""
    stack = (profiles, selection, overrides)
    settings, warnings = (run_settings.resolve_shaped_settings(*stack, dict(shape)) if shape
                          else run_settings.resolve_settings(*stack))
    return {**settings, "profile": selection, "warnings": warnings}


def resolve_run(values: Mapping[str, Any], shape: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The resolved run settings (hs_run) of the play's variables: the profiles stacked, the overrides on top."""
    return resolved(_mapping(values.get("hailstorm_profiles"), "hailstorm_profiles"),
                    str(values.get("hailstorm_profile") or "default"), overrides_of(values), shape)


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise checks.PlanError(f"{name} must be a mapping, got {checks.kind_of(value)}")
    return dict(value)


def run_id(values: Mapping[str, Any], now: float) -> str:
    """hailstorm_run_id checked, or the UTC time `now` when it is not given."""
    given = values.get("hailstorm_run_id")
    return checks.run_id(given if given not in (None, "") else time.strftime(RUN_ID_FORMAT, time.gmtime(now)))


def load_host_locustfile(run: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    """The locustfile as the load processes see it: the controller's own path for the local backend,
    the provisioned copy otherwise (romram.hailstorms.provision copies it there)."""
    if values.get("hailstorm_backend") == "local":
        return str(run["locustfile"])
    return posixpath.join(str(values.get("hailstorm_install_dir")), "locustfiles", posixpath.basename(str(run["locustfile"])))


def check(values: Mapping[str, Any], now: float, pins: Mapping[str, str] | None = None,
          installed: Callable[[Iterable[str]], Any] | None = None,
          health_url: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """Every known setting in `values` checked once, in the order a user meets them (the run first).

    `pins`: the runtime's pinned requirements (checks.runtime_pins); `installed(packages)`: the local
    backend's check that the controller's Python has them (checks.controller_pip_packages);
    `health_url(run)`: hailstorm_health_url once the run is known (its default is the run's target).
    Returns {run, options, run_id, run_dir, thresholds, baseline, tag, live_metrics, settings}: the
    settings hold the checked paths, URLs, pip packages, report queries, interpreters and the
    preflight's options."""
    run = resolve_run(values)
    options = checks.check_options({name: values[name] for name in checks.OPTIONS if name in values})
    the_run_id = run_id(values, now)
    results_dir = str(values.get("hailstorm_results_dir") or "")
    paths = {name[len(PREFIX):]: checks.absolute_path(values[name], name) for name in PATHS if name in values}
    packages = checks.pip_packages(values.get("hailstorm_pip_packages"), pins)
    if values.get("hailstorm_backend") == "local" and installed is not None:
        installed(packages)
    given = dict(values)
    if health_url is not None and "hailstorm_health_url" not in given:
        url = health_url(run)  # None: not a setting of this play (no preflight)
        if url is not None:
            given["hailstorm_health_url"] = url
    checked_urls = {name[len(PREFIX):]: urls.checked_url(given[name], name) for name in URLS if name in given}
    queries = service_metrics.checked_queries(values.get("hailstorm_report_queries") or {})
    checked = thresholds.check(
        thresholds.stack(_mapping(values.get("hailstorm_profiles"), "hailstorm_profiles"),
                         str(values.get("hailstorm_profile") or "default"), values.get("hailstorm_thresholds")),
        values.get("hailstorm_thresholds_phase") or "constant")
    found = baseline.checked_baseline(values.get("hailstorm_baseline") or "", checked, results_dir, the_run_id,
                                      run["profile"], run)
    tag = baseline.checked_tag(values.get("hailstorm_tag") or "")
    metrics = {**live_metrics.checked_buckets(values.get("hailstorm_prometheus_buckets"), checked),
               "headers": live_metrics.checked_headers(values.get("hailstorm_prometheus_headers"))}
    backend = values.get("hailstorm_backend")
    python = interpreters.checked_python(values.get("hailstorm_python"))
    preflight = {**options, "health_url": checked_urls.get("health_url", ""), "python": python,
                 "install_python": checks.to_bool(values.get("hailstorm_install_python", False),
                                                  "hailstorm_install_python"),
                 "wheelhouse": values.get("hailstorm_wheelhouse") or "", "backend": backend,
                 "locustfile": load_host_locustfile(run, values),
                 "calibrate": checks.to_bool(values.get("hailstorm_calibrate", False), "hailstorm_calibrate"),
                 "results_dir": results_dir, "jtl": bool(options.get("jtl", False))}
    settings = {"paths": paths, "urls": checked_urls, "pip_packages": packages, "report_queries": queries,
                "interpreters": interpreters.candidates(python) if backend == "systemd" else [],
                "preflight": preflight, "overrides": overrides_of(values)}
    return {"run": run, "options": options, "run_id": the_run_id,
            "run_dir": posixpath.join(results_dir, the_run_id) if results_dir else the_run_id,
            "thresholds": checked, "baseline": found, "tag": tag, "live_metrics": metrics, "settings": settings}


def shaped(values: Mapping[str, Any], run: Mapping[str, Any], checked_thresholds: Mapping[str, Any] | None,
           shape: Mapping[str, Any] | None = None, user_classes: Iterable[str] | None = None) -> dict[str, Any]:
    """After the locustfile check: the run (the gate's) again with its LoadTestShape's curve when it
    has one; the scenarios' classes judged against the locustfile's `user_classes` (as its check found
    them); each abort threshold's `after` against the run's final length, and the thresholds of a
    scenario against the run's scenarios."""
    final = resolve_run(values, shape) if shape else dict(run)
    if user_classes is not None:
        scenarios.check_classes(final, [str(name) for name in user_classes])
    thresholds.check_abort_after(checked_thresholds, final)
    thresholds.check_scenario_names(checked_thresholds, final)
    return {"run": final, "shaped": bool(shape)}
