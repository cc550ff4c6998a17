"""A load process watching itself, against a fake clock: CPU use, event-loop lag, the verdict."""
from __future__ import annotations

import json

import pytest

from hailstorm_runtime.monitor import BUSY_PROBES, BusyWindow, LagWindow, LoadMonitor, loop_run_wait_seconds, probe_lag
from hailstorm_runtime.recorder import Recorder
from hailstorm_runtime.records import LAG_PROBE_EVERY, SATURATION_SECONDS
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize

T0 = 1_795_000_000.0


class FakeProcess:
    """A wall clock and a CPU-seconds counter that the test moves forward."""

    def __init__(self) -> None:
        self.now = T0
        self.cpu = 0.0

    def time(self) -> float:
        return self.now

    def cpu_seconds(self) -> float:
        return self.cpu

    def run(self, seconds: float, busy: float) -> None:
        self.now += seconds
        self.cpu += seconds * busy


def test_the_lag_probe_measures_how_late_its_timer_fires():
    clock = FakeProcess()
    late = iter([0.0, 0.002, 0.030, 0.004])
    refreshed = []

    def sleep(seconds: float) -> None:  # the loop wakes the probe `late` seconds after its time
        clock.now += seconds + next(late)

    window = LagWindow()
    probe_lag(window, clock.time, sleep, update_now=lambda: refreshed.append(1), rounds=4)
    assert len(refreshed) == 4
    mean, worst = window.take(clock.now)
    assert mean == pytest.approx(0.009)
    assert worst == pytest.approx(0.030)
    assert window.take(clock.now) == (0.0, 0.0)  # a new window
    stop = [False, False, True]
    probe_lag(window, clock.time, lambda seconds: None, until=lambda: stop.pop(0))
    assert window.count == 2  # ends once `until` says so


def test_a_loop_blocked_for_the_whole_second_shows_its_pending_probe_as_lag():
    window = LagWindow()
    window.pending_due = T0 + LAG_PROBE_EVERY
    assert window.take(T0 + 1.0) == pytest.approx((1.0 - LAG_PROBE_EVERY, 1.0 - LAG_PROBE_EVERY))
    window.add(-0.001)  # a timer that fired a hair early counts as on time
    assert window.take(T0 + 0.5)[0] == 0.0


def test_cpu_is_the_process_cpu_over_wall_time():
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    fake.run(1.0, 0.25)
    assert monitor.sample(0)["cpu"] == pytest.approx(0.25)
    fake.run(2.0, 0.5)
    assert monitor.sample(1)["cpu"] == pytest.approx(0.5)


def test_the_wait_for_a_cpu_is_the_loop_s_run_queue_time_over_wall_time():
    fake = FakeProcess()
    waited = [0.0]
    monitor = LoadMonitor(fake.time, fake.cpu_seconds, run_wait=lambda: (fake.cpu, waited[0]))
    fake.run(1.0, 0.02)
    waited[0] += 0.3
    sample = monitor.sample(0)
    assert sample["wait"] == pytest.approx(0.3) and sample["cpu"] == pytest.approx(0.02)
    fake.run(2.0, 0.1)
    waited[0] += 0.1
    assert monitor.sample(1)["wait"] == pytest.approx(0.05)
    fake.run(1.0, 0.0)
    waited[0] += 1.3  # a wait the kernel adds up when it ends, partly in the second before
    assert monitor.sample(2)["wait"] == 1.0


def seconds_of(fake: FakeProcess, monitor: LoadMonitor, busy: list[float], lag: float = 0.0, first: int = 0):
    verdicts = []
    for i, fraction in enumerate(busy):
        monitor.lag.add(lag)
        fake.run(1.0, fraction)
        monitor.sample(first + i)
        verdicts.append(monitor.status()["generator_limited"])
    return verdicts


def test_busy_cpu_for_more_than_the_sustain_seconds_is_generator_limited():
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    # bursts of SATURATION_SECONDS busy seconds are not enough
    burst = [0.98] * SATURATION_SECONDS + [0.3]
    assert not any(seconds_of(fake, monitor, burst * 3))
    verdicts = seconds_of(fake, monitor, [0.98] * (SATURATION_SECONDS + 2), first=100)
    assert verdicts == [False] * SATURATION_SECONDS + [True, True]
    status = monitor.status()
    assert status["limited_seconds"] == SATURATION_SECONDS + 2
    assert status["cpu"] == pytest.approx(0.98)
    seconds_of(fake, monitor, [0.1], first=200)
    assert monitor.status()["generator_limited"]  # once limited, the run's results stay suspect


