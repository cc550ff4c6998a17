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
(ShapeError) with what to write instead. So is a shape that never ends (within MAX_SECONDS), one
that raises, and one whose user_classes change over time: a fixed list (the same in every tick)
is honoured, the controller plans the run with just those classes, spread by their weights.
"""
from __future__ import annotations

import math
from typing import Any

from .planner import MAX_DURATION

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


def sample(shape: Any, max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """{"points": [[t, users], ...], "duration": end, "user_classes": [names] or None, "ticks": n}
    of a LoadTestShape instance, replaying Locust's once-a-second ticks and its spawning at
    spawn_rate users per second on a fake clock."""
    name = type(shape).__name__
    now = [0.0]
    shape.get_run_time = lambda: now[0]  # type: ignore[method-assign]
    shape.reset_time = lambda: None  # type: ignore[method-assign]
    shape.runner = _NoRunner(name)
    users = 0.0
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    classes: Any = "unset"
    ticks = 0
    while True:
        if now[0] > max_seconds:
            raise ShapeError(f"the LoadTestShape {name} did not end within {max_seconds / 3600:g} h of run time: "
                             "its tick() must return None at the end of the test (Locust's examples do)")
        try:
            result = shape.tick()
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
        elif names != classes:
            raise ShapeError(f"the LoadTestShape {name} changes its user_classes over time ({_classes_text(classes)} "
                             f"then {_classes_text(names)} at {now[0]:g} s): a plan gives each client one class for "
                             "the whole run, so the class mix cannot change; return the same user_classes from every "
                             f"tick() (e.g. {_classes_text(sorted(set(classes or []) | set(names or [])))}: the "
                             "clients are spread over them by their weight), or run each mix as its own run")
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
    return {"points": [[round(t, 9), round(u, 9)] for t, u in simplified], "duration": now[0],
            "user_classes": None if classes == "unset" else classes, "ticks": ticks}
