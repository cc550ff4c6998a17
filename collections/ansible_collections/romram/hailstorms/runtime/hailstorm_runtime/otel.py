"""OpenTelemetry as Locust offers it (`--otel` in hailstorm_locust_args): Locust's own set-up
(locust.opentelemetry: a span per request of HttpUser's requests session, with `traceparent` sent
to the target, exported over OTLP), with the run's labels as resource attributes of every span.

The endpoint and the rest are OpenTelemetry's standard variables, given in hailstorm_environment
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, ...). The packages
are the user's (hailstorm_pip_packages): opentelemetry-sdk, an OTLP exporter and
opentelemetry-instrumentation-requests; without the gRPC exporter the protocol defaults to
http/protobuf (Locust's default is grpc). Each process flushes its spans before it ends.
"""
from __future__ import annotations

import logging
import os
from importlib.util import find_spec
from typing import Any, Mapping
from urllib.parse import quote

logger = logging.getLogger(__name__)
FLUSH_MILLIS = 10000  # the longest a process waits at its end for its last spans to be exported


def resource_attributes(data: Mapping[str, Any], core: int, environ: Mapping[str, str]) -> str:
    """OTEL_RESOURCE_ATTRIBUTES with the run's labels added (hailstorm.run_id, hailstorm.host,
    hailstorm.core; percent-encoded as the specification asks), after the user's own."""
    labels = {"hailstorm.run_id": data.get("run_id"), "hailstorm.host": data.get("host"), "hailstorm.core": core}
    ours = ",".join(f"{key}={quote(str(value), safe='')}" for key, value in labels.items() if value is not None)
    given = str(environ.get("OTEL_RESOURCE_ATTRIBUTES") or "").strip().strip(",")
    return f"{given},{ours}" if given else ours


def setup(options: Any, data: Mapping[str, Any], core: int, environ: Any = None) -> bool:
    """Locust's OpenTelemetry set-up when the run's Locust options ask for it (--otel); True when on.
    Raises RuntimeError when it was asked for and cannot be (the SDK is not installed)."""
    if not getattr(options, "otel", False):
        return False
    environ = os.environ if environ is None else environ
    environ["OTEL_RESOURCE_ATTRIBUTES"] = resource_attributes(data, core, environ)
    if "OTEL_EXPORTER_OTLP_PROTOCOL" not in environ and "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" not in environ:
        try:
            grpc = find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None
        except ImportError:  # opentelemetry.exporter.otlp.proto itself is not there
            grpc = False
        if not grpc:
            environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    from locust.opentelemetry import setup_opentelemetry

    if not setup_opentelemetry(str(data.get("locustfile")), getattr(options, "profile", None)):
        raise RuntimeError("--otel (hailstorm_locust_args): OpenTelemetry could not be set up on this load host (see "
                           "Locust's message above); add opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http and "
                           "opentelemetry-instrumentation-requests to hailstorm_pip_packages, or remove --otel")
    logger.info("OpenTelemetry on: spans to %s (%s)", environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "the exporter's default endpoint",
                environ.get("OTEL_RESOURCE_ATTRIBUTES"))
    return True


def flush() -> None:
    """Export what is left (spans, metrics, logs) before the process ends; a no-op without the SDK."""
    try:
        from opentelemetry import _logs, metrics, trace
    except ImportError:
        return
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()):
        shutdown = getattr(provider, "shutdown", None)
        if shutdown is None:
            continue
        try:
            force_flush = getattr(provider, "force_flush", None)
            if force_flush is not None:
                force_flush(FLUSH_MILLIS)
            shutdown()
        except Exception as error:  # noqa: BLE001 - an exporter's failure must not fail the run's end
            logger.warning("OpenTelemetry: the last export failed: %s", error)
