"""The open model on one core: arrivals on their slots, handed to a pool of users.

In the closed model each client sends on its own slots, and a client whose request outlasts its
pace skips slots: when the target slows, the load drops. In the open model the same slots (the
plan's lattice, every client's slots inside its intervals) are *arrivals*, independent of any
user: at each arrival's slot the dispatcher hands it to an idle user of this core's pool; when
none is idle it starts a new user (its on_start runs, then it takes the oldest waiting arrival),
up to the core's cap and only while the core has headroom (`headroom()`, the core's measured load
under the generator limit: a user started on a saturated core adds no request, only more work
for it, so an overloaded core keeps the users it has and degrades instead of piling up users it
cannot run or stop). An arrival that finds no user within `tolerance` of its slot is dropped and
counted, never sent late in a burst. Users are reused across arrivals, so a locustfile's session
state (a login in on_start) works as in a closed run.

Free of Locust; gevent only through the `Signal` factory, so the logic runs against a fake clock
and plain callbacks in the unit tests.
"""
from __future__ import annotations

import collections
from typing import Any, Callable, Iterable, Protocol

ARRIVAL_TOLERANCE = 1.0  # seconds after its slot an arrival may wait for a user before it is dropped


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep_until(self, when: float) -> None: ...


class Signal(Protocol):
    """A one-shot hand-over: `wait()` blocks the user until `set(value)`, then returns it."""

    def set(self, value: Any) -> None: ...

    def wait(self) -> Any: ...


class Pool:
    """The arrivals of one core and the users that take them.

    `start_user()` starts one new user (the runtime spawns a Locust user whose wait_time is a
    `PoolWait` of this pool); the pool counts it. `dispatch(arrivals)` runs in its own greenlet:
    for each arrival slot (absolute times, in order) it sleeps until the slot and hands it out.
    Figures: `planned`, `handed` (sent), `dropped` (and per second since the last `take_counts`),
    `started` (users started; per second since the last `take_started`), `size` (users alive), `idle`,
    `held` (arrivals that found no idle user and got no new one because the core had no headroom).
    `headroom`: whether the core can take one more user now (None: always, up to the cap).
    """

    def __init__(self, clock: Clock, signal: Callable[[], Signal], start_user: Callable[[], None], cap: int,
                 tolerance: float = ARRIVAL_TOLERANCE, t0: float = 0.0,
                 headroom: Callable[[], bool] | None = None) -> None:
        if cap < 1:
            raise ValueError("the pool needs a cap of at least one user")
        self.clock = clock
        self.signal = signal
        self.start_user = start_user
        self.cap = cap
        self.tolerance = tolerance
        self.t0 = t0
        self.headroom = headroom
        self.held = 0
        self.idle: collections.deque[Any] = collections.deque()  # waiting users' signals, oldest first
        self.backlog: collections.deque[float] = collections.deque()  # due arrivals no user took yet
        self.size = 0  # users alive (started, not ended)
        self.starting = 0  # users started that have not asked for an arrival yet
        self.started = 0
        self.planned = 0
        self.handed = 0
        self.dropped = 0
        self.dropped_at: dict[int, int] = {}  # second: arrivals dropped, since take_counts
        self.started_at: dict[int, int] = {}  # second: users started, since take_started
        self.max_size = 0
        self.finished = False

    # --- the dispatcher ------------------------------------------------------------------
    def dispatch(self, arrivals: Iterable[float]) -> None:
        """Hand out every arrival at its slot, then stop the users (each idle one is told None)."""
        clock = self.clock
        now = clock.time()
        try:
            for slot in arrivals:
                self.planned += 1
                if slot > now:  # a slot of the wake-up already under way is handed out without a sleep
                    clock.sleep_until(slot)
                    now = clock.time()
                self._expire(now)
                if self.idle:
                    self._hand(self.idle.popleft(), slot)
                    continue
                self.backlog.append(slot)
                # a user for every waiting arrival, unless enough are starting already, up to the cap,
                # while the core has headroom (always a first one)
                if self.size < self.cap and self.starting < len(self.backlog):
                    if self.size == 0 or self.headroom is None or self.headroom():
                        self._start()
                    else:
                        self.held += 1
            # the last arrivals may still find a user within their tolerance
            while self.backlog:
                self.clock.sleep_until(self.backlog[0] + self.tolerance)
                self._expire(self.clock.time())
        finally:
            self.finish()

    def _start(self) -> None:
        self.size += 1
        self.starting += 1
        self.started += 1
        second = _second(self.clock.time() - self.t0)
        self.started_at[second] = self.started_at.get(second, 0) + 1
        self.max_size = max(self.max_size, self.size)
        self.start_user()

    def _hand(self, signal: Signal, slot: float) -> None:
        self.handed += 1
        signal.set(slot)

    def _drop(self, slot: float) -> None:
        self.dropped += 1
        second = _second(slot - self.t0)
        self.dropped_at[second] = self.dropped_at.get(second, 0) + 1

    def _expire(self, now: float) -> None:
        while self.backlog and now - self.backlog[0] > self.tolerance:
            self._drop(self.backlog.popleft())

    def finish(self) -> None:
        """No more arrivals: what waits is dropped, every idle user is told to stop."""
        if self.finished:
            return
        self.finished = True
        while self.backlog:
            self._drop(self.backlog.popleft())
        while self.idle:
            self.idle.popleft().set(None)

    # --- the users -----------------------------------------------------------------------
    def next_arrival(self, first: bool) -> float | None:
        """Called by a user's wait (after its on_start, `first`, and after each task): the slot
        of the arrival it takes, waiting for one if none is due; None when the run's arrivals are
        over (the user stops)."""
        return self.take(first)[0]

    def take(self, first: bool) -> tuple[float | None, bool]:
        """`next_arrival`, and whether the user waited for it (was handed it: it has just been
        switched in, so it need not yield again before it sends)."""
        if first:
            self.starting -= 1
        now = self.clock.time()
        self._expire(now)
        if self.backlog:
            slot = self.backlog.popleft()
            self.handed += 1
            return slot, False
        if self.finished:
            return None, False
        signal = self.signal()
        self.idle.append(signal)
        return signal.wait(), True

    def user_ended(self, waiting: Signal | None = None, never_asked: bool = False) -> None:
        """A user of the pool ended (stopped, or its greenlet died): `waiting`, its signal if it
        was idle; `never_asked`, it ended before it asked for an arrival (in its on_start)."""
        self.size -= 1
        if never_asked:
            self.starting -= 1
        if waiting is not None:
            try:
                self.idle.remove(waiting)
            except ValueError:
                pass

    def take_counts(self) -> dict[int, int]:
        """Arrivals dropped per second since the last call."""
        out, self.dropped_at = self.dropped_at, {}
        return out

    def take_started(self) -> dict[int, int]:
        """Users started per second (of the clock when each started) since the last call."""
        out, self.started_at = self.started_at, {}
        return out


