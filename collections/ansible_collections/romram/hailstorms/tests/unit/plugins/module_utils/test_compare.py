"""compare.py: exact deltas from the merged histograms, the significance hint, relative thresholds;
baseline.py: which run is the baseline and every refusal naming hailstorm_baseline."""
from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import (
    baseline, compare, summary as summary_module, thresholds)
from ansible_collections.romram.hailstorms.plugins.module_utils.records import Histogram, empty_cell, merge_cell

PLAN = {"rps": 10.0, "rampup": 2.0, "constant": 20.0, "rampdown": 2.0, "model": "closed", "clients": 10,
        "target": "http://127.0.0.1:1", "profile": "default"}


def merged_of(latencies: dict[int, dict[str, list[float]]], failures: int = 0) -> dict:
    """A merged run: per second, per label, the latencies (ms) recorded; `failures` of the first label."""
    seconds = {}
    for sec, per_label in latencies.items():
        seconds[sec] = {}
        for label, values in per_label.items():
            cell = empty_cell()
            hist = Histogram()
            for ms in values:
                hist.record_ms(ms)
                cell["time_us"] += int(ms * 1000)
            cell["requests"] = len(values)
            cell["hist"] = hist.counts
            sched = Histogram()
            for ms in values:
                sched.record_ms(ms * 1.5)
            cell["sched_hist"], cell["sched_time_us"] = sched.counts, int(sum(values) * 1500)
            seconds[sec][label] = cell
    if failures:
        first = seconds[5]  # inside the constant phase (2-22 s)
        label = sorted(first)[0]
        first[label]["failures"] = min(failures, first[label]["requests"])
    return {"seconds": seconds}


def run_latencies(seed: int, scale: float = 1.0, labels=("GET /a", "GET /b")) -> dict[int, dict[str, list[float]]]:
    rng = random.Random(seed)
    return {sec: {label: [scale * rng.uniform(5, 50) for _request in range(10)] for label in labels} for sec in range(24)}


def summary_of(merged: dict, plan: dict | None = None, phase="constant") -> dict:
    plan = PLAN if plan is None else plan
    summary = {"state": "completed", "versions": {"locust": "2.47.0"},
               "clock": {"start": "2026-12-06T12:00:00+00:00", "start_epoch": 1.0}}
    summary[compare.BLOCK] = json.loads(json.dumps(compare.histogram_block(merged, plan, phase)))  # as stored
    return summary


def test_a_run_against_itself_changes_nothing():
    summary = summary_of(merged_of(run_latencies(1)))
    out = compare.compare(summary, summary, PLAN, PLAN, "a", "a")
    for scope in [out["overall"], *out["labels"].values(), *out["names"].values()]:
        for metric, row in scope.items():
            assert row["change"] == 0, metric
            assert row["change_pct"] in (0, None), metric
            assert row["direction"] == "same", metric
    assert out["differences"] == []
    assert out["noise"]["all"]["hint"] == "within noise"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(1.0, 3.0))
def test_p95_change_is_exactly_that_of_the_merged_histograms(seed, scale):
    base_merged, now_merged = merged_of(run_latencies(seed)), merged_of(run_latencies(seed + 1, scale))
    out = compare.compare(summary_of(now_merged), summary_of(base_merged), PLAN, PLAN, "now", "base")
    window = summary_module.constant_window(PLAN)

    def p95(merged):
        cell = empty_cell()
        for sec, per_label in merged["seconds"].items():
            if window[0] <= sec < window[1]:
                for c in per_label.values():
                    merge_cell(cell, c)
        return Histogram(cell["hist"]).percentile(95.0)

    row = out["overall"]["p95_ms"]
    assert row["baseline"] == p95(base_merged) and row["now"] == p95(now_merged)
    assert row["change"] == p95(now_merged) - p95(base_merged)
    assert math.isclose(row["change_pct"], 100.0 * row["change"] / row["baseline"])
    assert out["overall"]["requests"]["now"] == 20 * 20  # 20 constant seconds, two labels of 10
    assert out["overall"]["rps"]["now"] == 20.0


