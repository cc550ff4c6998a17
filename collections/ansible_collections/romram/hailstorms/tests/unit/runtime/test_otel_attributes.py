"""The run's labels as OpenTelemetry resource attributes (runtime/hailstorm_runtime/otel.py; pure part)."""
from __future__ import annotations

from hailstorm_runtime import otel


def test_the_run_labels_follow_the_users_own_attributes_percent_encoded():
    data = {"run_id": "2026-12-06 smoke", "host": "load1"}
    assert (otel.resource_attributes(data, 2, {})
            == "hailstorm.run_id=2026-12-06%20smoke,hailstorm.host=load1,hailstorm.core=2")
    given = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging,"}
    assert otel.resource_attributes(data, 0, given).startswith("deployment.environment=staging,hailstorm.run_id=")


def test_setup_does_nothing_without_otel():
    class Options:
        otel = False
    environ = {}
    assert otel.setup(Options(), {"run_id": "r"}, 0, environ) is False and environ == {}
