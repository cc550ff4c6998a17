"""A core's scenarios (hailstorm_scenarios): each its own users and driver, seen by the core as one.

- `scenario_clients`: a scenario's clients on this core (plan_queries.core_intervals of its own
  plan and its part of the core), shifted by its start, so its driver runs from the shared start.
- `Tally`: what a scenario's waits and drivers report to the recorder (iterations, overruns,
  client starts), counted for the scenario too.
- `Scenarios`: the scenarios of one core, each a `Part` (its name, its `drivers.Users` with its own
  classes and ClassPicker, its closed or open driver); to the core it is one set of users (active
  count, the running user's slot, client id and scenario) and one driver (run, finished, figures).

Free of Locust and gevent (the core passes `spawn`, which runs a function in its own greenlet
and returns something with `join()`), so it runs against a fake clock in the unit tests.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

from . import plan_queries


def scenario_clients(plan: Mapping[str, Any], core: Mapping[str, Any], name: str) -> list[plan_queries.Client]:
    """Scenario `name`'s clients on this core (of the run's `plan` and this core's entry), their
    times shifted by the scenario's start: offsets from the shared start."""
    sub = plan["scenarios"][name]
    shift = float(sub.get("start") or 0.0)
    return [plan_queries.Client(c.client_id, c.start + shift, c.phase + shift, c.stop + shift)
            for c in plan_queries.core_intervals(sub, core["scenarios"][name])]


class Tally:
    """The recorder as a scenario's waits and driver see it: `iterations += 1`, `client_overrun`
    and `client_started` go to the recorder and are counted for the scenario."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.count = 0
        self.overruns = 0
        self.started = 0

    @property
    def iterations(self) -> int:
        return self.count

    @iterations.setter
    def iterations(self, value: int) -> None:
        self.recorder.iterations += value - self.count
        self.count = value

    def client_overrun(self, client_id: int) -> None:
        self.overruns += 1
        self.recorder.client_overrun(client_id)

    def client_started(self, client_id: int, lateness: float) -> None:
        self.started += 1
        self.recorder.client_started(client_id, lateness)


class Part(NamedTuple):
    name: str
    users: Any  # drivers.Users: this scenario's classes and picker
    driver: Any  # drivers.ClosedDriver or OpenDriver
    tally: Tally
    clients: int  # its planned clients (intervals) on this core
    planned: int  # its planned requests (task iterations) on this core


class Scenarios:
    """The scenarios of one core as one set of users and one driver (what CoreRun calls)."""

    def __init__(self, parts: Sequence[Part], getcurrent: Callable[[], Any], spawn: Callable[..., Any]) -> None:
        self.parts = list(parts)
        self.getcurrent = getcurrent
        self.spawn = spawn

    # --- the users ---------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return sum(part.users.active for part in self.parts)

    def _part(self) -> Part | None:
        current = self.getcurrent()
        for part in self.parts:
            if current in part.users.waits:
                return part
        return None

    def scheduled(self) -> float | None:
        part = self._part()
        return part.users.scheduled() if part is not None else None

    def client_id(self) -> int:
        part = self._part()
        return part.users.client_id() if part is not None else -1

    def scenario(self) -> str | None:
        """The scenario of the running user (None outside one): what its requests are counted under."""
        part = self._part()
        return part.name if part is not None else None

    def early_ends(self) -> list[dict[str, Any]]:
        return [entry for part in self.parts for entry in part.users.early_ends()]

    def finish_all(self, now: float) -> None:
        for part in self.parts:
            part.users.finish_all(now)

    # --- the driver ------------------------------------------------------------------------------
    @property
    def drivers(self) -> list[Any]:
        return [part.driver for part in self.parts]

    def run(self) -> None:
        """Every scenario's driver at once, each in its own greenlet; returns when all returned."""
        for runner in [self.spawn(part.driver.run) for part in self.parts]:
            runner.join()

    @property
    def finished(self) -> bool:
        return all(part.driver.finished for part in self.parts)

    def figures(self) -> dict[str, Any]:
        """The open scenarios' arrival and pool figures summed (as one open driver gives them), and
        each scenario's own under `scenarios`."""
        out: dict[str, Any] = {}
        for part in self.parts:
            for key, value in part.driver.figures().items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[key] = out.get(key, 0) + value
        out["scenarios"] = {part.name: {"model": part.driver.model, "clients": part.clients, "planned": part.planned,
                                        "iterations": part.tally.count, "overruns": part.tally.overruns,
                                        "started": part.tally.started, **part.driver.figures()}
                            for part in self.parts}
        return out

    def take_dropped(self) -> dict[int, int]:
        return _summed(part.driver.take_dropped() for part in self.parts)

    def take_started(self) -> dict[int, int]:
        return _summed(part.driver.take_started() for part in self.parts)


def _summed(tables: Any) -> dict[int, int]:
    out: dict[int, int] = {}
    for table in tables:
        for key, value in table.items():
            out[key] = out.get(key, 0) + value
    return out
