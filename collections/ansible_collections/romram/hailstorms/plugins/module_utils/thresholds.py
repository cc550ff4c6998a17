# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thresholds: the pass/fail limits of a run (hailstorm_thresholds) and their verdict.

Pure Python (no Ansible). `check` validates what a user wrote, before any host is touched;
`evaluate` judges the figures of a finished run (summary.phase_figures) against them.

    hailstorm_thresholds:
      p95_ms: 250          # latency limits in ms (maximum), over all labels: p50_ms, p90_ms,
                           # p95_ms, p99_ms, p999_ms (99.9th percentile), mean_ms, max_ms:
                           # the service time, as Locust measures it; the same names with
                           # _from_schedule (p99_from_schedule_ms): from each request's slot,
                           # queueing included (what a user waiting for the service sees)
      failure_rate: 0.01   # failed / all requests, maximum, 0..1 (or '1%')
      rps_ratio: 0.98      # succeeded requests / target rate, minimum
      overruns: 0          # pacing overruns, maximum count
      late_clients: 0      # clients started late, maximum count
      exceptions: 0        # exceptions raised by the locustfile (tasks, on_start), maximum count
      dropped: 0           # the open model's arrivals that found no user in time, maximum count
      failure_rate: {limit: '1%', abort: true, after: 5s}   # ABORTABLE limits may also stop the
      p95_ms: {limit: 500, abort: true, after: 10s}         # run mid-way: broken over every progress
                           # interval for `after` (a duration, 0 by default), all hosts merged
                           # (see abort_verdict): the failure rate and the service-time latency
                           # limits (p50_ms ... max_ms, mean_ms) over all labels
      labels:              # "METHOD name" (one method) or the name alone (every method)
        GET /api/{id}: {p99_ms: 800}
        /api/{id}: {failure_rate: 0}
      scenarios:           # a scenario of hailstorm_scenarios, over its whole curve: its requests'
        checkout: {p95_ms: 300, failure_rate: 0.01, overruns: 0}   # service time and failures,
                           # its overruns (closed model) or dropped arrivals (open model)
    hailstorm_thresholds_phase: constant   # or all, or with stages a stage's number (1 = first) or name

A latency or failure limit is judged over the phase chosen (the constant phase by default);
rps_ratio over the same phase (the whole run: succeeded requests / planned requests); overruns,
late clients and exceptions over the whole run.

