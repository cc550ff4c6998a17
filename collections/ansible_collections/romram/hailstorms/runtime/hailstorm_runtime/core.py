"""One core's run, in parts with one job each:

- `CoreRun.setup`: Locust as a library (Environment + local runner, the user's own locustfile),
  the recorder's taps first on Locust's events (capture.py);
- `Arming`: armed, waiting for the controller's start signal (start.json) with the shared start;
- the driver (drivers.py): the closed model (a client per schedule) or the open model (arrivals
  handed to a pool of users);
- the background: the ticker (status, flushes, load samples), the deadline, the GC freeze;
- `CoreRun.finish`: users stopped, Locust's stop events, the end record and the final status.

`Hooks` is the seam for code that runs a core for another purpose (calibrate.py): `armed(core)`
after setup (e.g. write the start signal itself) and `recording(core)` once the recorder runs.
A core that cannot run raises RunFailure (failure.py) after its status says why; `__main__`
turns it into the exit code. Importing this module imports Locust (and so gevent's
monkey-patching).
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import signal
import socket
import sys
import time
import traceback
from typing import Any

import gevent
import gevent.event
from gevent.hub import Waiter
import locust
from gevent import monkey
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import STATE_SPAWNING, STATE_STOPPED

from . import PROCESS_START, capture, contract, metrics, otel, plan_queries, scenario_run
from .drivers import ClosedDriver, OpenDriver, Users, core_cap
from .failure import RunFailure
from .monitor import LoadMonitor, probe_lag
from .recorder import Recorder, write_status_file
from .records import LATE_SIGNAL
from .runner import (WallClock, apply_tags, load_user_classes, locust_options, locustfile_exit_code,
                     pace_the_first_task, pacing_takes_over, planned_classes, selected_classes, warm_up)
from .schedule import ClassPicker, next_tick

logger = logging.getLogger("hailstorm_runtime")
HARD_EXIT_AFTER = 5.0  # seconds after the deadline at which a stuck process is ended from a thread
STOP_USERS_FOR = 2.0  # seconds at most for stopping the users at the end (their on_stop)
END_MARGIN = 1.5  # seconds kept before the hard exit for the stop events, the end record and the last writes
FLUSH_EVERY = 1  # ticks (seconds) between flushes: a kill -9 loses at most about a second of records
FREEZE_EVERY = 0.2  # seconds between two freezes of the long-lived objects while clients start (see _freeze)
ARM_TIMEOUT = 600.0  # seconds an armed process waits for its start signal when data.json gives none
START_FILE = contract.START_FILE  # the start signal in the run's work directory: {"start_time": epoch}


NOT_STARTED = 2  # exit code of a core that loaded its locustfile but did not run its plan (not_started)


def not_started(reason: str) -> RunFailure:
    """Why this core, loaded, ends without running its plan: said in its status and its log (not
    again on stderr: the log is its stderr); exit code NOT_STARTED."""
    return RunFailure(reason, NOT_STARTED, stderr="")


class Hooks:
    """Calls into a core's run for code that runs a core for another purpose (calibration):
    override what you need. Both run in the core's event loop."""

    def loaded(self, core_run: "CoreRun") -> None:
        """After setup: Locust and the locustfile are loaded (the process has read what it needs)."""

    def armed(self, core_run: "CoreRun") -> None:
        """After setup, before the start signal is awaited (data.json without a start time)."""

    def recording(self, core_run: "CoreRun") -> None:
        """Once the shared start time is known and the recorder runs."""