def test_a_slower_run_is_worse_and_significant_a_noisy_one_is_not():
    base = summary_of(merged_of(run_latencies(2)))
    slower = summary_of(merged_of(run_latencies(3, 2.0)))
    out = compare.compare(slower, base, PLAN, PLAN, "now", "base")
    assert out["overall"]["p95_ms"]["direction"] == "worse"
    assert out["noise"]["all"]["hint"] == "significant"
    same = compare.compare(summary_of(merged_of(run_latencies(4))), base, PLAN, PLAN, "now", "base")
    assert same["noise"]["all"]["hint"] == "within noise", same["noise"]["all"]
    assert "p95 change within noise" in " ".join(compare.comparison_lines(same))


def test_failure_rate_change_in_percentage_points():
    base = summary_of(merged_of(run_latencies(5)))
    now = summary_of(merged_of(run_latencies(5), failures=4))
    row = compare.compare(now, base, PLAN, PLAN)["overall"]["failure_rate"]
    assert row["baseline"] == 0 and row["now"] == 0.01 and math.isclose(row["change_pp"], 1.0)
    assert row["direction"] == "worse"


def test_differences_of_plans_and_labels_are_said():
    base = summary_of(merged_of(run_latencies(6, labels=("GET /a", "GET /old"))))
    now = summary_of(merged_of(run_latencies(6, labels=("GET /a", "GET /new"))))
    out = compare.compare(now, base, {**PLAN, "rps": 20.0}, PLAN)
    assert "rps: 10.0 in the baseline, 20.0 now" in out["differences"]
    assert "labels only now: GET /new" in out["differences"]
    assert "labels only in the baseline: GET /old" in out["differences"]
    assert list(out["labels"]) == ["GET /a"]


def test_stages_compared_by_name():
    plan = {"model": "closed", "stages": [{"name": "warm", "start": 0, "duration": 10, "rps": 5, "from_rps": 5},
                                          {"name": "hold", "start": 10, "duration": 14, "rps": 10, "from_rps": 10}]}
    merged = merged_of(run_latencies(7))
    out = compare.compare(summary_of(merged, plan), summary_of(merged, plan), plan, plan)
    assert set(out["stages"]) == {"warm", "hold"}
    assert out["stages"]["hold"]["requests"]["now"] == 14 * 20
    assert out["stages"]["hold"]["p95_ms"]["change"] == 0


def test_a_summary_without_histograms_is_refused_with_a_fix():
    with pytest.raises(compare.CompareError, match="report.yml"):
        compare.compare({"state": "completed"}, summary_of(merged_of(run_latencies(1))))


# --- relative thresholds -----------------------------------------------------------------------

def test_relative_thresholds_are_checked():
    checked = thresholds.check({"p95_ms": {"max_increase": "10%"}, "failure_rate": {"max_increase": "0.5%"},
                                "rps": {"max_decrease": 0.02}, "p99_ms": {"limit": 800, "max_increase": "20%"},
                                "labels": {"/a": {"p95_ms": {"max_increase": "5%"}}}})
    assert checked["limits"] == {"p99_ms": 800.0}
    assert checked["relative"] == [
        {"threshold": "p95_ms", "label": "/a", "bound": "max_increase", "value": 0.05, "unit": "%"},
        {"threshold": "p95_ms", "label": "all", "bound": "max_increase", "value": 0.1, "unit": "%"},
        {"threshold": "failure_rate", "label": "all", "bound": "max_increase", "value": 0.005, "unit": "pp"},
        {"threshold": "rps", "label": "all", "bound": "max_decrease", "value": 0.02, "unit": "%"},
        {"threshold": "p99_ms", "label": "all", "bound": "max_increase", "value": 0.2, "unit": "%"}]


