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
  hailstorm_prometheus_buckets        how the latency histogram goes: "native" (default: sparse
                                      exponential buckets, within ~2 % of the report's
                                      percentiles; an endpoint that refuses them gets the classic
                                      form by itself), "classic" (buckets at DEFAULT_BUCKETS and at
                                      every latency threshold of the plan), or a list of bucket
                                      bounds in seconds (classic, those bounds and the thresholds')
  hailstorm_prometheus_headers        {name: value}: extra HTTP headers of every remote-write push
                                      and every hailstorm_prometheus_url query (X-Scope-OrgID for
                                      Mimir, Cortex, Thanos); they travel like the credentials (the
                                      run's 0600 environment file, never data.json nor a log)
  hailstorm_grafana_url               the base URL of the Grafana that has the collection's
                                      dashboard (files/grafana/hailstorms.json); the report links
                                      to the run there (its run_id, its time range)
"""
from __future__ import annotations

import base64
import json
import math
import re
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

from ansible_collections.romram.hailstorms.plugins.module_utils import grafana
from ansible_collections.romram.hailstorms.plugins.module_utils.planner import PlanError

HISTOGRAMS = ("native", "classic")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds, Prometheus' default
MAX_BUCKETS = 40
ENV_HEADERS = "HAILSTORM_PROMETHEUS_HEADERS"  # the runtime's metrics.ENV_HEADERS
ENV_TOKEN = "HAILSTORM_PROMETHEUS_BEARER_TOKEN"
ENV_USER = "HAILSTORM_PROMETHEUS_USERNAME"
ENV_PASSWORD = "HAILSTORM_PROMETHEUS_PASSWORD"
# the queries of hailstorm_prometheus_url use these when given, else the remote write's above
ENV_QUERY_TOKEN = "HAILSTORM_PROMETHEUS_QUERY_BEARER_TOKEN"
ENV_QUERY_USER = "HAILSTORM_PROMETHEUS_QUERY_USERNAME"
ENV_QUERY_PASSWORD = "HAILSTORM_PROMETHEUS_QUERY_PASSWORD"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP token (RFC 9110)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a header value is one line
_RESERVED = {"content-encoding", "content-type", "content-length", "host", "user-agent",
             "x-prometheus-remote-write-version"}


def latency_bounds(thresholds: Mapping[str, Any] | None) -> list[float]:
    """Every latency limit of the checked thresholds (thresholds.check: limits and per-label
    limits named *_ms), in seconds: a classic bucket bound at each makes its verdict readable."""
    checked = thresholds or {}
    rows = [checked.get("limits") or {}] + list((checked.get("labels") or {}).values())
    return sorted({float(v) / 1000.0 for row in rows for k, v in row.items()
                   if str(k).endswith("_ms") and isinstance(v, (int, float)) and v > 0})


def checked_buckets(value: Any, thresholds: Mapping[str, Any] | None = None,
                    name: str = "hailstorm_prometheus_buckets") -> dict[str, Any]:
    """data.json's histogram settings: {"histograms": "native" or "classic", "buckets": the classic
    bounds in seconds (sent when classic is asked for, or when the endpoint refuses native ones)},
    the bounds always holding the thresholds' latency limits. Else a PlanError naming the
    setting, the value and a fix."""
    fix = f"give {name}: native (the default), classic, or bounds in seconds such as [0.05, 0.1, 0.25, 0.5, 1]"
    extra = latency_bounds(thresholds)
    if value in (None, "", "native"):
        return {"histograms": "native", "buckets": sorted(set(DEFAULT_BUCKETS) | set(extra))}
    if value == "classic":
        return {"histograms": "classic", "buckets": sorted(set(DEFAULT_BUCKETS) | set(extra))}
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise PlanError(f"{name}: {value!r} is neither native, classic nor a list of bucket bounds; {fix}")
    bounds = []
    for item in value:
        try:
            bound = float(item)
        except (TypeError, ValueError):
            bound = float("nan")
        if isinstance(item, bool) or not math.isfinite(bound) or bound <= 0:
            raise PlanError(f"{name}: {item!r} in {list(value)!r} is not a positive number of seconds; {fix}")
        bounds.append(bound)
    merged = sorted(set(bounds) | set(extra))
    if len(merged) > MAX_BUCKETS:
        raise PlanError(f"{name}: {len(merged)} bounds (with the thresholds' latency limits) is more than "
                        f"{MAX_BUCKETS}, each a series per label and stage on every core; {fix}")
    return {"histograms": "classic", "buckets": merged}


def checked_headers(value: Any, name: str = "hailstorm_prometheus_headers") -> list[str]:
    """The header names of hailstorm_prometheus_headers (a mapping of names to string values),
    else a PlanError that names the setting and the header, never a value (it may be a secret)."""
    example = f'{name}: {{X-Scope-OrgID: tenant-1}}'
    if value in (None, ""):
        return []
    if not isinstance(value, Mapping):
        raise PlanError(f"{name}: a {type(value).__name__} is not a mapping of header names to values; give one "
                        f"such as {example}")
    names = []
    for key, text in value.items():
        if not isinstance(key, str) or not _HEADER_NAME.match(key):
            raise PlanError(f"{name}: {key!r} is not an HTTP header name (letters, digits, - and the like, no space "
                            f"or colon); give one such as {example}")
        if key.lower() in _RESERVED:
            raise PlanError(f"{name}: {key} is set by the remote write itself; leave it out (credentials go in "
                            f"hailstorm_environment as {ENV_TOKEN}), e.g. {example}")
        if not isinstance(text, (str, int)) or isinstance(text, bool) or _CONTROL.search(str(text)):
            raise PlanError(f"{name}: the value of {key} is not a one-line string (its value is not shown); give "
                            f"one such as {example}, a secret from Ansible Vault")
        names.append(key)
    return names


def environment_headers(environment: Mapping[str, Any] | None, headers: Mapping[str, Any] | None) -> dict[str, str]:
    """The run's environment with hailstorm_prometheus_headers added for the load processes
    (ENV_HEADERS, JSON), the one file that carries secrets to them (the runtime's
    metrics.take_credentials takes it out)."""
    out = {str(k): v for k, v in (environment or {}).items()}
    if headers:
        out[ENV_HEADERS] = json.dumps({str(k): str(v) for k, v in headers.items()}, sort_keys=True)
    return out


def query_headers(environment: Mapping[str, Any] | None, headers: Mapping[str, Any] | None) -> dict[str, str]:
    """The HTTP headers of the hailstorm_prometheus_url queries: hailstorm_prometheus_headers and
    an Authorization from hailstorm_environment (ENV_QUERY_* when given, else the remote write's
    bearer token or user and password)."""
    env = environment or {}
    out = {str(k): str(v) for k, v in (headers or {}).items()}
    for token_key, user_key, password_key in ((ENV_QUERY_TOKEN, ENV_QUERY_USER, ENV_QUERY_PASSWORD),
                                              (ENV_TOKEN, ENV_USER, ENV_PASSWORD)):
        token, user, password = env.get(token_key), env.get(user_key), env.get(password_key)
        if token:
            out["Authorization"] = f"Bearer {token}"
            break
        if user is not None or password is not None:
            pair = f"{user or ''}:{password or ''}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            break
    return out


def grafana_link(grafana_url: str | None, run_id: str, clock: Mapping[str, Any] | None,
                 margin: float = 30.0) -> str | None:
    """The run in the collection's Grafana dashboard: its run_id picked, its time range (the run's
    clock, `margin` seconds either side, in ms as Grafana takes them); None without a Grafana URL."""
    if not grafana_url:
        return None
    params: dict[str, Any] = {"orgId": 1, "var-run_id": run_id}
    if clock and clock.get("start_epoch") is not None:
        params["from"] = int((float(clock["start_epoch"]) - margin) * 1000)
        params["to"] = int((float(clock["end_epoch"]) + margin) * 1000)
    return f"{grafana_url.rstrip('/')}/d/{grafana.DASHBOARD_UID}/hailstorms?{urlencode(params)}"


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
        if live.get("histograms"):  # classic on any core: the dashboard's classic queries apply
            out["histograms"] = "classic" if "classic" in (out.get("histograms"), live["histograms"]) else "native"
        if live.get("native_refused") and "native_refused" not in out:
            out["native_refused"] = str(live["native_refused"])
    return out


def live_metrics_line(figures: Mapping[str, Any] | None) -> str | None:
    """The summary's line about them (None when off)."""
    if not figures:
        return None
    line = (f"live metrics: {figures['pushed']} of {figures['samples']} samples reached {figures['url']}, "
            f"{figures['lost']} lost")
    if figures["lost"]:
        line += f" (cores {', '.join(figures['cores_losing'])}; {figures.get('error', 'see the core logs')})"
    if figures.get("histograms"):
        line += f"; {figures['histograms']} histograms"
        if figures.get("native_refused"):
            line += f" (the endpoint refused native ones: {figures['native_refused']})"
    return line
