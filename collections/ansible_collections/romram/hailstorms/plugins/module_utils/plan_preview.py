# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan as a person reads it before a run: its figures, a line per host, the stages and the
expected curve of active clients and rps (`preview`: the lines plan.yml prints).

Pure Python (no Ansible, no Locust); controller only.
"""
from __future__ import annotations

from typing import Any, Mapping

from .planner import active_counter
from .run_settings import clock_text


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


def preview(plan: Mapping[str, Any], points: int = 12, max_hosts: int = PREVIEW_HOSTS) -> list[str]:
    """The plan as a person reads it before a run: figures, a line per host (the first
    `max_hosts`, then one line for the rest) and the expected-rate timeline."""
    if plan.get("scenarios"):
        return _scenario_preview(plan, points, max_hosts)
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
        f"ramp-up {clock_text(p['rampup'])}, constant {clock_text(p['constant'])}, "
        f"ramp-down {clock_text(p['rampdown'])}, total {clock_text(p['duration'])}, {p['expected_requests']} requests",
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
        lines.append(f"{clock_text(row['offset']):>9} {row['active']:>8} {row['rps']:>9.2f}")
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
        f"total {clock_text(p['duration'])}, {p['expected_requests']} requests",
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
        lines.append(f"{index + 1:>5} {clock_text(stage['start']):>9} {clock_text(stage['duration']):>9} "
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
        lines.append(f"{clock_text(offset):>9} {active:>8} {rate:>9.2f}   {curve}".rstrip())
    return lines


def scenario_rates(plan: Mapping[str, Any]) -> Any:
    """A function of the offset from the shared start giving each scenario's planned rate (its
    active clients over its pace), in the order of plan["scenarios"]."""
    counters = [(float(sub.get("start") or 0.0), float(sub["pace"]), active_counter(sub))
                for sub in plan["scenarios"].values()]
    return lambda offset: [active_at(offset - start) / pace for start, pace, active_at in counters]


def _scenario_preview(p: Mapping[str, Any], points: int, max_hosts: int) -> list[str]:
    """`preview` of a plan with scenarios: the total, a line per scenario (its classes, model,
    start, clients, peak and requests), a line per host, and the planned curve of each scenario
    and of their sum at evenly spaced moments and where a scenario starts."""
    scenarios = p["scenarios"]
    lines = [f"{len(scenarios)} scenarios on the same cores: {p['clients']} clients, peak {p['rps']:g} rps in all, "
             f"total {clock_text(p['duration'])}, {p['expected_requests']} requests",
             f"{'scenario':<16} {'model':<6} {'start':>9} {'length':>9} {'clients':>7} {'peak rps':>9} "
             f"{'requests':>9}  user classes"]
    if p.get("shape"):
        lines.insert(1, f"the locustfile's LoadTestShape {p['shape']} was sampled on a fake clock; its tick() changes "
                        "the user classes, so each class is a scenario whose curve is its share of the users (by "
                        f"weight) over the pace")
    for name, sub in scenarios.items():
        lines.append(f"{name[:16]:<16} {str(sub.get('model') or 'closed'):<6} {clock_text(sub['start']):>9} "
                     f"{clock_text(sub['duration']):>9} {sub['clients']:>7} {sub['rps']:>9g} "
                     f"{sub['expected_requests']:>9}  {', '.join(sub['user_classes'])}")
    lines.append(f"{'host':<20} {'cores':>5} {'clients':>7} {'intervals':>9} {'requests':>9}")
    hosts = list(p["hosts"].items())
    for name, host in hosts[:max_hosts]:
        lines.append(f"{name[:20]:<20} {len(host['cores']):>5} {host['clients']:>7} {host['intervals']:>9} "
                     f"{host['requests']:>9}")
    rest = hosts[max_hosts:]
    if rest:
        lines.append(f"{'... ' + str(len(rest)) + ' more':<20} {sum(len(h['cores']) for _n, h in rest):>5} "
                     f"{sum(h['clients'] for _n, h in rest):>7} {sum(h['intervals'] for _n, h in rest):>9} "
                     f"{sum(h['requests'] for _n, h in rest):>9}")
    names = list(scenarios)
    lines.append(f"{'time':>9} " + " ".join(f"{name[:9]:>9}" for name in names) + f" {'total':>9}   (planned rps)")
    duration = float(p["duration"])
    moments = sorted({duration * i / max(1, int(points)) for i in range(max(1, int(points)) + 1)}
                     | {float(sub["start"]) for sub in scenarios.values()})
    rates_at = scenario_rates(p)
    for offset in moments:
        rates = rates_at(offset)
        total = sum(rates)
        curve = "#" * round(CURVE_WIDTH * total / float(p["rps"]))
        lines.append(f"{clock_text(offset):>9} " + " ".join(f"{rate:>9.2f}" for rate in rates)
                     + f" {total:>9.2f}   {curve}".rstrip())
    return lines
