# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`hailstorm_scenarios`: several curves at once, each its own user classes, model and pace.

    hailstorm_scenarios:
      browse:   {user_classes: [Browser], rps: 500, rampup: 5m, constant: 10m}
      checkout: {user_classes: [Buyer], rps: 10, rampup: 1s, constant: 15m, rampdown: 0}
      api:      {user_classes: [ApiClient], model: open, start: 5m, stages: [...]}

Each scenario is resolved by run_settings.resolve_settings as a run of its own (its keys over the
run's target, locustfile, pace and model), then checked against the others: no class in two
scenarios, no scenario without a class. The run's settings keep the scenarios (`scenarios`: name
to resolved settings with `user_classes` and `start`) beside the figures of their sum (`stages`:
the summed curve, `rps`: its peak, `clients`: every scenario's clients), so what reads a run's
duration, rate and curve reads the total. planner.make_plan plans each scenario over all the
hosts and cores. Pure Python, controller only; every refusal names the setting, the value and a fix.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

from .plan_queries import MAX_DURATION, PlanError, curve_stages, summed_stages
from . import run_settings

SCENARIO_KEYS = ("user_classes", "model", "pace", "clients", "rps", "rampup", "constant", "rampdown", "stages",
                 "start", "max_clients", "tags")
INHERITED = ("pace", "model")  # the run's, for a scenario that sets none of its own
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
EXAMPLE = "{browse: {user_classes: [Browser], rps: 50, rampup: 1m, constant: 5m}}"


def _where(name: str) -> str:
    return f"hailstorm_scenarios.{name}"


def _names(value: Any, name: str, key: str, example: str) -> list[str]:
    """A list of non-empty texts (one text is a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or isinstance(items, Mapping) or not items or not all(
            isinstance(item, str) and item.strip() for item in items):
        raise PlanError(f"{_where(name)}.{key}: expected a list of one or more names, got {value!r}; "
                        f"e.g. {key}: {example}")
    return [item.strip() for item in items]


def resolve_scenarios(raw: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The run's settings with scenarios, from the merged layers `raw` (run_settings._stack and
    the overrides: a layer's scenarios replaced the one curve of the layers below, warned there);
    appends its warnings to `warnings`."""
    given = raw["scenarios"]
    if not isinstance(given, Mapping) or not given:
        raise PlanError(f"hailstorm_scenarios: expected a mapping of scenario names to their settings, got {given!r}; "
                        f"e.g. hailstorm_scenarios: {EXAMPLE}")
    if raw.get("max_clients") is not None:
        warnings.append(f"hailstorm_max_clients={raw['max_clients']!r} is not used with hailstorm_scenarios: give "
                        "max_clients in each open-model scenario")
    base = {key: raw.get(key) for key in ("target", "locustfile")}
    scenarios: dict[str, dict[str, Any]] = {}
    owner: dict[str, str] = {}
    for name, spec in given.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise PlanError(f"hailstorm_scenarios: {name!r} is not a scenario name; use letters, digits, _ . - "
                            f"(at most 64), e.g. {EXAMPLE}")
        scenarios[name] = _scenario(name, spec, base, raw, warnings)
        for cls in scenarios[name]["user_classes"]:
            if cls in owner:
                raise PlanError(f"{_where(name)}.user_classes: the class {cls} is in the scenario {owner[cls]} too; "
                                "a class runs in one scenario: remove it from one of them (or subclass it, "
                                f"class {cls}2({cls}): pass, for the other)")
            owner[cls] = name
    curves = [curve_stages(settings, settings["start"]) for settings in scenarios.values()]
    stages = summed_stages(curves)
    total = sum(float(stage["duration"]) for stage in stages)
    if total > MAX_DURATION:
        raise PlanError(f"hailstorm_scenarios: the scenarios end {run_settings.clock_text(total)} ({total:g} s) after "
                        f"the start, over the {MAX_DURATION} s (a week) a run may last; shorten them or their start")
    peak = run_settings.stages_peak(stages)
    clients = sum(int(settings["clients"]) for settings in scenarios.values())
    return {"target": next(iter(scenarios.values()))["target"], "locustfile": raw.get("locustfile"),
            "rps": peak, "clients": clients, "pace": clients / peak, "stages": stages, "scenarios": scenarios}


def _scenario(name: str, spec: Any, base: Mapping[str, Any], raw: Mapping[str, Any],
              warnings: list[str]) -> dict[str, Any]:
    where = _where(name)
    if not isinstance(spec, Mapping):
        raise PlanError(f"{where}: expected a mapping such as {{user_classes: [Browser], rps: 50, rampup: 1m}}, "
                        f"got {spec!r}")
    stray = sorted(str(key) for key in set(spec) - set(SCENARIO_KEYS))
    if stray:
        raise PlanError(f"{where}: unknown key(s) {', '.join(stray)}; a scenario may set {', '.join(SCENARIO_KEYS)}, "
                        "e.g. {user_classes: [Browser], rps: 50, rampup: 1m, constant: 5m}")
    if spec.get("user_classes") is None:
        raise PlanError(f"{where}: no user_classes; name the locustfile's classes it runs, e.g. "
                        "user_classes: [Browser]")
    classes = _names(spec["user_classes"], name, "user_classes", "[Browser]")
    if len(set(classes)) != len(classes):
        raise PlanError(f"{where}.user_classes: {classes!r} names a class twice; name each once (a class's weight "
                        "or fixed_count sets its share)")
    if not any(spec.get(key) is not None for key in ("rps", "stages")):
        raise PlanError(f"{where}: no curve (no rps and no stages); give rps with rampup (and constant, rampdown) "
                        "or stages, e.g. {rps: 50, rampup: 1m, constant: 5m} or "
                        "{stages: [{duration: 1m, rps: 50}, {duration: 5m, rps: 50}]}")
    start = run_settings.parse_duration(spec.get("start", 0) or 0, f"scenarios.{name}.start")
    if start < 0:
        raise PlanError(f"{where}.start: must be >= 0 (seconds after the run's shared start), got {spec['start']!r}; "
                        "e.g. start: 2m")
    overrides = {**base, **{key: spec.get(key) for key in SCENARIO_KEYS
                            if key not in ("user_classes", "start", "tags")}}
    for key in INHERITED:
        if overrides.get(key) is None and not (key == "pace" and spec.get("clients") is not None):
            overrides[key] = raw.get(key)
    try:
        settings, notes = run_settings.resolve_settings(None, "default", overrides)
    except PlanError as error:
        raise PlanError(f"{where}: {error} (in the scenario: drop the hailstorm_ prefix, e.g. rps: 100)") from None
    warnings.extend(f"{where}: {note}" for note in notes)
    if settings.get("stages") and run_settings.stages_peak(settings["stages"]) <= 0:
        raise PlanError(f"{where}: its curve is empty (every rate 0); give a stage an rps > 0")
    out = {**settings, "user_classes": classes, "start": start}
    if spec.get("tags") is not None:
        out["tags"] = _names(spec["tags"], name, "tags", "[checkout]")
    return out


def check_classes(settings: Mapping[str, Any], known: Sequence[str]) -> None:
    """Refuse a scenario naming a class the locustfile does not have (`known`: its user classes)."""
    for name, scenario in (settings.get("scenarios") or {}).items():
        unknown = [cls for cls in scenario["user_classes"] if cls not in known]
        if unknown:
            raise PlanError(f"{_where(name)}.user_classes: {', '.join(unknown)} is not a user class of the locustfile "
                            f"{settings.get('locustfile')}; its classes are {', '.join(sorted(known)) or '(none)'}: "
                            f"e.g. user_classes: [{sorted(known)[0] if known else 'MyUser'}]")


def check_capacity(settings: Mapping[str, Any], cores: int) -> None:
    """The sane bounds of run_settings.check_capacity, judged on the sum of the scenarios (they share
    every core): their clients, the peak of their summed curve, and their client starts."""
    scenarios = settings["scenarios"]
    clients, rps = int(settings["clients"]), float(settings["rps"])
    need = max(math.ceil(clients / run_settings.MAX_CLIENTS_PER_CORE), math.ceil(rps / run_settings.MAX_RPS_PER_CORE))
    starts = sum(run_settings.staged_intervals(each["stages"], int(each["clients"]), float(each["rps"]))
                 if each.get("stages") else int(each["clients"]) for each in scenarios.values())
    if starts > cores * run_settings.MAX_INTERVALS_PER_CORE:
        raise PlanError(f"hailstorm_scenarios: their clients start {starts} times in all, over the "
                        f"{run_settings.MAX_INTERVALS_PER_CORE} client starts per usable core a plan may have on "
                        f"{cores} cores; give fewer rises and falls, or add load hosts (at least "
                        f"{math.ceil(starts / run_settings.MAX_INTERVALS_PER_CORE)} usable cores)")
    if need > cores:
        each_clients = ", ".join(f"{name}: {int(each['clients'])}" for name, each in scenarios.items())
        raise PlanError(
            f"hailstorm_scenarios: together they peak at {rps:g} rps with {clients} clients "
            f"({each_clients}), which needs at "
            f"least {need} usable cores (at most {run_settings.MAX_CLIENTS_PER_CORE} clients and "
            f"{run_settings.MAX_RPS_PER_CORE} rps per core) but the load hosts have {cores}; lower the scenarios' rps "
            f"to at most {cores * run_settings.MAX_RPS_PER_CORE} in all, or add load hosts")
    for name, each in scenarios.items():
        if int(each["clients"]) < cores:
            raise PlanError(
                f"{_where(name)}: its {int(each['clients'])} clients cannot keep the {cores} usable cores busy (each "
                f"scenario runs on every core); give it at least {cores} clients (clients = rps x pace), e.g. "
                f"clients: {cores}, or lower hailstorm_cores")
