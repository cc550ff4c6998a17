"""Timing logic of the runtime, free of Locust and gevent so that it runs against a fake clock.

All times here are absolute wall-clock seconds (time.time()); the plan's offsets are turned
into absolute times once, with the shared start time T0.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Protocol, Sequence

from .plan_queries import GOLDEN, Client, first_slot
from .records import LATE_START

# Wake-ups on a grid: every sleep of the wall clock (runner.WallClock) ends at the next multiple of
# WAKE_GRID seconds at or after the time asked for, never before it. Clients whose slots fall in the
# same grid step then wake in one turn of the event loop, send one after the other, and their answers
# are read in fewer turns: a planned request costs less CPU than one woken on its own (issue 29,
# docs/benchmarks.md). The price: a request goes out on average WAKE_GRID / 2 after its slot (counted
# in its response time from schedule), at most WAKE_GRID.
WAKE_GRID = 0.002


def on_grid(when: float, grid: float = WAKE_GRID) -> float:
    """The first multiple of `grid` (seconds since the epoch) at or after `when`."""
    step = math.ceil(when / grid) * grid
    return step if step >= when else step + grid


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep_until(self, when: float) -> None: ...

    def seconds_until(self, when: float) -> float: ...


class Pacer:
    """One client's request lattice: slots T0 + phase + n * pace, between its start and stop.

    The client starts at its start slot (its on_start runs there); `next_slot(now)` is asked
    before its first task (the first slot at or after the start) and after every task, and gives
    the time of the next request, or None when the next slot is at or after the client's stop.
    An on_start or a task that finished after the slot it should have been followed by skips to
    the next slot on the lattice and counts one overrun.
    """

    __slots__ = ("t0", "client", "pace", "start", "stop", "started_at", "_base", "_n", "overruns", "intended")

    def __init__(self, t0: float, client: Client, pace: float) -> None:
        self.t0 = t0
        self.client = client
        self.pace = pace
        self.start = t0 + client.start
        self.stop = t0 + client.stop
        self.started_at = self.start
        self._base = client.start  # offset from which the first paced slot is found
        self._n: int | None = None  # lattice index of the last slot handed out
        self.overruns = 0
        self.intended: float | None = None  # the slot the last one handed out stands for (see next_slot)

    def begin(self, now: float) -> None:
        """The client really starts (its on_start begins) at `now`. A start later than
        LATE_START moves the first slot to the first one at or after the real start (the late
        start is counted as such, not as an overrun); a start within it keeps the planned slots
        exactly (no rounding or wake-up jitter at an exact lattice boundary may skip a request)."""
        late = now - self.start > LATE_START
        self.started_at = now if late else self.start
        self._base = now - self.t0 if late else self.client.start

    def slot(self, n: int) -> float:
        return self.t0 + self.client.phase + n * self.pace

    def next_slot(self, now: float) -> float | None:
        """The next slot (or None at the stop). The first slot is kept when `now` is at most
        LATE_START past it (the start's own wake-up and an instant on_start must not cost a
        whole pace when the first slot is the start slot itself). `intended` is the slot the
        request should have gone out at: the next slot, or after an overrun the first slot the
        client missed (what its response time from schedule counts from: the latency a closed
        model hides when the target slows)."""
        tolerance = 0.0
        if self._n is None:
            first = first_slot(self._base, self.client.phase, self.pace)
            n = round((first - self.client.phase) / self.pace)
            tolerance = LATE_START
        else:
            n = self._n + 1
        slot = self.slot(n)
        self.intended = slot
        if now > slot + tolerance:
            n += math.ceil((now - slot) / self.pace)
            slot = self.slot(n)
            if slot < now:  # float rounding at an exact multiple
                n += 1
                slot = self.slot(n)
            self.overruns += 1
        self._n = n
        return slot if slot < self.stop else None


class PacedWait:
    """The `wait_time` given to every user, also called once before its first task (after its
    on_start): returns the seconds from now to the next slot (an absolute time, so waits do not
    drift), which Locust sleeps (one timer a task, as Locust's own waits: sleeping here and then
    Locust's sleep(0) cost a second switch a request); at the client's stop it sleeps until the
    stop time and raises `stop_exception` (Locust's StopUser), so the user's on_stop runs.

    Task iterations are counted when they ran, not when their slot is handed out: the slot
    handed out last (`due`) is counted at the next call (Locust calls wait_time after the task),
    or by `finish` when the client ends, if its time had come. A client stopped while it waits
    for a slot (the run aborted or killed, a full disk) counts no iteration it never ran."""

    __slots__ = ("pacer", "clock", "stop_exception", "on_overrun", "tally", "due", "ran", "stopped")

    def __init__(self, pacer: Pacer, clock: Clock, stop_exception: type[BaseException],
                 on_overrun: Callable[[int], None] | None = None, tally: Any = None) -> None:
        self.pacer = pacer
        self.clock = clock
        self.stop_exception = stop_exception
        self.on_overrun = on_overrun
        self.tally = tally  # its `iterations` counts the task iterations run (the recorder)
        self.due: float | None = None  # the slot handed out last, not yet counted
        self.ran = 0  # the task iterations this client ran
        self.stopped = False  # True once its planned stop came (it raised stop_exception there)

    def __call__(self) -> float:
        pacer = self.pacer
        if self.due is not None:
            self.due = None
            self.ran += 1
            if self.tally is not None:
                self.tally.iterations += 1
        before = pacer.overruns
        slot = pacer.next_slot(self.clock.time())
        if pacer.overruns != before and self.on_overrun is not None:
            self.on_overrun(pacer.client.client_id)
        if slot is None:
            self.stopped = True
            self.clock.sleep_until(pacer.stop)
            raise self.stop_exception()
        self.due = slot
        return self.clock.seconds_until(slot)

    @property
    def scheduled(self) -> float | None:
        """The slot the running iteration was due at (the first one missed after an overrun), or
        None between iterations: what its requests' response time from schedule counts from."""
        return self.pacer.intended if self.due is not None else None

    def finish(self, now: float) -> None:
        """The client ended at `now` (stopped, killed): its last slot counts if it had come (the
        iteration began, or was about to); idempotent."""
        due, self.due = self.due, None
        if due is not None and due <= now:
            self.ran += 1
            if self.tally is not None:
                self.tally.iterations += 1


def run_starts(
    clients: Sequence[Client],
    t0: float,
    clock: Clock,
    spawn: Callable[[Client, float], None],
    deadline: float = math.inf,
    prepare: Callable[[Client], None] | None = None,
    lead: float = 0.0,
) -> None:
    """Start every client at T0 + its start; overdue clients start at once (spawn gets the
    lateness). A client whose stop has passed is not started; nothing starts after `deadline`.
    `prepare(client)` is called `lead` seconds ahead of the slot (to build the user object off
    the critical path)."""
    for client in sorted(clients, key=lambda c: c.start):
        when = t0 + client.start
        if client.stop <= client.start:
            continue
        if prepare is not None:
            clock.sleep_until(when - lead)
            if clock.time() < deadline:
                prepare(client)
        clock.sleep_until(when)
        now = clock.time()
        if now >= deadline or now >= t0 + client.stop:
            continue
        spawn(client, now - when)


class ClassPicker:
    """Assigns a user class to a global client id, deterministically and in proportion to the
    classes' weights: frac(id x golden ratio) falls into the class's share of [0, 1), so any
    run of consecutive client ids is spread over the classes by weight. Classes with a
    `fixed_count` take the first client ids, in order, as Locust spawns them first."""

    def __init__(self, classes: Iterable[tuple[str, float, int]]) -> None:
        items = list(classes)
        if not items:
            raise ValueError("no user classes")
        self.fixed: list[str] = [name for name, _weight, fixed in items for _copy in range(max(0, int(fixed)))]
        weighted = [(name, float(weight)) for name, weight, fixed in items if not fixed and weight > 0]
        if not weighted:
            weighted = [(name, 1.0) for name, _weight, _fixed in items]
        total = sum(weight for _name, weight in weighted)
        self.bounds: list[tuple[float, str]] = []
        edge = 0.0
        for name, weight in weighted:
            edge += weight / total
            self.bounds.append((edge, name))

    def pick(self, client_id: int) -> str:
        if client_id < len(self.fixed):
            return self.fixed[client_id]
        x = (client_id * GOLDEN) % 1.0
        for edge, name in self.bounds:
            if x < edge:
                return name
        return self.bounds[-1][1]


def next_tick(t0: float, now: float, offset: float = 0.5) -> float:
    """The next time T0 + n + offset strictly after `now` (the per-second sampling points)."""
    n = math.floor(now - t0 - offset) + 1
    return t0 + n + offset
