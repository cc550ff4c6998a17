"""One core's run: Locust as a library (Environment + local runner, the user's own locustfile),
users started on their planned slots, paced on their lattice, stopped on their stop slot,
recorded, and a hard deadline. Importing this module imports Locust (and so gevent's
monkey-patching), so the CLI imports it only for `run` and `check`."""
from __future__ import annotations

import gc
import json
import logging
import math
import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.event
import gevent.pool
import locust
import locust.user.users
from gevent import monkey
from locust import TaskSet, User
from locust.argument_parser import get_parser, parse_locustfile_paths
from locust.user.task import DefaultTaskSet
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import STATE_SPAWNING, STATE_STOPPED
from locust.user.task import filter_tasks_by_tags
from locust.util.load_locustfile import load_locustfile

from . import capture, fastpath, metrics, planner
from .monitor import LoadMonitor, probe_lag
from .recorder import Recorder, write_status_file
from .results import LATE_SIGNAL
from .schedule import ClassPicker, PacedWait, Pacer, next_tick, run_starts

logger = logging.getLogger("hailstorm_runtime")
HARD_EXIT_AFTER = 5.0  # seconds after the deadline at which a stuck process is ended from a thread
FLUSH_EVERY = 1  # ticks (seconds) between flushes: a kill -9 loses at most about a second of records
PREPARE_LEAD = 0.05  # seconds ahead of its slot at which a user object is built
FREEZE_EVERY = 0.2  # seconds between two freezes of the long-lived objects while clients start (see _freeze)
ARM_TIMEOUT = 600.0  # seconds an armed process waits for its start signal when data.json gives none
START_FILE = "start.json"  # the start signal in the run's work directory: {"start_time": epoch}
FASTPATH = fastpath.install()  # library fixes for many clients per process (fastpath.py)


class WallClock:
    """Absolute wall-clock sleeps on gevent: sleep until a time, not for a duration, and check
    again after waking."""

    @staticmethod
    def time() -> float:
        return time.time()

    @staticmethod
    def sleep_until(when: float) -> None:
        loop = gevent.get_hub().loop
        while True:
            remaining = when - time.time()
            if remaining <= 0:
                return
            # a busy loop's cached time lags: without this the timer fires early, over and over
            loop.update_now()
            gevent.sleep(remaining)

    @staticmethod
    def seconds_until(when: float) -> float:
        """Seconds from now to `when` (0 when past), for a gevent sleep that starts right away:
        the loop's cached time is brought up to now first, so the timer does not fire early."""
        gevent.get_hub().loop.update_now()
        remaining = when - time.time()
        return remaining if remaining > 0 else 0.0


@dataclass(frozen=True)
class Hailstorm:
    """What every user can read as `self.hailstorm`."""

    client_id: int
    host_index: int
    core_index: int
    start: float
    stop: float


def load_user_classes(path: str) -> dict[str, type[User]]:
    """The locustfile's user classes, loaded by Locust's own loader; on a bad locustfile print
    Locust's own error text and exit non-zero."""
    return load_locustfile_classes(path)[0]


def load_locustfile_classes(path: str) -> tuple[dict[str, type[User]], list[Any]]:
    """(user classes, LoadTestShape instances) of a locustfile, by Locust's own loader; exits as
    load_user_classes does."""
    path = parse_locustfile_paths([path])[0]  # Locust's "Could not find ..." and exit 1
    try:
        user_classes, shapes = load_locustfile(path)
    except Exception:  # noqa: BLE001 - the user's code; show Locust's (Python's) own traceback
        traceback.print_exc()
        sys.exit(1)
    if not user_classes:
        sys.stderr.write("No User class found!\n")
        sys.exit(1)
    return user_classes, list(shapes or [])


def locust_options(locustfile: str, target: str | None, locust_args: list[str]) -> Any:
    """`environment.parsed_options` as the `locust` command makes it: Locust's own parser with its
    defaults and the arguments the locustfile adds (init_command_line_parser listeners, so call it
    after the import), given -f, --host and hailstorm_locust_args (e.g. --tags checkout). No
    config file is read: a locust.conf on a load host must not change a planned run. An unknown
    argument: argparse's own message and exit 2."""
    host = ["--host", target] if target else []
    return get_parser(default_config_files=[]).parse_args(["-f", locustfile, *host, *locust_args])


