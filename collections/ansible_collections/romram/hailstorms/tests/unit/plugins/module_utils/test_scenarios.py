"""Unit tests of hailstorm_scenarios: settings (scenarios.py), the plan per scenario (planner.py) and its preview."""
from __future__ import annotations

import math
from collections import Counter

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import (plan_preview, plan_queries, planner,
                                                                        run_settings, scenarios)
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

TARGET = "http://127.0.0.1:3456"
RAMP = {"user_classes": ["Browser"], "rps": 40, "rampup": 10, "constant": 20, "rampdown": 0}
STEP = {"user_classes": ["Buyer"], "stages": [{"duration": 0, "rps": 10}, {"duration": 15, "rps": 10},
                                              {"duration": 0, "rps": 30}, {"duration": 15, "rps": 30}]}


def resolve(given, **run):
    return run_settings.resolve_settings({"default": {"target": TARGET, "locustfile": "x.py", **run,
                                                      "scenarios": given}})


def refusal(given, **run):
    with pytest.raises(PlanError) as error:
        resolve(given, **run)
    return str(error.value)


def test_without_scenarios_the_settings_have_none():
    settings, _warnings = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 10, "rampup": 5}})
    assert "scenarios" not in settings


def test_each_scenario_is_resolved_as_a_run_and_the_run_is_their_sum():
    settings, warnings = run_settings.resolve_settings(
        {"default": {"target": TARGET, "rps": 5, "rampup": 3, "pace": 2}}, "default",
        {"scenarios": {"ramp": RAMP, "step": {**STEP, "start": "2s"}}})
    ramp, step = settings["scenarios"]["ramp"], settings["scenarios"]["step"]
    assert (ramp["clients"], ramp["pace"], ramp["rampup"], ramp["user_classes"]) == (80, 2.0, 10.0, ["Browser"])
    assert (step["clients"], step["start"], step["user_classes"]) == (60, 2.0, ["Buyer"])
    assert settings["clients"] == 140 and settings["rps"] == 70  # 40 + 30 from 17 s
    assert sum(stage["duration"] for stage in settings["stages"]) == 32
    assert warnings == ["hailstorm_scenarios (the overrides) replace hailstorm_rps=5 (profile default), "
                        "hailstorm_rampup=3 (profile default): each scenario follows its own curve"]


def test_scenarios_layer_as_stages_do():
    profiles = {"default": {"target": TARGET, "scenarios": {"ramp": RAMP}}, "flat": {"rps": 10, "rampup": 2}}
    settings, warnings = run_settings.resolve_settings(profiles, "default+flat")
    assert "scenarios" not in settings and settings["rps"] == 10
    assert warnings == ["hailstorm_rps, hailstorm_rampup (profile flat) replace hailstorm_scenarios (profile "
                        "default): the run is one curve"]
    again, warnings = run_settings.resolve_settings(profiles, "default+flat", {"scenarios": {"step": STEP}})
    assert list(again["scenarios"]) == ["step"]
    assert warnings[-1].startswith("hailstorm_scenarios (the overrides) replace hailstorm_rps=10 (profile flat), "
                                   "hailstorm_rampup=2 (profile flat)")
    with pytest.raises(PlanError, match="profile default sets both hailstorm_scenarios and hailstorm_rps: with "
                                        "scenarios each scenario has its own curve; remove hailstorm_rps there"):
        run_settings.resolve_settings({"default": {"target": TARGET, "rps": 3, "scenarios": {"ramp": RAMP}}})


@pytest.mark.parametrize("given, words", [
    ({"a": {**RAMP, "weight": 3}}, ["hailstorm_scenarios.a", "unknown key(s) weight"]),
    ({"a": {"user_classes": ["A"]}}, ["hailstorm_scenarios.a", "no curve", "rps: 50"]),
    ({"a": {"rps": 5, "rampup": 1}}, ["hailstorm_scenarios.a", "no user_classes"]),
    ({"a": RAMP, "b": {**STEP, "user_classes": ["Browser"]}},
     ["hailstorm_scenarios.b.user_classes", "Browser", "scenario a"]),
    ({"a": {**RAMP, "rampup": None}}, ["hailstorm_scenarios.a", "hailstorm_rampup: not set"]),
    ({"a": {**RAMP, "start": -1}}, ["hailstorm_scenarios.a.start", "-1"]),
    ({"a": {"user_classes": ["A"], "stages": [{"duration": 5, "rps": 0}]}}, ["hailstorm_scenarios.a", "rate"]),
    ({}, ["hailstorm_scenarios", "expected a mapping"]),
    ({"a": {**RAMP, "model": "open", "max_clients": 0}}, ["hailstorm_scenarios.a", "max_clients"]),
])
def test_bad_scenarios_are_refused_naming_the_setting(given, words):
    text = refusal(given)
    for word in words:
        assert word in text


def test_a_fix_the_refusal_names_works():
    assert "e.g. rps: 100" in refusal({"a": {"user_classes": ["A"], "rps": 3, "rampup": 1, "pace": 0.5}})
    resolve({"a": {"user_classes": ["A"], "rps": 4, "rampup": 1, "pace": 0.5}})


