# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of Prometheus: what the summary says about the live metrics the load
processes pushed (runtime/hailstorm_runtime/metrics.py pushes them; each core's end record counts
them). The endpoints' settings are checked by urls.checked_url before any host is touched.

Settings:
  hailstorm_prometheus_remote_write   the remote-write URL every load process pushes to, once a
                                      second (empty: off). Credentials never go in the URL: put
                                      HAILSTORM_PROMETHEUS_BEARER_TOKEN, or
                                      HAILSTORM_PROMETHEUS_USERNAME and HAILSTORM_PROMETHEUS_PASSWORD,
                                      in hailstorm_environment (the run's secrets, a 0600 file on
                                      each host read by the runtime itself).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping


def live_metrics_figures(cores: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What the summary says about the live metrics: samples handed over, pushed and lost over
    every core (each core's end record's `live_metrics`), the cores that lost any, and the
    first error seen; None when no core pushed any (remote write off)."""
    rows = [(core, core.get("live_metrics")) for core in cores]
    rows = [(core, live) for core, live in rows if live]
    if not rows:
        return None
    out: dict[str, Any] = {"url": rows[0][1].get("url"), "samples": 0, "pushed": 0, "lost": 0, "failed_pushes": 0,
                           "cores_losing": []}
    for core, live in rows:
        for key in ("samples", "pushed", "lost", "failed_pushes"):
            out[key] += int(live.get(key) or 0)
        if live.get("lost"):
            out["cores_losing"].append(f"{core.get('host')}/{core.get('core')}")
        if live.get("error") and "error" not in out:
            out["error"] = str(live["error"])
    return out


def live_metrics_line(figures: Mapping[str, Any] | None) -> str | None:
    """The summary's line about them (None when off)."""
    if not figures:
        return None
    line = (f"live metrics: {figures['pushed']} of {figures['samples']} samples reached {figures['url']}, "
            f"{figures['lost']} lost")
    if figures["lost"]:
        line += f" (cores {', '.join(figures['cores_losing'])}; {figures.get('error', 'see the core logs')})"
    return line