def apply_tags(user_classes: Any, options: Any) -> None:
    """--tags / --exclude-tags, as Locust's runner applies them when it starts."""
    tags = set(options.tags) if getattr(options, "tags", None) else None
    exclude = set(options.exclude_tags) if getattr(options, "exclude_tags", None) else None
    if tags is not None or exclude is not None:
        for cls in user_classes:
            filter_tasks_by_tags(cls, tags, exclude)


def locustfile_exit_code(env: Environment) -> int:
    """The locustfile's own verdict, `environment.process_exit_code` (set in a test_stop or quitting
    listener, the usual CI pattern), which Locust's main honours; 0 when unset."""
    code = getattr(env, "process_exit_code", None)
    return int(code) if code else 0


DRY_ITERATIONS = 10  # task iterations per user class in the check's dry run
DRY_SECONDS = 10.0  # at most, for every class of a dry run together


def check(path: str, locust_args: list[str] | None = None, dry_run: bool = False) -> dict[str, Any]:
    """The controller's preflight report of a locustfile (plugins/module_utils/locustfile.py);
    with `dry_run`, also what each HTTP user class sends per task iteration (`dry_run`)."""
    started = time.perf_counter()
    classes, shapes = load_locustfile_classes(path)
    # exits 2 on an argument neither Locust's nor the locustfile's
    options = locust_options(path, None, list(locust_args or []))
    report: dict[str, Any] = {
        "user_classes": sorted(classes), "shape_classes": sorted(type(shape).__name__ for shape in shapes),
        "weights": {name: getattr(cls, "weight", 1) for name, cls in classes.items()},
        "import_seconds": round(time.perf_counter() - started, 3), "locust": locust.__version__}
    if shapes:
        from .shapes import ShapeError, sample

        try:  # the curve of active users the shape asks for, to be planned exactly (shapes.py)
            report["shape"] = {"name": type(shapes[0]).__name__, **sample(shapes[0])}
        except ShapeError as error:
            report["shape"] = {"name": type(shapes[0]).__name__, "error": str(error)}
    if dry_run:
        report["dry_run"] = dry_run_requests(classes, options)
    return report


class _StubTarget:
    """A loopback HTTP server answering 200 "{}" to every request: what a dry run sends to."""

    def __init__(self) -> None:
        from gevent.pywsgi import WSGIServer

        def app(_environ: Any, start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]

        self.server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.stop(timeout=1)


def dry_run_requests(user_classes: dict[str, type[User]], options: Any, iterations: int = DRY_ITERATIONS,
                     seconds: float = DRY_SECONDS) -> dict[str, Any]:
    """Run `iterations` task iterations of one user of each HTTP user class (HttpUser,
    FastHttpUser) against a loopback stub, counting the requests of each iteration (those of
    on_start apart): {"classes": {name: {"iterations", "requests", "on_start_requests",
    "exceptions"}}, "skipped": [classes not dry-run: other clients may reach real systems]}.
    No init or test_start event is fired, nothing reaches the run's target (a task that
    builds absolute URLs to other hosts would reach them)."""
    from locust import FastHttpUser, HttpUser

    stub = _StubTarget()
    env = Environment(user_classes=list(user_classes.values()), host=stub.url, parsed_options=options,
                      events=locust.events)
    apply_tags(user_classes.values(), options)
    counted = {"requests": 0, "exceptions": 0}

    def on_request(**_kwargs: Any) -> None:
        counted["requests"] += 1

    def on_error(**_kwargs: Any) -> None:
        counted["exceptions"] += 1

    env.events.request.add_listener(on_request)
    env.events.user_error.add_listener(on_error)
    _pacing_takes_over(user_classes)  # a TaskSet's own wait_time defers to the user's, as in a run
    saved_task_set = locust.user.users.DefaultTaskSet
    locust.user.users.DefaultTaskSet = _DryDefaultTaskSet  # type: ignore[misc]
    out: dict[str, Any] = {"classes": {}, "skipped": [], "iterations": iterations}
    limit = time.monotonic() + seconds
    try:
        for name, cls in sorted(user_classes.items()):
            if not issubclass(cls, (HttpUser, FastHttpUser)):
                out["skipped"].append(name)
                continue
            marks: list[int] = []
            wait = _DryWait(marks, counted, iterations)

            cls_host, cls.host = cls.host, stub.url
            try:
                counted.update(requests=0, exceptions=0)
                user = cls(env)
                user.wait_time = wait  # type: ignore[method-assign]
                group = gevent.pool.Group()
                user.start(group)
                group.join(timeout=max(0.1, limit - time.monotonic()))
                group.kill(block=True, timeout=1.0)
            finally:
                cls.host = cls_host
            done = max(0, len(marks) - 1)
            out["classes"][name] = {
                "iterations": done, "requests": (marks[-1] - marks[0]) if done else 0,
                "on_start_requests": marks[0] if marks else counted["requests"], "exceptions": counted["exceptions"]}
    finally:
        locust.user.users.DefaultTaskSet = saved_task_set  # type: ignore[misc]
        stub.stop()
    return out