def test_unknown_classes_are_refused_with_the_locustfiles_classes():
    settings, _warnings = resolve({"a": RAMP, "b": STEP})
    scenarios.check_classes(settings, ["Browser", "Buyer", "Other"])
    with pytest.raises(PlanError, match=r"hailstorm_scenarios.b.user_classes: Buyer is not a user class .* Browser"):
        scenarios.check_classes(settings, ["Browser"])


def test_capacity_judges_the_sum_of_the_scenarios():
    settings, _warnings = resolve({"a": {**RAMP, "rps": 6000}, "b": {**RAMP, "user_classes": ["B"], "rps": 6000}})
    run_settings.check_capacity(settings, [("a", 2)])  # 12,000 rps on 2 cores: within 10,000 per core
    with pytest.raises(PlanError, match="hailstorm_scenarios: together they peak at 12000 rps"):
        run_settings.check_capacity(settings, [("a", 1)])
    small, _warnings = resolve({"a": {**RAMP, "rps": 2, "pace": 1}})
    with pytest.raises(PlanError, match=r"hailstorm_scenarios.a: its 2 clients .* clients: 3"):
        run_settings.check_capacity(small, [("a", 3)])


def test_a_shape_and_scenarios_are_refused_together():
    with pytest.raises(PlanError, match="hailstorm_scenarios: the locustfile has the LoadTestShape Wave"):
        run_settings.resolve_shaped_settings({"default": {"target": TARGET, "scenarios": {"a": RAMP}}}, "default",
                                             None, {"name": "Wave", "points": [[0, 0], [10, 10]]})


def test_summed_stages_are_the_sum_of_the_curves():
    curves = [plan_queries.curve_stages({"rps": 40, "rampup": 10, "constant": 20, "rampdown": 0}),
              plan_queries.curve_stages({"stages": STEP["stages"]}, 2.0)]
    summed = plan_queries.summed_stages(curves)
    pieces = [plan_queries._rate_pieces(curve) for curve in curves + [summed]]
    for t in [0.5 * i + 0.25 for i in range(70)]:
        rates = [plan_queries._rate_near(piece, t, True) for piece in pieces]
        assert rates[2] == pytest.approx(rates[0] + rates[1])


def per_second(plan, cores, start=0.0):
    counts = Counter()
    for core in cores:
        for t, _client in plan_queries.core_arrivals(plan, core):
            counts[math.floor(t + start)] += 1
    return counts


def curve_rate(stages, second):
    """The curve's requests in [second, second + 1) (its mean rate there)."""
    pieces = plan_queries._rate_pieces(stages)
    return sum(plan_queries._rate_near(pieces, second + (i + 0.5) / 100, True) for i in range(100)) / 100


@pytest.mark.parametrize("hosts", [[("a", 2)], [("a", 2), ("b", 3)]])
def test_each_scenarios_planned_arrivals_follow_its_own_curve(hosts):
    settings, _warnings = resolve({"ramp": RAMP, "step": {**STEP, "start": 2},
                                   "api": {"user_classes": ["Api"], "model": "open", "rps": 25, "rampup": 1,
                                           "constant": 5, "rampdown": 1, "start": 12}})
    run_settings.check_capacity(settings, hosts)
    plan = planner.make_plan(settings, hosts)
    cores = [core for host in plan["hosts"].values() for core in host["cores"]]
    total = Counter()
    for name, sub in plan["scenarios"].items():
        mine = per_second(sub, [core["scenarios"][name] for core in cores], sub["start"])
        total.update(mine)
        curve = plan_queries.curve_stages(settings["scenarios"][name], sub["start"])
        seconds = range(math.ceil(sub["start"]), math.floor(sub["start"] + sub["duration"]))
        errors = [mine[s] - curve_rate(curve, s) for s in seconds]
        rms = math.sqrt(sum(e * e for e in errors) / len(errors))
        assert rms <= 0.02 * sub["rps"], (name, rms, errors)
        assert sum(mine.values()) == sub["expected_requests"]
    assert sum(total.values()) == plan["expected_requests"] == sum(core["requests"] for core in cores)
    for second in range(int(plan["duration"])):
        assert total[second] == sum(per_second(sub, [core["scenarios"][name] for core in cores], sub["start"])[second]
                                    for name, sub in plan["scenarios"].items())


def test_scenarios_first_clients_land_on_different_cores():
    settings, _warnings = resolve({name: {**RAMP, "user_classes": [name]} for name in "abcd"})
    plan = planner.make_plan(settings, [("h1", 2), ("h2", 2)])
    first = {}
    for host, entry in plan["hosts"].items():
        for core in entry["cores"]:
            for name, part in core["scenarios"].items():
                if part["first_client"] == 0:
                    first[name] = (host, core["index"])
    assert len(set(first.values())) == 4
    assert {host for host, _core in first.values()} == {"h1", "h2"}