@pytest.mark.parametrize("given,message", [
    ({"p95_ms": {"max_decrease": "10%"}}, "hailstorm_thresholds.p95_ms.max_decrease: p95_ms takes max_increase"),
    ({"p95_ms": {"max_increase": "ten"}}, "cannot read 'ten' as a percentage; give a fraction or a percentage"),
    ({"p95_ms": {"max_increase": "-1%"}}, "out of range"),
    ({"overruns": {"max_increase": "1%"}}, "overruns takes no relative limit"),
    ({"p95_ms": {"max_increase": "10%", "abort": True}}, "is judged at the end only"),
])
def test_bad_relative_thresholds_are_refused(given, message):
    with pytest.raises(thresholds.ThresholdError, match=message.replace("(", r"\(").replace(")", r"\)")):
        thresholds.check(given)


def test_relative_verdicts_name_both_runs_and_the_figures():
    base = summary_of(merged_of(run_latencies(8)))
    slower = summary_of(merged_of(run_latencies(8, 1.5)))
    checked = thresholds.check({"p95_ms": {"max_increase": "10%"}, "rps": {"max_decrease": "2%"},
                                "labels": {"/a": {"p95_ms": {"max_increase": "60%"}}}})
    comparison = compare.compare(slower, base, PLAN, PLAN, "run-2", "run-1")
    verdicts = compare.evaluate_relative(checked, comparison)
    by = {(v["threshold"], v["label"]): v for v in verdicts}
    p95 = by[("p95_ms", "all")]
    assert not p95["passed"] and "baseline run-1" in p95["message"] and "run run-2" in p95["message"]
    assert p95["message"].endswith("BROKEN") and math.isclose(p95["measured"], 0.5, abs_tol=0.01)
    assert by[("rps", "all")]["passed"]
    assert by[("p95_ms", "/a")]["passed"]  # by the name without its method
    itself = compare.evaluate_relative(checked, compare.compare(base, base, PLAN, PLAN, "run-1", "run-1"))
    assert all(v["passed"] and v["measured"] == 0 for v in itself)
    assert not any(v["passed"] for v in compare.evaluate_relative(checked, None))


# --- which run is the baseline ---------------------------------------------------------------------

def write_run(root, run_id, state="completed", start=1.0, tag=None, profile="default", block=True):
    path = root / run_id
    path.mkdir()
    summary = summary_of(merged_of(run_latencies(1))) if block else {}
    summary.update(state=state, clock={"start_epoch": start})
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "plan.json").write_text(json.dumps({**PLAN, "run_id": run_id, "profile": profile, "tag": tag}))
    return path


def test_baseline_by_id_path_last_and_tag(tmp_path):
    write_run(tmp_path, "r1", start=1, tag="release-41")
    write_run(tmp_path, "r2", start=2, tag="release-42")
    write_run(tmp_path, "r3", start=3, state="failed")
    write_run(tmp_path, "r4", start=4, profile="other")
    root = str(tmp_path)
    assert baseline.resolve(None, root) is None
    assert baseline.resolve("r1", root)["path"] == str(tmp_path / "r1")
    assert baseline.resolve(str(tmp_path / "r2"), root)["run_id"] == "r2"
    assert baseline.resolve("last", root, "r5", "default", PLAN["target"])["run_id"] == "r2"
    assert baseline.resolve("release-41", root, "r5")["run_id"] == "r1"
    summary, plan = baseline.load(baseline.resolve("r1", root), "r1")
    assert plan["tag"] == "release-41" and compare.BLOCK in summary


def test_baseline_refusals_name_the_variable_the_value_and_a_fix(tmp_path):
    write_run(tmp_path, "r1")
    write_run(tmp_path, "bad", state="failed")
    write_run(tmp_path, "old", block=False)
    root = str(tmp_path)
    with pytest.raises(compare.CompareError,
                       match=r"hailstorm_baseline: 'nope' is no run id .* runs there: bad, old, r1"):
        baseline.resolve("nope", root)
    with pytest.raises(compare.CompareError, match=r"hailstorm_baseline: 'r1' is this run itself"):
        baseline.resolve("r1", root, "r1")
    with pytest.raises(compare.CompareError, match=r"'last' found no completed run of profile 'x'"):
        baseline.resolve("last", root, None, "x")
    with pytest.raises(compare.CompareError, match=r"'bad' \(run bad\) did not complete \(state 'failed'\)"):
        baseline.load(baseline.resolve("bad", root), "bad")
    with pytest.raises(compare.CompareError, match=r"no merged histograms .*/report.yml -e hailstorm_run_id=old"):
        baseline.load(baseline.resolve("old", root), "old")
    with pytest.raises(compare.CompareError, match="no results directory"):
        baseline.resolve(str(tmp_path / "missing"), root)


