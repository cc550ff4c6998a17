"""The Prometheus endpoints' checks and the summary's account of the live metrics."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils.live_metrics import (
    endpoint_url, live_metrics_figures, live_metrics_line)
from ansible_collections.romram.hailstorms.plugins.module_utils.planner import PlanError

NAME = "hailstorm_prometheus_remote_write"


def test_an_empty_url_is_off_and_a_plain_one_is_kept():
    assert endpoint_url("", NAME) == "" and endpoint_url(None, NAME) == ""
    assert endpoint_url(" https://prom.example:9090/api/v1/write ", NAME) == "https://prom.example:9090/api/v1/write"


@pytest.mark.parametrize("value, words", [
    ("prom:9090/api/v1/write", "not an http(s) URL"),
    ("ftp://prom/api", "not an http(s) URL"),
    ("http:///api/v1/write", "not an http(s) URL"),
    ("http://prom:99999/api", "port"),
    ("http://prom/api v1", "space"),
])
def test_a_bad_url_is_refused_with_the_variable_and_a_url_that_works(value, words):
    with pytest.raises(PlanError) as error:
        endpoint_url(value, NAME)
    assert NAME in str(error.value) and words in str(error.value)


def test_a_url_with_credentials_is_refused_without_showing_them():
    with pytest.raises(PlanError) as error:
        endpoint_url("https://user:s3cret@prom.example/api/v1/write", NAME)
    message = str(error.value)
    assert "s3cret" not in message and "user" not in message.split("carries", maxsplit=1)[0]
    assert "HAILSTORM_PROMETHEUS_BEARER_TOKEN" in message and "hailstorm_environment" in message


def test_the_summary_adds_up_every_core_and_names_those_that_lost_samples():
    cores = [{"host": "a", "core": 0, "live_metrics": {"url": "http://p/w", "samples": 100, "pushed": 100, "lost": 0,
                                                       "failed_pushes": 0}},
             {"host": "b", "core": 1, "live_metrics": {"url": "http://p/w", "samples": 90, "pushed": 70, "lost": 20,
                                                       "failed_pushes": 2, "error": "ConnectionRefusedError"}}]
    figures = live_metrics_figures(cores)
    assert (figures["samples"], figures["pushed"], figures["lost"]) == (190, 170, 20)
    assert figures["cores_losing"] == ["b/1"]
    assert live_metrics_line(figures) == ("live metrics: 170 of 190 samples reached http://p/w, 20 lost "
                                          "(cores b/1; ConnectionRefusedError)")
    assert live_metrics_figures([{"host": "a", "core": 0, "live_metrics": None}]) is None
    assert live_metrics_line(None) is None