def _pacing_takes_over(user_classes: dict[str, type[User]]) -> list[str]:
    """TaskSets that define their own wait_time would bypass the pacer: let them defer to the
    user's (paced) wait_time. Returns the names changed, for the log."""
    changed: list[str] = []
    seen: set[type] = set()

    def walk(tasks: Any) -> None:
        for task in tasks or []:
            if isinstance(task, type) and issubclass(task, TaskSet) and task not in seen:
                seen.add(task)
                if task.wait_time is not TaskSet.wait_time:
                    task.wait_time = TaskSet.wait_time  # type: ignore[method-assign]
                    changed.append(task.__name__)
                walk(task.tasks)

    for cls in user_classes.values():
        walk(cls.tasks)
    return changed


class PacedDefaultTaskSet(DefaultTaskSet):
    """Locust's root TaskSet of every user, with one paced wait before the first task: the user
    becomes active at its start slot (User.on_start runs there) and its first task request comes
    at its first slot on the lattice. A client with no slot before its stop waits for its stop
    and ends (StopUser: its on_stop runs, no task is run)."""

    def on_start(self) -> None:
        wait = self.user.wait_time
        if isinstance(wait, PacedWait):
            self._sleep(wait())


class _DryWait:
    """A dry run user's wait_time: notes the request count at each call (after on_start, then
    after each task iteration) and stops the user after `iterations` iterations."""

    def __init__(self, marks: list[int], counted: dict[str, int], iterations: int) -> None:
        self.marks, self.counted, self.iterations = marks, counted, iterations

    def __call__(self) -> float:
        self.marks.append(self.counted["requests"])
        if len(self.marks) > self.iterations:
            raise StopUser()
        return 0.0


class _DryDefaultTaskSet(DefaultTaskSet):
    """A dry run's root TaskSet: marks the request count after User.on_start (a wait call)."""

    def on_start(self) -> None:
        self.user.wait_time()


def _pace_the_first_task() -> None:
    """Make every User run its tasks under PacedDefaultTaskSet (User.run builds its root TaskSet
    from the name in locust.user.users)."""
    locust.user.users.DefaultTaskSet = PacedDefaultTaskSet  # type: ignore[misc]


class RunFailure(Exception):
    """A reason this core ends without running its plan (said in its status and log)."""


