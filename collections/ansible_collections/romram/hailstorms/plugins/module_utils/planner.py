# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load planner: run settings in, one exact plan out.

Pure Python (no Ansible, no Locust): the filter plugin exposes it to playbooks and the
runtime on every load host expands its own slice of the plan with the same functions.

Vocabulary (one name for one idea):
  U clients, rps R, pace P = U / R (one request per client every P seconds),
  gap g = rampup / U (between two consecutive client starts), stop gap d = rampdown / U,
  D = rampup + constant (start of the ramp-down), duration = D + rampdown.

Client k (0-based, in start order):
  start  s_k = (k + 1/2) g                  the middle of the client's share of the ramp-up:
                                            the active clients, round(t / g), rise on the
                                            straight line t / g with no bias
  phase  phi_k = ((k a + b) mod U) P / U    a coprime to U, a / U near the golden ratio:
                                            any prefix of clients is spread evenly over the
                                            pace, and all U together form the arrival
                                            lattice, one request every 1 / R seconds; among
                                            such a and offsets b, the pair whose planned
                                            ramps are closest to the straight line
  stop   e_k = D + (U - k - 1/2) d          last started stops first: the clients still
                                            active are always a prefix of the start order,
                                            so they stay evenly spread while they fall
  requests: at phi_k + n P for every n with s_k <= phi_k + n P < e_k. The client becomes active
            at s_k (its on_start runs there) and sends its first task request at its first slot
            on the lattice; as each active client adds 1 / P to the rate from its start, the
            request rate at the target rises on the straight line R t / rampup (and falls on one
            in the ramp-down), and every request of the run lies on the lattice 1 / R apart.

Cores of all hosts form one cycle of C slots (interleaved, weighted by each host's core
count); client k runs on slot k mod C, so every core's clients are C g apart.

A run with stages (any piecewise-linear rate from 0) keeps U, P, the phases and the cycle, and
makes client k active wherever A(t) = rate(t) x P >= k + 1/2: see "stages" below.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import json
import math
import re
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

SETTING_KEYS = (
    "target", "rps", "pace", "clients", "rampup", "constant", "rampdown", "locustfile", "stages",
    "model", "max_clients",
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
# A run is recorded, merged on the controller and drawn second by second (a cell per label and
# second on every core): a week is 604,800 of them, the longest run (a LoadTestShape must end
# within it too: shapes.MAX_SECONDS); a longer soak is several runs.
MAX_DURATION = 7 * 24 * 3600
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?"
                          r"(?:(\d+(?:\.\d+)?)ms)?$")


class PlanError(ValueError):
    """A setting that cannot be planned; the message names the setting and the fix."""


class Client(NamedTuple):
    client_id: int
    start: float
    phase: float
    stop: float


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
        raise PlanError(f"hailstorm_stages: the stages last {_clock(total)} ({total:g} s) in total, over the "
                        f"{_clock(MAX_DURATION)} ({MAX_DURATION} s, a week) a run may last; give stages of at most "
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
    pace = float(settings["pace"])
    replaced = [f"hailstorm_stages ({len(settings['stages'])} stages)"] if "stages" in settings else []
    shaped = {**(overrides or {}), **{key: None for key in (*TRAPEZOID_KEYS, "rps", "clients")},
              "stages": shape_stages(shape["points"], pace), "pace": pace}
    settings, warnings = resolve_settings(profiles, selection, shaped)
    warnings = [text.replace("hailstorm_stages (the overrides)", f"the LoadTestShape {name}") for text in warnings]
    if replaced:
        warnings.append(f"the LoadTestShape {name} replaces {replaced[0]}: the run follows the shape")
    warnings += [str(text) for text in shape.get("warnings") or []]  # what the sampling saw (shapes.sample)
    classes = shape.get("user_classes")
    return {**settings, "shape": name, **({"user_classes": sorted(map(str, classes))} if classes else {})}, warnings


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
            f"= {_clock(rampup + constant + rampdown)}, over the {_clock(MAX_DURATION)} ({MAX_DURATION} s, a week) a "
            f"run may last; shorten them, e.g. {fix}, and run a longer soak as several runs")

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


def _largest_partial_quotient(numerator: int, denominator: int) -> int:
    worst = 0
    while numerator:
        quotient, remainder = divmod(denominator, numerator)
        worst = max(worst, quotient)
        denominator, numerator = numerator, remainder
    return worst


# Candidates of the phase multiplier and offset scored by their planned ramps, and the work spent
# on it: scoring one pair walks every planned request of both ramps (about rps x ramps / 2).
PHASE_MULTIPLIERS = 12
PHASE_OFFSETS = 8
PHASE_SCORING_BUDGET = 400_000


class Ramps(NamedTuple):
    """What the straight ramps of a plan depend on, besides the number of clients."""

    pace: float
    rampup: float
    constant: float
    rampdown: float


def _ranked_multipliers(clients: int) -> list[int]:
    """Multipliers a coprime to U near U x golden ratio, best first by the largest partial
    quotient of a / U (small ones bound the largest hole between the phases of any prefix of
    clients: three-gap theorem), keeping those at most one above the best (a larger one leaves
    holes between phases: bursts at 100 ms)."""
    if clients <= 2:
        return [1 if clients == 2 else 0]
    base = round(clients * GOLDEN)
    ranked: set[tuple[tuple[int, int], int]] = set()
    for delta in range(min(clients, 200)):
        for candidate in (base + delta, base - delta):
            if 0 < candidate < clients and math.gcd(candidate, clients) == 1:
                ranked.add(((_largest_partial_quotient(candidate, clients), delta), candidate))
    if not ranked:
        return [1]
    ordered = sorted(ranked)
    worst_kept = ordered[0][0][0] + 1
    return [candidate for (quotient, _delta), candidate in ordered if quotient <= worst_kept]


