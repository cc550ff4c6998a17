"""A load process watching itself: its CPU use and its event-loop lag, second by second, and
whether it has become the bottleneck of its own run (records.py's generator-limit rule).

Free of gevent and Locust, so that it runs against a fake clock: the runtime passes in
gevent's sleep and the loop's `update_now`, and calls `LoadMonitor.sample` once a second.

Event-loop lag: a probe sleeps LAG_PROBE_EVERY seconds again and again; how much later than
asked it wakes up is how late any timer of the loop (a client's next slot) runs at that moment.
CPU: the process's user + system CPU seconds over the wall-clock seconds between two samples.
Wait: the seconds its event loop (main thread) waited on a run queue for a CPU over the same
wall-clock seconds (/proc/self/schedstat; absent where the kernel keeps none): a loop late while
it waited more than it ran was held by other work on the host, not by its own (records.starved).

Busy share (`BusyWindow`, what the open model's pool asks before it starts one more user): the
share of the last BUSY_PROBES probes' wall time the load process's event loop (its main thread)
ran or waited on a run queue for a CPU (/proc/self/schedstat; the process's CPU alone where the
kernel keeps no such figure). Over SATURATION_CPU, with at least HEADROOM_OWN_CPU of it run, the
core has no time for another user, whether its own work fills its CPU or it gets a part of a CPU
it shares; a whole second's figures come too late for that (at 9,300
arrivals/s on a core that sends ~7,500/s, the pool grew to 8,656 users within the first second,
each with its own connection, and the core then sent 5,318/s).

Stall: a probe wake-up STALL_SECONDS or more late, so the process missed at least one of its own
once-a-second ticks: it was not scheduled (SIGSTOP, a paused VM, memory pressure) or code blocked
its event loop. Its length is the sample's `stall_ms`; the sample's CPU tells the two apart (about
0 when the process did not run at all). The seconds the stall spans have no sample of their own.
"""
from __future__ import annotations

import collections
import resource
import time
from typing import Any, Callable

from .records import (LAG_PROBE_EVERY, SATURATION_CPU, STALL_SECONDS, SaturationStreak, load_sample, over_limit,
                      starved)

LIVE_PROBES = 3  # lag probes of the running second before its mean counts in `over_limit_now`
HEADROOM_LAG = 0.05  # seconds: an event loop this late now has no room for one more user (a user started
# then sends its first request that late at best, 5 % of the arrival tolerance, and adds to the lag)


BUSY_PROBES = 4  # lag probes (LAG_PROBE_EVERY apart) the live busy share is measured over: 0.2 s
HEADROOM_OWN_CPU = 0.25  # ...and the CPU share of its own that makes a busy loop a saturated one, not a starved
# process with little to do on a loaded machine (each of its wake-ups waits for a CPU, yet a user more costs it little)


def loop_run_wait_seconds() -> tuple[float, float]:
    """(seconds run, seconds waited for a CPU on a run queue) of the process's main thread, its
    event loop (/proc/self/schedstat); (the process's CPU seconds, 0) where the kernel keeps no
    schedstat."""
    try:
        with open("/proc/self/schedstat", "rb") as handle:
            run, wait = handle.read().split()[:2]
        return int(run) / 1e9, int(wait) / 1e9
    except (OSError, ValueError, IndexError):
        return process_cpu_seconds(), 0.0


class BusyWindow:
    """Over the last `size` marks (one per lag probe): the share of the wall time the event loop
    ran, and the share it ran or waited for a CPU (`run_wait`: seconds of each, cumulative)."""

    __slots__ = ("run_wait", "marks")

    def __init__(self, run_wait: Callable[[], tuple[float, float]] = loop_run_wait_seconds,
                 size: int = BUSY_PROBES) -> None:
        self.run_wait = run_wait
        self.marks: collections.deque[tuple[float, float, float]] = collections.deque(maxlen=size + 1)

    def mark(self, now: float) -> None:
        run, wait = self.run_wait()
        self.marks.append((now, run, wait))

    def shares(self) -> tuple[float, float] | None:
        """(run, run + wait) seconds per wall second over the window; None before two marks."""
        if len(self.marks) < 2:
            return None
        (wall0, run0, wait0), (wall1, run1, wait1) = self.marks[0], self.marks[-1]
        if wall1 <= wall0:
            return None
        run = (run1 - run0) / (wall1 - wall0)
        return run, run + (wait1 - wait0) / (wall1 - wall0)

    def saturated(self) -> bool:
        """Busy (ran or waited) more than SATURATION_CPU of the window, a quarter of it at least ran."""
        shares = self.shares()
        return shares is not None and shares[1] > SATURATION_CPU and shares[0] >= HEADROOM_OWN_CPU


