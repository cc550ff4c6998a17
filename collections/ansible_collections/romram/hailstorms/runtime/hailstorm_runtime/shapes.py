"""A locustfile's LoadTestShape, sampled on a fake clock into the curve of active users a plan
can follow exactly.

Locust's runner asks `tick()` once a second for (user_count, spawn_rate[, user_classes]) and
moves the running users towards user_count at spawn_rate users per second; `None` ends the test.
A shape whose tick depends only on the run time (`get_run_time()`, the common case: Locust's
stages, step-load and double-wave examples) gives the same answers on a fake clock, so the
whole run is known before it starts: `sample` replays Locust's ticks and spawning and returns
the active-user curve as breakpoints (t seconds, users), linear in between, starting at (0, 0)
and ending at 0 users where tick returned None. The controller turns it into stages
(rate = users / pace) and plans it exactly.

A shape that reads the runner (its user count, statistics) cannot be known ahead: it is refused
(ShapeError) with what to write instead. So is a shape that never ends (within MAX_SECONDS) and one
that raises. A fixed list of user_classes (the same in every tick) is honoured: the controller
plans the run with just those classes, spread by their weights. A list that changes over time
becomes one curve per class (`class_points`): at each moment a class has the users of the curve
times its share of the weights of the tick's classes (0 outside them), as Locust's dispatcher
spreads the users by weight; the controller plans each class as a scenario (hailstorm_scenarios).

A shape whose tick() reads the wall clock (time.time(), datetime.now(), ...), calls reset_time()
or draws random numbers is sampled all the same, but the plan replays that one sampling: `sample`
returns a warning for each (`warnings`), naming what it saw. They are seen with a profile hook
around each tick() (sys.setprofile: calls from any depth, however the names were imported), and
by sampling a new instance of the shape a second time: two samplings that differ mean a tick()
that depends on more than get_run_time() (random draws with a fixed seed give the same curve
twice and no warning).
"""
from __future__ import annotations

import bisect
import datetime
import math
import random
import sys
import time
from typing import Any, Callable

from .plan_queries import MAX_DURATION

MAX_SECONDS = MAX_DURATION  # a shape must end (tick() returns None) within a week of run time, the longest run
TICK = 1.0  # Locust's shape worker asks tick() once a second


class ShapeError(ValueError):
    """A shape that cannot be planned; the message says why and what to write instead."""


class _NoRunner:
    """Stands in for shape.runner while sampling: any use of it means the shape depends on the
    run's state, which no plan can know ahead."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attribute: str) -> Any:
        raise ShapeError(
            f"the LoadTestShape {self._name} reads runner.{attribute} in tick(): a shape that depends on the "
            "run's state (user counts, statistics) cannot be planned ahead; write tick() from get_run_time() only "
            "(Locust's stages example), or give the curve as hailstorm_stages")


def _simplify(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop breakpoints that lie on the line through their neighbours (and repeated times that
    change nothing)."""
    out: list[tuple[float, float]] = []
    for point in points:
        if out and abs(point[0] - out[-1][0]) < 1e-12 and abs(point[1] - out[-1][1]) < 1e-9:
            continue
        while len(out) >= 2:
            (t0, u0), (t1, u1) = out[-2], out[-1]
            t2, u2 = point
            if t2 - t0 <= 1e-12 or t1 - t0 <= 1e-12:
                break
            expected = u0 + (u2 - u0) * (t1 - t0) / (t2 - t0)
            if abs(expected - u1) > 1e-9:
                break
            out.pop()
        out.append(point)
    return out


def _classes_text(names: list[str] | None) -> str:
    """A tick's user_classes as the locustfile writes them: "[A, B]", or "none" (all the run's)."""
    return "none" if names is None else f"[{', '.join(names)}]"


# what reads the wall clock: time's functions (however imported), datetime's constructors from now
_TIME_FUNCTIONS = frozenset({"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
                             "localtime", "gmtime", "ctime", "strftime"})
_DATETIME_METHODS = frozenset({"now", "utcnow", "today"})
_RANDOM_FILE = random.__file__


class _Watch:
    """What a shape's tick() calls that makes it depend on more than get_run_time(): the wall clock,
    random draws (the random module, numpy.random), each named once in the order first seen; a
    sys.setprofile hook while tick() runs, so calls from any depth count."""

    def __init__(self) -> None:
        self.wall_clock: dict[str, None] = {}
        self.random: dict[str, None] = {}

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "c_call":
            owner = getattr(arg, "__self__", None)
            name = getattr(arg, "__name__", "?")
            if owner is time and name in _TIME_FUNCTIONS:
                self.wall_clock.setdefault(f"time.{name}()")
            elif isinstance(owner, type) and issubclass(owner, datetime.date) and name in _DATETIME_METHODS:
                self.wall_clock.setdefault(f"{owner.__name__}.{name}()")
            elif isinstance(owner, random.Random) and frame.f_code.co_filename != _RANDOM_FILE:
                self.random.setdefault(f"random.{name}()")
            elif type(owner).__module__.startswith("numpy.random"):
                self.random.setdefault(f"numpy.random.{name}()")
        elif event == "call" and frame.f_code.co_filename == _RANDOM_FILE and (
                frame.f_back is None or frame.f_back.f_code.co_filename != _RANDOM_FILE):
            self.random.setdefault(f"random.{frame.f_code.co_name}()")

    def run(self, tick: Callable[[], Any]) -> Any:
        before = sys.getprofile()
        sys.setprofile(self)
        try:
            return tick()
        finally:
            sys.setprofile(before)


