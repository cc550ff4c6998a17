"""Locust's LoadTestShape examples sampled on a fake clock: the active-user curve Locust's runner
would follow (ticks once a second, users moved at spawn_rate), as breakpoints."""
from __future__ import annotations

import math
import random as _random
import re
import sys
from datetime import datetime
from time import monotonic  # bound at import, as a locustfile may: still seen

import pytest
from locust import HttpUser, LoadTestShape, task

from hailstorm_runtime.shapes import ASSUMED, ShapeError, sample


class StagesShape(LoadTestShape):
    """Locust's examples/custom_shape/stages.py."""

    stages = [
        {"duration": 10, "users": 10, "spawn_rate": 10},
        {"duration": 30, "users": 50, "spawn_rate": 10},
        {"duration": 60, "users": 100, "spawn_rate": 10},
        {"duration": 120, "users": 100, "spawn_rate": 10},
        {"duration": 130, "users": 10, "spawn_rate": 10},
        {"duration": 140, "users": 1, "spawn_rate": 1},
    ]

    def tick(self):
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage["duration"]:
                return stage["users"], stage["spawn_rate"]
        return None


class StepLoadShape(LoadTestShape):
    """Locust's examples/custom_shape/step_load.py."""

    step_time = 30
    step_load = 10
    spawn_rate = 10
    time_limit = 120

    def tick(self):
        run_time = self.get_run_time()
        if run_time > self.time_limit:
            return None
        current_step = math.floor(run_time / self.step_time) + 1
        return current_step * self.step_load, self.spawn_rate


class DoubleWave(LoadTestShape):
    """Locust's examples/custom_shape/double_wave.py."""

    min_users = 20
    peak_one_users = 60
    peak_two_users = 40
    time_limit = 600

    def tick(self):
        run_time = round(self.get_run_time())
        if run_time < self.time_limit:
            user_count = (
                (self.peak_one_users - self.min_users)
                * math.e ** -(((run_time / (self.time_limit / 10 * 2 / 3)) - 5) ** 2)
                + (self.peak_two_users - self.min_users)
                * math.e ** -(((run_time / (self.time_limit / 10 * 2 / 3)) - 10) ** 2)
                + self.min_users
            )
            return round(user_count), round(user_count)
        return None


