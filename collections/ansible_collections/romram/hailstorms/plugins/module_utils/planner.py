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
  start  s_k = k g                          the ramp is a straight line at the target
  phase  phi_k = ((k a) mod U) P / U        a coprime to U, a / U near the golden ratio:
                                            any prefix of clients is spread evenly over the
                                            pace, and all U together form the arrival
                                            lattice, one request every 1 / R seconds
  stop   e_k = D + (U - k) d                last started stops first: the clients still
                                            active are always a prefix of the start order,
                                            so they stay evenly spread while they fall
  requests: one at s_k, then at phi_k + n P for every n with s_k + P / 2 <= phi_k + n P < e_k.

Cores of all hosts form one cycle of C slots (interleaved, weighted by each host's core
count); client k runs on slot k mod C, so every core's clients are C g apart.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

SETTING_KEYS = (
    "target", "rps", "pace", "clients", "rampup", "constant", "rampdown", "locustfile",
)
DURATION_KEYS = ("pace", "rampup", "constant", "rampdown")
BUILTIN_DEFAULTS: dict[str, Any] = {"constant": 0}
MIN_PACE = 0.1
UNSTABLE_PACE = 10.0
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


class PlanError(ValueError):
    """A setting that cannot be planned; the message names the setting and the fix."""


class Client(NamedTuple):
    client_id: int
    start: float
    phase: float
    stop: float