@pytest.mark.parametrize("tag", ["", None, "release-41", "v1.2_3"])
def test_good_tags(tag):
    assert baseline.checked_tag(tag) == (tag or None)


@pytest.mark.parametrize("tag", ["last", "-x", "a b", 41, "x" * 65, "../x"])
def test_bad_tags_are_refused(tag):
    with pytest.raises(compare.CompareError, match="hailstorm_tag: .* e.g. hailstorm_tag: release-41"):
        baseline.checked_tag(tag)


def test_the_report_opens_with_the_verdict_and_the_comparison_and_draws_the_baseline_faint():
    from ansible_collections.romram.hailstorms.plugins.module_utils import report
    base_merged, now_merged = merged_of(run_latencies(9)), merged_of(run_latencies(10, 2.0))
    base, now = summary_of(base_merged), summary_of(now_merged)
    now["comparison"] = compare.compare(now, base, PLAN, PLAN, "run-2", "<run-1>")
    now.update(exit_code=10, thresholds={"verdicts": [{"passed": False}, {"passed": True}]}, clock=None)
    page = report.render(now_merged, now, {**PLAN, "run_id": "run-2"})
    main = page.split("<main>", 1)[1]
    assert main.startswith('<div class="verdict fail" id="verdict">FAIL: exit code 10 - run completed, 1 of 2 '
                           "thresholds broken</div>")
    assert main.index('id="comparison"') < main.index("<h2>Charts</h2>")
    assert 'id="baseline">baseline &lt;run-1&gt;' in page and "<run-1>" not in page  # escaped
    assert '<td class="worse">&#9650; +' in page  # p95 got worse: marked
    # the faint lines' legends on the rate and latency charts
    assert "baseline &lt;run-1&gt;</span>" in page and "baseline &lt;run-1&gt; p95</span>" in page
    passed = report.verdict_line({"exit_code": 0, "state": "completed"})
    assert passed == "PASS: exit code 0 - run completed, no thresholds"


def test_the_baseline_from_schedule_is_drawn_faint_beside_this_run_s():
    from ansible_collections.romram.hailstorms.plugins.module_utils import report

    def scheduled(merged, late_ms):  # every request `late_ms` later from its slot than its service time
        for per_label in merged["seconds"].values():
            for cell in per_label.values():
                hist = Histogram()
                for bucket, n in cell["hist"].items():
                    for _request in range(n):
                        hist.record_ms(Histogram({bucket: 1}).percentile(50.0) + late_ms)
                cell["sched_hist"] = hist.counts
                cell["sched_time_us"] = cell["time_us"] + int(late_ms * 1000) * cell["requests"]
        return merged
    base_merged = scheduled(merged_of(run_latencies(9)), 100.0)
    now_merged = scheduled(merged_of(run_latencies(10)), 10.0)
    lines = compare.per_second(base_merged)["p99_from_schedule_ms"]
    assert len(lines) == 24 and min(value for _sec, value in lines) > 100.0  # each second's p99 from schedule
    base, now = summary_of(base_merged), summary_of(now_merged)
    now["comparison"] = compare.compare(now, base, PLAN, PLAN, "run-2", "run-1")
    now.update(exit_code=0, thresholds={"verdicts": []}, clock=None)
    page = report.render(now_merged, now, {**PLAN, "run_id": "run-2"})
    assert "baseline run-1 p99 from schedule</span>" in page and "p99 from schedule</span>" in page