def sample(shape: Any, max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """{"points": [[t, users], ...], "duration": end, "user_classes": [names] or None, "ticks": n,
    "warnings": [...]} of a LoadTestShape instance, replaying Locust's once-a-second ticks and its
    spawning at spawn_rate users per second on a fake clock. `warnings` name what makes the curve
    differ from what the shape would do in a run (see the module's docstring); empty when none."""
    watch = _Watch()
    out = _sample(shape, max_seconds, watch)
    resets = out.pop("resets")
    out["warnings"] = _warnings(shape, out, watch, resets, max_seconds)
    return out


ASSUMED = "the plan assumed the curve sampled at planning time from get_run_time(), replayed exactly"
_FIX = "or give the curve as hailstorm_stages"


def _warnings(shape: Any, first: dict[str, Any], watch: _Watch, resets: list[float], max_seconds: float) -> list[str]:
    """What makes the sampled curve differ from what the shape would do in a run, in words: what was
    seen, what the plan assumed, the fix."""
    name = type(shape).__name__
    curve = f"{len(first['points'])} breakpoints over {first['duration']:g} s"
    out = []
    if watch.wall_clock:
        out.append(f"the LoadTestShape {name} reads the wall clock in tick() ({', '.join(watch.wall_clock)}); "
                   f"{ASSUMED} ({curve}), so the run follows that curve whatever the clock says. Fix: compute "
                   f"tick() from self.get_run_time() only (Locust's stages example), {_FIX}")
    if resets:
        out.append(f"the LoadTestShape {name} calls reset_time() in tick() (first at {resets[0]:g} s of run time), "
                   f"which would restart get_run_time() in Locust; {ASSUMED}, without the reset ({curve}). Fix: "
                   f"compute tick() from the run time without resetting it (a repeating shape: "
                   f"self.get_run_time() % its period, and return None at the end), {_FIX}")
    differs = _second_sampling(shape, first, max_seconds)
    if differs:
        what = (f"draws random numbers in tick() ({', '.join(watch.random)})" if watch.random else
                "gives another curve when sampled again")
        out.append(f"the LoadTestShape {name} {what}: two samplings differ ({differs}); {ASSUMED}: the run follows "
                   f"the first sampling ({curve}), one draw, not a new one. Fix: make tick() a function of "
                   f"self.get_run_time() alone (a random curve: draw it once from a fixed seed, e.g. "
                   f"random.Random(42) in __init__), {_FIX}")
    return out


def _second_sampling(shape: Any, first: dict[str, Any], max_seconds: float) -> str | None:
    """How a second sampling, of a new instance of the shape, differs from the first (None: the same,
    or the shape cannot be made again without arguments)."""
    try:
        again = type(shape)()
    except Exception:  # noqa: BLE001 - the user's code; not compared then
        return None
    try:
        second = _sample(again, max_seconds, None)
    except ShapeError as error:
        return f"the second failed: {error}"
    if second["user_classes"] != first["user_classes"]:
        return (f"user_classes {_classes_text(first['user_classes'])} then "
                f"{_classes_text(second['user_classes'])}")
    a, b = first["points"], second["points"]
    if a == b:
        return None
    at_a, at_b = _curve(a), _curve(b)
    for t in sorted({point[0] for point in a} | {point[0] for point in b}):
        if abs(at_a(t) - at_b(t)) > 1e-9:
            return f"at {t:g} s of run time the first gave {at_a(t):g} users, the second {at_b(t):g}"
    return None


def _curve(points: list[list[float]]) -> Callable[[float], float]:
    """The users of a sampled curve just after a time t: linear between breakpoints, the later of
    two at one time (a step), 0 before the first; O(log n) a call."""
    times = [point[0] for point in points]

    def at(t: float) -> float:
        j = bisect.bisect_right(times, t)  # the first breakpoint after t
        if j == 0:
            return 0.0
        if j == len(points):
            return float(points[-1][1])
        (t0, u0), (t1, u1) = points[j - 1], points[j]
        return u0 + (u1 - u0) * (t - t0) / (t1 - t0)
    return at


def _sample(shape: Any, max_seconds: float, watch: _Watch | None) -> dict[str, Any]:
    name = type(shape).__name__
    now = [0.0]
    resets: list[float] = []
    shape.get_run_time = lambda: now[0]  # type: ignore[method-assign]
    shape.reset_time = lambda: resets.append(now[0])  # type: ignore[method-assign]
    shape.runner = _NoRunner(name)
    users = 0.0
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    classes: Any = "unset"
    mixes: list[tuple[int, dict[str, float] | None]] = [(0, None)]  # (from points[i] on, the tick's classes: weights)
    ticks = 0
    while True:
        if now[0] > max_seconds:
            raise ShapeError(f"the LoadTestShape {name} did not end within {max_seconds / 3600:g} h of run time: "
                             "its tick() must return None at the end of the test (Locust's examples do)")
        try:
            result = watch.run(shape.tick) if watch else shape.tick()
        except ShapeError:
            raise
        except Exception as error:  # noqa: BLE001 - the user's code
            raise ShapeError(f"the LoadTestShape {name} raised in tick() at {now[0]:g} s of run time: "
                             f"{type(error).__name__}: {error}") from None
        ticks += 1
        if result is None:
            points.append((now[0], users))
            points.append((now[0], 0.0))  # Locust stops every user when the shape ends
            break
        if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
            raise ShapeError(f"the LoadTestShape {name} returned {result!r} from tick() at {now[0]:g} s; Locust "
                             "expects (user_count, spawn_rate) or (user_count, spawn_rate, user_classes) or None")
        target, rate = result[0], result[1]
        tick_classes = result[2] if len(result) == 3 else None
        names = None if tick_classes is None else sorted(getattr(c, "__name__", str(c)) for c in tick_classes)
        if classes == "unset":
            classes = names
        elif names != classes and (names is None or classes is None):
            raise ShapeError(f"the LoadTestShape {name} changes its user_classes over time ({_classes_text(classes)} "
                             f"then {_classes_text(names)} at {now[0]:g} s), once naming none (all the run's "
                             "classes): name the classes in every tick() (e.g. "
                             f"{_classes_text(sorted(set(classes or []) | set(names or [])))}), so that each class's "
                             "curve is known")
        mix = None if tick_classes is None else _weights(name, tick_classes, now[0])
        if mix != mixes[-1][1]:  # the mix changes here: a step of each class's users (the same total twice)
            points.append((now[0], users))
            mixes.append((len(points), mix))
            points.append((now[0], users))
        try:
            target, rate = float(target), float(rate)
        except (TypeError, ValueError):
            raise ShapeError(f"the LoadTestShape {name} returned {result!r} at {now[0]:g} s: user_count and "
                             "spawn_rate must be numbers") from None
        if target < 0 or not math.isfinite(target) or rate <= 0 or not math.isfinite(rate):
            raise ShapeError(f"the LoadTestShape {name} returned user_count {target:g} and spawn_rate {rate:g} at "
                             f"{now[0]:g} s: give user_count >= 0 and spawn_rate > 0")
        target = float(int(target))  # Locust runs whole users
        start = now[0]
        if users != target:
            reach = abs(target - users) / rate
            points.append((start, users))
            if reach < TICK:
                points.append((start + reach, target))
                users = target
            else:
                users += math.copysign(rate * TICK, target - users)
                points.append((start + TICK, users))
        now[0] = start + TICK
    simplified = _simplify(points)
    out = {"points": [[round(t, 9), round(u, 9)] for t, u in simplified], "duration": now[0],
           "user_classes": None if classes == "unset" else classes, "ticks": ticks, "resets": resets}
    named = [mix for _at, mix in mixes[1:]]
    if len({tuple(sorted(mix.items())) for mix in named if mix is not None}) > 1:  # the class mix changes
        out["class_points"] = _class_points(points, mixes)
        out["user_classes"] = sorted(out["class_points"])
    return out


def _weights(name: str, tick_classes: Any, at: float) -> dict[str, float]:
    """A tick's user classes and their weights (what Locust spreads the users by)."""
    weights: dict[str, float] = {}
    for cls in tick_classes:
        if getattr(cls, "fixed_count", 0):
            raise ShapeError(f"the LoadTestShape {name} returns {cls.__name__}, a class with fixed_count, at {at:g} s: "
                             "a shape's users are spread over its classes by their weight; give it a weight instead")
        weights[getattr(cls, "__name__", str(cls))] = float(getattr(cls, "weight", 1) or 0)
    return weights


def _class_points(points: list[tuple[float, float]], mixes: list[tuple[int, dict[str, float] | None]]
                  ) -> dict[str, list[list[float]]]:
    """Each class's curve of users: the curve's `points` times the class's share of the weights of
    the mix in effect (`mixes`: from which point on each holds; a change is a step at its moment)."""
    names = sorted({cls for _at, mix in mixes if mix for cls in mix})
    out: dict[str, list[tuple[float, float]]] = {cls: [] for cls in names}
    bounds = [at for at, _mix in mixes[1:]] + [len(points)]
    for (at, mix), end in zip(mixes, bounds):
        total = sum((mix or {}).values())
        for t, users in points[at:end]:
            for cls in names:
                share = (mix or {}).get(cls, 0.0) / total if total > 0 else 0.0
                out[cls].append((t, users * share))
    return {cls: [[round(t, 9), round(u, 9)] for t, u in _simplify(curve)] for cls, curve in out.items()}