class CoreRun:
    def __init__(self, data: dict[str, Any], core_index: int) -> None:
        self.data = data
        cores = data["cores"]
        matches = [c for c in cores if int(c.get("index", -1)) == core_index]
        if not matches:
            raise SystemExit(f"--core {core_index}: data.json has cores {[c.get('index') for c in cores]}")
        self.core = matches[0]
        self.core_index = core_index
        self.plan = data["plan"]
        # no start_time in data.json: arm, then wait for the start signal (START_FILE)
        self.t0: float | None = float(data["start_time"]) if data.get("start_time") is not None else None
        self.pace = float(self.plan["pace"])
        self.duration = float(self.plan["duration"])
        self.grace = float(data.get("deadline_grace", 10))
        self.arm_timeout = float(data.get("arm_timeout") or ARM_TIMEOUT)
        self.deadline = math.inf if self.t0 is None else self.t0 + self.duration + self.grace
        self.host_index = int(data.get("host_index", 0))
        self.work_dir = str(data.get("work_dir") or os.getcwd())
        self.base = os.path.join(self.work_dir, f"core-{core_index}")
        self.stop_requested = False
        self.clients = planner.core_clients(self.plan, self.core)
        self.active = 0
        self.greenlet_client: dict[Any, int] = {}
        self.done = gevent.event.Event()
        self.reason = "done"
        self.starts_finished = False
        self.prepared: dict[int, User] = {}
        self.waits: dict[int, PacedWait] = {}  # client id: its wait, while the client runs
        self.quit_at: float | None = None  # when the locustfile called runner.quit() (or stop())
        # the first listeners of Locust's request and user_error events (set up before the import)
        self.request_tap: capture.Tap | None = None
        self.error_tap: capture.Tap | None = None

    # --- setup ----------------------------------------------------------------------------
    def setup(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        base = os.path.join(self.work_dir, f"core-{self.core_index}")
        with open(base + ".pid", "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        # before the locustfile's import: nothing it does can hide a request (capture.py)
        self.request_tap = capture.Tap(locust.events.request)
        self.error_tap = capture.Tap(locust.events.user_error)
        capture.count_raising_blocks()
        self.user_classes = load_user_classes(str(self.data["locustfile"]))
        _pace_the_first_task()
        changed = _pacing_takes_over(self.user_classes)
        if changed:
            logger.info("pacing replaces the wait_time of TaskSet(s) %s", ", ".join(changed))
        target = self.data.get("target")
        if target:  # like Locust's --host: the run's target overrides the classes' host
            for cls in self.user_classes.values():
                cls.host = target
        self.picker = ClassPicker((name, getattr(cls, "weight", 1), getattr(cls, "fixed_count", 0))
                                  for name, cls in self.user_classes.items())
        self.options = locust_options(str(self.data["locustfile"]), target, list(self.data.get("locust_args") or []))
        apply_tags(self.user_classes.values(), self.options)
        self.env = Environment(user_classes=list(self.user_classes.values()), host=self.data.get("target"),
                               parsed_options=self.options,
                               events=locust.events)
        self.runner = self.env.create_local_runner()
        # runner.quit() / stop() from the locustfile (Locust's "stop on a threshold" example) end this
        # core's load the planned way: recorded, with its reason (the other cores keep to the plan)
        self.runner.quit = self._locustfile_quit  # type: ignore[method-assign]
        self.runner.stop = self._locustfile_quit  # type: ignore[method-assign]
        self.env.events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
        self._warm_up(target)

    def start_recording(self) -> None:
        """Once the shared start time is known: the recorder (its seconds count from T0). Records
        are never appended to an earlier run's."""
        if os.path.exists(self.base + ".jsonl"):
            raise RunFailure(f"{self.base}.jsonl exists already: this work directory holds an earlier run "
                             "with the same run id; nothing was sent (choose a new hailstorm_run_id)")
        self.recorder = Recorder(self.work_dir, self.core_index, self.t0, bool(self.data.get("jtl")))
        assert self.request_tap is not None and self.error_tap is not None  # set up by setup()
        self.request_tap.connect(self.recorder.on_request if self.recorder.jtl_rows is None else self._record_request)
        self.error_tap.connect(self.recorder.on_user_error)
        metrics.attach(self.data, self.core_index, self.clients, self.recorder, self.t0)  # live metrics (off: None)

    def wait_for_start(self) -> float:
        """Armed: Locust and the locustfile are loaded and the users are about to be built. Say so
        in the status file (every second) and wait for the controller's start signal, START_FILE
        in the work directory with the shared start time. Exits non-zero with a reason when no
        signal comes within arm_timeout, when the signal is unreadable, or when it came more than
        LATE_SIGNAL after the start time it names (clients would start in a burst)."""
        path = os.path.join(self.work_dir, START_FILE)
        limit = time.time() + self.arm_timeout
        next_status = 0.0
        while True:
            now = time.time()
            if now >= next_status:
                write_status_file(self.base, self.core_index, "armed", 0.0, 0, 0, 0.0)
                next_status = now + 1.0
            try:
                with open(path, encoding="utf-8") as handle:
                    t0 = float(json.load(handle)["start_time"])
            except FileNotFoundError:
                t0 = None
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise RunFailure(f"cannot read the start signal {path}: {error}") from None
            if t0 is not None:
                late = time.time() - t0
                if late > LATE_SIGNAL:
                    raise RunFailure(f"the start signal came {late:.2f} s after the shared start time it names; "
                                     "nothing was sent (raise hailstorm_start_lead)")
                logger.info("start signal: shared start in %.3f s", -late)
                return t0
            if self.stop_requested:
                raise RunFailure("stopped while armed, before the start signal; nothing was sent")
            if now > limit:
                raise RunFailure(f"no start signal within {self.arm_timeout:g} s of being armed; nothing was sent "
                                 "(the controller stopped or lost this host?)")
            gevent.sleep(0.02)

    @staticmethod
    def _warm_up(target: str | None) -> None:
        """Pay one-off costs before the first slot, without sending anything to the target:
        gevent's resolver thread pool and the HTTP stack's lazy imports."""
        if not target:
            return
        try:
            from urllib.parse import urlsplit

            import requests

            parts = urlsplit(target)
            socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                               0, socket.SOCK_STREAM)
            requests.Session().prepare_request(requests.Request("GET", target.rstrip("/") + "/"))
        except Exception:  # noqa: BLE001 - a warm-up only; the run reports real errors
            logger.debug("warm-up failed", exc_info=True)

    def _record_request(self, **kwargs: Any) -> None:
        """With a JTL: the request's cell and its JTL row."""
        self.recorder.on_request(**kwargs)
        client = self.greenlet_client.get(gevent.getcurrent(), -1)
        self.recorder.jtl_row(f"{self.data.get('host', 'host')} {self.core_index}-{client}", self.active, **kwargs)

    def _locustfile_quit(self) -> None:
        """environment.runner.quit() or .stop() called by the locustfile: this core's load ends
        now, as at its deadline (clients stopped, on_stop run, test_stop fired once), and the end
        record says so with the time."""
        if self.done.is_set():
            return
        self.quit_at = time.time()
        elapsed = self.quit_at - self.t0 if self.t0 is not None else 0.0
        self.reason = f"quit by the locustfile (runner.quit()) at {elapsed:.1f} s"
        logger.warning("the locustfile called runner.quit() at %.1f s: ending this core's load", elapsed)
        self.done.set()

    # --- users ----------------------------------------------------------------------------
    def prepare(self, client: planner.Client) -> None:
        """Build the user object ahead of its slot, so the slot only starts its greenlet."""
        self.prepared[client.client_id] = self.user_classes[self.picker.pick(client.client_id)](self.env)

    def spawn(self, client: planner.Client, lateness: float) -> None:
        user = self.prepared.pop(client.client_id, None)
        if user is None:
            user = self.user_classes[self.picker.pick(client.client_id)](self.env)
        user.hailstorm = Hailstorm(client.client_id, self.host_index, self.core_index,  # type: ignore[attr-defined]
                                   self.t0 + client.start, self.t0 + client.stop)
        pacer = Pacer(self.t0, client, self.pace)
        pacer.begin(time.time())
        wait = PacedWait(pacer, WallClock, StopUser, self.recorder.client_overrun, self.recorder)
        user.wait_time = wait  # type: ignore[method-assign]
        self.recorder.client_started(client.client_id, lateness)
        greenlet = user.start(self.runner.user_greenlets)
        self.active += 1
        self.greenlet_client[greenlet] = client.client_id
        self.waits[client.client_id] = wait
        greenlet.link(self._user_ended)

    def _user_ended(self, greenlet: Any) -> None:
        self.active -= 1
        client_id = self.greenlet_client.pop(greenlet, None)
        wait = self.waits.pop(client_id, None) if client_id is not None else None
        if wait is not None:
            wait.finish(time.time())
        if self.starts_finished and self.active <= 0:
            self.done.set()

    def _starts(self) -> None:
        try:
            run_starts(self.clients, self.t0, WallClock, self.spawn, self.deadline,
                       prepare=self.prepare, lead=PREPARE_LEAD)
            if not self.done.is_set():  # as Locust fires it when its ramp-up is done
                self.env.events.spawning_complete.fire(user_count=self.runner.user_count)
        except Exception:
            logger.exception("starting clients failed")
            self.reason = "error"
            self.done.set()
        finally:
            self.starts_finished = True
            if self.active <= 0:
                self.done.set()

    # --- background -----------------------------------------------------------------------
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
        monitor = LoadMonitor()
        probe = gevent.spawn(probe_lag, monitor.lag, time.time, gevent.sleep, gevent.get_hub().loop.update_now,
                             until=self.done.is_set)
        probe.link_exception(self._probe_failed)
        try:
            while not self.done.is_set():
                WallClock.sleep_until(next_tick(self.t0, time.time()))
                now = time.time()
                second = math.floor(now - self.t0)
                running = now >= self.t0
                load = monitor.sample(second if running else None, now)
                if running:
                    self.recorder.sample_active(second, self.active)
                    self.recorder.sample_load(second, load, monitor.status())
                ticks += 1
                requests = self.recorder.requests + self.recorder.pending_requests()
                iterations = self.recorder.iterations_so_far()
                rps = (requests - last_requests) / max(1e-6, now - last_time)
                iteration_rate = (iterations - last_iterations) / max(1e-6, now - last_time)
                last_requests, last_iterations, last_time = requests, iterations, now
                try:
                    if ticks % FLUSH_EVERY == 0:
                        self.recorder.flush()
                    self.recorder.write_status("running" if running else "waiting", self.active, requests, rps,
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
            write_status_file(self.base, self.core_index, "failed", elapsed, 0, 0, 0.0, reason=reason)
            os.remove(self.base + ".pid")
        except OSError:
            pass

    # --- main -----------------------------------------------------------------------------
    def _stop_while_armed(self, signum: int) -> None:
        self.stop_requested = True

    def run(self) -> int:
        ready = time.time()
        try:
            self.setup()
            if self.t0 is None:
                watchers = [gevent.signal_handler(signum, self._stop_while_armed, signum)
                            for signum in (signal.SIGTERM, signal.SIGINT)]
                try:
                    self.t0 = self.wait_for_start()
                finally:
                    for watcher in watchers:
                        watcher.cancel()
                self.deadline = self.t0 + self.duration + self.grace
            self.start_recording()
        except RunFailure as failure:
            logger.error("%s", failure)
            self._write_failed_status(str(failure))
            return 2
        except BaseException:
            self._write_failed_status("start-up failed (see this core's log)")
            raise
        self.recorder.meta(
            run_id=self.data.get("run_id"), host=self.data.get("host"), host_index=self.host_index,
            core=self.core_index, pid=os.getpid(), hostname=socket.gethostname(),
            start_time=self.t0, process_start=ready, ready=time.time(),
            start_delay=round(max(0.0, time.time() - self.t0), 6), clients=len(self.clients),
            first_client=self.core.get("first_client"), user_classes=sorted(self.user_classes),
            locust=locust.__version__, deadline=self.deadline)
        self.recorder.write_status("waiting", 0, 0, 0.0)
        self._hard_exit_thread()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self._signal, signum)
        self.runner.update_state(STATE_SPAWNING)  # Locust's own listener makes it running at spawning_complete
        self.env.events.test_start.fire(environment=self.env)
        gc.collect()  # Locust, the locustfile and their imports live for the whole run: out of GC's sight
        gc.freeze()
        workers = [gevent.spawn(self._starts), gevent.spawn(self._ticker), gevent.spawn(self._deadline),
                   gevent.spawn(self._freeze)]
        for worker in workers:
            worker.link_exception(self._background_failed)
        self.done.wait()
        active_at_end = self.active  # clients still inside a task (or waiting) when the run ended
        ended = time.time()
        for wait in list(self.waits.values()):  # an iteration whose slot came counts, one still ahead does not
            wait.finish(ended)
        self.waits.clear()
        if self.active > 0:
            self.runner.user_greenlets.kill(block=True, timeout=2.0)  # on_stop runs (GreenletExit)
        gevent.killall(workers, block=False)
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
            self.recorder.end(self.reason, clients=len(self.clients), active_at_end=active_at_end,
                              locustfile_exit_code=locustfile_exit_code(self.env))
        except Exception as error:  # noqa: BLE001 - an earlier write failed (kept by the writer thread)
            logger.error("cannot write the end record: %s", error)
        error = self.recorder.close()  # every record written (or the first write that failed)
        if error is not None and not self.reason.startswith("recording failed"):
            self.reason = f"recording failed: {error}"
            logger.error("%s (this core's records are incomplete)", self.reason)
        failed = self.reason == "error" or self.reason.startswith("recording failed")
        state = "failed" if failed else "done"
        try:
            self.recorder.write_status(state, 0, self.recorder.requests, 0.0,
                                       reason=self.reason if failed else "")
        except OSError as error:
            logger.error("cannot write the status file: %s", error)
        try:
            os.remove(os.path.join(self.work_dir, f"core-{self.core_index}.pid"))
        except OSError:
            pass
        return self._locustfile_verdict() or (1 if failed else 0)

    def _locustfile_verdict(self) -> int:
        """A non-zero environment.process_exit_code fails this core: its exit code and its status."""
        code = locustfile_exit_code(self.env)
        if code:
            logger.error("the locustfile set environment.process_exit_code = %d: host %s, core %d failed",
                         code, self.data.get("host"), self.core_index)
            write_status_file(self.base, self.core_index, "failed", time.time() - self.t0, 0,
                              self.recorder.requests, 0.0,
                              reason=f"the locustfile set environment.process_exit_code = {code}")
        return code


def run(data_path: str, core_index: int) -> int:
    with open(data_path, encoding="utf-8") as handle:
        data = json.load(handle)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return CoreRun(data, core_index).run()
