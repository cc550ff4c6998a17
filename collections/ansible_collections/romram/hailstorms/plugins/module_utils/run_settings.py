# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's settings: read and checked (durations, stages, profiles, options), resolved through
the layers (built-in defaults < profile stack < overrides) into the numbers the planner takes,
the sane bounds refused before any planning (`check_capacity`), and each load host's usable
cores.

Pure Python (no Ansible, no Locust); controller only (the load hosts get the plan, not the
settings). Every refusal is a PlanError naming the variable, the value and a fix.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping, Sequence

from .plan_queries import MAX_DURATION, PlanError, curve_segments, transitions

SETTING_KEYS = (
    "target", "rps", "pace", "clients", "rampup", "constant", "rampdown", "locustfile", "stages",
    "model", "max_clients", "scenarios",
)
MODELS = ("closed", "open")  # who runs an iteration: a client on its own slots, or a pool taking arrivals
MAX_CLIENTS_FACTOR = 4  # the open model's default pool cap: this many times the closed model's clients
DURATION_KEYS = ("pace", "rampup", "constant", "rampdown")
TRAPEZOID_KEYS = ("rampup", "constant", "rampdown")  # the run's shape without stages
STAGE_KEYS = ("duration", "rps", "name")
BUILTIN_DEFAULTS: dict[str, Any] = {"constant": 0}
BUILTIN = "the built-in defaults"
MIN_PACE = 0.1
UNSTABLE_PACE = 10.0
# Sane bounds (refused at once, before planning): beyond them a plan is a typing error, not a
# test. A core runs one Locust process (gevent): measured on a small VM it keeps a few thousand
# rps at most, and a client is a greenlet with its own connection.
MAX_CLIENTS = 10_000_000
MAX_CLIENTS_PER_CORE = 20_000
MAX_RPS_PER_CORE = 10_000


_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?"
                          r"(?:(\d+(?:\.\d+)?)ms)?$")


