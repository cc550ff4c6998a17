# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`--otel` in hailstorm_locust_args: Locust's OpenTelemetry (runtime/hailstorm_runtime/otel.py) needs
packages the pinned runtime does not install; they are the user's hailstorm_pip_packages. Pure Python."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

# What `--otel` needs on a load host, by role: (the package names that give it, the one to suggest).
NEEDED = (
    (("opentelemetry-sdk",), "opentelemetry-sdk"),
    (("opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-grpc",
      "opentelemetry-exporter-otlp"), "opentelemetry-exporter-otlp-proto-http"),
    # HttpUser's requests: the span per request, and the traceparent header it sends
    (("opentelemetry-instrumentation-requests",), "opentelemetry-instrumentation-requests"),
)


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", str(requirement))
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def refusal(locust_options: Mapping[str, Any] | None, pip_packages: Sequence[str]) -> str | None:
    """A message when hailstorm_locust_args asks for --otel and hailstorm_pip_packages lacks a package
    it needs (NEEDED), else None."""
    if not (locust_options or {}).get("otel"):
        return None
    names = {_name(package) for package in pip_packages}
    missing = [suggested for given, suggested in NEEDED if not names & set(given)]
    if not missing:
        return None
    return ("hailstorm_locust_args: --otel (Locust's OpenTelemetry: a span per request, traceparent sent to the "
            f"target) needs {', '.join(missing)} on the load hosts, and hailstorm_pip_packages does not list "
            f"{'it' if len(missing) == 1 else 'them'}. Fix: add {', '.join(missing)} to hailstorm_pip_packages "
            "(pinned, e.g. the versions in requirements.txt of this project; with hailstorm_wheelhouse, their wheels "
            "too), or remove --otel")
