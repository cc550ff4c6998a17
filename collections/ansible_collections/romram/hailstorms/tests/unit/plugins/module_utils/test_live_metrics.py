"""The summary's account of the live metrics (the endpoints' checks: test_urls.py)."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils.live_metrics import (
    live_metrics_figures, live_metrics_line)


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