def parse_duration(value: Any, name: str) -> float:
    """Seconds from plain seconds (int, float, '90', '1.5') or Locust style ('90s', '3m', '1h30m')."""
    if isinstance(value, bool):
        raise PlanError(f"hailstorm_{name}: expected a duration such as 90, '90s', '3m' or '1h30m', got {value!r}")
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
                    "use seconds (90) or Locust style ('90s', '3m', '1h30m')"
                ) from None
            hours, minutes, secs = (float(part or 0) for part in match.groups())
            seconds = hours * 3600 + minutes * 60 + secs
    if not math.isfinite(seconds):
        raise PlanError(f"hailstorm_{name}: {value!r} is not a finite duration")
    return seconds


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise PlanError(f"hailstorm_{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PlanError(f"hailstorm_{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise PlanError(f"hailstorm_{name}: expected a finite number, got {value!r}")
    return number


PROFILE_EXTRAS = "thresholds"  # a profile key that is not a run setting (thresholds.stack reads it)


def stack_profiles(profiles: Mapping[str, Mapping[str, Any]], selection: str) -> dict[str, Any]:
    """Merge `default` and then each profile named in `selection` ('high+long'), later keys win."""
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
    merged: dict[str, Any] = {}
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
        merged.update({key: value for key, value in profile.items() if key != PROFILE_EXTRAS})
    return merged


def resolve_settings(
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
    selection: str = "default",
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Built-in defaults < profile stack < overrides; returns (settings, warnings).

    Settings are numbers in seconds and rps; clients and pace are both filled in.
    """
    raw: dict[str, Any] = dict(BUILTIN_DEFAULTS)
    raw.update(stack_profiles(profiles or {}, selection))
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    stray = sorted(set(raw) - set(SETTING_KEYS))
    if stray:
        raise PlanError(f"unknown run setting(s) {', '.join('hailstorm_' + s for s in stray)}")
    warnings: list[str] = []

    target = str(raw.get("target") or "").strip()
    if not re.match(r"^https?://[^/\s]+", target):
        raise PlanError(
            f"hailstorm_target: expected the base URL of the system under test, such as "
            f"'http://10.0.0.5:8080', got {raw.get('target')!r}"
        )
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
                f"hailstorm_clients={clients} and hailstorm_pace={pace:g}s disagree at hailstorm_rps={rps:g} "
                f"(clients = rps x pace needs pace {implied:g}s or clients {rps * pace:g}); give only one of them"
            )
        pace = implied
    else:
        if pace is None:
            pace = 1.0
        exact = rps * pace
        clients = int(round(exact))
        if clients < 1 or not math.isclose(clients, exact, rel_tol=1e-9, abs_tol=1e-6):
            raise PlanError(
                f"hailstorm_rps={rps:g} x hailstorm_pace={pace:g}s = {exact:g} clients, not a whole number; "
                f"choose a pace such that rps x pace is whole (e.g. {max(1, round(exact)) / rps:g}s) "
                "or give hailstorm_clients"
            )
        pace = clients / rps
    if pace < MIN_PACE:
        raise PlanError(
            f"hailstorm_pace: {pace:g}s is under {MIN_PACE:g}s per client (clients={clients}, rps={rps:g}); "
            f"use at least {math.ceil(rps * MIN_PACE)} clients or a pace of {MIN_PACE:g}s or more"
        )
    if pace > UNSTABLE_PACE:
        warnings.append(
            f"hailstorm_pace is {pace:g}s (over {UNSTABLE_PACE:g}s): each client sends rarely, "
            "the load is sensitive to slow responses; consider fewer clients"
        )

    if raw.get("rampup") is None:
        raise PlanError("hailstorm_rampup: not set; give the ramp-up time, e.g. '3m'")
    rampup = parse_duration(raw["rampup"], "rampup")
    if rampup <= 0:
        raise PlanError(f"hailstorm_rampup: must be > 0 so clients start on a line, got {raw['rampup']!r}")
    constant = parse_duration(raw["constant"], "constant")
    if constant < 0:
        raise PlanError(f"hailstorm_constant: must be >= 0, got {raw['constant']!r}")
    rampdown = parse_duration(raw["rampdown"], "rampdown") if raw.get("rampdown") is not None else rampup
    if rampdown < 0:
        raise PlanError(f"hailstorm_rampdown: must be >= 0, got {raw['rampdown']!r}")

    settings = {
        "target": target.rstrip("/"),
        "rps": rps,
        "pace": pace,
        "clients": clients,
        "rampup": rampup,
        "constant": constant,
        "rampdown": rampdown,
        "locustfile": raw.get("locustfile"),
    }
    return settings, warnings


def usable_cores(vcpus: Any, given: Any = None) -> int:
    """Cores a load host gives the load: `given` (hailstorm_cores) if set, else vCPUs - 1, at least 1."""
    if given is not None and given != "":
        if isinstance(given, bool) or not str(given).isdigit() or int(given) < 1:
            raise PlanError(f"hailstorm_cores: must be a whole number >= 1, got {given!r}")
        return int(given)
    if isinstance(vcpus, bool) or not str(vcpus).isdigit():
        raise PlanError(f"cannot read the host's vCPUs from {vcpus!r}; set hailstorm_cores for it")
    return max(int(vcpus) - 1, 1)


def _largest_partial_quotient(numerator: int, denominator: int) -> int:
    worst = 0
    while numerator:
        quotient, remainder = divmod(denominator, numerator)
        worst = max(worst, quotient)
        denominator, numerator = numerator, remainder
    return worst


def phase_multiplier(clients: int) -> int:
    """The multiplier a of the phase sequence (k a) mod U.

    a is coprime to U (so the U phases are a permutation of the lattice) and, among the
    candidates near U x golden ratio, the one whose continued fraction a / U has the smallest
    partial quotients: that bounds the largest hole between the phases of any prefix of clients
    (three-gap theorem; measured at most 2.5x the mean hole for U < 1200).
    """
    if clients <= 2:
        return 1 if clients == 2 else 0
    base = round(clients * GOLDEN)
    best: tuple[tuple[int, int], int] | None = None
    for delta in range(min(clients, 200)):
        for candidate in (base + delta, base - delta):
            if 0 < candidate < clients and math.gcd(candidate, clients) == 1:
                score = (_largest_partial_quotient(candidate, clients), delta)
                if best is None or score < best[0]:
                    best = (score, candidate)
    return best[1] if best else 1


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
    rampup = float(settings["rampup"])
    constant = float(settings["constant"])
    rampdown = float(settings["rampdown"])
    total_cores = sum(cores for _name, cores in host_list)
    if clients < total_cores:
        raise PlanError(
            f"hailstorm_clients: {clients} clients cannot keep {total_cores} usable cores busy "
            f"({', '.join(f'{n}: {c}' for n, c in host_list)}); raise hailstorm_rps or hailstorm_pace to reach "
            f"at least {total_cores} clients, or lower hailstorm_cores on the hosts so that at most {clients} "
            "cores are used in total"
        )
    gap = rampup / clients
    stop_gap = rampdown / clients
    ramp_end = rampup + constant
    multiplier = phase_multiplier(clients)
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
            "first_start": slot * gap,
            "start_step": total_cores * gap,
            "last_start": (slot + (count - 1) * total_cores) * gap,
            "phase_first": (slot * multiplier) % clients,
            "phase_step": (total_cores * multiplier) % clients,
            "first_stop": ramp_end + (clients - slot) * stop_gap,
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
        "cores_total": total_cores,
        "hosts": per_host,
    }


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


def first_paced_slot(start: float, phase: float, pace: float) -> float:
    """The first time on the client's phase lattice at least half a pace after its start."""
    n = math.ceil((start + pace / 2 - phase) / pace - 1e-9)
    return phase + n * pace


def core_requests(clients: int, pace: float, core: Mapping[str, Any]) -> int:
    """How many requests one core's clients send: each client's first at its start, then one per
    paced slot before its stop (what `request_times` yields). This runs once per client of the
    plan, so `_expand` and `request_times` are inlined here (the same arithmetic, about twice as
    fast); the unit tests hold the two to the same counts."""
    unit = pace / clients
    half = pace / 2
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
            first = phase + ceil((start + half - phase) / pace - 1e-9) * pace
            paced = ceil((stop - first) / pace - 1e-9)
            total += 1 + (paced if paced > 0 else 0)
    return total


def request_times(client: Client, pace: float) -> Iterator[float]:
    """Every planned request time of one client (offsets from the shared start)."""
    if client.start >= client.stop:
        return
    yield client.start
    first = first_paced_slot(client.start, client.phase, pace)
    for n in range(max(0, math.ceil((client.stop - first) / pace - 1e-9))):
        yield first + n * pace


def active_clients(plan: Mapping[str, Any], offset: float) -> int:
    """Clients started and not yet stopped at `offset` seconds after the shared start."""
    clients = int(plan["clients"])
    gap, stop_gap = float(plan["gap"]), float(plan["stop_gap"])
    started = min(clients, math.floor(offset / gap + 1e-9) + 1) if offset >= 0 else 0
    ramp_end = float(plan["rampup"]) + float(plan["constant"])
    if offset < ramp_end:
        stopped = 0
    elif stop_gap == 0:
        stopped = clients
    else:
        stopped = min(clients, math.floor((offset - ramp_end) / stop_gap + 1e-9))
    return max(0, started - stopped)


def timeline(plan: Mapping[str, Any], points: int = 12) -> list[dict[str, float]]:
    """Expected active clients and rps at evenly spaced offsets, for the plan preview."""
    duration = float(plan["duration"])
    rows = []
    for i in range(points + 1):
        offset = duration * i / points
        active = active_clients(plan, offset)
        rows.append({"offset": offset, "active": active, "rps": active / float(plan["pace"])})
    return rows
