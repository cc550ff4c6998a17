"""--otel (Locust's OpenTelemetry) in a real run: the runtime's load processes (two cores, HttpUser)
export a span per request over OTLP/HTTP to a receiver on loopback, send `traceparent` with each
request, and carry the run's labels as resource attributes.

The receiver is this test's own minimal OTLP/HTTP endpoint (POST /v1/traces), which decodes each
export with OpenTelemetry's protobuf definitions (opentelemetry-proto; no Collector is on PyPI or in
Debian). The packages are the tagged hailstorm_pip_packages lines of requirements.txt. Nothing is
timed (parallel tier); ports are bound to 0."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge

import harness

try:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
except ImportError:  # pragma: no cover - says what to install instead of an import error
    trace_service_pb2 = None

LOCUSTFILE = '''
from locust import HttpUser, task


class Web(HttpUser):
    @task
    def page(self):
        self.client.get("/page")
'''


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 - no stderr lines per request
        pass


@contextmanager
def serving(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def otlp_receiver(spans: list, lock: threading.Lock):
    class Receiver(_Quiet):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_response(404)
                self.end_headers()
                return
            export = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            with lock:
                for resource_spans in export.resource_spans:
                    resource = {kv.key: kv.value.string_value or kv.value.int_value
                                for kv in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            spans.append({"resource": resource, "scope": scope_spans.scope.name, "name": span.name,
                                          "kind": span.kind, "trace_id": span.trace_id.hex(),
                                          "span_id": span.span_id.hex()})
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
    return Receiver


def target_recording(traceparents: list, lock: threading.Lock):
    class Target(_Quiet):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            with lock:
                traceparents.append(self.headers.get("traceparent"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
    return Target


def test_otel_exports_one_span_per_request_with_traceparent_and_the_run_labels(tmp_path: Path):
    if trace_service_pb2 is None:
        pytest.fail("OpenTelemetry is not installed in this environment: pip install -r requirements.txt "
                    "(its lines tagged hailstorm_pip_packages)")
    spans: list = []
    traceparents: list = []
    lock = threading.Lock()
    settings = {"clients": 10, "rps": 10, "pace": 1.0, "rampup": 1.0, "constant": 3.0, "rampdown": 1.0}
    with serving(otlp_receiver(spans, lock)) as (_receiver, otlp), \
            serving(target_recording(traceparents, lock)) as (_target, target):
        environment = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_METRICS_EXPORTER": "none",
                       "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "hailstorms-test",
                       "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test"}
        _plan, data, work, _t0, procs = harness.start_cores(tmp_path, target, settings, LOCUSTFILE, cores=2,
                                                            locust_args=["--otel"], environment=environment,
                                                            deadline_grace=5)
        codes = [proc.wait(timeout=120) for proc in procs]
        # each process flushed its spans before it ended: nothing more is on its way
    assert codes == [0, 0], (codes, [p.read_text()[-2000:] for p in work.glob("*.log")])
    merged = merge([str(path) for path in sorted(work.glob("core-*.jsonl"))])
    recorded = sum(cell["requests"] for per_label in merged["seconds"].values() for cell in per_label.values())
    assert recorded == len(traceparents) > 0, (recorded, len(traceparents))

    request_spans = [span for span in spans if span["scope"] == "opentelemetry.instrumentation.requests"]
    assert len(request_spans) == recorded, (len(request_spans), recorded, {span["scope"] for span in spans})
    assert all(span["name"] == "GET /page" and span["kind"] == 3 for span in request_spans)  # 3: SPAN_KIND_CLIENT
    # the traceparent each request carried is its span's: version 00, trace id, span id, flags with
    # the sampled bit (01; 03 with W3C level 2's random trace id bit)
    sent = [str(value).split("-") for value in traceparents]
    assert all(len(parts) == 4 and parts[0] == "00" and int(parts[3], 16) & 1 for parts in sent), traceparents[:3]
    assert sorted((parts[1], parts[2]) for parts in sent) == sorted((span["trace_id"], span["span_id"])
                                                                    for span in request_spans)
    # the run's labels, one process per core, after the user's own attributes
    resources = {(span["resource"]["hailstorm.run_id"], span["resource"]["hailstorm.host"],
                  span["resource"]["hailstorm.core"]) for span in request_spans}
    assert resources == {(data["run_id"], data["host"], "0"), (data["run_id"], data["host"], "1")}
    assert {span["resource"]["service.name"] for span in request_spans} == {"hailstorms-test"}
    assert {span["resource"]["deployment.environment"] for span in request_spans} == {"test"}


def test_otel_without_its_packages_is_refused_before_any_host_and_accepted_with_them(tmp_path: Path):
    def plan(*extra):
        return harness.ansible_playbook("plan.yml", "seed-example", "-e", f"hailstorm_results_dir={tmp_path}/results",
                                        "-e", '{"hailstorm_locust_args": ["--otel"]}', *extra)
    refused = plan()
    text = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode != 0 and "UNREACHABLE" not in refused.stdout
    assert ("hailstorm_locust_args: --otel (Locust's OpenTelemetry: a span per request, traceparent sent to the "
            "target) needs opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http, "
            "opentelemetry-instrumentation-requests on the load hosts") in text
    # the fix works: with the packages listed, the plan goes on
    packages = json.dumps({"hailstorm_pip_packages": [
        "opentelemetry-sdk==1.45.2", "opentelemetry-exporter-otlp-proto-http==1.45.2",
        "opentelemetry-instrumentation-requests==0.66b2"]})
    accepted = plan("-e", packages)
    assert accepted.returncode == 0, accepted.stdout[-2000:]