def parse_duration(value: Any, name: str) -> float:
    """Seconds from plain seconds (int, float, '90', '1.5') or Locust style ('90s', '3m', '1h30m'),
    milliseconds as k6 writes them too ('100ms', '1s500ms')."""
    if isinstance(value, bool):
        raise PlanError(f"hailstorm_{name}: expected a duration such as 90, '90s', '3m', '1h30m' or '100ms', "
                        f"got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().replace(" ", "").lower()
        try:
            seconds = float(text)
        except ValueError:
            match = _DURATION_RE.match(text)
            if not text or not match or not any(match.groups()):
                raise PlanError(
                    f"hailstorm_{name}: cannot read {value!r} as a duration; "
                    "use seconds (90) or Locust style ('90s', '3m', '1h30m', '100ms')"
                ) from None
            hours, minutes, secs, millis = (float(part or 0) for part in match.groups())
            seconds = hours * 3600 + minutes * 60 + secs + millis / 1000
    if not math.isfinite(seconds):
        raise PlanError(f"hailstorm_{name}: {value!r} is not a finite duration")
    return seconds


_NUMBER_EXAMPLES = {"rps": "hailstorm_rps=100", "clients": "hailstorm_clients=50"}


def _number(value: Any, name: str) -> float:
    """A number from an int, a float or a string ('50', '1e3'); refused with the value and an example."""
    example = _NUMBER_EXAMPLES.get(name, f"hailstorm_{name}=10")
    if isinstance(value, bool):
        raise PlanError(f"hailstorm_{name}: expected a number, got {value!r}; for example {example}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise PlanError(f"hailstorm_{name}: expected a number, got {value!r}; for example {example}") from None
    if not math.isfinite(number):
        raise PlanError(f"hailstorm_{name}: expected a finite number, got {value!r}; for example {example}")
    return number


# Each stage is an entry of plan.json, a line of the summary and a phase thresholds may judge: a
# week of one-minute stages is 10,080 (a curve sampled more finely is the same curve in fewer stages).
MAX_STAGES = 10_000
MAX_STAGE_RPS = MAX_CLIENTS / MIN_PACE  # the most clients at the shortest pace
# Client starts of a staged run (`intervals`: a client may stop on a fall and start again on a later
# rise): the controller counts each one to plan (1.5 million a second on a busy 2-core machine, so
# 20 million take about 13 s: a million clients swept up and down 20 times), and a load host's core
# holds its own as a list (about 150 bytes each: 200,000 are 30 MB, each of a full core's clients
# started 10 times) and starts each as a Locust user with its on_start.
MAX_INTERVALS = 20_000_000
MAX_INTERVALS_PER_CORE = 10 * MAX_CLIENTS_PER_CORE
_STAGES_EXAMPLE = "[{duration: 2m, rps: 200}, {duration: 5m, rps: 200}, {duration: 1m, rps: 0}]"


def parse_stages(value: Any) -> list[dict[str, Any]]:
    """`hailstorm_stages` read and checked: a list of {duration, rps, name (optional)}, as k6 writes
    them: each stage ends at its rps, linear from the rate before it (0 before the first stage);
    a stage of 0s is a step (the rate jumps). Returns [{"duration": seconds, "rps": rate, "name"?}].

    A JSON text is read too (`-e hailstorm_stages='[...]'` passes a string). Stages are counted
    from 1 in the messages. Refused: not a list, empty, more than MAX_STAGES, a stage that is not a
    mapping or has unknown keys or lacks duration or rps, a duration that does not parse or is
    negative, a rate that is negative or over MAX_STAGE_RPS, a name that is not text or is given
    twice, stages of 0s in total, and stages whose rates are all 0."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise PlanError(
                f"hailstorm_stages: cannot read {value!r} as a list of stages; give a list such as "
                f"{_STAGES_EXAMPLE} (on the command line: -e '{{\"hailstorm_stages\": "
                f"[{{\"duration\": \"2m\", \"rps\": 200}}, {{\"duration\": \"1m\", \"rps\": 0}}]}}')"
            ) from None
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise PlanError(f"hailstorm_stages: expected a non-empty list of stages such as {_STAGES_EXAMPLE}, "
                        f"got {value!r}")
    if len(value) > MAX_STAGES:
        raise PlanError(f"hailstorm_stages: {len(value)} stages, over the {MAX_STAGES} a plan may have; "
                        "join stages of the same slope")
    stages: list[dict[str, Any]] = []
    names: set[str] = set()
    for number, item in enumerate(value, 1):
        where = f"hailstorm_stages, stage {number}"
        if not isinstance(item, Mapping):
            raise PlanError(f"{where}: expected a mapping such as {{duration: 2m, rps: 200}}, got {item!r}")
        stray = sorted(str(key) for key in set(item) - set(STAGE_KEYS))
        if stray:
            raise PlanError(f"{where}: unknown key(s) {', '.join(stray)}; a stage has duration, rps and "
                            "optionally name, e.g. {duration: 30s, rps: 2000, name: spike}")
        missing = [key for key in ("duration", "rps") if item.get(key) is None]
        if missing:
            raise PlanError(f"{where}: no {' and no '.join(missing)} in {dict(item)!r}; a stage has both, "
                            "e.g. {duration: 30s, rps: 2000}")
        duration = parse_duration(item["duration"], f"stages, stage {number}, duration")
        if duration < 0:
            raise PlanError(f"{where}: duration must be >= 0 (0s makes a step), got {item['duration']!r}")
        rps = item["rps"]
        try:
            rps = float(rps.strip()) if isinstance(rps, str) and not isinstance(rps, bool) else float(rps)
        except (TypeError, ValueError):
            rps = math.nan
        if isinstance(item["rps"], bool) or not math.isfinite(rps):
            raise PlanError(f"{where}: rps must be a number of requests per second, got {item['rps']!r}; "
                            "e.g. {duration: 1m, rps: 200}")
        if rps < 0:
            raise PlanError(f"{where}: rps must be >= 0 (0 pauses the load), got {item['rps']!r}")
        if rps > MAX_STAGE_RPS:
            raise PlanError(f"{where}: rps {rps:g} is over the {MAX_STAGE_RPS:g} rps a plan may have "
                            f"({MAX_CLIENTS} clients at a pace of {MIN_PACE:g}s); give at most rps: {MAX_STAGE_RPS:g}")
        stage: dict[str, Any] = {"duration": duration, "rps": rps}
        if item.get("name") is not None:
            name = item["name"]
            if not isinstance(name, str) or not name.strip():
                raise PlanError(f"{where}: name must be a text such as spike, got {name!r}")
            if name in names:
                raise PlanError(f"{where}: the name {name!r} is given to an earlier stage too; give each "
                                "stage its own name (thresholds and the report find stages by name)")
            names.add(name)
            stage["name"] = name
        stages.append(stage)
    if not any(stage["duration"] > 0 for stage in stages):
        raise PlanError(f"hailstorm_stages: the stages last 0s in total; give at least one stage a duration, "
                        f"e.g. {_STAGES_EXAMPLE}")
    if stages_peak(stages) <= 0:
        raise PlanError(f"hailstorm_stages: every stage's rate is 0, so nothing would be sent; give a stage "
                        f"an rps > 0, e.g. {_STAGES_EXAMPLE}")
    total = sum(stage["duration"] for stage in stages)
    if total > MAX_DURATION:
        raise PlanError(f"hailstorm_stages: the stages last {clock_text(total)} ({total:g} s) in total, over the "
                        f"{clock_text(MAX_DURATION)} ({MAX_DURATION} s, a week) a run may last; give stages of at most "
                        f"{MAX_DURATION} s in total, e.g. [{{duration: 1h, rps: 100}}, {{duration: 160h, rps: 100}}, "
                        "{duration: 1h, rps: 0}], and run a longer soak as several runs")
    return stages


def stages_peak(stages: Sequence[Mapping[str, Any]]) -> float:
    """The highest rate the curve holds for any time: over the stages with a duration, the larger
    of the rate they start from and the rate they end at (a stage of 0s only moves the start
    of the next one; one at the very end changes nothing)."""
    peak, rate = 0.0, 0.0
    for stage in stages:
        if float(stage["duration"]) > 0:
            peak = max(peak, rate, float(stage["rps"]))
        rate = float(stage["rps"])
    return peak


def shape_stages(points: Sequence[Sequence[float]], pace: float) -> list[dict[str, Any]]:
    """The stages of a LoadTestShape's curve of active users: `points` are its breakpoints
    [[t seconds, users], ...] from (0, 0), linear in between (the runtime's shapes.sample), and
    a stage ends at each breakpoint with rate = users / pace (a step, such as the drop to 0
    users where the shape ends, is a stage of 0s). Breakpoints at the same time as the one
    before are steps; those before t = 0 or going back in time are refused."""
    if not pace > 0:
        raise PlanError(f"hailstorm_pace: must be > 0 to turn a LoadTestShape's users into rates, got {pace!r}")
    stages: list[dict[str, Any]] = []
    before = 0.0
    for t, users in list(points)[1:] if points and float(points[0][0]) == 0 else list(points):
        t, users = float(t), float(users)
        if t < before or users < 0:
            raise PlanError(f"a LoadTestShape's curve goes back in time or below 0 users at {t:g} s ({users:g} "
                            "users); write tick() from get_run_time() only")
        stages.append({"duration": round(t - before, 9), "rps": users / pace})
        before = t
    return stages


def resolve_shaped_settings(
    profiles: Mapping[str, Mapping[str, Any]] | None,
    selection: str,
    overrides: Mapping[str, Any] | None,
    shape: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """resolve_settings for a locustfile with a LoadTestShape, sampled into `shape`
    ({name, points, ...}: the runtime's shapes.sample): the shape's curve, as stages at the pace
    the settings give (`shape_stages`), replaces the trapezoid keys, rps, clients and any stages
    of the stack as stages given in the overrides would; the settings carry `shape` (its name) and,
    when its tick() names a fixed list of user classes, `user_classes` (the run uses just those,
    spread by their weights)."""
    name = str(shape.get("name") or "LoadTestShape")
    settings, warnings = resolve_settings(profiles, selection, overrides)
    if settings.get("scenarios"):  # set by the user: the shape draws the curves
        raise PlanError(f"hailstorm_scenarios: the locustfile has the LoadTestShape {name}, which draws the run's "
                        "one curve; remove hailstorm_scenarios, or run the locustfile without its shape "
                        "(hailstorm_locust_args: [the user classes]) so the scenarios draw the curves")
    pace = float(settings["pace"])
    replaced = [f"hailstorm_stages ({len(settings['stages'])} stages)"] if "stages" in settings else []
    shaped = {**(overrides or {}), **{key: None for key in (*TRAPEZOID_KEYS, "rps", "clients")},
              "stages": shape_stages(shape["points"], pace), "pace": pace}
    if shape.get("class_points"):  # its tick() changes the user classes: each class a scenario of its own curve
        shaped = {**shaped, "stages": None, "scenarios": shape_scenarios(shape["class_points"], pace)}
    settings, warnings = resolve_settings(profiles, selection, shaped)
    warnings = [text.replace("hailstorm_stages (the overrides)", f"the LoadTestShape {name}")
                .replace("hailstorm_scenarios (the overrides) replace", f"the LoadTestShape {name} replaces")
                for text in warnings]
    if replaced:
        warnings.append(f"the LoadTestShape {name} replaces {replaced[0]}: the run follows the shape")
    warnings += [str(text) for text in shape.get("warnings") or []]  # what the sampling saw (shapes.sample)
    classes = shape.get("user_classes")
    if settings.get("scenarios"):
        return {**settings, "shape": name}, warnings
    return {**settings, "shape": name, **({"user_classes": sorted(map(str, classes))} if classes else {})}, warnings


def shape_scenarios(class_points: Mapping[str, Sequence[Sequence[float]]], pace: float) -> dict[str, Any]:
    """hailstorm_scenarios of a LoadTestShape whose tick() changes its user classes: each class a
    scenario whose curve is its users over time (`class_points`, the runtime's shapes.sample) at the
    run's pace (rate = users / pace), with as many clients as its most users (whole: a class's share
    of the users may be a fraction), so its rate is exactly its users' over the pace."""
    out: dict[str, Any] = {}
    for name, points in class_points.items():
        peak = max((float(users) for _t, users in points), default=0.0)
        if peak <= 0:
            continue  # a class the shape never gives a user
        out[str(name)] = {"user_classes": [str(name)], "stages": shape_stages(points, pace),
                          "clients": max(1, math.ceil(peak - 1e-9))}
    return out


def _layer(merged: dict[str, Any], layer: Mapping[str, Any], where: str = "",
           origins: dict[str, str] | None = None, warnings: list[str] | None = None) -> None:
    """Put one layer of settings (named `where`: 'profile high', 'the overrides') over the ones
    below it; `origins` tracks the layer each merged key came from.

    clients and pace say the same thing (clients = rps x pace): a layer that gives only one of them
    drops the other from below. A layer that sets `stages` replaces the trapezoid keys (rampup,
    constant, rampdown) and the rps of the layers below (the run's rps is the stages' peak), with a
    warning naming each one a user set; a layer that sets rampup over stages from below makes the
    run a trapezoid again (warned); one that sets only constant or rampdown there is refused."""
    origins = {} if origins is None else origins
    given = {key for key, value in layer.items() if value is not None}
    notes: list[str] = []
    _layer_scenarios(merged, given, where, origins, notes)
    if "stages" in given:
        clash = [key for key in TRAPEZOID_KEYS if key in given]
        if clash:
            raise PlanError(
                f"{where} sets both hailstorm_stages and {', '.join('hailstorm_' + k for k in clash)}: a run is "
                f"either stages or the trapezoid rampup, constant, rampdown; remove "
                f"{', '.join('hailstorm_' + k for k in clash)} there, or remove hailstorm_stages"
            )
        for key in (*TRAPEZOID_KEYS, "rps"):
            if key in merged and key not in given:
                if origins.get(key, BUILTIN) != BUILTIN:
                    notes.append(f"hailstorm_{key}={merged[key]!r} ({origins[key]})")
                merged.pop(key)
        if notes:
            notes = [f"hailstorm_stages ({where}) replace {', '.join(notes)}: the run follows the stages "
                     "and its rps is their peak"]
    elif "stages" in merged and given & set(TRAPEZOID_KEYS):
        if "rampup" not in given:
            keys = ", ".join(f"hailstorm_{k}" for k in TRAPEZOID_KEYS if k in given)
            raise PlanError(
                f"{where} sets {keys} but hailstorm_stages ({origins.get('stages', 'below')}) define the run: "
                f"give the stages you want in hailstorm_stages instead, or give hailstorm_rampup there too to "
                "run the trapezoid rampup, constant, rampdown"
            )
        notes.append(f"hailstorm_rampup ({where}) replaces hailstorm_stages ({origins.get('stages', 'below')}): "
                     "the run is the trapezoid rampup, constant, rampdown")
        merged.pop("stages")
    if warnings is not None:
        warnings.extend(notes)
    for one, other in (("clients", "pace"), ("pace", "clients")):
        if one in given and other not in given:
            merged.pop(other, None)
    merged.update({key: value for key, value in layer.items() if value is not None})
    origins.update({key: where for key in given})


SCENARIO_REPLACES = ("rps", "clients", "rampup", "constant", "rampdown", "stages")  # a run's one curve


def _layer_scenarios(merged: dict[str, Any], given: set[str], where: str, origins: Mapping[str, str],
                     notes: list[str]) -> None:
    """hailstorm_scenarios in the layers, as stages over the trapezoid: a layer that sets scenarios
    replaces the one curve of the layers below (rps, clients, the trapezoid, stages) and their
    scenarios; one that sets a curve over scenarios from below makes the run one curve again;
    both in one layer are refused. Each replacement of a setting a user gave is warned."""
    if "scenarios" in given:
        clash = [key for key in SCENARIO_REPLACES if key in given]
        if clash:
            keys = ", ".join("hailstorm_" + key for key in clash)
            raise PlanError(f"{where} sets both hailstorm_scenarios and {keys}: with scenarios each scenario has its "
                            f"own curve; remove {keys} there (give them in a scenario), or remove hailstorm_scenarios")
        replaced = [f"hailstorm_{key}={merged[key]!r} ({origins[key]})" for key in (*SCENARIO_REPLACES, "scenarios")
                    if key in merged and origins.get(key, BUILTIN) != BUILTIN]
        for key in SCENARIO_REPLACES:
            merged.pop(key, None)
        if replaced:
            notes.append(f"hailstorm_scenarios ({where}) replace {', '.join(replaced)}: each scenario follows "
                         "its own curve")
    elif "scenarios" in merged and given & set(SCENARIO_REPLACES):
        keys = ", ".join(f"hailstorm_{key}" for key in SCENARIO_REPLACES if key in given)
        notes.append(f"{keys} ({where}) replace hailstorm_scenarios ({origins.get('scenarios', 'below')}): the run "
                     "is one curve")
        merged.pop("scenarios")


def _pace_text(clients: int, rps: float) -> str:
    """clients / rps with enough digits that rps x pace reads back as the whole number clients."""
    return f"{clients / rps:.12g}"


PROFILE_EXTRAS = "thresholds"  # a profile key that is not a run setting (thresholds.stack reads it)


def stack_profiles(profiles: Mapping[str, Mapping[str, Any]], selection: str) -> dict[str, Any]:
    """Merge `default` and then each profile named in `selection` ('high+long'), later keys win."""
    return _stack(profiles, selection)[0]


def _stack(profiles: Mapping[str, Mapping[str, Any]], selection: str,
           base: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """`stack_profiles` over `base` (the built-in defaults), with each key's origin and the warnings."""
    names = [name.strip() for name in str(selection or "default").split("+") if name.strip()]
    if "default" in names:
        names.remove("default")
    known = sorted(profiles)
    unknown = [name for name in names if name not in profiles]
    if unknown:
        raise PlanError(
            f"hailstorm_profile: unknown profile(s) {', '.join(unknown)}; "
            f"known profiles in hailstorm_profiles: {', '.join(known) or '(none)'}"
        )
    merged: dict[str, Any] = dict(base or {})
    origins = {key: BUILTIN for key in merged}
    warnings: list[str] = []
    for name in ["default", *names]:
        profile = profiles.get(name) or {}
        if not isinstance(profile, Mapping):
            raise PlanError(f"hailstorm_profiles.{name}: expected a mapping of settings, got {profile!r}")
        stray = sorted(set(profile) - set(SETTING_KEYS) - {PROFILE_EXTRAS})
        if stray:
            raise PlanError(
                f"hailstorm_profiles.{name}: unknown key(s) {', '.join(stray)}; "
                f"a profile may set {', '.join(SETTING_KEYS)} and {PROFILE_EXTRAS}"
            )
        _layer(merged, {key: value for key, value in profile.items() if key != PROFILE_EXTRAS},
               f"profile {name}", origins, warnings)
    return merged, origins, warnings


def resolve_settings(
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
    selection: str = "default",
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Built-in defaults < profile stack < overrides; returns (settings, warnings).

    Settings are numbers in seconds and rps; clients and pace are both filled in. A run with
    stages (`hailstorm_stages`) has `stages` (see `parse_stages`) instead of rampup, constant and
    rampdown, and its rps is the stages' peak (`stages_peak`); the warnings name the settings of
    lower layers the stages replaced.
    """
    raw, origins, warnings = _stack(profiles or {}, selection, BUILTIN_DEFAULTS)
    _layer(raw, overrides or {}, "the overrides", origins, warnings)
    stray = sorted(set(raw) - set(SETTING_KEYS))
    if stray:
        raise PlanError(f"unknown run setting(s) {', '.join('hailstorm_' + s for s in stray)}")
    if raw.get("scenarios") is not None:  # several curves at once: each resolved as a run of its own
        from .scenarios import resolve_scenarios  # it resolves each scenario here
        return resolve_scenarios(raw, warnings), warnings

    from ansible_collections.romram.hailstorms.plugins.module_utils.urls import checked_url  # controller only

    target = checked_url(raw.get("target"), "hailstorm_target")  # no credentials, a port from 1 to 65535
    stages = parse_stages(raw["stages"]) if raw.get("stages") is not None else None
    rps_name = "hailstorm_rps"
    if stages is not None:
        rps_name = "the stages' peak rps"
        rps = stages_peak(stages)
        if raw.get("rps") is not None and not math.isclose(_number(raw["rps"], "rps"), rps, rel_tol=1e-9):
            raise PlanError(
                f"hailstorm_rps={raw['rps']!r} ({origins.get('rps')}) disagrees with hailstorm_stages "
                f"({origins.get('stages')}), whose peak is {rps:g} rps: with stages the run's rps is their peak; "
                "remove hailstorm_rps, or change the rps of the stages"
            )
    else:
        if raw.get("rps") is None:
            raise PlanError("hailstorm_rps: not set; give the request rate to reach, e.g. hailstorm_rps: 100")
        rps = _number(raw["rps"], "rps")
        if rps <= 0:
            raise PlanError(f"hailstorm_rps: must be > 0, got {raw['rps']!r}")

    pace = parse_duration(raw["pace"], "pace") if raw.get("pace") is not None else None
    clients_raw = raw.get("clients")
    if clients_raw is not None:
        clients_f = _number(clients_raw, "clients")
        if clients_f != int(clients_f) or clients_f < 1:
            raise PlanError(f"hailstorm_clients: must be a whole number >= 1, got {clients_raw!r}")
        clients = int(clients_f)
        implied = clients / rps
        if pace is not None and not math.isclose(pace, implied, rel_tol=1e-6):
            raise PlanError(
                f"hailstorm_clients={clients} and hailstorm_pace={pace:g}s disagree at {rps_name}={rps:g} "
                f"(clients = rps x pace needs pace {implied:g}s or clients {rps * pace:g}); they were given "
                "together (in the same profile, or both as overrides): give only one of them there"
            )
        pace = implied
    else:
        if pace is None:
            pace = 1.0
        exact = rps * pace
        clients = int(round(exact))
        if clients > MAX_CLIENTS:
            raise PlanError(
                f"{rps_name}={rps:g} x hailstorm_pace={pace:g}s = {exact:g} clients, over the {MAX_CLIENTS} "
                f"clients a plan may have; lower {'the rps of the stages' if stages else 'hailstorm_rps'} "
                "or hailstorm_pace"
            )
        if clients < 1 or not math.isclose(clients, exact, rel_tol=1e-9, abs_tol=1e-6):
            fix = max(1, round(exact), _min_clients(rps))
            raise PlanError(
                f"{rps_name}={rps:g} x hailstorm_pace={pace:g}s = {exact:g} clients, not a whole number; "
                f"choose a pace such that rps x pace is whole (e.g. hailstorm_pace={_pace_text(fix, rps)}) "
                f"or give hailstorm_clients (e.g. hailstorm_clients={fix})"
            )
        pace = clients / rps
    if clients > MAX_CLIENTS:
        raise PlanError(f"hailstorm_clients: {clients} is over the {MAX_CLIENTS} clients a plan may have; "
                        f"give at most hailstorm_clients={MAX_CLIENTS}")
    if pace < MIN_PACE * (1 - 1e-9):
        fix = _min_clients(rps)
        raise PlanError(
            f"hailstorm_pace: {pace:g}s is under {MIN_PACE:g}s per client (clients={clients}, "
            f"{'peak ' if stages else ''}rps={rps:g}); "
            f"use at least {fix} clients (hailstorm_clients={fix}, or hailstorm_pace={_pace_text(fix, rps)})"
        )
    if pace > UNSTABLE_PACE:
        warnings.append(
            f"hailstorm_pace is {pace:g}s (over {UNSTABLE_PACE:g}s): each client sends rarely, "
            "the load is sensitive to slow responses; consider fewer clients"
        )

    model = _load_model(raw, clients)
    if stages is not None:
        check_intervals(stages, clients, rps)
        return {"target": target.rstrip("/"), "rps": rps, "pace": pace, "clients": clients, "stages": stages,
                "locustfile": raw.get("locustfile"), **model}, warnings
    if raw.get("rampup") is None:
        raise PlanError("hailstorm_rampup: not set; give the ramp-up time, e.g. '3m', or the run's "
                        "hailstorm_stages, e.g. [{duration: 3m, rps: 100}, {duration: 5m, rps: 100}]")
    rampup = parse_duration(raw["rampup"], "rampup")
    if rampup <= 0:
        raise PlanError(f"hailstorm_rampup: must be > 0 so clients start on a line, got {raw['rampup']!r}")
    constant = parse_duration(raw.get("constant", BUILTIN_DEFAULTS["constant"]), "constant")
    if constant < 0:
        raise PlanError(f"hailstorm_constant: must be >= 0, got {raw['constant']!r}")
    rampdown = parse_duration(raw["rampdown"], "rampdown") if raw.get("rampdown") is not None else rampup
    if rampdown < 0:
        raise PlanError(f"hailstorm_rampdown: must be >= 0, got {raw['rampdown']!r}")
    if rampup + constant + rampdown > MAX_DURATION:
        fix = (f"hailstorm_constant={math.floor(MAX_DURATION - rampup - rampdown)}" if rampup + rampdown < MAX_DURATION
               else f"hailstorm_rampup={MAX_DURATION // 4} hailstorm_rampdown={MAX_DURATION // 4}")
        raise PlanError(
            f"hailstorm_rampup + hailstorm_constant + hailstorm_rampdown = {rampup:g} + {constant:g} + {rampdown:g} s "
            f"= {clock_text(rampup + constant + rampdown)}, over the {clock_text(MAX_DURATION)} ({MAX_DURATION} s, "
            f"a week) a run may last; shorten them, e.g. {fix}, and run a longer soak as several runs")

    settings = {
        "target": target.rstrip("/"),
        "rps": rps,
        "pace": pace,
        "clients": clients,
        "rampup": rampup,
        "constant": constant,
        "rampdown": rampdown,
        "locustfile": raw.get("locustfile"),
        **model,
    }
    return settings, warnings


def _load_model(raw: Mapping[str, Any], clients: int) -> dict[str, Any]:
    """`model` and, for the open model, `max_clients` (the run's pool cap, default
    MAX_CLIENTS_FACTOR x the clients); nothing for the closed model (its plan is unchanged)."""
    model = str(raw.get("model") or "closed").strip().lower()
    if model not in MODELS:
        raise PlanError(f"hailstorm_model: {raw.get('model')!r} is not a load model; use closed (each client sends "
                        "on its own slots, the default) or open (the slots are arrivals handed to a pool of users), "
                        "e.g. hailstorm_model: open")
    given = raw.get("max_clients")
    if model == "closed":
        if given is not None:
            raise PlanError(f"hailstorm_max_clients: {given!r} is the open model's pool cap, but the run's model is "
                            "closed (it runs exactly hailstorm_clients); set hailstorm_model: open, or remove it")
        return {}
    if given is None:
        return {"model": "open", "max_clients": MAX_CLIENTS_FACTOR * clients}
    cap = _number(given, "max_clients")
    if cap != int(cap) or cap < 1 or cap > MAX_CLIENTS:
        raise PlanError(f"hailstorm_max_clients: expected a whole number from 1 to {MAX_CLIENTS} (the run's pool of "
                        f"users in the open model), got {given!r}; e.g. hailstorm_max_clients: "
                        f"{MAX_CLIENTS_FACTOR * clients}")
    return {"model": "open", "max_clients": int(cap)}


def staged_intervals(stages: Sequence[Mapping[str, Any]], clients: int, peak: float) -> int:
    """How many intervals (client starts) a staged run has: O(stages), from the transitions."""
    segments = curve_segments(stages, clients, peak)
    return sum(hi - lo for _moment, starts, lo, hi, _segment in transitions(segments, clients) if starts)


def check_intervals(stages: Sequence[Mapping[str, Any]], clients: int, peak: float) -> None:
    """Refuse stages whose clients would start more than MAX_INTERVALS times in all (before any
    host: it needs only the stages and the clients)."""
    count = staged_intervals(stages, clients, peak)
    if count > MAX_INTERVALS:
        fewer = clients * MAX_INTERVALS // count * 9 // 10  # the starts scale with the clients
        raise PlanError(
            f"hailstorm_stages: their {len(stages)} stages start the {clients} clients {count} times in all (a client "
            f"starts again on every rise after a fall), over the {MAX_INTERVALS} client starts a plan may have; "
            "give fewer rises and falls (join stages of the same slope)"
            + (f", or fewer clients (e.g. hailstorm_clients={fewer})" if fewer >= _min_clients(peak) else ""))


def _min_clients(rps: float) -> int:
    """The fewest clients whose pace is at least MIN_PACE at `rps`."""
    return max(1, math.ceil(rps * MIN_PACE * (1 - 1e-12)))


def check_capacity(settings: Mapping[str, Any], hosts: Sequence[tuple[str, int]]) -> None:
    """Refuse a plan that no set of load hosts of this size can carry (checked before planning,
    in microseconds): at most MAX_CLIENTS_PER_CORE clients and MAX_RPS_PER_CORE rps per usable core."""
    cores = sum(int(count) for _name, count in hosts if isinstance(count, int) and not isinstance(count, bool))
    if cores < 1:
        return  # make_plan names the bad host
    if settings.get("scenarios"):  # the scenarios share every core: their sum is judged
        from .scenarios import check_capacity as check_scenarios
        check_scenarios(settings, cores)
        return
    clients, rps = int(settings["clients"]), float(settings["rps"])
    need = max(math.ceil(clients / MAX_CLIENTS_PER_CORE), math.ceil(rps / MAX_RPS_PER_CORE))
    if settings.get("stages"):
        starts = staged_intervals(settings["stages"], clients, rps)
        if starts > cores * MAX_INTERVALS_PER_CORE:
            more = math.ceil(starts / MAX_INTERVALS_PER_CORE)  # a plan has at least one client per core
            raise PlanError(
                f"hailstorm_stages: their {len(settings['stages'])} stages start the {clients} clients {starts} times "
                f"in all (a client starts again on every rise after a fall), over the {MAX_INTERVALS_PER_CORE} "
                f"client starts per usable core a plan may have on {cores} cores; give fewer rises and falls (join "
                "stages of the same slope)" + (f", or add load hosts (at least {more} usable cores)"
                                               if more <= clients else ""))
    if need > cores and settings.get("stages"):
        raise PlanError(
            f"hailstorm_stages: their peak of {rps:g} rps with {clients} clients needs at least {need} usable "
            f"cores (at most {MAX_CLIENTS_PER_CORE} clients and {MAX_RPS_PER_CORE} rps per core) but the load "
            f"hosts have {cores}; lower the stages' rps to at most {cores * MAX_RPS_PER_CORE} and "
            f"hailstorm_clients to at most {cores * MAX_CLIENTS_PER_CORE}, or add load hosts"
        )
    if need > cores:
        raise PlanError(
            f"hailstorm_rps={rps:g} with {clients} clients needs at least {need} usable cores "
            f"(at most {MAX_CLIENTS_PER_CORE} clients and {MAX_RPS_PER_CORE} rps per core) but the load hosts "
            f"have {cores}; lower hailstorm_rps to at most {cores * MAX_RPS_PER_CORE} and hailstorm_clients to "
            f"at most {cores * MAX_CLIENTS_PER_CORE}, or add load hosts"
        )


def usable_cores(vcpus: Any, given: Any = None) -> int:
    """Cores a load host gives the load: `given` (hailstorm_cores) if set, else vCPUs - 1, at least 1."""
    if given is not None and given != "":
        if isinstance(given, bool) or not str(given).isdigit() or int(given) < 1:
            raise PlanError(f"hailstorm_cores: must be a whole number >= 1, got {given!r}")
        return int(given)
    if isinstance(vcpus, bool) or not str(vcpus).isdigit():
        raise PlanError(f"cannot read the host's vCPUs from {vcpus!r}; set hailstorm_cores for it")
    return max(int(vcpus) - 1, 1)


def host_cores(hosts: Sequence[tuple[str, Any, Any, Any]]) -> list[tuple[str, int]]:
    """(hostname, usable cores) of every load host, in inventory order, from (hostname, cores
    preflight found, hailstorm_cores, vCPUs): preflight's figure wins, else `usable_cores`. The
    message of a host that has none names it."""
    pairs = []
    for name, found, given, vcpus in hosts:
        if found is not None and found != "":
            pairs.append((name, int(found)))
            continue
        try:
            pairs.append((name, usable_cores(vcpus, given)))
        except PlanError as error:
            raise PlanError(f"{name}: {error}") from None
    return pairs


def hosts_without_cores(hosts: Sequence[tuple[str, Any, Any, Any]]) -> list[str]:
    """The load hosts whose vCPUs must be read (no cores found by preflight, no hailstorm_cores,
    no vCPU fact yet): only these are contacted by a dry run."""
    return [name for name, found, given, vcpus in hosts
            if (found is None or found == "") and (given is None or given == "") and vcpus is None]


def clock_text(seconds: float) -> str:
    """A duration as a person reads it: 1:05.0 (minutes:seconds), 2:00:00.0 with hours."""
    seconds = round(seconds, 1)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}" if hours else f"{int(minutes)}:{secs:04.1f}"