Failed requests and locustfile exceptions also fail a run by themselves (run_state: `failed`, as
Locust's --exit-code-on-error): `failure_rate` and `exceptions` are how a run allows some
(`allowed_failures`), and hailstorm_exit_code_on_error: 0 allows any.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils.checks import kind_of
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError
from ansible_collections.romram.hailstorms.plugins.module_utils.run_settings import parse_duration
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import FROM_SCHEDULE

VARIABLE = "hailstorm_thresholds"
PHASE_VARIABLE = "hailstorm_thresholds_phase"
PHASES = ("constant", "all")

SERVICE_LATENCY = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms")
# the same from each request's slot (queueing included): p99_from_schedule_ms
SCHEDULE_LATENCY = tuple(name[:-3] + "_from_schedule_ms" for name in SERVICE_LATENCY)
LATENCY = SERVICE_LATENCY + SCHEDULE_LATENCY
WHOLE_RUN = ("overruns", "late_clients", "exceptions", "dropped")  # counted over the whole run, never per phase
# name: (kind, what it limits, bound direction); 'max' passes when measured <= limit
LIMITS: dict[str, tuple[str, str, str]] = {
    **{name: ("ms", f"{'p99.9' if name == 'p999_ms' else name[:-3]} latency", "max") for name in SERVICE_LATENCY},
    **{name: ("ms", f"{'p99.9' if name.startswith('p999') else name.split('_')[0]} latency from schedule", "max")
       for name in SCHEDULE_LATENCY},
    "failure_rate": ("fraction", "failure rate", "max"),
    "rps_ratio": ("ratio", "succeeded / target rate", "min"),
    "overruns": ("count", "pacing overruns", "max"),
    "late_clients": ("count", "clients started late", "max"),
    "exceptions": ("count", "locustfile exceptions", "max"),
    "dropped": ("count", "dropped arrivals (open model)", "max"),
}
LABEL_LIMITS = (*LATENCY, "failure_rate")
# a scenario's limits (hailstorm_scenarios), over its whole curve: its requests' service time and
# failures, its closed model's overruns, its open model's dropped arrivals
SCENARIO_LIMITS = (*SERVICE_LATENCY, "failure_rate", "overruns", "dropped")
ABORTABLE = ("failure_rate", *SERVICE_LATENCY)  # judged mid-run on the hosts' figures of the last progress interval
ABORT_KEYS = ("limit", "abort", "after")
# relative limits against a baseline run (hailstorm_baseline; compare.py judges them at the end):
# name: the bound it takes. max_increase of a latency in % of the baseline's, of failure_rate in
# percentage points; max_decrease of rps (requests per second over the phase) in % of the baseline's.
RELATIVE: dict[str, str] = {**{name: "max_increase" for name in LATENCY}, "failure_rate": "max_increase",
                            "rps": "max_decrease"}
RELATIVE_KEYS = ("max_increase", "max_decrease")
ALL = "all"  # the label of limits over every request

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*(ms|s|%)?\s*$", re.IGNORECASE)


class ThresholdError(ValueError):
    """A threshold setting that cannot be used; the message names it and says how to fix it."""


def _example(name: str) -> str:
    return {"ms": "250 (ms) or '250ms' or '0.25s'", "fraction": "0.01 or '1%'",
            "ratio": "0.95 or '95%'", "count": "0"}[LIMITS[name][0]]


def _value(name: str, value: Any, where: str) -> float | int:
    kind = LIMITS[name][0]
    fix = f"give a number, e.g. {where}: {_example(name)}"
    if isinstance(value, bool) or value is None:
        raise ThresholdError(f"{where}: expected a number, got {value!r}; {fix}")
    unit = None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        match = _NUMBER.match(value)
        if not match:
            raise ThresholdError(f"{where}: cannot read {value!r} as a number; {fix}")
        number, unit = float(match.group(1)), (match.group(2) or "").lower() or None
    else:
        raise ThresholdError(f"{where}: expected a number, got {kind_of(value)}, {value!r}; {fix}")
    if not math.isfinite(number):
        raise ThresholdError(f"{where}: expected a finite number, got {value!r}; {fix}")
    if unit in ("ms", "s") and kind != "ms" or unit == "%" and kind not in ("fraction", "ratio"):
        raise ThresholdError(f"{where}: the unit {unit!r} of {value!r} does not fit {LIMITS[name][1]}; {fix}")
    if unit == "s":
        number *= 1000.0
    elif unit == "%":
        number /= 100.0
    if kind == "ms" and number <= 0:
        raise ThresholdError(f"{where}: a latency limit must be > 0 ms, got {value!r}; {fix}")
    if kind == "fraction" and not 0 <= number <= 1:
        raise ThresholdError(f"{where}: a failure rate is between 0 and 1, got {value!r}; {fix}")
    if kind == "ratio" and number <= 0:
        raise ThresholdError(f"{where}: the minimum ratio of achieved to target rate must be > 0, "
                             f"got {value!r}; {fix}")
    if kind == "count":
        if number < 0 or number != int(number):
            raise ThresholdError(f"{where}: a maximum count is a whole number >= 0, got {value!r}; {fix}")
        return int(number)
    return number


def _key_list(allowed: tuple[str, ...]) -> str:
    """The keys for a message: the latency keys from schedule said once, not listed."""
    shown = [name for name in allowed if name not in SCHEDULE_LATENCY]
    if not any(name in SCHEDULE_LATENCY for name in allowed):
        return ", ".join(shown)
    at = shown.index("max_ms") + 1 if "max_ms" in shown else len(shown)
    return ", ".join(shown[:at] + ["each latency key also from schedule (p99_from_schedule_ms)"] + shown[at:])


def _abort(name: str, value: Mapping[str, Any], where: str, top: bool) -> tuple[Any, float | None]:
    """A limit written as {limit, abort, after}: (the limit, seconds it may stay broken before the
    run is stopped, or None without abort)."""
    example = f"{where}: {{limit: {_example(name).split(' ')[0]}, abort: true, after: 5s}}"
    unknown = sorted(set(map(str, value)) - set(ABORT_KEYS))
    if unknown or "limit" not in value:
        raise ThresholdError(f"{where}: {dict(value)!r} is not a limit with abort settings "
                             f"({'unknown key ' + repr(unknown[0]) if unknown else 'no limit'}); "
                             f"the keys are {', '.join(ABORT_KEYS)}, e.g. {example}")
    abort = value.get("abort", False)
    if not isinstance(abort, bool):
        raise ThresholdError(f"{where}.abort: expected true or false, got {abort!r}; e.g. {example}")
    if not abort:
        if "after" in value:
            raise ThresholdError(f"{where}.after: {value['after']!r} means nothing without abort: true; e.g. {example}")
        return value["limit"], None
    if not top or name not in ABORTABLE:
        usable = (f"the latency from schedule is not in the progress figures: use {name.replace(FROM_SCHEDULE, '')}, "
                  if name in SCHEDULE_LATENCY else "")
        raise ThresholdError(f"{where}.abort: stopping the run mid-way is judged on "
                             f"{', '.join(ABORTABLE)} over all labels only; {usable}set it at the top of {VARIABLE}, "
                             f"e.g. {VARIABLE}.p95_ms: {{limit: 500, abort: true, after: 10s}}")
    try:
        after = parse_duration(value.get("after", 0), f"{where[len('hailstorm_'):]}.after")
    except PlanError as error:
        raise ThresholdError(f"{error}; e.g. {example}") from None
    if after < 0:
        raise ThresholdError(f"{where}.after: a time broken must be >= 0 s, got {value.get('after')!r}; e.g. {example}")
    return value["limit"], after


def _relative(name: str, value: Mapping[str, Any], where: str, label: str, relative: list[dict[str, Any]]) -> Any:
    """Takes the relative bounds out of a limit written {max_increase: 10%} (or with an absolute
    `limit` beside it) into `relative`; returns what is left: the absolute limit, or None."""
    bound = RELATIVE.get(name)
    example = f"{where}: {{{bound or 'max_increase'}: {'0.5%' if name == 'failure_rate' else '10%'}}}"
    if bound is None:
        raise ThresholdError(f"{where}: {name} takes no relative limit (max_increase, max_decrease); relative limits "
                             f"are for {', '.join(k for k in RELATIVE if k not in SCHEDULE_LATENCY)} and the latency "
                             "keys from schedule")
    for key in RELATIVE_KEYS:
        if key in value and key != bound:
            worse = "higher" if bound == "max_increase" else "lower"
            raise ThresholdError(f"{where}.{key}: {name} takes {bound}, not {key} (a {worse} {name} is worse); "
                                 f"e.g. {example}")
    if value.get("abort"):
        if "limit" not in value:
            raise ThresholdError(f"{where}.abort: a relative limit ({bound}) is judged at the end only: the baseline's "
                                 "figures are of a whole phase, the progress figures of a few seconds, so they are no "
                                 f"fair match mid-run; remove abort, or give an absolute limit to abort on, e.g. "
                                 f"{where}: {{limit: 500, abort: true, {bound}: 10%}}")
    given = value[bound]
    pct = name != "failure_rate"
    fix = f"give a fraction or a percentage >= 0, e.g. {example}"
    if isinstance(given, bool) or not isinstance(given, (int, float, str)):
        raise ThresholdError(f"{where}.{bound}: expected a number or a percentage, got {given!r}; {fix}")
    match = _NUMBER.match(given) if isinstance(given, str) else None
    if isinstance(given, str) and (not match or (match.group(2) or "%") != "%"):
        raise ThresholdError(f"{where}.{bound}: cannot read {given!r} as a percentage; {fix}")
    number = float(match.group(1)) / (100.0 if match.group(2) else 1.0) if match else float(given)
    if not math.isfinite(number) or number < 0 or (bound == "max_decrease" and number > 1):
        raise ThresholdError(f"{where}.{bound}: {given!r} is out of range; {fix}")
    relative.append({"threshold": name, "label": label, "bound": bound, "value": number,
                     "unit": "%" if pct else "pp"})
    rest = {key: val for key, val in value.items() if key not in RELATIVE_KEYS}
    if not rest:
        return None
    return rest


def _limits(given: Mapping[str, Any], allowed: tuple[str, ...], where: str,
            aborts: dict[str, float] | None = None, relative: list[dict[str, Any]] | None = None,
            label: str = "all") -> dict[str, Any]:
    """The limits as numbers; those written {limit, abort: true, after} also go in `aborts` (name: after s),
    the relative ones ({max_increase: 10%}) in `relative`."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, Mapping) and any(key in value for key in RELATIVE_KEYS) and relative is not None:
            value = _relative(name, value, f"{where}.{name}", label, relative)
            if value is None:
                continue
        if isinstance(value, Mapping) and name in LIMITS:
            value, after = _abort(name, value, f"{where}.{name}", aborts is not None)
            if after is not None and aborts is not None:
                aborts[name] = after
        if name not in allowed:
            hint = ""
            if allowed == LABEL_LIMITS and name in LIMITS:
                hint = f" ({name} applies to the whole run only: set it at the top of {VARIABLE})"
            raise ThresholdError(
                f"{where}: unknown key {name!r} (value {value!r}){hint}; "
                f"the keys are {_key_list(allowed)}")
        out[name] = _value(name, value, f"{where}.{name}")
    return out


def _stage_reference(phase: Any) -> bool:
    """A stage by number (1, '2') or name: checked against the plan's stages when judged."""
    if isinstance(phase, bool):
        return False
    if isinstance(phase, int):
        return phase >= 1
    return isinstance(phase, str) and bool(phase.strip())


def check(thresholds: Any, phase: Any = "constant", where: str = VARIABLE) -> dict[str, Any]:
    """The thresholds in canonical form ({"limits": {...}, "labels": {label: {...}}, "phase": p}),
    or ThresholdError naming the key (under `where`), the value and a fix. None or {} means none."""
    if phase not in PHASES and not _stage_reference(phase):
        raise ThresholdError(f"{PHASE_VARIABLE}: {phase!r} is not a phase; use one of {', '.join(PHASES)}, or with "
                             "hailstorm_stages a stage's number (1 = the first) or its name")
    if thresholds is None or thresholds == "":
        thresholds = {}
    if not isinstance(thresholds, Mapping):
        raise ThresholdError(
            f"{where}: expected a mapping such as {{p95_ms: 250, failure_rate: 0.01}}, "
            f"got {kind_of(thresholds)}, {thresholds!r}")
    given = dict(thresholds)
    labels = given.pop("labels", None) or {}
    if not isinstance(labels, Mapping):
        raise ThresholdError(
            f"{where}.labels: expected a mapping of label to limits such as "
            f"{{'/api/{{id}}': {{p99_ms: 800}}}}, got {kind_of(labels)}, {labels!r}")
    scenarios = given.pop("scenarios", None) or {}
    if not isinstance(scenarios, Mapping):
        raise ThresholdError(f"{where}.scenarios: expected a mapping of scenario name to limits such as "
                             f"{{checkout: {{p95_ms: 300}}}}, got {kind_of(scenarios)}, {scenarios!r}")
    out_scenarios: dict[str, dict[str, Any]] = {}
    for name, limits in scenarios.items():
        at = f"{where}.scenarios.{name}"
        if not isinstance(limits, Mapping):
            raise ThresholdError(f"{at}: expected a mapping of limits such as {{p95_ms: 300}}, got {limits!r}")
        out_scenarios[str(name)] = _limits(limits, SCENARIO_LIMITS, at)
    out_labels: dict[str, dict[str, Any]] = {}
    relative: list[dict[str, Any]] = []
    for label, limits in labels.items():
        at = f"{where}.labels[{label!r}]"
        if not isinstance(limits, Mapping):
            raise ThresholdError(f"{at}: expected a mapping of limits such as {{p95_ms: 250}}, got {limits!r}")
        out_labels[str(label)] = _limits(limits, LABEL_LIMITS, at, relative=relative, label=str(label))
    aborts: dict[str, float] = {}
    limits = _limits(given, tuple(LIMITS) + ("labels",), where, aborts, relative)
    out = {"limits": limits, "labels": out_labels, "phase": phase}
    if out_scenarios:
        out["scenarios"] = out_scenarios
    if aborts:
        out["abort"] = aborts
    if relative:
        out["relative"] = relative
    return out


def abort_verdict(checked: Mapping[str, Any] | None, interval: Mapping[str, Any],
                  broken_since: Mapping[str, float] | None) -> tuple[dict[str, float], str | None, str | None]:
    """Whether to stop the run now, judged every progress interval on the figures of all hosts
    merged over the last interval: `interval` = {"from", "at": its start and end, seconds since
    the start; "requests", "failures", "planned_rps"; "latency": the service-time figures of its
    requests, p50_ms ... max_ms and mean_ms (summary.latency_figures)}. A threshold broken over
    an interval counts as broken over all of it (the figures say no more): `broken_since` is what
    the previous call returned, for each abort threshold broken in the intervals up to the last
    one, the start of the first of them in a row. Returns (broken_since, threshold, reason):
    threshold and reason are None to go on, else the threshold that stops the run and the words
    of the abort (the threshold, since when and how long it was broken, the planned rate then).
    An interval without requests, or a latency threshold without latency figures, changes
    nothing. So a run stops at the first judgement at least `after` seconds after the start of
    the interval in which the breakage began: at most `after` + one interval after it."""
    aborts = (checked or {}).get("abort") or {}
    limits = (checked or {}).get("limits") or {}
    since_by = {str(name): float(since) for name, since in (broken_since or {}).items()}
    requests = int(interval.get("requests") or 0)
    if not aborts or not requests:
        return since_by, None, None
    at, start = float(interval["at"]), float(interval.get("from") or 0.0)
    latency = interval.get("latency") or {}
    threshold = reason = None
    for name, after in sorted(aborts.items()):
        measured = int(interval.get("failures") or 0) / requests if name == "failure_rate" else latency.get(name)
        if measured is None:
            continue
        if measured <= limits[name]:
            since_by.pop(name, None)
            continue
        since = since_by.setdefault(name, start)
        if threshold is None and at - since >= after:
            threshold = name
            reason = (f"{name}: {LIMITS[name][1]} {_show(name, measured)} > limit {_show(name, limits[name])} over the "
                      f"last interval, broken since {since:g} s for {at - since:g} s (abort after {after:g} s) at a "
                      f"planned {float(interval.get('planned_rps') or 0):g} rps")
    return since_by, threshold, reason


def run_duration(settings: Mapping[str, Any]) -> float:
    """How long the run lasts, in seconds, from its resolved settings (run_settings.resolve_settings or
    resolve_shaped_settings): the sum of its stages (a LoadTestShape's curve is stages too), else
    rampup + constant + rampdown. It is the plan's `duration` (planner.make_plan; a test keeps the
    two in step), known on the controller before any host is touched."""
    if settings.get("stages"):
        return float(sum(float(stage["duration"]) for stage in settings["stages"]))
    return float(settings["rampup"]) + float(settings["constant"]) + float(settings["rampdown"])


def check_abort_after(checked: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> None:
    """Refuses an abort threshold that can never stop the run: one whose `after` (the time it must
    stay broken) is at least the run's duration (`run_duration`). ThresholdError names each such
    threshold, its `after`, the run's duration and where it comes from, and a fix (half the run,
    whole seconds) that is itself accepted."""
    duration = run_duration(settings)
    made_of = (f"the LoadTestShape {settings['shape']}" if settings.get("shape") else
               "its stages" if settings.get("stages") else "rampup + constant + rampdown")
    fix = math.floor(duration / 2) if duration >= 2 else 0
    errors = []
    for name, after in sorted(((checked or {}).get("abort") or {}).items()):
        if after >= duration:
            limit = f"{float(checked['limits'][name]):g}"  # ms or a fraction, as check() reads it back
            errors.append(
                f"{VARIABLE}.{name}.after: {after:g} s is not shorter than the run, which lasts {duration:g} s "
                f"({made_of}): the threshold must stay broken for `after` before it stops the run, so it can never "
                f"stop it; give an after below {duration:g} s, e.g. {VARIABLE}.{name}: "
                f"{{limit: {limit}, abort: true, after: {fix}s}}, or remove abort: true to judge it at the end only")
    if errors:
        raise ThresholdError(" -- ".join(errors))


def check_scenario_names(checked: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> None:
    """Refuses thresholds of a scenario the run does not have (hailstorm_scenarios), naming the
    run's scenarios: such a threshold could only break."""
    given = sorted(((checked or {}).get("scenarios") or {}))
    known = sorted(settings.get("scenarios") or {})
    unknown = [name for name in given if name not in known]
    if unknown:
        fix = (f"name one of its scenarios ({', '.join(known)}), e.g. {VARIABLE}.scenarios.{known[0]}"
               if known else f"set hailstorm_scenarios, or remove {VARIABLE}.scenarios")
        raise ThresholdError(f"{VARIABLE}.scenarios: {', '.join(unknown)} is not a scenario of the run "
                             f"({'its scenarios: ' + ', '.join(known) if known else 'it has no hailstorm_scenarios'}); "
                             f"{fix}")


PROFILE_KEY = "thresholds"  # a profile of hailstorm_profiles may carry its thresholds under this key


def stack(profiles: Mapping[str, Any] | None, selection: str = "default", given: Any = None) -> Any:
    """The thresholds of `default`, then of each profile in `selection` ('high+long'), then
    `given` (hailstorm_thresholds): later limits win key by key, labels label by label.
    Profiles without thresholds add nothing; unknown profile names are the planner's to refuse."""
    layers = []
    names = ["default"] + [n.strip() for n in str(selection or "default").split("+") if n.strip() not in ("", "default")]
    for name in names:
        profile = (profiles or {}).get(name)
        if isinstance(profile, Mapping) and profile.get(PROFILE_KEY) is not None:
            layers.append((f"hailstorm_profiles.{name}.{PROFILE_KEY}", profile[PROFILE_KEY]))
    if given is not None and given != "" and given != {}:
        layers.append((VARIABLE, given))
    if not layers:
        return given
    out: dict[str, Any] = {}
    labels: dict[str, dict[str, Any]] = {}
    for where, layer in layers:
        check(layer, "constant", where)  # each layer refused under its own name
        for key, value in layer.items():
            if key == "labels" and isinstance(value, Mapping):
                for label, limits in value.items():
                    if isinstance(limits, Mapping) and isinstance(labels.get(label), dict):
                        labels[label].update(limits)
                    else:
                        labels[label] = dict(limits) if isinstance(limits, Mapping) else limits
            else:
                out[key] = value
    if labels:
        out["labels"] = labels
    return out


def is_empty(checked: Mapping[str, Any] | None) -> bool:
    return not checked or not (checked.get("limits") or checked.get("labels") or checked.get("relative")
                               or checked.get("scenarios"))


def _show(name: str, value: Any) -> str:
    if value is None:
        return "none"
    kind = LIMITS[name][0]
    if kind == "ms":
        return f"{value:g} ms"
    if kind in ("fraction", "ratio"):
        return f"{value:g} ({100.0 * value:.2f} %)"
    return f"{value:g}"


def _measured(name: str, figures: Mapping[str, Any], scope: Mapping[str, Any] | None) -> Any:
    if name == "rps_ratio" or name in WHOLE_RUN:
        return figures.get(name)
    return None if scope is None else scope.get(name)


def evaluate(checked: Mapping[str, Any], figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One verdict per threshold: {threshold, label, limit, measured, passed, over, message}.

    `figures` is summary.phase_figures(merged, plan, checked['phase']). A measurement that is
    missing (a label with no request in the phase, a rate without a target) fails its threshold."""
    verdicts: list[dict[str, Any]] = []
    over = figures.get("description", figures.get("phase", ""))
    seen = sorted(figures.get("labels", {}))

    def judge(name: str, limit: Any, label: str, scope: Mapping[str, Any] | None) -> None:
        measured = _measured(name, figures, scope)
        what = LIMITS[name][1]
        where = " (all labels)" if label == ALL else f" of label {label}"
        scope_text = "over the whole run" if name in WHOLE_RUN else f"over the {over}"
        if measured is None:
            passed = False
            if scope is None:
                detail = (f"no request{where} was recorded {scope_text}; labels seen: "
                          f"{', '.join(seen) or 'none'}")
            else:
                detail = f"nothing to measure {scope_text}"
            message = f"{name}{where}: limit {_show(name, limit)}, measured none ({detail})"
        else:
            bound = LIMITS[name][2]
            passed = measured <= limit if bound == "max" else measured >= limit
            sign = ("<=" if bound == "max" else ">=") if passed else (">" if bound == "max" else "<")
            message = (f"{name}{where}: {what} {_show(name, measured)} {sign} limit {_show(name, limit)} "
                       f"{scope_text}" + ("" if passed else " - BROKEN"))
        verdicts.append({"threshold": name, "label": label, "limit": limit, "measured": measured,
                         "passed": passed, "over": scope_text, "message": message})

    for name, limit in checked.get("limits", {}).items():
        judge(name, limit, ALL, figures.get("overall"))
    for label, limits in checked.get("labels", {}).items():
        for name, limit in limits.items():
            scope = figures.get("labels", {}).get(label) or figures.get("names", {}).get(label)
            judge(name, limit, label, scope)
    scenarios = figures.get("scenarios") or {}
    for scenario, limits in (checked.get("scenarios") or {}).items():
        for name, limit in limits.items():
            verdicts.append(_scenario_verdict(scenario, name, limit, scenarios))
    return verdicts


def _scenario_verdict(scenario: str, name: str, limit: Any, scenarios: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's threshold judged on its figures over its whole curve (summary.phase_figures'
    `scenarios`); one the run has no such scenario for fails, naming the run's scenarios."""
    where, over = f" of scenario {scenario}", "over the scenario's whole curve"
    measured = (scenarios.get(scenario) or {}).get(name)
    if measured is None:
        detail = (f"the run has no scenario {scenario} (its scenarios: {', '.join(sorted(scenarios)) or 'none'})"
                  if scenario not in scenarios else f"nothing to measure {over}")
        return {"threshold": name, "label": f"scenario {scenario}", "scenario": scenario, "limit": limit,
                "measured": None, "passed": False, "over": over,
                "message": f"{name}{where}: limit {_show(name, limit)}, measured none ({detail})"}
    passed = measured <= limit  # every scenario limit is a maximum
    return {"threshold": name, "label": f"scenario {scenario}", "scenario": scenario, "limit": limit,
            "measured": measured,
            "passed": passed, "over": over,
            "message": f"{name}{where}: {LIMITS[name][1]} {_show(name, measured)} {'<=' if passed else '>'} limit "
                       f"{_show(name, limit)} {over}" + ("" if passed else " - BROKEN")}


def allowed_failures(checked: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the thresholds allow of what would otherwise fail a run (run_state): failed requests
    of every label ({"all": True}, a top-level failure_rate) or of the labels with their own
    failure_rate ({"labels": [...]}), and locustfile exceptions ({"exceptions": True}); with
    hailstorm_scenarios, of each scenario with its own limits ({"scenarios": {name: {"failures":
    its failure_rate is given, "dropped": its dropped limit or None}}})."""
    limits = (checked or {}).get("limits") or {}
    labels = [label for label, given in ((checked or {}).get("labels") or {}).items() if "failure_rate" in given]
    scenarios = {name: {"failures": "failure_rate" in given, "dropped": given.get("dropped")}
                 for name, given in ((checked or {}).get("scenarios") or {}).items()}
    return {"all": "failure_rate" in limits, "labels": sorted(labels), "exceptions": "exceptions" in limits,
            "dropped": limits.get("dropped", 0), **({"scenarios": scenarios} if scenarios else {})}


def broken(verdicts: list[Mapping[str, Any]]) -> list[str]:
    """The messages of the thresholds a run broke (empty: it passed)."""
    return [v["message"] for v in verdicts if not v["passed"]]