def test_the_load_hosts_read_each_scenario_from_their_slice():
    settings, _warnings = resolve({"ramp": RAMP, "step": STEP})
    plan = planner.make_plan(settings, [("h1", 1), ("h2", 1)])
    part = plan_queries.host_slice(plan, "h2")
    assert set(part["plan"]["scenarios"]) == {"ramp", "step"}
    for name, sub in part["plan"]["scenarios"].items():
        assert "hosts" not in sub
        assert plan_queries.core_intervals(sub, part["cores"][0]["scenarios"][name])


def test_the_preview_shows_each_scenario_and_the_total():
    settings, _warnings = resolve({"ramp": RAMP, "step": {**STEP, "start": 2}})
    lines = plan_preview.preview(planner.make_plan(settings, [("h1", 2)]))
    assert lines[0].startswith("2 scenarios on the same cores: 70 clients, peak 70 rps in all")
    assert any(line.split()[:2] == ["ramp", "closed"] and line.endswith("Browser") for line in lines)
    held = [line for line in lines if line.strip().startswith("0:24.0")]
    assert held and held[0].split()[1:4] == ["40.00", "30.00", "70.00"]


SHAPE = {"name": "Phases", "points": [[0, 0], [2, 8], [8, 8], [8.04, 12], [10, 12], [10, 0]],
         "user_classes": ["A", "B"],
         "class_points": {"A": [[0, 0], [2, 8], [4, 8], [4, 6], [8, 6], [8.04, 9], [10, 9], [10, 0]],
                          "B": [[0, 0], [4, 0], [4, 2], [8, 2], [8.04, 3], [10, 3], [10, 0]]}}


def test_a_shape_whose_classes_change_becomes_a_scenario_per_class():
    settings, warnings = run_settings.resolve_shaped_settings(
        {"default": {"target": TARGET, "rps": 5, "rampup": 3, "pace": 2}}, "default", None, SHAPE)
    assert settings["shape"] == "Phases" and "user_classes" not in settings
    a, b = settings["scenarios"]["A"], settings["scenarios"]["B"]
    assert (a["user_classes"], a["clients"], a["rps"], a["pace"]) == (["A"], 9, 4.5, 2.0)
    assert (b["user_classes"], b["clients"], b["rps"]) == (["B"], 3, 1.5)
    assert any(text.startswith("the LoadTestShape Phases replaces hailstorm_rps=5") for text in warnings)
    plan = planner.make_plan(settings, [("h", 2)])
    assert plan["shape"] == "Phases" and plan["rps"] == 6  # 12 users / pace 2
    lines = plan_preview.preview(plan)
    assert "LoadTestShape Phases was sampled on a fake clock; its tick() changes the user classes" in lines[1]
    cores = [core for host in plan["hosts"].values() for core in host["cores"]]
    for name, sub in plan["scenarios"].items():  # each class's planned arrivals follow its share of the users
        mine = per_second(sub, [core["scenarios"][name] for core in cores])
        curve = run_settings.shape_stages(SHAPE["class_points"][name], 2.0)
        errors = [mine[s] - curve_rate(curve, s) for s in range(10)]
        # at a few requests per second a second holds a whole number of requests: within half of one
        assert max(abs(e) for e in errors) <= 0.5 + 1e-6, (name, errors)
        assert abs(sum(errors)) <= 1


def test_a_class_the_shape_never_gives_a_user_is_no_scenario():
    scenarios = run_settings.shape_scenarios({"A": [[0, 0], [1, 3], [2, 3], [2, 0]], "B": [[0, 0], [2, 0]]}, 1.0)
    assert list(scenarios) == ["A"] and scenarios["A"]["clients"] == 3


def test_thresholds_of_a_scenario_the_run_lacks_are_refused_before_the_run():
    from ansible_collections.romram.hailstorms.plugins.module_utils import thresholds

    settings, _warnings = resolve({"ramp": RAMP, "step": STEP})
    checked = thresholds.check({"scenarios": {"ramp": {"p95_ms": 300}}})
    thresholds.check_scenario_names(checked, settings)
    wrong = thresholds.check({"scenarios": {"rmap": {"p95_ms": 300}}})
    said = ("hailstorm_thresholds.scenarios: rmap is not a scenario of the run (its scenarios: ramp, step); name one "
            "of its scenarios (ramp, step), e.g. hailstorm_thresholds.scenarios.ramp")
    with pytest.raises(thresholds.ThresholdError) as error:
        thresholds.check_scenario_names(wrong, settings)
    assert str(error.value) == said
    with pytest.raises(thresholds.ThresholdError, match="it has no hailstorm_scenarios"):
        thresholds.check_scenario_names(wrong, {"rps": 5})
    with pytest.raises(thresholds.ThresholdError) as error:
        thresholds.check({"scenarios": {"ramp": {"labels": {}}}})
    assert str(error.value) == ("hailstorm_thresholds.scenarios.ramp: unknown key 'labels' (value {}); the keys are "
                                "p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, mean_ms, max_ms, failure_rate, overruns, "
                                "dropped")