class _Handover:
    """A one-shot hand-over between the open model's dispatcher and a waiting user: the hub
    switches to the user with the value (a gevent Waiter; lighter than an AsyncResult, whose
    links and notifier cost a callback more per arrival)."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter = Waiter()

    def set(self, value: Any) -> None:
        gevent.get_hub().loop.run_callback(self.waiter.switch, value)

    def wait(self) -> Any:
        return self.waiter.get()


class Arming:
    """Armed: Locust and the locustfile are loaded and the users are about to be built. Says so in
    the status file (every second) and waits for the controller's start signal, START_FILE in
    the work directory with the shared start time. Fails (not_started) when no signal comes
    within `timeout` (a signal not yet readable by this user is read again until then), when the
    signal is unreadable, when it came more than LATE_SIGNAL after
    the start time it names (clients would start in a burst), or when stopped meanwhile."""

    def __init__(self, work_dir: str, base: str, core_index: int, timeout: float) -> None:
        self.path = os.path.join(work_dir, START_FILE)
        self.base = base
        self.core_index = core_index
        self.timeout = timeout
        self.stop_requested = False

    def _stop(self, _signum: int) -> None:
        self.stop_requested = True

    def wait(self) -> float:
        watchers = [gevent.signal_handler(signum, self._stop, signum) for signum in (signal.SIGTERM, signal.SIGINT)]
        try:
            return self._wait()
        finally:
            for watcher in watchers:
                watcher.cancel()

    def _wait(self) -> float:
        limit = time.time() + self.timeout
        next_status = 0.0
        unreadable = ""
        while True:
            now = time.time()
            if now >= next_status:
                write_status_file(self.base, self.core_index, contract.ARMED, 0.0, 0, 0, 0.0)
                next_status = now + 1.0
            try:
                with open(self.path, encoding="utf-8") as handle:
                    t0 = float(json.load(handle)["start_time"])
            except FileNotFoundError:
                t0 = None
            except PermissionError as error:
                # the controller's copy renames the signal into place as root and only then gives it to
                # the load user: unreadable for a moment (hit on 20 busy hosts, benchmarks/fleet.py)
                t0, unreadable = None, f" (the signal stayed unreadable: {error})"
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise not_started(f"cannot read the start signal {self.path}: {error}") from None
            if t0 is not None:
                late = time.time() - t0
                if late > LATE_SIGNAL:
                    raise not_started(f"the start signal came {late:.2f} s after the shared start time it names; "
                                      "nothing was sent (raise hailstorm_start_lead)")
                logger.info("start signal: shared start in %.3f s", -late)
                return t0
            if self.stop_requested:
                raise not_started("stopped while armed, before the start signal; nothing was sent")
            if now > limit:
                raise not_started(f"no start signal within {self.timeout:g} s of being armed; nothing was sent "
                                  f"(the controller stopped or lost this host?){unreadable}")
            gevent.sleep(0.02)


class CoreRun:
    """One core of one load host: its plan run, recorded, ended by its plan or its deadline."""

    def __init__(self, data: dict[str, Any], core_index: int, hooks: Hooks | None = None) -> None:
        cores = data["cores"]
        matches = [c for c in cores if int(c.get("index", -1)) == core_index]
        if not matches:
            said = f"--core {core_index}: data.json has cores {[c.get('index') for c in cores]}"
            raise RunFailure(said, stderr=said)
        self.data = data
        self.hooks = hooks or Hooks()
        self.core = matches[0]
        self.core_index = core_index
        self.plan = data["plan"]
        self.model = str(self.plan.get("model") or "closed")
        # no start_time in data.json: arm, then wait for the start signal (START_FILE)
        self.t0: float | None = float(data["start_time"]) if data.get("start_time") is not None else None
        self.pace = float(self.plan["pace"])
        self.duration = float(self.plan["duration"])
        self.grace = float(data.get("deadline_grace", contract.DEADLINE_GRACE))
        self.deadline = math.inf if self.t0 is None else self.t0 + self.duration + self.grace
        self.host_index = int(data.get("host_index", 0))
        self.work_dir = str(data.get("work_dir") or os.getcwd())
        self.base = contract.core_base(self.work_dir, core_index)
        self.arming = Arming(self.work_dir, self.base, core_index, float(data.get("arm_timeout") or ARM_TIMEOUT))
        self.scenario_names = list(self.plan.get("scenarios") or {})  # hailstorm_scenarios: each its own driver
        if self.scenario_names:  # every scenario's clients, from the shared start (scenario_run.scenario_clients)
            self.clients = sorted((client for name in self.scenario_names
                                   for client in scenario_run.scenario_clients(self.plan, self.core, name)),
                                  key=lambda client: client.start)
        else:
            self.clients = plan_queries.core_intervals(self.plan, self.core)  # a staged plan's client may come again
        self.done = gevent.event.Event()
        self.reason = "done"
        self.quit_at: float | None = None  # when the locustfile called runner.quit() (or stop())
        # set up by setup() (Locust and the locustfile) and start_recording() (the shared start)
        self.request_tap: capture.Tap | None = None
        self.error_tap: capture.Tap | None = None
        self.user_classes: dict[str, type] = {}
        self.options: Any = None
        self.env: Environment | None = None
        self.runner: Any = None
        self.recorder: Recorder | None = None
        self.users: Users | scenario_run.Scenarios | None = None
        self.driver: ClosedDriver | OpenDriver | scenario_run.Scenarios | None = None
        self.spawned_parts = 0  # scenarios whose clients have all started (spawning_complete fires after the last)
        self.monitor: LoadMonitor | None = None  # the core's own load, second by second (the ticker samples it)
        self.otel = False  # --otel: Locust's OpenTelemetry is on (otel.py)

    @property
    def active(self) -> int:
        return self.users.active if self.users is not None else 0

    # --- setup ----------------------------------------------------------------------------
    def setup(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        with open(self.base + contract.PID, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        # before the locustfile's import: nothing it does can hide a request (capture.py)
        self.request_tap = capture.Tap(locust.events.request)
        self.error_tap = capture.Tap(locust.events.user_error)
        capture.count_raising_blocks()
        capture.count_interrupted_requests(locust.events.request.fire)
        self.user_classes = load_user_classes(str(self.data["locustfile"]))
        target = self.data.get("target")
        self.options = locust_options(str(self.data["locustfile"]), target, list(self.data.get("locust_args") or []))
        # the classes named in hailstorm_locust_args, as `locust -f file A B` runs only A and B
        self.user_classes = selected_classes(self.user_classes, self.options, str(self.data["locustfile"]))
        try:  # --otel: Locust's OpenTelemetry, the run's labels on every span
            self.otel = otel.setup(self.options, self.data, self.core_index)
        except RuntimeError as error:
            raise RunFailure(str(error)) from None
        # a LoadTestShape's fixed user_classes: only those run, by their weights (as in Locust)
        self.user_classes = planned_classes(self.user_classes, self.plan.get("user_classes"))
        pace_the_first_task()
        changed = pacing_takes_over(self.user_classes)
        if changed:
            logger.info("pacing replaces the wait_time of TaskSet(s) %s", ", ".join(changed))
        if target:  # like Locust's --host: the run's target overrides the classes' host
            for cls in self.user_classes.values():
                cls.host = target
        apply_tags(self.user_classes.values(), self.options)
        for name in self.scenario_names:  # a scenario's own tags, on its own classes (a class is in one scenario)
            scenario = self.plan["scenarios"][name]
            if scenario.get("tags"):
                apply_tags([self.user_classes[cls] for cls in scenario["user_classes"] if cls in self.user_classes],
                           argparse.Namespace(tags=list(scenario["tags"]), exclude_tags=None))
        self.env = Environment(user_classes=list(self.user_classes.values()), host=target,
                               parsed_options=self.options, events=locust.events)
        self.runner = self.env.create_local_runner()
        # runner.quit() / stop() from the locustfile (Locust's "stop on a threshold" example) end this
        # core's load the planned way: recorded, with its reason (the other cores keep to the plan)
        self.runner.quit = self._locustfile_quit
        self.runner.stop = self._locustfile_quit
        self.env.events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
        warm_up(target)

    def start_recording(self) -> None:
        """Once the shared start time is known: the recorder (its seconds count from T0) and the
        users. Records are never appended to an earlier run's."""
        if os.path.exists(self.base + contract.RECORDS):
            raise not_started(f"{self.base}.jsonl exists already: this work directory holds an earlier run "
                              "with the same run id; nothing was sent (choose a new hailstorm_run_id)")
        assert self.t0 is not None and self.env is not None and self.request_tap and self.error_tap
        self.recorder = Recorder(self.work_dir, self.core_index, self.t0, bool(self.data.get("jtl")),
                                 scenarios=bool(self.scenario_names))
        self.monitor = LoadMonitor()
        if self.scenario_names:
            self.users = self.driver = self._scenarios()
            self.recorder.scenario_of = self.users.scenario
        else:
            self.users = Users(self.user_classes, self.env, self.runner.user_greenlets, _picker(self.user_classes),
                               self.recorder, self.host_index, self.core_index, self._users_idle, gevent.getcurrent)
        self.recorder.due_of = self.users.scheduled
        self.request_tap.connect(self.recorder.on_request if self.recorder.jtl_rows is None else self._record_request)
        self.error_tap.connect(self.recorder.on_user_error)
        planned = metrics.SummedRate(  # each scenario's clients at its own pace
            metrics.PlannedRate(scenario_run.scenario_clients(self.plan, self.core, name),
                                float(self.plan["scenarios"][name]["pace"])) for name in self.scenario_names
        ) if self.scenario_names else None
        metrics.attach(self.data, self.core_index, self.clients, self.recorder, self.t0, planned)  # off: None
        if self.scenario_names:
            return  # the scenarios are the driver
        if self.model == "open":  # the pool grows while the core is under the generator limit
            self.driver = OpenDriver(self.users, self.clients, self.t0, self.pace, WallClock, _Handover,
                                     core_cap(self.plan, self.core), StopUser, self._spawned,
                                     extra_ids=_extra_ids(self.plan, self.core), headroom=self._headroom)
        else:
            self.driver = ClosedDriver(self.users, self.clients, self.t0, self.pace, WallClock, self.deadline,
                                       StopUser, self._spawned)

    def _scenarios(self) -> scenario_run.Scenarios:
        """Each scenario its own users (its classes, by their weights or fixed_count) and driver
        (its model), its clients from the shared start plus its start."""
        parts = []
        for name in self.scenario_names:
            sub, part = self.plan["scenarios"][name], self.core["scenarios"][name]
            classes = planned_classes(self.user_classes, sub["user_classes"])
            tally = scenario_run.Tally(self.recorder)
            users = Users(classes, self.env, self.runner.user_greenlets, _picker(classes), tally,
                          self.host_index, self.core_index, self._users_idle, gevent.getcurrent)
            clients = scenario_run.scenario_clients(self.plan, self.core, name)
            pace = float(sub["pace"])
            if sub.get("model") == "open":
                driver = OpenDriver(users, clients, self.t0, pace, WallClock, _Handover, core_cap(sub, part), StopUser,
                                    self._part_spawned, extra_ids=_extra_ids(sub, part), headroom=self._headroom)
            else:
                driver = ClosedDriver(users, clients, self.t0, pace, WallClock, self.deadline, StopUser,
                                      self._part_spawned)
            parts.append(scenario_run.Part(name, users, driver, tally, len(clients), int(part.get("requests") or 0)))
        return scenario_run.Scenarios(parts, gevent.getcurrent, gevent.spawn)

    def _part_spawned(self) -> None:
        """A scenario's clients have all started: Locust's spawning_complete once all have."""
        self.spawned_parts += 1
        if self.spawned_parts >= len(self.scenario_names):
            self._spawned()

    def _headroom(self) -> bool:
        """Whether this core can take one more user now: its measured load is under the generator limit."""
        return not self.monitor.over_limit_now()

    def _record_request(self, **kwargs: Any) -> None:
        """With a JTL: the request's cell and its JTL row."""
        assert self.recorder is not None and self.users is not None
        self.recorder.on_request(**kwargs)
        self.recorder.jtl_row(f"{self.data.get('host', 'host')} {self.core_index}-{self.users.client_id()}",
                              self.active, **kwargs)

    # --- events of the run ------------------------------------------------------------------
    def _spawned(self) -> None:
        """As Locust fires it when its ramp-up is done: the core's planned clients have started
        (the open model: its pool is ready to start users)."""
        if not self.done.is_set():
            self.env.events.spawning_complete.fire(user_count=self.runner.user_count)

    def _users_idle(self) -> None:
        if self.driver is not None and self.driver.finished:
            self.done.set()

    def _locustfile_quit(self) -> None:
        """environment.runner.quit() or .stop() called by the locustfile: this core's load ends
        now, as at its deadline (users stopped, on_stop run, test_stop fired once), and the end
        record says so with the time."""
        if self.done.is_set():
            return
        self.quit_at = time.time()
        elapsed = self.quit_at - self.t0 if self.t0 is not None else 0.0
        self.reason = f"quit by the locustfile (runner.quit()) at {elapsed:.1f} s"
        logger.warning("the locustfile called runner.quit() at %.1f s: ending this core's load", elapsed)
        self.done.set()

    # --- background -----------------------------------------------------------------------
    def _drive(self) -> None:
        try:
            self.driver.run()
        except Exception:
            logger.exception("driving the users failed")
            self.reason = "error"
            self.done.set()
        finally:
            if self.driver.finished:
                self.done.set()

    def _freeze(self) -> None:
        """Keep Python's cyclic GC from pausing the loop for tens of ms: a full (generation-2)
        collection visits every tracked object, and each client brings about 50 (user, TaskSet,
        greenlet, session, connection), so at 3,000 clients one took 110-190 ms, made every
        timer of the loop late and pushed clients starting then past LATE_START (a whole pace
        late). The objects that live for the whole run are moved out of the collector's sight
        (gc.freeze): Locust and the locustfile once before the start, then, every FREEZE_EVERY
        seconds until one pace after the last client's start (its first request has built its
        connection), what the clients built since, after a young collection so that garbage
        is not frozen. Full collections then visit only what the running requests leave behind.
        Frozen objects are still freed by reference counting; what ends in a reference cycle
        among them (a stopped client's user and TaskSet) stays until the process ends, as it
        would have lived through the run anyway. Unchanged outside this window."""
        until = self.t0 + max((c.start for c in self.clients), default=0.0) + self.pace + 1.0
        while not self.done.is_set() and time.time() < until:
            gc.collect(0)
            gc.freeze()
            gevent.sleep(FREEZE_EVERY)

    def _ticker(self) -> None:
        last_requests, last_iterations, last_time, ticks = 0, 0, time.time(), 0
        monitor = self.monitor
        probe = gevent.spawn(probe_lag, monitor.lag, time.time, gevent.sleep, gevent.get_hub().loop.update_now,
                             until=self.done.is_set, busy=monitor.busy)
        probe.link_exception(self._probe_failed)
        recorder = self.recorder
        try:
            while not self.done.is_set():
                WallClock.sleep_until(next_tick(self.t0, time.time()))
                now = time.time()
                second = math.floor(now - self.t0)
                running = now >= self.t0
                load = monitor.sample(second if running else None, now)
                if running:
                    recorder.sample_active(second, self.active)
                    recorder.sample_load(second, load, monitor.status())
                    recorder.sample_driver(self.driver.figures(), self.driver.take_dropped(),
                                           self.driver.take_started(), second)
                ticks += 1
                requests = recorder.requests + recorder.pending_requests()
                iterations = recorder.iterations_so_far()
                rps = (requests - last_requests) / max(1e-6, now - last_time)
                iteration_rate = (iterations - last_iterations) / max(1e-6, now - last_time)
                last_requests, last_iterations, last_time = requests, iterations, now
                try:
                    if ticks % FLUSH_EVERY == 0:
                        recorder.flush()
                    recorder.write_status(contract.RUNNING if running else contract.WAITING, self.active, requests, rps,
                                          iteration_rate=iteration_rate)
                except OSError as error:
                    self._recording_failed(error)
                    return
        finally:
            probe.kill(block=False)

    def _recording_failed(self, error: OSError) -> None:
        """Records cannot be written (disk full, any I/O error): stop sending at once, since every
        further request would go unrecorded, and say why."""
        self.reason = f"recording failed: {error}"
        logger.error("%s; stopping the load of this core (requests are no longer recorded)", self.reason)
        self.done.set()

    def _background_failed(self, greenlet: Any) -> None:
        logger.error("background task %s failed: %r", getattr(greenlet, "name", greenlet), greenlet.exception)
        if not self.done.is_set():
            self.reason = "error"
            self.done.set()

    @staticmethod
    def _probe_failed(greenlet: Any) -> None:
        logger.error("event-loop lag probe failed: %r", greenlet.exception)

    def _deadline(self) -> None:
        WallClock.sleep_until(self.deadline)
        if not self.done.is_set():
            self.reason = "deadline"
            logger.warning("deadline reached with %d client(s) still active: stopping them", self.active)
            self.done.set()

    def _signal(self, signum: int) -> None:
        self.reason = f"signal {signal.Signals(signum).name}"
        self.done.set()

    def _hard_exit_thread(self) -> None:
        """A real OS thread (not a greenlet): ends the process even if user code blocks the loop."""
        start_thread = monkey.get_original("_thread", "start_new_thread")
        real_sleep = monkey.get_original("time", "sleep")
        limit = self.deadline + HARD_EXIT_AFTER

        def guard() -> None:
            while time.time() < limit:
                real_sleep(max(0.05, min(1.0, limit - time.time())))
            os.write(2, b"hailstorm_runtime: hard deadline passed, exiting\n")
            os._exit(3)

        start_thread(guard, ())

    def _write_failed_status(self, reason: str = "") -> None:
        try:
            os.makedirs(self.work_dir, exist_ok=True)
            elapsed = time.time() - self.t0 if self.t0 is not None else 0.0
            write_status_file(self.base, self.core_index, contract.FAILED, elapsed, 0, 0, 0.0, reason=reason)
            os.remove(self.base + contract.PID)
        except OSError:
            pass

    def _startup_failure(self, error: BaseException) -> str:
        """Why this process ends before it could run (its status's reason, what the launch says at
        once): "exited at import after 9.1 s: RuntimeError: no database" - where (the locustfile's
        import, or later in the start-up), the time since the process started, and the error's
        last line (for a RunFailure, the last line it says on stderr: Python's traceback of the
        locustfile, or the runtime's own message; for Locust's own exit, the last line it wrote to
        this core's log)."""
        where = "at start-up" if self.user_classes else "at import"
        if isinstance(error, RunFailure):
            line = next((text.strip() for text in reversed(error.stderr.splitlines()) if text.strip()), error.reason)
        elif isinstance(error, SystemExit):
            line = error.code if isinstance(error.code, str) else _last_line(self.base + contract.LOG)
        else:
            line = traceback.format_exception_only(type(error), error)[-1].strip()
        return f"exited {where} after {time.time() - PROCESS_START:.1f} s: {line or 'see its log'}"

    # --- main -----------------------------------------------------------------------------
    def run(self) -> int:
        ready = time.time()
        try:
            self.setup()
            self.hooks.loaded(self)
            if self.t0 is None:
                self.hooks.armed(self)
                self.t0 = self.arming.wait()
                self.deadline = self.t0 + self.duration + self.grace
            self.start_recording()
        except RunFailure as failure:  # raised on: __main__ says it and exits with its code
            if failure.exit_code == NOT_STARTED:
                logger.error("%s", failure.reason)
                self._write_failed_status(failure.reason)
            else:
                self._write_failed_status(self._startup_failure(failure))
            raise
        except BaseException as error:
            self._write_failed_status(self._startup_failure(error))
            raise
        recorder = self.recorder
        recorder.meta(
            run_id=self.data.get("run_id"), host=self.data.get("host"), host_index=self.host_index,
            core=self.core_index, pid=os.getpid(), hostname=socket.gethostname(),
            start_time=self.t0, process_start=ready, ready=time.time(),
            start_delay=round(max(0.0, time.time() - self.t0), 6), clients=len(self.clients),
            first_client=self.core.get("first_client"), user_classes=sorted(self.user_classes),
            locust=locust.__version__, python=platform.python_version(), deadline=self.deadline, model=self.model)
        recorder.write_status(contract.WAITING, 0, 0, 0.0)
        self.hooks.recording(self)
        self._hard_exit_thread()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self._signal, signum)
        self.runner.update_state(STATE_SPAWNING)  # Locust's own listener makes it running at spawning_complete
        self.env.events.test_start.fire(environment=self.env)
        gc.collect()  # Locust, the locustfile and their imports live for the whole run: out of GC's sight
        gc.freeze()
        workers = [gevent.spawn(self._drive), gevent.spawn(self._ticker), gevent.spawn(self._deadline),
                   gevent.spawn(self._freeze)]
        for worker in workers:
            worker.link_exception(self._background_failed)
        self.done.wait()
        return self.finish(workers)

    def finish(self, workers: list[Any]) -> int:
        """The end record first (what was sent so far, on disk), then the users stopped (their on_stop
        runs) within a bounded time however many there are, Locust's stop events, the final end
        record (it supersedes the first), the status. A process ended by its hard deadline while
        stopping keeps its first end record."""
        recorder = self.recorder
        active_at_end = self.active  # clients still inside a task (or waiting) when the run ended
        self.users.finish_all(time.time())  # an iteration whose slot came counts, one still ahead does not
        try:
            recorder.end_first(f"{self.reason}; the process ended while stopping its users", clients=len(self.clients),
                               active_at_end=active_at_end, **self.driver.figures())
        except Exception as error:  # noqa: BLE001 - an earlier write failed (kept by the writer thread)
            logger.error("cannot write the end record: %s", error)
        if self.active > 0:  # on_stop runs (GreenletExit); what has not stopped by then is left
            self.runner.user_greenlets.kill(block=True, timeout=self._stop_budget())
        gevent.killall(workers, block=False)
        for driver in getattr(self.driver, "drivers", [self.driver]):
            if isinstance(driver, OpenDriver):
                driver.pool.finish()
        try:
            self.env.events.test_stopping.fire(environment=self.env)
            self.env.events.test_stop.fire(environment=self.env)
        except Exception:  # noqa: BLE001 - the user's hooks
            logger.exception("test_stop hook failed")
        self.runner.update_state(STATE_STOPPED)
        try:  # before the end record, so that a verdict set there (process_exit_code) is recorded
            self.env.events.quitting.fire(environment=self.env, reverse=True)
        except Exception:  # noqa: BLE001 - the user's hooks
            logger.exception("quitting hook failed")
        try:
            recorder.sample_driver(self.driver.figures(), self.driver.take_dropped(), self.driver.take_started())
            recorder.end(self.reason, clients=len(self.clients), active_at_end=active_at_end,
                         process_exit_code=locustfile_exit_code(self.env), ended_early=self.users.early_ends(),
                         **self.driver.figures())
        except Exception as error:  # noqa: BLE001 - an earlier write failed (kept by the writer thread)
            logger.error("cannot write the end record: %s", error)
        if self.otel:
            otel.flush()  # the last spans, before the process ends
        error = recorder.close()  # every record written (or the first write that failed)
        if error is not None and not self.reason.startswith("recording failed"):
            self.reason = f"recording failed: {error}"
            logger.error("%s (this core's records are incomplete)", self.reason)
        failed = self.reason == "error" or self.reason.startswith("recording failed")
        state = contract.FAILED if failed else contract.DONE
        try:
            recorder.write_status(state, 0, recorder.requests, 0.0, reason=self.reason if failed else "")
        except OSError as error:
            logger.error("cannot write the status file: %s", error)
        try:
            os.remove(self.base + contract.PID)
        except OSError:
            pass
        return self._locustfile_verdict() or (1 if failed else 0)

    def _stop_budget(self) -> float:
        """Seconds the users may take to stop: STOP_USERS_FOR, less when the hard exit is nearer
        (END_MARGIN kept for the rest of the end)."""
        hard_exit = self.deadline + HARD_EXIT_AFTER
        return max(0.0, min(STOP_USERS_FOR, hard_exit - END_MARGIN - time.time()))

    def _locustfile_verdict(self) -> int:
        """environment.process_exit_code, the locustfile's verdict on this core's own statistics: a
        non-zero one fails this core (its exit code and its status); one of 0 is logged, as it
        decides for this core's failures (the controller's run_state)."""
        code = locustfile_exit_code(self.env)
        if code is None:
            return 0
        total = self.env.stats.total
        judged = f"{total.num_failures} of {total.num_requests} requests of this core failed"
        if not code:
            logger.info("the locustfile set environment.process_exit_code = 0 (%s): its verdict decides for this "
                        "core's failures, as Locust's process_exit_code outranks --exit-code-on-error", judged)
            return 0
        logger.error("the locustfile set environment.process_exit_code = %d: host %s, core %d failed (%s)",
                     code, self.data.get("host"), self.core_index, judged)
        write_status_file(self.base, self.core_index, contract.FAILED, time.time() - self.t0, 0,
                          self.recorder.requests, 0.0,
                          reason=f"the locustfile set environment.process_exit_code = {code}")
        return code


def _last_line(path: str) -> str:
    """The last line of text of a file (a core's log), "" when there is none."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 4096))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _picker(user_classes: dict[str, type]) -> ClassPicker:
    """The classes by client id, by their weights or fixed_count (as Locust spawns them)."""
    return ClassPicker((name, getattr(cls, "weight", 1), getattr(cls, "fixed_count", 0))
                       for name, cls in user_classes.items())


def _extra_ids(plan: dict[str, Any], core: dict[str, Any]) -> Any:
    """Client ids for the open model's pool users beyond this core's planned clients: after the
    plan's ids, in this core's own residue of the core cycle, so no two cores share one."""
    clients = int(plan.get("clients") or 0)
    cycle = max(1, int(core.get("client_step") or 1))
    first = int(core.get("first_client") or 0)
    n = 0
    while True:
        yield clients + first + n * cycle
        n += 1


def run(data_path: str, core_index: int, hooks: Hooks | None = None) -> int:
    """Run core `core_index` of the plan in `data_path` (data.json): its exit code, or RunFailure."""
    with open(data_path, encoding="utf-8") as handle:
        data = json.load(handle)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return CoreRun(data, core_index, hooks).run()
