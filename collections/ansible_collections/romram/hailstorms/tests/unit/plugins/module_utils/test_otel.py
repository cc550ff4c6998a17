"""--otel in hailstorm_locust_args: accepted when hailstorm_pip_packages has what Locust's OpenTelemetry needs."""
from __future__ import annotations

import json

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import locustfile, otel

PACKAGES = ["opentelemetry-sdk==1.45.2", "opentelemetry-exporter-otlp-proto-http==1.45.2",
            "opentelemetry-instrumentation-requests==0.66b2"]


def test_otel_with_its_packages_is_accepted():
    assert otel.refusal({"otel": True}, PACKAGES) is None
    assert otel.refusal({"otel": True}, ["OpenTelemetry_SDK>=1.40", "opentelemetry-exporter-otlp",
                                         "opentelemetry-instrumentation-requests"]) is None
    assert otel.refusal({}, []) is None and otel.refusal({"tags": ["a"]}, []) is None


@pytest.mark.parametrize("packages,missing", [
    ([], "needs opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http, opentelemetry-instrumentation-requests on"),
    (PACKAGES[:2], "needs opentelemetry-instrumentation-requests on the load hosts, and hailstorm_pip_packages does "
                   "not list it. Fix: add opentelemetry-instrumentation-requests to hailstorm_pip_packages"),
    (["opentelemetry-sdk", "locust-plugins==5.0.3"], "needs opentelemetry-exporter-otlp-proto-http, "
                                                     "opentelemetry-instrumentation-requests on"),
])
def test_otel_without_its_packages_is_refused_naming_them(packages, missing):
    message = otel.refusal({"otel": True}, packages)
    assert message.startswith("hailstorm_locust_args: --otel (Locust's OpenTelemetry")
    assert missing in message and message.endswith("or remove --otel")


def _report(options):
    return json.dumps({"user_classes": ["Web"], "locust_options": options, "locust": "2.47.0"})


def test_the_locustfile_check_accepts_otel_and_refuses_it_without_packages():
    ok = locustfile.verdict("lf.py", "python3", "req.txt", 0, _report({"otel": True}), "", ["--otel"],
                            pip_packages=PACKAGES)
    assert ok["failed"] is False
    refused = locustfile.verdict("lf.py", "python3", "req.txt", 0, _report({"otel": True}), "", ["--otel"],
                                 pip_packages=[])
    assert refused["failed"] is True and "--otel" in refused["msg"] and "hailstorm_pip_packages" in refused["msg"]
    # still refused with the options the plan replaces
    refused = locustfile.verdict("lf.py", "python3", "req.txt", 0, _report({"otel": True, "num_users": 5}), "",
                                 ["--otel", "-u", "5"], pip_packages=PACKAGES)
    assert refused["failed"] is True and "-u/--users" in refused["msg"]
