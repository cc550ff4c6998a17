"""Who runs a task iteration when, on one core: the drivers of the two load models.

- `Users` builds, starts and keeps count of this core's Locust users (the only part that knows
  how a user is started): the class by client id (ClassPicker), `self.hailstorm`, the user's
  wait_time, the runner's greenlet group, and which wait belongs to the running greenlet (what
  the recorder's response time from schedule reads).
- `ClosedDriver` (model closed, the default): a user per planned client interval, started at its
  start slot, paced on its own lattice (schedule.PacedWait), stopped at its stop slot; a client
  whose task outlasts its pace skips slots (counted as overruns).
- `OpenDriver` (model open): the same slots are arrivals handed to a pool of users (pool.py);
  arrivals keep their schedule when the target slows, up to the pool's cap and while the core has
  headroom (its measured load under the generator limit), and an arrival that finds no user in
  time is dropped and counted.

Both say when they are `finished` (every user they started has ended and none is to come).
"""
from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from . import plan_queries
from .pool import ARRIVAL_TOLERANCE, Pool, PoolWait
from .records import exception_kind
from .schedule import ClassPicker, PacedWait, Pacer, run_starts

logger = logging.getLogger("hailstorm_runtime")
PREPARE_LEAD = 0.05  # seconds ahead of its slot at which a user object is built


@dataclass(frozen=True)
class Hailstorm:
    """What every user can read as `self.hailstorm`."""

    client_id: int
    host_index: int
    core_index: int
    start: float
    stop: float


class Users:
    """This core's Locust users: built by client id, started with a wait, counted until they end."""

    def __init__(self, user_classes: dict[str, type], env: Any, group: Any, picker: ClassPicker, recorder: Any,
                 host_index: int, core_index: int, on_idle: Callable[[], None], getcurrent: Callable[[], Any]) -> None:
        self.user_classes = user_classes
        self.env = env
        self.group = group  # the runner's user_greenlets: runner.user_count counts them
        self.picker = picker
        self.recorder = recorder
        self.host_index = host_index
        self.core_index = core_index
        self.on_idle = on_idle  # called when the last running user ended
        self.getcurrent = getcurrent
        self.active = 0
        self.client_of: dict[Any, int] = {}  # greenlet: client id
        self.waits: dict[Any, Any] = {}  # greenlet: its PacedWait / PoolWait
        self.prepared: dict[int, Any] = {}  # client id: a user built ahead of its slot
        self.ended: list[Callable[[Any, Any], None]] = []  # called with (greenlet, wait) when a user ends
        # clients of the closed model that ended before their planned stop: (how, iterations run): clients
        self.ended_early: dict[tuple[str, int], int] = {}
        self.closing = False  # the run ends (finish_all): users end now because of it

    def build(self, client_id: int) -> Any:
        return self.user_classes[self.picker.pick(client_id)](self.env)

    def prepare(self, client_id: int) -> None:
        self.prepared[client_id] = self.build(client_id)

    def start(self, client_id: int, wait: Any, start: float, stop: float) -> Any:
        user = self.prepared.pop(client_id, None)
        if user is None:
            user = self.build(client_id)
        user.hailstorm = Hailstorm(client_id, self.host_index, self.core_index, start, stop)
        user.wait_time = wait
        greenlet = user.start(self.group)
        self.active += 1
        self.client_of[greenlet] = client_id
        self.waits[greenlet] = wait
        greenlet.link(self._user_ended)
        return greenlet

    def _user_ended(self, greenlet: Any) -> None:
        self.active -= 1
        self.client_of.pop(greenlet, None)
        wait = self.waits.pop(greenlet, None)
        if wait is not None:
            wait.finish(time.time())
            if getattr(wait, "stopped", True) is False and not self.closing:  # a PacedWait before its stop
                how = ended_how(greenlet)
                self.ended_early[how, wait.ran] = self.ended_early.get((how, wait.ran), 0) + 1
        for callback in self.ended:
            callback(greenlet, wait)
        if self.active <= 0:
            self.on_idle()

    def scheduled(self) -> float | None:
        """The slot the current user's running task iteration was due at (recorder.due_of)."""
        wait = self.waits.get(self.getcurrent())
        return wait.scheduled if wait is not None else None

    def client_id(self) -> int:
        """The client id of the running user (-1 outside one): the JTL's thread name."""
        return self.client_of.get(self.getcurrent(), -1)

    def early_ends(self) -> list[dict[str, Any]]:
        """The clients that ended before their planned stop, for the end record (summary.ended_early)."""
        return [{"how": how, "iterations": ran, "clients": n} for (how, ran), n in sorted(self.ended_early.items())]

    def finish_all(self, now: float) -> None:
        """The run ends: the iteration of every user still running counts if its slot had come."""
        self.closing = True
        for wait in list(self.waits.values()):
            wait.finish(now)


def ended_how(greenlet: Any) -> str:
    """How a user's greenlet ended by itself: "StopUser" (Locust's User.run returns after a StopUser
    from a task or on_start), "User.stop()" (killed by it), or the kind of the exception that
    ended it (one raised in on_start or on_stop)."""
    if not greenlet.successful():
        return exception_kind(greenlet.exception)
    return "User.stop()" if type(greenlet.value).__name__ == "GreenletExit" else "StopUser"