def test_event_loop_lag_alone_makes_a_core_generator_limited():
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    assert not any(seconds_of(fake, monitor, [0.5] * 10, lag=0.008))
    assert seconds_of(fake, monitor, [0.5] * (SATURATION_SECONDS + 1), lag=0.025, first=10)[-1]


def test_a_gap_between_seconds_breaks_the_run():
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    for second in (0, 1, 3, 4, 6, 7):  # never more than 2 in a row
        fake.run(1.0, 1.0)
        monitor.sample(second)
    assert not monitor.status()["generator_limited"]


def test_load_samples_go_into_the_records_and_the_status_file(tmp_path):
    now = [T0 + 0.5]
    rec = Recorder(str(tmp_path), 2, T0, now=lambda: now[0])
    rec.meta(host="h1", core=2, clients=1)
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    for second in range(6):
        monitor.lag.add(0.040)
        fake.run(1.0, 0.99)
        rec.sample_load(second, monitor.sample(second), monitor.status())
        rec.on_request("GET", "/a", 5.0, 1, start_time=T0 + second)
        if second % 2:
            rec.flush()
    rec.write_status("running", 1, 6, 1.0)
    rec.end("done")
    rec.close()
    status = json.loads((tmp_path / "core-2.status.json").read_text())
    assert status["generator_limited"] is True and status["cpu"] == pytest.approx(0.99)
    assert status["lag_ms"] == pytest.approx(40.0)
    summary = summarize(merge([tmp_path / "core-2.jsonl"]), {"rps": 1, "rampup": 0, "constant": 6})
    load = summary["cores"][0]["load"]
    assert load["seconds"] == 6 and load["limited_seconds"] == 6 and load["limited_from"] == 0
    assert summary["generator_limited"][0].startswith(
        "results from h1 core 2 are generator-limited; plan fewer rps per core")
    assert summary["requests"] == 6


def test_a_stall_is_a_probe_a_tick_late_and_the_next_tick_of_that_second_keeps_it(tmp_path):
    """A process stopped for 4.2 s: its probe, due 50 ms after the last tick, wakes 4.2 s late
    with the ticker (both timers overdue), the tick half a second later falls in the same second;
    the recorder keeps a second's later sample, which still carries the stall."""
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    now = [T0 + 0.5]
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: now[0])
    rec.meta(host="h1", core=0, clients=1)
    for second in range(3):
        fake.run(1.0, 0.05)
        rec.sample_load(second, monitor.sample(second), monitor.status())
    monitor.lag.pending_due = fake.now + LAG_PROBE_EVERY
    fake.run(4.25, 0.0)  # stopped: no CPU, the wall clock goes on
    late = monitor.sample(6)
    assert late["stall_ms"] == pytest.approx(4200.0)
    rec.sample_load(6, late, monitor.status())
    rec.flush()
    monitor.lag.pending_due = None
    monitor.lag.add(0.002)
    fake.run(0.5, 0.05)
    rec.sample_load(6, monitor.sample(6), monitor.status())
    assert monitor.status()["stalled_seconds"] == pytest.approx(4.2)
    fake.run(0.5, 0.05)
    rec.sample_load(7, monitor.sample(7), monitor.status())
    rec.end("done")
    rec.close()
    summary = summarize(merge([tmp_path / "core-0.jsonl"]), {"rps": 1, "rampup": 0, "constant": 8})
    load = summary["cores"][0]["load"]
    assert (load["stalls"], load["stalled_seconds"], load["stalled_from"]) == (1, 4.2, 2)
    assert summary["generator_limited"] == [
        "h1 core 0 stalled for 4.2 s (1 stall(s) of at least 1 s, the longest 4.2 s, the first from second 2; it used "
        "no CPU then and did not wait for one: the process was not scheduled (stopped with SIGSTOP, a paused VM, memory pressure)): its "
        "requests due then were late and its responses in flight then include the stall, so these are the load "
        "generator's figures, not the target's"]


def test_lag_under_a_tick_is_no_stall():
    fake = FakeProcess()
    monitor = LoadMonitor(fake.time, fake.cpu_seconds)
    monitor.lag.add(0.9)
    fake.run(1.0, 0.5)
    assert "stall_ms" not in monitor.sample(0) and monitor.status()["stalled_seconds"] == 0.0