def phase_multiplier(clients: int, ramps: Ramps | None = None) -> tuple[int, int]:
    """The multiplier a and offset b of the phase sequence (k a + b) mod U.

    Any such pair makes the U phases a permutation of the lattice (constant phase exact) and
    spreads any prefix of clients evenly (the offset only turns the circle). Given the plan's
    `ramps`, the pairs of the best-ranked multipliers and a few offsets are scored by their
    planned ramps (`ramp_errors`: requests per whole second against the straight line) and the
    closest wins: this avoids the pairs that resonate with rampup / pace (a systematic error of
    several requests per second), which matters most for small plans. Plans whose ramps hold too
    many requests to score keep the best-ranked multiplier and offset 0: their errors are a far
    smaller share of their rate.
    """
    candidates = _ranked_multipliers(clients)
    if ramps is None or clients <= 2:
        return candidates[0], 0
    rps = clients / ramps.pace
    work = clients + rps * (int(ramps.rampup) + int(ramps.rampdown)) / 2 + 1
    offsets = sorted({round(i * clients / min(clients, PHASE_OFFSETS)) % clients
                      for i in range(min(clients, PHASE_OFFSETS))})
    pairs = [(a, b) for b in offsets for a in candidates[:PHASE_MULTIPLIERS]]
    pairs = pairs[:int(PHASE_SCORING_BUDGET // work)]
    if len(pairs) < 2:
        return candidates[0], 0

    def score(pair: tuple[int, int]) -> float:
        """Mean square error of each ramp (a short ramp-down weighs as much as a long ramp-up),
        plus a quarter of the worst second's square."""
        sides = [side for side in ramp_errors(clients, ramps, *pair) if side]
        if not sides:
            return 0.0
        return (sum(sum(e * e for e in side) / len(side) for side in sides)
                + max(abs(e) for side in sides for e in side) ** 2 / 4)

    return min(pairs, key=score)


def ramp_errors(clients: int, ramps: Ramps, multiplier: int, offset: int = 0) -> tuple[list[float], list[float]]:
    """Planned requests minus the straight line, per whole second of the ramp-up (seconds from the
    shared start: the line is rps (i + 0.5) / rampup) and of the ramp-down (seconds from its
    start D: rps (1 - (i + 0.5) / rampdown)). Walks every request of both ramps."""
    pace, rampup, rampdown = ramps.pace, ramps.rampup, ramps.rampdown
    rps = clients / pace
    unit = pace / clients
    gap = rampup / clients
    ceil = math.ceil
    up = [0] * int(rampup)
    end_up = len(up)
    for k in range(clients):
        start = (k + 0.5) * gap
        if start >= end_up:
            break
        phase = ((k * multiplier + offset) % clients) * unit
        t = phase + ceil((start - phase) / pace - 1e-9) * pace
        while t < end_up:
            up[int(t)] += 1
            t += pace
    down = [0] * int(rampdown)
    ramp_end = rampup + ramps.constant
    stop_gap = rampdown / clients
    end_down = ramp_end + len(down)
    if down:
        for k in range(clients):
            stop = min(ramp_end + (clients - k - 0.5) * stop_gap, end_down)
            phase = ((k * multiplier + offset) % clients) * unit
            begin = max(ramp_end, (k + 0.5) * gap)
            t = phase + ceil((begin - phase) / pace - 1e-9) * pace
            while t < stop:
                down[int(t - ramp_end)] += 1
                t += pace
    return ([count - rps * (i + 0.5) / rampup for i, count in enumerate(up)],
            [count - rps * (1 - (i + 0.5) / rampdown) for i, count in enumerate(down)])


def core_cycle(hosts: Sequence[tuple[str, int]]) -> list[tuple[int, int]]:
    """Order all (host_index, core) pairs so that hosts alternate, weighted by core count."""
    pairs = [(h, c) for h, (_name, cores) in enumerate(hosts) for c in range(cores)]
    return sorted(pairs, key=lambda hc: ((hc[1] + 0.5) / hosts[hc[0]][1], hc[0]))


def make_plan(settings: Mapping[str, Any], hosts: Sequence[tuple[str, int]] | Mapping[str, int]) -> dict[str, Any]:
    """The whole plan: global figures plus, per host, an arithmetic description of each core.

    `hosts` is a sequence of (inventory hostname, usable cores) in inventory order (or a mapping
    in that order). O(cores) time and size, whatever the number of clients.
    """
    host_list = list(hosts.items()) if isinstance(hosts, Mapping) else [tuple(h) for h in hosts]
    if not host_list:
        raise PlanError("no load hosts: put at least one host in the inventory group load_hosts")
    for name, cores in host_list:
        if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
            raise PlanError(f"hailstorm_cores on {name}: must be a whole number >= 1, got {cores!r}")
    clients = int(settings["clients"])
    rps = float(settings["rps"])
    pace = float(settings["pace"])
    total_cores = sum(cores for _name, cores in host_list)
    if clients < total_cores:
        raise PlanError(
            f"hailstorm_clients: {clients} clients cannot keep {total_cores} usable cores busy "
            f"({', '.join(f'{n}: {c}' for n, c in host_list)}); raise hailstorm_rps or hailstorm_pace to reach "
            f"at least {total_cores} clients, or lower hailstorm_cores on the hosts so that at most {clients} "
            "cores are used in total"
        )
    if settings.get("model") == "open":  # the same slots, handed out as arrivals (runtime pool.py)
        closed = {key: value for key, value in settings.items() if key not in ("model", "max_clients")}
        return {**make_plan(closed, host_list), "model": "open", "max_clients": int(settings["max_clients"])}
    if settings.get("stages"):
        return _staged_plan(settings, host_list)
    rampup = float(settings["rampup"])
    constant = float(settings["constant"])
    rampdown = float(settings["rampdown"])
    gap = rampup / clients
    stop_gap = rampdown / clients
    ramp_end = rampup + constant
    multiplier, offset = phase_multiplier(clients, Ramps(pace, rampup, constant, rampdown))
    cycle = core_cycle(host_list)
    per_host: dict[str, dict[str, Any]] = {
        name: {"index": h, "cores": [None] * cores} for h, (name, cores) in enumerate(host_list)
    }
    for slot, (h, core) in enumerate(cycle):
        count = (clients - slot + total_cores - 1) // total_cores
        per_host[host_list[h][0]]["cores"][core] = {
            "index": core,
            "slot": slot,
            "clients": count,
            "first_client": slot,
            "client_step": total_cores,
            "first_start": (slot + 0.5) * gap,
            "start_step": total_cores * gap,
            "last_start": (slot + (count - 1) * total_cores + 0.5) * gap,
            "phase_first": (slot * multiplier + offset) % clients,
            "phase_step": (total_cores * multiplier) % clients,
            "first_stop": ramp_end + (clients - slot - 0.5) * stop_gap,
            "stop_step": -total_cores * stop_gap,
        }
    for host in per_host.values():
        for core in host["cores"]:
            core["requests"] = core_requests(clients, pace, core)
        host["clients"] = sum(core["clients"] for core in host["cores"])
        host["requests"] = sum(core["requests"] for core in host["cores"])
    return {
        "clients": clients,
        "rps": rps,
        "pace": pace,
        "gap": gap,
        "stop_gap": stop_gap,
        "rampup": rampup,
        "constant": constant,
        "rampdown": rampdown,
        "duration": ramp_end + rampdown,
        "expected_requests": sum(host["requests"] for host in per_host.values()),
        "phase_multiplier": multiplier,
        "phase_offset": offset,
        "cores_total": total_cores,
        "hosts": per_host,
    }


# --- stages: a run along any piecewise-linear curve --------------------------------------------
#
# The stages draw the rate rate(t), linear in each stage, from 0 at t = 0; the peak R is the run's
# rps and U = R x P its clients as for the trapezoid. Active clients A(t) = rate(t) x P = U rate(t) / R.
# Client k (start order, the same golden-ratio phases) is active wherever A(t) >= k + 1/2: the
# clients active at any moment are a prefix of the start order, so they stay evenly spread over
# the pace (the prefix rule that makes the trapezoid exact). The set where A >= k + 1/2 is a union
# of intervals [start, stop): a client stops on a fall and starts again on a later rise. Half-open
# at a moment where A is exactly k + 1/2: the client is active there when A is flat or rising just
# after it, not when A falls, so the active clients are round(A(t)) with .5 rounded up where the
# curve is flat or rising and down where it falls. A step (a stage of 0s) starts or stops a block
# of clients at once. Each interval sends on its client's lattice slots phase + n P inside it.

class Segment(NamedTuple):
    """One stage with a duration, in clients: A(t) goes linearly from `at_start` (just after
    `start`) to `at_stop` (just before `stop` = start + duration); a step between two segments is
    the jump from one's at_stop to the next's at_start."""

    start: float
    stop: float
    duration: float
    at_start: float
    at_stop: float


def curve_segments(stages: Sequence[Mapping[str, Any]], clients: int, peak: float) -> list[Segment]:
    """The curve of active clients of `stages` (A = clients x rate / peak), stages of 0s folded
    into the steps they make."""
    segments = []
    start, rate = 0.0, 0.0
    for stage in stages:
        duration, rps = float(stage["duration"]), float(stage["rps"])
        if duration > 0:
            stop = start + duration
            segments.append(Segment(start, stop, duration, clients * (rate / peak), clients * (rps / peak)))
            start = stop
        rate = rps
    return segments


def plan_segments(plan: Mapping[str, Any]) -> list[Segment]:
    """The curve of active clients of a staged plan (`plan["stages"]`)."""
    return curve_segments(plan["stages"], int(plan["clients"]), float(plan["rps"]))


def _prefix(level: float, inclusive: bool, clients: int) -> int:
    """How many clients k have k + 1/2 <= level (inclusive) or < level: the prefix of the start
    order that is active at that level."""
    count = math.floor(level + 0.5) if inclusive else math.ceil(level - 0.5)
    return min(clients, max(0, count))


def crossing(segment: Segment, client: int) -> float:
    """When A crosses client `client`'s level k + 1/2 inside `segment` (rising: the client starts
    there; falling: it stops there): the inverse of the linear piece, clamped to the segment."""
    level = client + 0.5
    if segment.at_stop > segment.at_start:
        moment = segment.start + (level - segment.at_start) * (segment.duration / (segment.at_stop - segment.at_start))
    else:
        moment = segment.start + (segment.at_start - level) * (segment.duration / (segment.at_start - segment.at_stop))
    return min(max(moment, segment.start), segment.stop)


# (time or None, starts, first client, end client (exclusive), segment or None)
Transition = tuple


def transitions(segments: Sequence[Segment], clients: int) -> list[Transition]:
    """Every change of the active clients, in time order, as blocks [lo, hi) of the start order:
    (time, starts, lo, hi, None) where a segment begins (a step, or the start of a fall for the
    client exactly at the level it falls from) or the curve ends, all at `time`; and
    (None, starts, lo, hi, segment) inside a rising (starts) or falling (stops) segment, client k
    at `crossing(segment, k)` (later for a larger k on a rise, earlier on a fall). The active
    clients just after a segment's start are those with k + 1/2 <= at_start (< at_start if it
    falls), just before its stop k + 1/2 < at_stop if it rises (<= at_stop otherwise); all stop
    at the end of the curve."""
    out: list[Transition] = []
    before = 0
    for segment in segments:
        rising, falling = segment.at_stop > segment.at_start, segment.at_stop < segment.at_start
        after = _prefix(segment.at_start, not falling, clients)
        if after != before:
            out.append((segment.start, after > before, min(before, after), max(before, after), None))
        if rising:
            lo, hi = after, _prefix(segment.at_stop, False, clients)
        else:
            lo, hi = _prefix(segment.at_stop, True, clients), after
        if hi > lo:
            out.append((None, rising, lo, hi, segment))
        before = _prefix(segment.at_stop, not rising, clients)
    if before and segments:
        out.append((segments[-1].stop, False, 0, before, None))
    return out


def _staged_counts(segments: Sequence[Segment], clients: int, pace: float, multiplier: int, offset: int,
                   cycle: int) -> tuple[list[int], list[int]]:
    """Intervals and requests of each slot of the core cycle: what `core_intervals` and
    `request_times` give, summed per slot in one pass over the transitions (an interval's requests
    are counted at its stop, from the first slot after its start). The arithmetic is the one of
    `crossing` and `request_times`, inlined (this runs once per interval of the whole plan)."""
    unit = pace / clients
    ceil = math.ceil
    began = [0.0] * clients
    intervals = [0] * cycle
    requests = [0] * cycle
    for moment, starts, lo, hi, segment in transitions(segments, clients):
        if starts:
            if segment is None:
                began[lo:hi] = [moment] * (hi - lo)
            else:
                base, stop, level0 = segment.start, segment.stop, segment.at_start
                step = segment.duration / (segment.at_stop - segment.at_start)
                for k in range(lo, hi):
                    t = base + ((k + 0.5) - level0) * step
                    began[k] = base if t < base else stop if t > stop else t
            continue
        if segment is None:
            base = stop = level0 = step = 0.0
        else:
            base, stop, level0 = segment.start, segment.stop, segment.at_start
            step = segment.duration / (segment.at_start - segment.at_stop)
        for k in range(lo, hi):
            if segment is None:
                t = moment
            else:
                t = base + (level0 - (k + 0.5)) * step
                t = base if t < base else stop if t > stop else t
            start = began[k]
            if t > start:
                slot = k % cycle
                intervals[slot] += 1
                phase = ((k * multiplier + offset) % clients) * unit
                first = phase + ceil((start - phase) / pace - 1e-9) * pace
                paced = ceil((t - first) / pace - 1e-9)
                if paced > 0:
                    requests[slot] += paced
    return intervals, requests


def _all_intervals(segments: Sequence[Segment], clients: int) -> list[tuple[int, float, float]]:
    """(client, start, stop) of every interval of every client, in the order they start."""
    out: list[list[Any]] = []
    opened: dict[int, int] = {}
    for moment, starts, lo, hi, segment in transitions(segments, clients):
        for k in range(lo, hi):
            t = moment if segment is None else crossing(segment, k)
            if starts:
                opened[k] = len(out)
                out.append([k, t, t])
            else:
                out[opened.pop(k)][2] = t
    return [(k, start, stop) for k, start, stop in out if start < stop]


Window = tuple  # (base, expected requests per whole second from base on): one side's part


def _side_windows(clients: int, segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """The whole seconds [first, last) of each side the phase pair is scored on (`_sides`), without
    their lines: O(segments), whatever the curve's length."""
    windows: list[tuple[int, int]] = []
    taken = 0
    end = math.ceil(segments[-1].stop) if segments else 0
    for segment in segments:
        flat = segment.at_start == segment.at_stop
        if flat and _prefix(segment.at_start, True, clients) in (0, clients):
            continue
        first, last = max(taken, int(segment.start)), min(end, math.ceil(segment.stop))
        if last > first:
            windows.append((first, last))
            taken = last
    return windows


def _sides(clients: int, pace: float, segments: Sequence[Segment],
           windows: Sequence[tuple[int, int]] | None = None) -> list[list[Window]]:
    """What the phase pair is scored on: the whole seconds of the run [i, i + 1) whose requests
    depend on the phases, against the curve's integral over each. A side per segment that is not
    flat at no client or at every client (the whole lattice): the seconds it touches that no
    earlier segment took (`_side_windows`). For the trapezoid with ramps of whole seconds these are
    the ramp-up's and the ramp-down's seconds, as `ramp_errors` scores them. A list per second of
    the sides: `curve_phase_pair` builds it only for sides of at most PHASE_SCORING_SECONDS."""
    windows = _side_windows(clients, segments) if windows is None else windows
    starts = [segment.start for segment in segments]
    return [[(float(first), [_second_mean(segments, pace, second, starts) for second in range(first, last)])]
            for first, last in windows]


def _second_mean(segments: Sequence[Segment], pace: float, second: int,
                 starts: Sequence[float] | None = None) -> float:
    """The curve's requests in the whole second [second, second + 1): inside one segment its rate
    at the middle of the second (written as `ramp_errors` writes its line), else the integral.
    `starts` (the segments' starts) finds the segment by bisection (O(log segments))."""
    starts = [segment.start for segment in segments] if starts is None else starts
    index = bisect.bisect_right(starts, second) - 1
    if index >= 0:
        segment = segments[index]
        if segment.start <= second and second + 1 <= segment.stop:
            low, high = sorted((segment.at_start / pace, segment.at_stop / pace))
            i = second - segment.start
            if segment.at_stop >= segment.at_start:
                return low + (high - low) * (i + 0.5) / segment.duration
            return low + (high - low) * (1 - (i + 0.5) / segment.duration)
    return _rate_integral(segments, pace, second, second + 1, starts)


def _rate_integral(segments: Sequence[Segment], pace: float, begin: float, end: float,
                   starts: Sequence[float] | None = None) -> float:
    """The requests the curve asks for in [begin, end): the integral of A(t) / pace, over the
    segments that overlap it (from the one `starts` places `begin` in, when given)."""
    total = 0.0
    first = max(0, bisect.bisect_right(starts, begin) - 1) if starts is not None else 0
    for segment in itertools.islice(segments, first, None):
        if segment.start >= end:
            break
        lo, hi = max(begin, segment.start), min(end, segment.stop)
        if hi > lo:
            slope = (segment.at_stop - segment.at_start) / segment.duration
            total += (2 * segment.at_start + slope * (lo + hi - 2 * segment.start)) / 2 * (hi - lo)
    return total / pace


def _window_parts(sides: Sequence[Sequence[Window]], intervals: Sequence[tuple[int, float, float]]
                  ) -> Iterator[tuple[int, float, list[tuple[int, float, float]]]]:
    """Per window (side by side, in time order): (its side's index, its base, the intervals that
    overlap it, in the intervals' order). One sweep: the windows follow each other in time and
    the intervals come in the order they start, so each interval is looked at once per window it
    overlaps, plus once: O(parts + intervals) time, and no more memory than the intervals that
    overlap one window (nothing else is kept from one window to the next)."""
    current: list[tuple[int, float, float]] = []
    i, count = 0, len(intervals)
    for index, side in enumerate(sides):
        for base, line in side:
            end = base + len(line)
            while i < count and intervals[i][1] < end:
                current.append(intervals[i])
                i += 1
            current = [interval for interval in current if interval[2] > base]
            yield index, base, current


def _window_part_count(sides: Sequence[Sequence[Window]], intervals: Sequence[tuple[int, float, float]],
                       limit: float = math.inf) -> float:
    """How many parts of intervals the windows hold (what one pair's score walks); the sweep stops
    as soon as there are more than `limit` (and returns math.inf)."""
    total = 0
    for _index, _base, current in _window_parts(sides, intervals):
        total += len(current)
        if total > limit:
            return math.inf
    return total


def _side_errors(clients: int, pace: float, sides: Sequence[Sequence[Window]],
                 intervals: Sequence[tuple[int, float, float]], multiplier: int, offset: int) -> list[list[float]]:
    """Planned requests minus the curve per second of each side, from the parts of the intervals
    inside each window (`_window_parts`)."""
    unit = pace / clients
    ceil = math.ceil
    out: list[list[float]] = [[] for _side in sides]
    windows = [window for side in sides for window in side]
    for (index, base, current), (_base, line) in zip(_window_parts(sides, intervals), windows):
        end = base + len(line)
        bins = [0] * len(line)
        for k, start, stop in current:
            begin, stop = max(base, start), min(stop, end)
            phase = ((k * multiplier + offset) % clients) * unit
            t = phase + ceil((begin - phase) / pace - 1e-9) * pace
            while t < stop:
                bins[int(t - base)] += 1
                t += pace
        out[index].extend(count - expected for count, expected in zip(bins, line))
    return out


def curve_errors(clients: int, pace: float, segments: Sequence[Segment], multiplier: int,
                 offset: int = 0) -> list[list[float]]:
    """Planned requests minus the curve per second of each side the phase pair is scored on
    (`_sides`)."""
    sides = _sides(clients, pace, segments)
    return _side_errors(clients, pace, sides, _all_intervals(segments, clients), multiplier, offset)


# Beyond the scoring budget (PHASE_SCORING_BUDGET: requests), a staged plan's phase pair is not
# scored either when its sides hold more whole seconds than this (a long curve at a low rate), or
# when its pairs would walk more parts of intervals than this (`_window_parts`): it keeps the
# best-ranked multiplier and offset 0, as a plan with too many requests to score does. Both
# bound the planning of any curve by the plan's size, not the curve's length.
# Parts cost about 1 to 3 µs each per pair (a second or two for the bound); the test curves of
# benchmarks/plan_identity.py walk at most 663,000 (96 pairs of 6,903), so they are all scored.
PHASE_SCORING_SECONDS = PHASE_SCORING_BUDGET
PHASE_SCORING_SPANS = 1_000_000


def _windows_requests(segments: Sequence[Segment], pace: float, windows: Sequence[tuple[int, int]]) -> float:
    """The curve's requests over the windows (the sum of their lines, to float rounding), from
    the segments alone: O(windows + segments)."""
    starts = [segment.start for segment in segments]
    return sum(_rate_integral(segments, pace, first, last, starts) for first, last in windows)


def curve_phase_pair(clients: int, pace: float, segments: Sequence[Segment]) -> tuple[int, int]:
    """The phase multiplier and offset of a staged plan, chosen against the whole curve as
    `phase_multiplier` chooses them against the ramps (the same candidates, budget and score, on
    `curve_errors`: the run's own whole seconds, so every part of the curve whose requests depend
    on the phases is scored, steps and stages shorter than a second too).

    Bounded by the plan's size: the sides' requests are first counted from the segments (a plan
    that cannot afford two pairs is not walked second by second), and sides longer than
    PHASE_SCORING_SECONDS or parts of intervals beyond PHASE_SCORING_SPANS are not scored."""
    candidates = _ranked_multipliers(clients)
    windows = _side_windows(clients, segments)
    if clients <= 2 or not windows:
        return candidates[0], 0
    half = PHASE_SCORING_BUDGET / 2
    estimate = clients + _windows_requests(segments, pace, windows) + 1
    if estimate - 1e-9 * estimate - 1e-6 > half or sum(last - first for first, last in windows) > PHASE_SCORING_SECONDS:
        return candidates[0], 0  # too many requests for two pairs (as below, counted exactly), or too long
    sides = _sides(clients, pace, segments, windows)
    work = clients + sum(sum(line) for side in sides for _base, line in side) + 1
    offsets = sorted({round(i * clients / min(clients, PHASE_OFFSETS)) % clients
                      for i in range(min(clients, PHASE_OFFSETS))})
    pairs = [(a, b) for b in offsets for a in candidates[:PHASE_MULTIPLIERS]]
    pairs = pairs[:int(PHASE_SCORING_BUDGET // work)]
    if len(pairs) < 2:
        return candidates[0], 0
    intervals = _all_intervals(segments, clients)
    if _window_part_count(sides, intervals, PHASE_SCORING_SPANS / len(pairs)) > PHASE_SCORING_SPANS / len(pairs):
        return candidates[0], 0

    def score(pair: tuple[int, int]) -> float:
        """As in phase_multiplier: the mean square error of each side, plus a quarter of the
        worst second's square."""
        errors = [side for side in _side_errors(clients, pace, sides, intervals, *pair) if side]
        if not errors:
            return 0.0
        return (sum(sum(e * e for e in side) / len(side) for side in errors) * min(2, len(errors)) / len(errors)
                + max(abs(e) for side in errors for e in side) ** 2 / 4)

    return min(pairs, key=score)


def _staged_plan(settings: Mapping[str, Any], host_list: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """make_plan for a run with stages: the plan's `stages` (each with its `start`, `duration`,
    `from_rps`, `rps` and its `name` if given) replace rampup, constant, rampdown, gap and
    stop_gap; a core has no start or stop figures (its clients' intervals follow from the curve:
    `core_intervals`) and counts its `intervals` beside its `requests`."""
    clients = int(settings["clients"])
    rps = float(settings["rps"])
    pace = float(settings["pace"])
    total_cores = sum(cores for _name, cores in host_list)
    segments = curve_segments(settings["stages"], clients, rps)
    multiplier, offset = curve_phase_pair(clients, pace, segments)
    cycle = core_cycle(host_list)
    intervals, requests = _staged_counts(segments, clients, pace, multiplier, offset, total_cores)
    per_host: dict[str, dict[str, Any]] = {
        name: {"index": h, "cores": [None] * cores} for h, (name, cores) in enumerate(host_list)
    }
    for slot, (h, core) in enumerate(cycle):
        per_host[host_list[h][0]]["cores"][core] = {
            "index": core,
            "slot": slot,
            "clients": (clients - slot + total_cores - 1) // total_cores,
            "first_client": slot,
            "client_step": total_cores,
            "phase_first": (slot * multiplier + offset) % clients,
            "phase_step": (total_cores * multiplier) % clients,
            "intervals": intervals[slot],
            "requests": requests[slot],
        }
    for host in per_host.values():
        host["clients"] = sum(core["clients"] for core in host["cores"])
        host["intervals"] = sum(core["intervals"] for core in host["cores"])
        host["requests"] = sum(core["requests"] for core in host["cores"])
    stages = []
    start, rate = 0.0, 0.0
    for stage in settings["stages"]:
        duration, rps_to = float(stage["duration"]), float(stage["rps"])
        stages.append({"start": start, "duration": duration, "from_rps": rate, "rps": rps_to,
                       **({"name": stage["name"]} if stage.get("name") else {})})
        if duration > 0:
            start = start + duration
        rate = rps_to
    return {
        "clients": clients,
        "rps": rps,
        "pace": pace,
        "duration": segments[-1].stop,
        "expected_requests": sum(host["requests"] for host in per_host.values()),
        "phase_multiplier": multiplier,
        "phase_offset": offset,
        "cores_total": total_cores,
        "stages": stages,
        **({"shape": str(settings["shape"])} if settings.get("shape") else {}),
        **({"user_classes": list(settings["user_classes"])} if settings.get("user_classes") else {}),
        "hosts": per_host,
    }


def core_intervals(plan: Mapping[str, Any], core: Mapping[str, Any]) -> list[Client]:
    """One core's clients' intervals of activity as Client tuples (client_id, start, phase, stop),
    in the order they start (ties in client order): the runtime starts a client (its on_start)
    at `start` and stops it (its on_stop) at `stop`; a client of a staged plan may come again in
    a later interval. The requests of each are `request_times(interval, pace)`. For the trapezoid
    this is `core_clients` (one interval per client)."""
    if "stages" not in plan:
        return core_clients(plan, core)
    clients, pace = int(plan["clients"]), float(plan["pace"])
    unit = pace / clients
    first, step, count = int(core["first_client"]), int(core["client_step"]), int(core["clients"])
    phase_first, phase_step = int(core["phase_first"]), int(core["phase_step"])
    out: list[list[Any]] = []
    opened: dict[int, int] = {}
    for moment, starts, lo, hi, segment in transitions(plan_segments(plan), clients):
        for j in range(max(0, -((first - lo) // step)), min(count, -((first - hi) // step))):
            k = first + j * step
            t = moment if segment is None else crossing(segment, k)
            if starts:
                opened[k] = len(out)
                out.append([k, t, ((phase_first + j * phase_step) % clients) * unit, t])
            else:
                out[opened.pop(k)][3] = t
    return [Client(k, start, phase, stop) for k, start, phase, stop in out if start < stop]


def core_arrivals(plan: Mapping[str, Any], core: Mapping[str, Any]) -> Iterator[tuple[float, int]]:
    """One core's request slots in time order, as (offset from the shared start, client_id): the
    union of `request_times` of its `core_intervals` (what an open model hands out as arrivals;
    ties in client order). Lazy: a heap holds the next slot of each interval begun."""
    pace = float(plan["pace"])
    intervals = core_intervals(plan, core)
    heap: list[tuple[float, int, int, int, float]] = []
    ceil = math.ceil
    i = 0
    while i < len(intervals) or heap:
        while i < len(intervals) and (not heap or intervals[i].start <= heap[0][0]):
            client = intervals[i]
            i += 1
            first = first_slot(client.start, client.phase, pace)
            paced = ceil((client.stop - first) / pace - 1e-9)
            if paced > 0:
                heapq.heappush(heap, (first, client.client_id, 0, paced, first))
        if not heap:
            continue
        moment, client_id, n, paced, first = heap[0]
        yield moment, client_id
        if n + 1 < paced:
            heapq.heapreplace(heap, (first + (n + 1) * pace, client_id, n + 1, paced, first))
        else:
            heapq.heappop(heap)


def curve_requests(stages: Sequence[Mapping[str, Any]]) -> float:
    """The requests the stages ask for: the integral of the curve, the sum of (rate before + rps) / 2
    x duration (the plan's expected_requests, the exact count of its slots, is within a request of it)."""
    total, rate = 0.0, 0.0
    for stage in stages:
        total += (rate + float(stage["rps"])) / 2 * float(stage["duration"])
        rate = float(stage["rps"])
    return total


def stage_window(plan: Mapping[str, Any], stage: Any) -> tuple[int, int] | None:
    """The whole seconds [from, to) of the run inside one stage of a staged plan, the stage given
    by its number (from 1, as the messages and the preview count) or its name; None when the stage
    holds no whole second. Refused, naming the stages, when there is no such stage."""
    stages = plan.get("stages") or []
    names = [entry.get("name") for entry in stages]
    if isinstance(stage, str) and stage in names:
        index = names.index(stage)
    elif not isinstance(stage, bool) and str(stage).strip().isdigit() and 1 <= int(str(stage).strip()) <= len(stages):
        index = int(str(stage).strip()) - 1
    else:
        known = ", ".join(f"{n}" + (f" ({name})" if name else "") for n, name in enumerate(names, 1))
        raise PlanError(f"no stage {stage!r} in the plan; its stages are {known or '(none: the run has no stages)'}: "
                        "give a stage's number (from 1) or its name")
    entry = stages[index]
    first, last = math.ceil(float(entry["start"])), math.floor(float(entry["start"]) + float(entry["duration"]))
    return (first, last) if last > first else None


def host_slice(plan: Mapping[str, Any], hostname: str) -> dict[str, Any]:
    """What one load host needs: the global figures, its index and its own cores."""
    if hostname not in plan["hosts"]:
        raise PlanError(f"host {hostname!r} is not in the plan; planned hosts: {', '.join(plan['hosts'])}")
    figures = {key: value for key, value in plan.items() if key != "hosts"}
    host = plan["hosts"][hostname]
    return {"host": hostname, "host_index": host["index"], "hosts": len(plan["hosts"]),
            "plan": figures, "cores": host["cores"]}


def core_clients(plan: Mapping[str, Any], core: Mapping[str, Any]) -> list[Client]:
    """Expand one core's arithmetic description into its clients, in start order."""
    return [Client._make(client) for client in _expand(int(plan["clients"]), float(plan["pace"]), core)]


def _expand(clients: int, pace: float, core: Mapping[str, Any]) -> Iterator[tuple[int, float, float, float]]:
    """(client_id, start, phase, stop) of one core's clients, as plain tuples (cheap in bulk)."""
    unit = pace / clients
    first_client, client_step = core["first_client"], core["client_step"]
    first_start, start_step = core["first_start"], core["start_step"]
    phase_first, phase_step = core["phase_first"], core["phase_step"]
    first_stop, stop_step = core["first_stop"], core["stop_step"]
    for j in range(core["clients"]):
        yield (first_client + j * client_step, first_start + j * start_step,
               ((phase_first + j * phase_step) % clients) * unit, first_stop + j * stop_step)


def first_slot(start: float, phase: float, pace: float) -> float:
    """The first time on the client's phase lattice (phase + n pace) at or after `start`."""
    n = math.ceil((start - phase) / pace - 1e-9)
    return phase + n * pace


def core_requests(clients: int, pace: float, core: Mapping[str, Any]) -> int:
    """How many requests one core's clients send: one per slot of its phase lattice from its
    start to its stop (what `request_times` yields). This runs once per client of the plan, so
    `_expand`, `first_slot` and `request_times` are inlined here (the same arithmetic, about twice
    as fast); the unit tests hold the two to the same counts."""
    unit = pace / clients
    ceil = math.ceil
    first_start, start_step = core["first_start"], core["start_step"]
    phase_first, phase_step = core["phase_first"], core["phase_step"]
    first_stop, stop_step = core["first_stop"], core["stop_step"]
    total = 0
    for j in range(core["clients"]):
        start = first_start + j * start_step
        stop = first_stop + j * stop_step
        if start < stop:
            phase = ((phase_first + j * phase_step) % clients) * unit
            first = phase + ceil((start - phase) / pace - 1e-9) * pace
            paced = ceil((stop - first) / pace - 1e-9)
            if paced > 0:
                total += paced
    return total


def request_times(client: Client, pace: float) -> Iterator[float]:
    """Every planned task request time of one client (offsets from the shared start)."""
    if client.start >= client.stop:
        return
    first = first_slot(client.start, client.phase, pace)
    for n in range(max(0, math.ceil((client.stop - first) / pace - 1e-9))):
        yield first + n * pace


def active_clients(plan: Mapping[str, Any], offset: float) -> int:
    """Clients started and not yet stopped at `offset` seconds after the shared start (client k
    starts at (k + 1/2) gap and stops at D + (U - k - 1/2) stop_gap). In a staged plan: round(A(t)),
    .5 up where the curve is flat or rises just after `offset` and down where it falls (the clients
    k with k + 1/2 <= A(t), or < A(t) on a fall), 0 outside [0, duration). For many offsets of one
    plan, `active_counter(plan)` reads the curve once."""
    return active_counter(plan)(offset)


def active_counter(plan: Mapping[str, Any]) -> Callable[[float], int]:
    """`active_clients` of one plan as a function of the offset: a staged plan's curve is read once
    (O(stages)), each offset then costs O(log stages), so a chart or a preview of n points is
    O(stages + n log stages), not O(stages x n)."""
    if "stages" in plan:
        segments = plan_segments(plan)
        starts = [segment.start for segment in segments]
        clients = int(plan["clients"])
        return lambda offset: _staged_active(segments, starts, clients, offset)
    clients = int(plan["clients"])
    gap, stop_gap = float(plan["gap"]), float(plan["stop_gap"])
    ramp_end = float(plan["rampup"]) + float(plan["constant"])

    def trapezoid(offset: float) -> int:
        started = min(clients, max(0, math.floor(offset / gap + 0.5 + 1e-9)))
        if offset < ramp_end:
            stopped = 0
        elif stop_gap == 0:
            stopped = clients
        else:
            stopped = min(clients, max(0, math.floor((offset - ramp_end) / stop_gap + 0.5 + 1e-9)))
        return max(0, started - stopped)
    return trapezoid


def _staged_active(segments: Sequence[Segment], starts: Sequence[float], clients: int, offset: float) -> int:
    if not segments or offset < 0 or offset >= segments[-1].stop:
        return 0
    segment = segments[bisect.bisect_right(starts, offset) - 1]
    level = segment.at_start + (segment.at_stop - segment.at_start) * ((offset - segment.start) / segment.duration)
    return _prefix(level, segment.at_stop >= segment.at_start, clients)


def timeline(plan: Mapping[str, Any], points: int = 12) -> list[dict[str, float]]:
    """Expected active clients and rps at evenly spaced offsets, for the plan preview."""
    duration = float(plan["duration"])
    active_at = active_counter(plan)
    rows = []
    for i in range(points + 1):
        offset = duration * i / points
        active = active_at(offset)
        rows.append({"offset": offset, "active": active, "rps": active / float(plan["pace"])})
    return rows


PREVIEW_HOSTS = 20  # hosts listed one per line in the preview; the rest are summed in one line


def _clock(seconds: float) -> str:
    seconds = round(seconds, 1)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}" if hours else f"{int(minutes)}:{secs:04.1f}"


def preview(plan: Mapping[str, Any], points: int = 12, max_hosts: int = PREVIEW_HOSTS) -> list[str]:
    """The plan as a person reads it before a run: figures, a line per host (the first
    `max_hosts`, then one line for the rest) and the expected-rate timeline."""
    if plan.get("model") == "open":  # the same plan, its slots handed out as arrivals
        lines = preview({key: value for key, value in plan.items() if key not in ("model", "max_clients")},
                        points, max_hosts)
        lines.insert(1, f"open model: the {plan['expected_requests']} slots are arrivals handed to a pool of users "
                        f"on each core, at most {plan['max_clients']} users in all (hailstorm_max_clients); an arrival "
                        "that finds no user within 1 s of its slot is dropped and counted")
        return lines
    p = plan
    if "stages" in p:
        return _staged_preview(p, points, max_hosts)
    lines = [
        f"{p['clients']} clients, {p['rps']:g} rps, pace {p['pace']:.3f} s, gap {p['gap']:.4f} s",
        f"ramp-up {_clock(p['rampup'])}, constant {_clock(p['constant'])}, ramp-down {_clock(p['rampdown'])}, "
        f"total {_clock(p['duration'])}, {p['expected_requests']} requests",
        f"{'host':<20} {'cores':>5} {'clients':>7} {'per core':>8} {'first':>8} {'last':>8} {'step':>7} {'requests':>9}",
    ]
    hosts = list(p["hosts"].items())
    for name, host in hosts[:max_hosts]:
        cores = host["cores"]
        counts = sorted({core["clients"] for core in cores})
        lines.append(
            f"{name[:20]:<20} {len(cores):>5} {host['clients']:>7} {'/'.join(map(str, counts)):>8} "
            f"{min(c['first_start'] for c in cores):>7.2f}s {max(c['last_start'] for c in cores):>7.2f}s "
            f"{cores[0]['start_step']:>6.2f}s {host['requests']:>9}"
        )
    rest = hosts[max_hosts:]
    if rest:
        lines.append(f"{'... ' + str(len(rest)) + ' more':<20} {sum(len(h['cores']) for _n, h in rest):>5} "
                     f"{sum(h['clients'] for _n, h in rest):>7} {'':>8} {'':>8} {'':>8} {'':>7} "
                     f"{sum(h['requests'] for _n, h in rest):>9}")
    lines.append(f"{'time':>9} {'active':>8} {'rps':>9}   (first, last: client starts; step: per core)")
    for row in timeline(p, int(points)):
        lines.append(f"{_clock(row['offset']):>9} {row['active']:>8} {row['rps']:>9.2f}")
    return lines


CURVE_WIDTH = 40  # characters of the preview's bar at the peak rate


def preview_stages(count: int, points: int) -> list[int]:
    """The indices of the stages a preview lists: every stage when there are at most `points`,
    else `points` of them evenly spaced through the list, the first and the last among them."""
    points = max(1, int(points))
    if count <= points:
        return list(range(count))
    if points == 1:
        return [0]
    return sorted({round(i * (count - 1) / (points - 1)) for i in range(points)})


def _staged_preview(p: Mapping[str, Any], points: int, max_hosts: int) -> list[str]:
    """`preview` of a staged plan: figures, the stages (at most `points` of them, evenly spaced,
    when there are more: `preview_stages`), a line per host and the planned curve at evenly spaced
    moments and at the start of every stage listed, drawn as a bar per line: at most points + 1
    stage lines and 2 points + 1 curve lines, whatever the number of stages."""
    lines = [
        f"{p['clients']} clients, peak {p['rps']:g} rps, pace {p['pace']:.3f} s, {len(p['stages'])} stages, "
        f"total {_clock(p['duration'])}, {p['expected_requests']} requests",
        f"{'stage':>5} {'start':>9} {'length':>9} {'rps from':>9} {'rps to':>9}  name",
    ]
    if p.get("shape"):
        lines.insert(1, f"the locustfile's LoadTestShape {p['shape']} was sampled on a fake clock and is planned "
                        f"exactly (rate = users / pace {p['pace']:.3f} s)"
                        + (f"; its tick() runs the user classes {', '.join(p['user_classes'])}, spread by their weights"
                           if p.get("user_classes") else ""))
    listed = preview_stages(len(p["stages"]), points)
    for index in listed:
        stage = p["stages"][index]
        lines.append(f"{index + 1:>5} {_clock(stage['start']):>9} {_clock(stage['duration']):>9} "
                     f"{stage['from_rps']:>9g} {stage['rps']:>9g}  {stage.get('name', '')}".rstrip())
    if len(listed) < len(p["stages"]):
        lines.append(f"{'':>5} {len(p['stages']) - len(listed)} of the {len(p['stages'])} stages not listed "
                     f"(hailstorm_preview_points={points}); plan.json holds every stage")
    lines.append(f"{'host':<20} {'cores':>5} {'clients':>7} {'per core':>8} {'intervals':>9} {'requests':>9}")
    hosts = list(p["hosts"].items())
    for name, host in hosts[:max_hosts]:
        counts = sorted({core["clients"] for core in host["cores"]})
        lines.append(f"{name[:20]:<20} {len(host['cores']):>5} {host['clients']:>7} "
                     f"{'/'.join(map(str, counts)):>8} {host['intervals']:>9} {host['requests']:>9}")
    rest = hosts[max_hosts:]
    if rest:
        lines.append(f"{'... ' + str(len(rest)) + ' more':<20} {sum(len(h['cores']) for _n, h in rest):>5} "
                     f"{sum(h['clients'] for _n, h in rest):>7} {'':>8} {sum(h['intervals'] for _n, h in rest):>9} "
                     f"{sum(h['requests'] for _n, h in rest):>9}")
    lines.append(f"{'time':>9} {'active':>8} {'rps':>9}   (the planned curve; intervals: client starts)")
    duration = float(p["duration"])
    moments = sorted({duration * i / max(1, int(points)) for i in range(max(1, int(points)) + 1)}
                     | {float(p["stages"][index]["start"]) for index in listed})
    active_at = active_counter(p)
    for offset in moments:
        active = active_at(offset)
        rate = active / float(p["pace"])
        curve = "#" * round(CURVE_WIDTH * rate / float(p["rps"]))
        lines.append(f"{_clock(offset):>9} {active:>8} {rate:>9.2f}   {curve}".rstrip())
    return lines