class ClosedDriver:
    """The closed model: every planned client (each of its intervals) on its own schedule."""

    model = "closed"

    def __init__(self, users: Users, clients: Sequence[plan_queries.Client], t0: float, pace: float, clock: Any,
                 deadline: float, stop_exception: type[BaseException], on_spawned: Callable[[], None]) -> None:
        self.users = users
        self.clients = clients
        self.t0 = t0
        self.pace = pace
        self.clock = clock
        self.deadline = deadline
        self.stop_exception = stop_exception
        self.on_spawned = on_spawned
        self.starts_finished = False
        self.last_start = max((c.start for c in clients), default=0.0)

    def _prepare(self, client: plan_queries.Client) -> None:
        self.users.prepare(client.client_id)

    def _spawn(self, client: plan_queries.Client, lateness: float) -> None:
        pacer = Pacer(self.t0, client, self.pace)
        pacer.begin(time.time())
        recorder = self.users.recorder
        wait = PacedWait(pacer, self.clock, self.stop_exception, recorder.client_overrun, recorder)
        recorder.client_started(client.client_id, lateness)
        self.users.start(client.client_id, wait, self.t0 + client.start, self.t0 + client.stop)

    def run(self) -> None:
        try:
            run_starts(self.clients, self.t0, self.clock, self._spawn, self.deadline,
                       prepare=self._prepare, lead=PREPARE_LEAD)
            self.on_spawned()
        finally:
            self.starts_finished = True

    @property
    def finished(self) -> bool:
        return self.starts_finished and self.users.active <= 0

    def figures(self) -> dict[str, Any]:
        return {}

    def take_dropped(self) -> dict[int, int]:
        return {}

    def take_started(self) -> dict[int, int]:
        return {}


def core_cap(plan: dict[str, Any], core: dict[str, Any]) -> int:
    """This core's share of the open model's pool cap (plan max_clients, default 4 x the closed
    model's clients), in proportion to its planned clients, at least one."""
    clients = max(1, int(plan.get("clients") or 1))
    cap = int(plan.get("max_clients") or 4 * clients)
    return max(1, math.ceil(cap * int(core.get("clients") or 0) / clients))


class OpenDriver:
    """The open model: the core's slots are arrivals handed to a pool of users (pool.py)."""

    model = "open"

    def __init__(self, users: Users, clients: Sequence[plan_queries.Client], t0: float, pace: float, clock: Any,
                 signal: Callable[[], Any], cap: int, stop_exception: type[BaseException],
                 on_spawned: Callable[[], None], tolerance: float = ARRIVAL_TOLERANCE,
                 extra_ids: Iterable[int] = (), headroom: Callable[[], bool] | None = None) -> None:
        self.users = users
        self.clients = clients
        self.t0 = t0
        self.pace = pace
        self.clock = clock
        self.stop_exception = stop_exception
        self.on_spawned = on_spawned
        self.pool = Pool(clock, signal, self._start_user, cap, tolerance, t0, headroom)
        # pool users take the core's planned client ids first (a locustfile may log in as user N), then more
        self.ids = itertools.chain([c.client_id for c in sorted(clients, key=lambda c: c.start)], extra_ids)
        self.waiting: dict[Any, Any] = {}
        self.dispatched = False
        users.ended.append(self._user_ended)

    def arrivals(self) -> Iterable[float]:
        t0 = self.t0
        return (t0 + t for t, _client_id in plan_queries.arrivals(self.clients, self.pace))

    def _start_user(self) -> None:
        client_id = next(self.ids, None)
        if client_id is None:
            client_id = -1 - self.pool.started
        wait = PoolWait(self.pool, self.clock, self.stop_exception, self.users.recorder)
        self.users.start(client_id, wait, time.time(), math.inf)

    def _user_ended(self, _greenlet: Any, wait: Any) -> None:
        if isinstance(wait, PoolWait):
            self.pool.user_ended(never_asked=wait.first)

    def run(self) -> None:
        # users start on demand: no ramp of users to wait for (a locustfile holding its users in
        # on_start until spawning_complete must not hold the pool)
        self.on_spawned()
        try:
            self.pool.dispatch(self.arrivals())
        finally:
            self.dispatched = True

    @property
    def finished(self) -> bool:
        return self.dispatched and self.users.active <= 0

    def take_dropped(self) -> dict[int, int]:
        return self.pool.take_counts()

    def take_started(self) -> dict[int, int]:
        """Users the pool started per second since the last call."""
        return self.pool.take_started()

    def figures(self) -> dict[str, Any]:
        pool = self.pool
        return {"arrivals_planned": pool.planned, "arrivals_sent": pool.handed, "arrivals_dropped": pool.dropped,
                "pool_size": pool.size, "pool_max": pool.max_size, "pool_started": pool.started, "pool_cap": pool.cap,
                "pool_held": pool.held}