def test_no_headroom_is_a_loop_late_now_or_a_last_second_over_the_generator_limit():
    clock = FakeProcess()
    monitor = LoadMonitor(clock.time, clock.cpu_seconds)
    assert not monitor.over_limit_now()  # nothing measured yet: room for a user
    for lateness in (0.001, 0.002, 0.001):
        monitor.lag.add(lateness)
    assert not monitor.over_limit_now()
    monitor.lag.pending_due = clock.now - 0.030  # the probe's wake-up is 30 ms overdue: a busy machine
    assert not monitor.over_limit_now()
    monitor.lag.pending_due = clock.now - 0.060  # 60 ms: the loop is held now
    assert monitor.over_limit_now()
    monitor.lag.pending_due = None
    clock.run(1.0, busy=0.95)
    monitor.sample(0)  # a second over 90 % CPU
    assert monitor.over_limit_now()
    clock.run(1.0, busy=0.2)
    monitor.sample(1)
    assert not monitor.over_limit_now()
    monitor.lag.add(0.5)  # a second whose loop was 0.5/4 s late on average: over the 10 ms limit
    monitor.lag.add(0.0)
    monitor.lag.add(0.0)
    monitor.lag.add(0.0)
    clock.run(1.0, busy=0.2)
    monitor.sample(2)
    assert monitor.over_limit_now()


def test_the_busy_share_is_measured_over_the_last_probes_only():
    clock = FakeProcess()
    waited = [0.0]
    window = BusyWindow(lambda: (clock.cpu, waited[0]), size=4)
    assert window.shares() is None
    window.mark(clock.now)
    assert window.shares() is None  # one mark: no interval yet
    for _round in range(10):
        clock.run(0.05, busy=0.2)
        window.mark(clock.now)
    assert window.shares() == pytest.approx((0.2, 0.2)) and not window.saturated()
    for _round in range(3):
        clock.run(0.05, busy=1.0)
        window.mark(clock.now)
    assert window.shares() == pytest.approx(((0.2 + 3 * 1.0) / 4,) * 2)  # 3 of the 4 intervals busy
    clock.run(0.05, busy=1.0)
    window.mark(clock.now)
    assert window.shares() == pytest.approx((1.0, 1.0)) and window.saturated()
    for _round in range(4):  # a third of a CPU of its own, runnable the rest of the time: a starved, saturated loop
        clock.run(0.05, busy=0.35)
        waited[0] += 0.05 * 0.64
        window.mark(clock.now)
    assert window.shares() == pytest.approx((0.35, 0.99)) and window.saturated()
    for _round in range(4):  # a few wake-ups of little work, each waiting long for a CPU on a loaded machine
        clock.run(0.05, busy=0.05)
        waited[0] += 0.05 * 0.9
        window.mark(clock.now)
    assert window.shares() == pytest.approx((0.05, 0.95)) and not window.saturated()


def test_no_headroom_when_the_loop_was_busy_over_the_last_probes_even_within_the_first_second():
    clock = FakeProcess()
    monitor = LoadMonitor(clock.time, clock.cpu_seconds, run_wait=lambda: (clock.cpu, 0.0))

    def probes(busy):
        for _round in range(BUSY_PROBES):
            clock.run(LAG_PROBE_EVERY, busy=busy)
            monitor.lag.add(0.001)
            monitor.busy.mark(clock.now)

    monitor.busy.mark(clock.now)
    probes(0.6)
    assert not monitor.over_limit_now()
    probes(0.97)  # a loop running 97 % of the last 0.2 s, no second sampled yet
    assert monitor.last is None and monitor.over_limit_now()
    probes(0.5)
    assert not monitor.over_limit_now()


def test_the_probe_marks_the_busy_window_at_each_wake_up():
    clock = FakeProcess()
    window, busy = LagWindow(), BusyWindow(lambda: (clock.cpu, 0.0), size=BUSY_PROBES)
    probe_lag(window, clock.time, lambda seconds: clock.run(seconds, busy=0.5), rounds=6, busy=busy)
    assert len(busy.marks) == BUSY_PROBES + 1 and busy.shares() == pytest.approx((0.5, 0.5))


def test_a_spinning_loop_is_busy_and_a_sleeping_one_is_not():
    import time

    def shares(action):
        wall, (run, wait) = time.time(), loop_run_wait_seconds()
        action()
        run2, wait2 = loop_run_wait_seconds()
        seconds = time.time() - wall
        return (run2 - run) / seconds, (run2 + wait2 - run - wait) / seconds

    def spin():
        end = time.time() + 0.3
        while time.time() < end:
            pass

    # running and waiting for a CPU both count: a spinning thread is busy however loaded the machine is
    assert shares(spin)[1] > 0.8
    assert shares(lambda: time.sleep(0.3))[1] < 0.5
