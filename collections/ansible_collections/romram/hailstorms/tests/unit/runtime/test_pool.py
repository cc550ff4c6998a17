"""The open model's pool on a virtual clock: a tiny discrete-event loop of greenlets (the
library gevent is built on) stands in for gevent, so every figure is exact and instant."""
from __future__ import annotations

import heapq
import itertools

import greenlet
import pytest

from hailstorm_runtime.pool import Pool, PoolWait


class Stop(Exception):
    pass


class Loop:
    """Virtual time: greenlets sleep until a time; the loop runs the earliest due one."""

    def __init__(self):
        self.now = 0.0
        self.queue = []
        self.order = itertools.count()
        self.main = greenlet.getcurrent()

    def time(self):
        return self.now

    def seconds_until(self, when):
        return max(0.0, when - self.now)

    def spawn(self, function, *args):
        child = greenlet.greenlet(lambda _value=None: function(*args), parent=self.main)
        heapq.heappush(self.queue, (self.now, next(self.order), child, None))
        return child

    def sleep_until(self, when):
        heapq.heappush(self.queue, (max(when, self.now), next(self.order), greenlet.getcurrent(), None))
        self.main.switch()

    def wake(self, child, value):
        heapq.heappush(self.queue, (self.now, next(self.order), child, value))

    def run(self, until=1e9):
        while self.queue and self.queue[0][0] <= until:
            when, _order, child, value = heapq.heappop(self.queue)
            self.now = when
            if not child.dead:
                child.switch(value)


class Signal:
    def __init__(self, loop):
        self.loop, self.waiter, self.value, self.done = loop, None, None, False

    def set(self, value):
        self.value, self.done = value, True
        if self.waiter is not None:
            self.loop.wake(self.waiter, value)

    def wait(self):
        if self.done:
            return self.value
        self.waiter = greenlet.getcurrent()
        return self.loop.main.switch()


def run_open(rate=100.0, seconds=10.0, service=lambda t: 0.005, cap=1000, on_start=0.0, tolerance=1.0, headroom=None,
             late=0.0):
    """Users that take arrivals from the pool and 'send' for service(t) seconds each; returns the pool
    and the (slot, sent, done) of every request. `late`: the time the dispatcher first runs."""
    loop = Loop()
    loop.now = late
    sent = []
    users = []

    class Tally:
        iterations = 0

    tally = Tally()

    def user():
        wait = PoolWait(pool, loop, Stop, tally)
        users.append(wait)
        loop.sleep_until(loop.now + on_start)  # on_start
        try:
            while True:
                loop.sleep_until(loop.now + wait())
                start = loop.now
                loop.sleep_until(start + service(start))
                sent.append((wait.due, start, loop.now))
        except Stop:
            pool.user_ended()

    pool = Pool(loop, lambda: Signal(loop), lambda: loop.spawn(user), cap, tolerance,
                headroom=None if headroom is None else lambda: headroom(loop.now))
    slots = [i / rate for i in range(int(rate * seconds))]
    loop.spawn(pool.dispatch, slots)
    loop.run()
    return pool, sent, tally, users


def test_a_steady_target_gets_every_arrival_on_its_slot_from_a_few_reused_users():
    pool, sent, tally, _users = run_open()
    assert pool.planned == 1000 and pool.handed == 1000 and pool.dropped == 0
    assert len(sent) == 1000 and tally.iterations == 1000
    assert all(start == pytest.approx(slot) for slot, start, _done in sent)  # every request on its slot
    assert pool.started == 1  # 5 ms answers at 10 ms spacing: one user takes them all
    assert pool.size == 0  # every user stopped at the end


def test_arrivals_keep_their_schedule_when_the_target_stalls():
    # the request of 4.00 s and of 14.00 s stall 2 s; 100 rps; a cap large enough
    pool, sent, _tally, _users = run_open(seconds=20, service=lambda t: 2.0 if int(t * 100) % 1000 == 400 else 0.005)
    assert pool.dropped == 0 and pool.handed == pool.planned == 2000
    assert all(start == pytest.approx(slot) for slot, start, _done in sent)  # nobody waits for the stalled one
    assert pool.started == 2  # one more user while the stalled request holds the first