def _has_schedstat() -> bool:
    try:
        with open("/proc/self/schedstat", "rb"):
            return True
    except OSError:
        return False


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads), to the microsecond."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LagWindow:
    """Lateness of the probe's wake-ups since the last `take` (mean and max), and the wake-up
    it is waiting for now (a loop blocked for the whole second has no wake-up to show)."""

    __slots__ = ("count", "total", "worst", "pending_due")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.worst = 0.0
        self.pending_due: float | None = None

    def add(self, lateness: float) -> None:
        lateness = max(0.0, lateness)
        self.count += 1
        self.total += lateness
        if lateness > self.worst:
            self.worst = lateness

    def late_so_far(self, now: float) -> float | None:
        """How late the loop runs now, in seconds: the wake-up awaited if it is already later than
        the window's mean (a loop held by a burst of work has no wake-up to show), else the mean of
        this window's wake-ups; None before LIVE_PROBES wake-ups and none overdue."""
        pending = max(0.0, now - self.pending_due) if self.pending_due is not None else 0.0
        mean = self.total / self.count if self.count else 0.0
        if pending > mean:
            return pending
        return mean if self.count >= LIVE_PROBES else None

    def take(self, now: float) -> tuple[float, float]:
        """(mean, max) lateness in seconds since the last take; then starts a new window."""
        pending = max(0.0, now - self.pending_due) if self.pending_due is not None else 0.0
        if self.count:
            mean, worst = self.total / self.count, max(self.worst, pending)
        else:
            mean = worst = pending
        self.count, self.total, self.worst = 0, 0.0, 0.0
        return mean, worst


def probe_lag(window: LagWindow, clock: Callable[[], float], sleep: Callable[[float], Any],
              update_now: Callable[[], Any] | None = None, every: float = LAG_PROBE_EVERY,
              rounds: int | None = None, until: Callable[[], bool] | None = None,
              busy: BusyWindow | None = None) -> None:
    """Sleep `every` seconds, over and over (until `until()` is true, or `rounds` times), adding
    each wake-up's lateness to `window` (and marking `busy` at each wake-up). `update_now`
    refreshes a busy loop's cached time first (without it the timer is set from a stale time,
    fires early and hides the lag)."""
    done = 0
    while (rounds is None or done < rounds) and not (until is not None and until()):
        if update_now is not None:
            update_now()
        due = clock() + every
        window.pending_due = due
        sleep(every)
        window.pending_due = None
        now = clock()
        window.add(now - due)
        if busy is not None:
            busy.mark(now)
        done += 1


class LoadMonitor:
    """One load process's CPU use and event-loop lag per second, and its generator-limit verdict."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 cpu_seconds: Callable[[], float] = process_cpu_seconds,
                 run_wait: Callable[[], tuple[float, float]] = loop_run_wait_seconds) -> None:
        self.clock = clock
        self.cpu_seconds = cpu_seconds
        self.lag = LagWindow()
        self.busy = BusyWindow(run_wait)
        self.streak = SaturationStreak()
        self._wall = clock()
        self._cpu = cpu_seconds()
        self._waited = run_wait()[1]
        self._has_schedstat = run_wait is not loop_run_wait_seconds or _has_schedstat()
        self.last: dict[str, float] | None = None
        self.second: int | None = None  # the second of the last sample given one
        self.stalled = 0.0  # seconds of every stall so far
        self.over = 0  # seconds sampled over the generator limit so far
        self.starved = 0  # ...of which other work held the CPU (records.starved)

    def sample(self, second: int | None = None, now: float | None = None) -> dict[str, float]:
        """The load since the previous sample (a records.py LOAD sample). With `second`, the
        sample counts towards the verdict as that second's (give seconds in increasing order)."""
        now = self.clock() if now is None else now
        cpu = self.cpu_seconds()
        wall = now - self._wall
        fraction = (cpu - self._cpu) / wall if wall > 0 else 0.0
        waited = self.busy.run_wait()[1]
        wait = (waited - self._waited) / wall if wall > 0 and self._has_schedstat else None
        self._wall, self._cpu, self._waited = now, cpu, waited
        mean, worst = self.lag.take(now)
        sample = load_sample(fraction, mean, worst, wait)
        if worst >= STALL_SECONDS:
            sample["stall_ms"] = sample["lag_max_ms"]
            self.stalled += worst
        if second is not None and second == self.second and self.last is not None:
            # the tick after a late one falls in the same second: the record keeps the later
            # sample of a second, so it carries the worst of both (a stall is never overwritten)
            sample = worst_of(self.last, sample)
        elif second is not None:
            self.streak.observe(second, sample)
            self.second = second
            if over_limit(sample):
                self.over += 1
                self.starved += starved(sample)
        self.last = sample
        return sample

    def over_limit_now(self, now: float | None = None) -> bool:
        """Whether this process has no room for more work now: its last second was over the
        generator limit (results.over_limit: CPU or mean event-loop lag), its event loop was busy
        (ran or waited for a CPU) more than SATURATION_CPU of the last BUSY_PROBES probes' time
        (BusyWindow.saturated), or
        it runs more than HEADROOM_LAG late now (LagWindow.late_so_far: a burst of work within the
        second). What the open model's pool asks before it starts one more user (pool.Pool's headroom)."""
        if self.last is not None and over_limit(self.last):
            return True
        if self.busy.saturated():
            return True
        late = self.lag.late_so_far(self.clock() if now is None else now)
        return late is not None and late > HEADROOM_LAG

    def status(self) -> dict[str, Any]:
        """The fields the status file (and so the progress lines) carry."""
        last = self.last or {}
        return {"cpu": last.get("cpu"), "lag_ms": last.get("lag_ms"), "lag_max_ms": last.get("lag_max_ms"),
                "generator_limited": self.streak.limited, "limited_seconds": self.streak.limited_seconds,
                "wait": last.get("wait"), "starved": 2 * self.starved > self.over,
                "stalled_seconds": round(self.stalled, 3)}


def worst_of(first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
    """Two LOAD samples of one second as one: the larger value of each field."""
    return {key: max(first.get(key, 0.0), second.get(key, 0.0)) for key in {**first, **second}}
