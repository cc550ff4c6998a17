"""The summary's account of the live metrics (the endpoints' checks: test_urls.py)."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import live_metrics as lm
from ansible_collections.romram.hailstorms.plugins.module_utils.live_metrics import (
    live_metrics_figures, live_metrics_line)
from ansible_collections.romram.hailstorms.plugins.module_utils.planner import PlanError
from ansible_collections.romram.hailstorms.plugins.module_utils.thresholds import check


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


def test_buckets_are_native_by_default_and_classic_bounds_hold_every_latency_threshold():
    checked = check({"p95_ms": 300, "failure_rate": 0.01, "labels": {"GET /x": {"p99_ms": 1200}}})
    native = lm.checked_buckets(None, checked)
    assert native["histograms"] == "native" and {0.3, 1.2} <= set(native["buckets"])
    assert set(lm.DEFAULT_BUCKETS) <= set(native["buckets"]) and native["buckets"] == sorted(native["buckets"])
    assert lm.checked_buckets("classic", checked)["histograms"] == "classic"
    expected = {"histograms": "classic", "buckets": [0.05, 0.25, 0.3, 1.0, 1.2]}
    assert lm.checked_buckets([1, "0.05", 0.25], checked) == expected


@pytest.mark.parametrize("value", ["nativ", [0.1, -1], [], ["fast"], [True], list(range(1, 50)), 3])
def test_bad_buckets_are_refused_with_the_setting_the_value_and_a_fix_that_works(value):
    with pytest.raises(PlanError) as refused:
        lm.checked_buckets(value)
    message = str(refused.value)
    assert message.startswith("hailstorm_prometheus_buckets: ") and "[0.05, 0.1, 0.25, 0.5, 1]" in message
    assert lm.checked_buckets([0.05, 0.1, 0.25, 0.5, 1])["buckets"] == [0.05, 0.1, 0.25, 0.5, 1.0]


@pytest.mark.parametrize("value, named", [
    ({"X Scope": "t"}, "'X Scope'"), ({"Content-Type": "x"}, "Content-Type"), ({"X-Key": "s3cret\nline"}, "X-Key"),
    ({"X-Key": ["s3cret"]}, "X-Key"), ("X-Scope-OrgID: s3cret", "a str")])
def test_bad_headers_are_refused_naming_the_header_never_its_value(value, named):
    with pytest.raises(PlanError) as refused:
        lm.checked_headers(value)
    message = str(refused.value)
    assert message.startswith("hailstorm_prometheus_headers: ") and named in message and "s3cret" not in message
    assert lm.checked_headers({"X-Scope-OrgID": "tenant-1"}) == ["X-Scope-OrgID"]


def test_the_queries_send_the_headers_and_their_own_credentials_else_the_remote_write_s():
    env = {lm.ENV_TOKEN: "write", "OTHER": "x"}
    assert lm.query_headers(env, {"X-Scope-OrgID": "t1"}) == {"X-Scope-OrgID": "t1", "Authorization": "Bearer write"}
    env[lm.ENV_QUERY_USER], env[lm.ENV_QUERY_PASSWORD] = "u", "p:w"
    assert lm.query_headers(env, None) == {"Authorization": "Basic dTpwOnc="}
    assert lm.query_headers({}, {}) == {}
    written = lm.environment_headers({"A": "1"}, {"X-Scope-OrgID": "t1"})
    assert written == {"A": "1", lm.ENV_HEADERS: '{"X-Scope-OrgID": "t1"}'}
    assert lm.environment_headers({"A": "1"}, {}) == {"A": "1"}


def test_the_grafana_link_picks_the_run_and_its_time_range():
    clock = {"start_epoch": 1_795_000_000.0, "end_epoch": 1_795_000_020.5}
    link = lm.grafana_link("https://grafana.example:3000/", "r 1", clock)
    assert link == ("https://grafana.example:3000/d/romram-hailstorms/hailstorms?orgId=1&var-run_id=r+1"
                    "&from=1794999970000&to=1795000050500")
    assert lm.grafana_link("", "r", clock) is None