def test_a_slow_target_grows_the_pool_and_the_cap_drops_what_finds_no_user_counted_exactly():
    # every answer takes 1 s at 100 rps: 100 users are needed; a cap of 20 serves 20 per second
    pool, sent, _tally, _users = run_open(seconds=5, service=lambda t: 1.0, cap=20, tolerance=0.2)
    assert pool.max_size == 20
    assert pool.planned == 500 == pool.handed + pool.dropped
    assert len(sent) == pool.handed and pool.dropped > 300
    assert all(start - slot <= 0.2 + 1e-9 for slot, start, _done in sent)  # never sent later than its tolerance
    assert sum(pool.take_counts().values()) == pool.dropped


def test_a_slow_on_start_delays_the_first_arrival_a_user_takes_but_later_ones_keep_their_slot():
    pool, sent, _tally, _users = run_open(seconds=2, on_start=0.05)
    assert pool.dropped == 0
    late = [(slot, start - slot) for slot, start, _done in sent if start - slot > 1e-9]
    assert late and max(lateness for _slot, lateness in late) == pytest.approx(0.05)
    assert all(slot < 0.1 for slot, _lateness in late)  # only arrivals due while the first users log in
    assert pool.started == 6  # one user started for each arrival that found none idle during that time


def test_the_users_started_are_counted_in_the_second_they_started():
    # every answer takes 1 s at 100 rps from 0 s: about 100 users start in the first second, none later
    pool, _sent, _tally, _users = run_open(seconds=3, service=lambda t: 1.0)
    started = pool.take_started()
    assert sum(started.values()) == pool.started and started[0] >= 99 and sum(started.values()) - started[0] <= 2
    assert pool.take_started() == {}  # taken: counted once


def test_a_core_without_headroom_keeps_its_users_and_drops_what_finds_none_counted_exactly():
    # every answer takes 1 s at 100 rps, as on a saturated core; the core says it has no headroom
    # for its first 2 s: the pool keeps its first user (1 request a second), the rest is dropped and
    # counted; from 2 s it grows again, up to what the arrivals need
    pool, sent, _tally, _users = run_open(seconds=5, service=lambda t: 1.0, headroom=lambda now: now >= 2.0)
    assert pool.planned == 500 == pool.handed + pool.dropped == len(sent) + pool.dropped
    started = pool.take_started()
    assert started.get(0) == 1 and started.get(1) is None and started[2] >= 99, started
    assert pool.held >= 100 * 2 - 100 * 1.0 - 2  # arrivals of 0-1 s refused a user (those of 1-2 s too)
    assert all(start - slot <= 1.0 + 1e-9 for slot, start, _done in sent)  # never later than its tolerance
    # those of the first second waited past their tolerance; those of 1-2 s found the new users in time
    assert sum(pool.take_counts().values()) == pool.dropped and 95 <= pool.dropped <= 100


def test_a_user_handed_its_arrival_while_idle_is_told_so_and_one_taking_a_waiting_arrival_is_not():
    loop = Loop()
    seen = []

    def user():
        wait = PoolWait(pool, loop, Stop)
        try:
            while True:
                seconds = wait()
                seen.append((wait.due, wait.handed, seconds))
                loop.sleep_until(loop.now + 0.005)  # its task
        except Stop:
            pool.user_ended()

    pool = Pool(loop, lambda: Signal(loop), lambda: loop.spawn(user), cap=1)
    loop.spawn(pool.dispatch, [0.0, 0.001, 0.1, 0.2])
    loop.run()
    # the first arrival waited in the backlog for the user it started; the second came while the
    # first was sent (waiting, taken after the task); the last two were handed to the idle user
    assert seen == [(0.0, False, 0.0), (0.001, False, 0.0), (0.1, True, 0.0), (0.2, True, 0.0)]


def test_a_dispatcher_that_wakes_late_starts_no_user_for_arrivals_already_past_their_tolerance():
    # the dispatcher's first wake-up comes 3 s after the first slot (a core starved at its start): the
    # arrivals more than the tolerance old are dropped and counted, and no user starts for them
    pool, sent, _tally, _users = run_open(seconds=3, late=3.0)
    assert pool.planned == 300 == pool.handed + pool.dropped
    assert pool.dropped == 200  # 0.00-1.99 s: more than 1 s old at 3.0 s
    assert len(sent) == pool.handed == 100 and pool.started <= 100