def users_at(points, t):
    for (t0, u0), (t1, u1) in zip(points, points[1:]):
        if t0 <= t < t1:
            return u0 + (u1 - u0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def test_the_stages_example_gives_its_ramps_and_holds():
    out = sample(StagesShape())
    assert out["duration"] == 140 and out["user_classes"] is None
    points = out["points"]
    assert points[0] == [0, 0] and points[1] == [1, 10]  # 10 users at 10/s: one second
    assert users_at(points, 5) == 10
    assert users_at(points, 33) == 80 and users_at(points, 35) == 100  # 50 -> 100 at 10/s from 30 s
    assert users_at(points, 125) == 50  # 100 -> 10 at 10/s from 120 s
    assert points[-2:] == [[140, 1], [140, 0]]  # the shape ends: every user stops


def test_the_step_load_example_steps_every_30_s():
    points = sample(StepLoadShape())["points"]
    assert [users_at(points, t) for t in (0.5, 10, 31, 40, 70, 100)] == [5, 10, 20, 20, 30, 40]
    assert points[-1] == [121, 0]  # tick returns None at run_time > 120, asked once a second


def test_the_double_wave_example_is_sampled_every_second():
    out = sample(DoubleWave())
    assert out["duration"] == 600
    points = out["points"]
    assert max(u for _t, u in points) == 60
    assert users_at(points, 200) == pytest.approx(60, abs=1)  # the first peak at 5 x 40 s


def test_a_shape_that_reads_the_runner_is_refused_with_what_to_write():
    class Adaptive(LoadTestShape):
        def tick(self):
            return self.get_current_user_count() + 1, 1

    with pytest.raises(ShapeError, match=r"reads runner.user_count in tick\(\).*get_run_time\(\) only"):
        sample(Adaptive())


def test_a_shape_that_never_ends_or_raises_is_refused():
    class Forever(LoadTestShape):
        def tick(self):
            return 10, 1

    with pytest.raises(ShapeError, match="did not end within"):
        sample(Forever(), max_seconds=100)

    class Broken(LoadTestShape):
        def tick(self):
            raise KeyError("stage")

    with pytest.raises(ShapeError, match=r"raised in tick\(\) at 0 s of run time: KeyError"):
        sample(Broken())


def test_user_classes_are_kept_when_fixed_and_become_a_curve_each_when_they_change():
    class A(HttpUser):
        @task
        def t(self):
            pass

    class B(HttpUser):
        @task
        def t(self):
            pass

    class Fixed(LoadTestShape):
        def tick(self):
            return (5, 5, [A]) if self.get_run_time() < 3 else None

    assert sample(Fixed())["user_classes"] == ["A"]

    class Changing(LoadTestShape):
        def tick(self):
            t = self.get_run_time()
            return None if t > 3 else (5, 5, [A] if t < 2 else [B])

    changing = sample(Changing())  # each class its own curve: its share of the users (by weight) while it is named
    assert changing["user_classes"] == ["A", "B"]
    assert changing["class_points"] == {"A": [[0, 0], [1, 5], [2, 5], [2, 0], [4, 0]],
                                        "B": [[0, 0], [2, 0], [2, 5], [4, 5], [4, 0]]}

    class Weighted(LoadTestShape):
        def tick(self):
            t = self.get_run_time()
            return None if t > 3 else (8, 100, [A] if t < 2 else [A, Heavy])

    class Heavy(HttpUser):
        weight = 3

        @task
        def t(self):
            pass

    weighted = sample(Weighted())["class_points"]
    assert weighted["A"][-3:] == [[2, 2], [4, 2], [4, 0]] and weighted["Heavy"][-3:] == [[2, 6], [4, 6], [4, 0]]

    class Unnamed(LoadTestShape):
        def tick(self):
            t = self.get_run_time()
            return None if t > 3 else ((5, 5, [A]) if t < 2 else (5, 5))

    with pytest.raises(ShapeError, match="once naming none"):
        sample(Unnamed())


# The controller's side: a sampled shape's breakpoints become stages (rate = users / pace), and
# the plan of those stages keeps the shape's curve of active clients exactly (the controller's
# modules: the load hosts get plan_queries.py and planner.py, not run_settings.py or plan_preview.py).
from ansible_collections.romram.hailstorms.plugins.module_utils import (  # noqa: E402
    plan_preview, plan_queries, planner, run_settings)


def rate_at(stages, t):
    """The stages' rate at t (k6's rule: linear from the rate before; a 0s stage is a step)."""
    start, before = 0.0, 0.0
    for stage in stages:
        if start <= t < start + stage["duration"]:
            return before + (stage["rps"] - before) * (t - start) / stage["duration"]
        start, before = start + stage["duration"], stage["rps"]
    return before


@pytest.mark.parametrize("shape", [StagesShape, StepLoadShape, DoubleWave])
def test_each_example_becomes_stages_whose_rate_is_users_over_pace(shape):
    out = sample(shape())
    pace = 2.0
    stages = run_settings.shape_stages(out["points"], pace)
    assert sum(stage["duration"] for stage in stages) == pytest.approx(out["points"][-1][0])
    for t in [x / 4 for x in range(int(out["duration"] * 4))]:
        assert rate_at(stages, t) == pytest.approx(users_at(out["points"], t) / pace, abs=1e-9)
    assert stages[-1] == {"duration": 0, "rps": 0.0}  # the drop at the end: a 0s stage to 0
    assert run_settings.parse_stages(stages)  # stages the plan accepts as they are


def test_the_stages_example_plans_the_shapes_clients_at_every_moment():
    out = sample(StagesShape())
    settings, _warnings = run_settings.resolve_shaped_settings(
        {"default": {"target": "http://t:1", "rps": 50, "rampup": "10s", "pace": "2s"}}, "default", {},
        {"name": "StagesShape", **out})
    assert settings["shape"] == "StagesShape" and settings["pace"] == 2.0
    assert settings["clients"] == 100 and settings["rps"] == 50  # the peak: 100 users at a pace of 2 s
    plan = planner.make_plan(settings, [("h1", 2), ("h2", 1)])
    for t in (0.5, 5, 33.5, 80, 125.5, 139.5):
        assert planner.active_clients(plan, t) == round(users_at(out["points"], t))
    assert any("LoadTestShape StagesShape" in line for line in plan_preview.preview(plan))


def test_the_shape_replaces_the_stacks_trapezoid_and_stages_with_a_warning():
    out = sample(StepLoadShape())
    profiles = {"default": {"target": "http://t:1", "rps": 10, "rampup": "1m", "clients": 40},
                "steps": {"stages": [{"duration": "1m", "rps": 5}]}}
    settings, warnings = run_settings.resolve_shaped_settings(profiles, "steps", {}, {"name": "StepLoadShape", **out})
    assert settings["pace"] == 40 / 5  # the pace the stack gives (clients 40 at the stages' peak 5 rps)
    assert settings["clients"] == 50 and "rampup" not in settings  # the shape's peak users
    assert any("the LoadTestShape StepLoadShape replaces hailstorm_stages" in text for text in warnings)
    settings, warnings = run_settings.resolve_shaped_settings(profiles, "steps", {"rps": 8, "rampup": "5s"},
                                                              {"name": "StepLoadShape", **out})
    assert settings["pace"] == 40 / 8 and settings["clients"] == 50 and "stages" in settings


def test_a_shapes_fixed_user_classes_are_planned_and_only_they_run():
    class Reader(HttpUser):
        weight = 3

        @task
        def t(self):
            pass

    class Writer(HttpUser):
        @task
        def t(self):
            pass

    class Admin(HttpUser):
        @task
        def t(self):
            pass

    class ReadersAndWriters(LoadTestShape):
        def tick(self):
            return (8, 8, [Writer, Reader]) if self.get_run_time() < 4 else None

    out = sample(ReadersAndWriters())
    settings, _warnings = run_settings.resolve_shaped_settings(
        {"default": {"target": "http://t:1", "rps": 4, "rampup": "2s", "pace": "2s"}}, "default", {},
        {"name": "ReadersAndWriters", **out})
    assert settings["user_classes"] == ["Reader", "Writer"]
    plan = planner.make_plan(settings, [("h1", 2)])
    assert plan["user_classes"] == ["Reader", "Writer"]
    assert plan_queries.host_slice(plan, "h1")["plan"]["user_classes"] == ["Reader", "Writer"]  # what the runtime reads
    assert any(line.endswith("its tick() runs the user classes Reader, Writer, spread by their weights")
               for line in plan_preview.preview(plan))
    # the runtime keeps only those of the run's classes; the ClassPicker then spreads clients 3:1
    from hailstorm_runtime.runner import planned_classes
    from hailstorm_runtime.schedule import ClassPicker
    every = {"Admin": Admin, "Reader": Reader, "Writer": Writer}
    kept = planned_classes(every, plan["user_classes"])
    assert kept == {"Reader": Reader, "Writer": Writer} and planned_classes(every, None) == every
    picker = ClassPicker((name, cls.weight, 0) for name, cls in kept.items())
    picks = [picker.pick(client) for client in range(400)]
    assert picks.count("Reader") == pytest.approx(300, abs=3) and "Admin" not in picks


def test_a_plan_naming_a_class_the_locustfile_lost_ends_the_process_with_the_reason():
    from hailstorm_runtime.failure import RunFailure
    from hailstorm_runtime.runner import planned_classes

    with pytest.raises(RunFailure) as failure:
        planned_classes({"Reader": HttpUser}, ["Reader", "Writer"])
    assert failure.value.exit_code == 1
    assert failure.value.stderr.startswith("hailstorm_runtime: the plan runs the user class(es) Writer (the "
                                           "LoadTestShape's user_classes), which this run's classes Reader lack")


# --- shapes the plan cannot replay as meant: the wall clock, reset_time(), random draws --------------------


def test_the_examples_sample_without_a_warning():
    for shape in (StagesShape(), StepLoadShape(), DoubleWave()):
        assert sample(shape)["warnings"] == []


class OfficeHours(LoadTestShape):
    """More users during office hours: a wall-clock shape."""

    def tick(self):
        if self.get_run_time() >= 10:
            return None
        return (20, 20) if 9 <= datetime.now().hour < 17 else (5, 5)


class SinceStart(LoadTestShape):
    """Its own clock, read from a name bound at import, two calls deep."""

    def __init__(self):
        super().__init__()
        self.began = None

    def elapsed(self):
        self.began = self.began or monotonic()
        return monotonic() - self.began

    def tick(self):
        return None if self.get_run_time() >= 5 else (10 + int(self.elapsed()), 10)


@pytest.mark.parametrize("shape, seen", [(OfficeHours(), "datetime.now()"), (SinceStart(), "time.monotonic()")])
def test_a_shape_reading_the_wall_clock_is_sampled_with_a_warning_naming_the_call(shape, seen):
    out = sample(shape)
    assert len(out["warnings"]) == 1
    assert out["warnings"][0] == (
        f"the LoadTestShape {type(shape).__name__} reads the wall clock in tick() ({seen}); {ASSUMED} "
        f"({len(out['points'])} breakpoints over {out['duration']:g} s), so the run follows that curve whatever the "
        "clock says. Fix: compute tick() from self.get_run_time() only (Locust's stages example), or give the curve "
        "as hailstorm_stages")


class Repeating(LoadTestShape):
    """Restarts itself at 4 s, twice, with reset_time()."""

    def __init__(self):
        super().__init__()
        self.rounds = 0

    def tick(self):
        if self.get_run_time() >= 4:
            self.rounds += 1
            if self.rounds == 3:
                return None
            self.reset_time()
        return 10, 10


def test_a_shape_calling_reset_time_is_warned_about_with_when_and_the_fix():
    out = sample(Repeating())
    assert out["warnings"] == [
        f"the LoadTestShape Repeating calls reset_time() in tick() (first at 4 s of run time), which would restart "
        f"get_run_time() in Locust; {ASSUMED}, without the reset ({len(out['points'])} breakpoints over "
        f"{out['duration']:g} s). Fix: compute tick() from the run time without resetting it (a repeating shape: "
        "self.get_run_time() % its period, and return None at the end), or give the curve as hailstorm_stages"]


class RandomUsers(LoadTestShape):
    def tick(self):
        return None if self.get_run_time() >= 30 else (_random.randint(1, 1000), 1000)


class SeededUsers(LoadTestShape):
    """Random, but drawn from a fixed seed: the same curve every time, as Locust would run it."""

    def __init__(self):
        super().__init__()
        self.draws = _random.Random(42)

    def tick(self):
        return None if self.get_run_time() >= 30 else (self.draws.randint(1, 1000), 1000)


class HiddenState(LoadTestShape):
    """Another curve per instance, from a source the watch does not name (a counter across instances)."""

    made = 0

    def __init__(self):
        super().__init__()
        type(self).made += 1
        self.peak = 10 * type(self).made

    def tick(self):
        return None if self.get_run_time() >= 5 else (self.peak, 100)


def test_a_shape_drawing_random_users_is_warned_about_with_what_the_plan_assumed():
    out = sample(RandomUsers())
    assert len(out["warnings"]) == 1
    warning = out["warnings"][0]
    assert re.match(r"the LoadTestShape RandomUsers draws random numbers in tick\(\) \(random.randint\(\)\): two "
                    r"samplings differ \(at [0-9.]+ s of run time the first gave [0-9.]+ users, the second [0-9.]+\)",
                    warning), warning
    assert f"; {ASSUMED}: the run follows the first sampling ({len(out['points'])} breakpoints over 30 s), " in warning
    assert "random.Random(42) in __init__" in warning
    assert sample(SeededUsers())["warnings"] == []  # a fixed seed: deterministic, no warning


def test_a_shape_that_differs_between_samplings_for_another_reason_is_warned_about():
    out = sample(HiddenState())
    assert out["warnings"] == [
        "the LoadTestShape HiddenState gives another curve when sampled again: two samplings differ (at 0.2 s of run "
        f"time the first gave 10 users, the second 20); {ASSUMED}: the "
        "run follows the first sampling (4 breakpoints over 5 s), one draw, not a new one. Fix: make tick() a "
        "function of self.get_run_time() alone (a random curve: draw it once from a fixed seed, e.g. "
        "random.Random(42) in __init__), or give the curve as hailstorm_stages"]


def test_the_samplings_warnings_are_the_run_settings_warnings_so_plan_json_keeps_them():
    out = sample(OfficeHours())
    settings, warnings = run_settings.resolve_shaped_settings(
        {"default": {"target": "http://t:1", "rps": 10, "rampup": 5}}, "default", {}, {"name": "OfficeHours", **out})
    assert settings["shape"] == "OfficeHours" and warnings[-1] == out["warnings"][0]


def test_watching_leaves_the_callers_profile_hook_alone():
    calls = []

    def hook(frame, event, arg):
        calls.append(event)

    sys.setprofile(hook)
    try:
        sample(OfficeHours())
        restored = sys.getprofile()
    finally:
        sys.setprofile(None)
    assert restored is hook and "c_call" in calls