def _second(offset: float) -> int:
    """The whole second since T0 that `offset` (seconds since T0) falls in, negative ones too."""
    return int(offset + (1 << 20)) - (1 << 20)


class PoolWait:
    """The `wait_time` of an open-model user: before its first task (after on_start) and after
    every task it asks the pool for its next arrival and returns the seconds until that slot
    (0 once it is due); at the end of the arrivals it raises `stop_exception` (StopUser), so the
    user's on_stop runs. Iterations are counted when they ran, as in schedule.PacedWait; `due`
    is the slot of the iteration running (what latency from schedule is measured from)."""

    __slots__ = ("pool", "clock", "stop_exception", "tally", "due", "first", "handed")

    def __init__(self, pool: Pool, clock: Any, stop_exception: type[BaseException], tally: Any = None) -> None:
        self.pool = pool
        self.clock = clock
        self.stop_exception = stop_exception
        self.tally = tally
        self.due: float | None = None
        self.first = True
        self.handed = False  # the last call waited for its arrival: the user was switched in with it

    def __call__(self) -> float:
        if self.due is not None:
            self.due = None
            if self.tally is not None:
                self.tally.iterations += 1
        first, self.first = self.first, False
        slot, self.handed = self.pool.take(first)
        if slot is None:
            raise self.stop_exception()
        self.due = slot
        return self.clock.seconds_until(slot)

    @property
    def scheduled(self) -> float | None:
        """The slot of the running iteration (its arrival), or None between iterations."""
        return self.due

    def finish(self, now: float) -> None:
        due, self.due = self.due, None
        if due is not None and due <= now and self.tally is not None:
            self.tally.iterations += 1
