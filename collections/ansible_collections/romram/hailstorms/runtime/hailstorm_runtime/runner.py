"""Locust as the runtime uses it: the locustfile loaded by Locust's own loader, Locust's options,
tags, the paced root TaskSet, the wall clock on gevent, and the controller's check of a
locustfile (its classes, its LoadTestShape sampled, a dry run against a loopback stub). One
core's run is core.py (which imports this module, never the other way round). A locustfile that
cannot be used raises RunFailure (failure.py), which only `__main__` turns into the exit code.
Importing this module imports Locust (and so gevent's monkey-patching), so the CLI imports it only
for `run` and `check`."""
from __future__ import annotations

import contextlib
import io
import os
import logging
import socket
import time
import traceback
from typing import Any

import gevent
import gevent.pool
import locust
import locust.user.users
from gevent import monkey
from locust import TaskSet, User
from locust.argument_parser import get_parser, parse_locustfile_paths
from locust.user.task import DefaultTaskSet
from locust.env import Environment
from locust.exception import StopUser
from locust.user.task import filter_tasks_by_tags
from locust.util.load_locustfile import load_locustfile

from . import fastpath
from .contract import NO_USER_CLASS
from .failure import RunFailure
from .pool import PoolWait
from .records import request_label
from .schedule import PacedWait, on_grid

logger = logging.getLogger("hailstorm_runtime")
FASTPATH = fastpath.install()  # library fixes for many clients per process (fastpath.py)


class WallClock:
    """Absolute wall-clock sleeps on gevent: sleep until a time, not for a duration, and check
    again after waking. A sleep ends on the wake-up grid (schedule.on_grid: at most WAKE_GRID
    after the time asked for, never before it), so clients due in the same grid step wake together."""

    @staticmethod
    def time() -> float:
        return time.time()

    @staticmethod
    def sleep_until(when: float) -> None:
        loop = gevent.get_hub().loop
        when = on_grid(when)
        while True:
            remaining = when - time.time()
            if remaining <= 0:
                return
            # a busy loop's cached time lags: without this the timer fires early, over and over
            loop.update_now()
            gevent.sleep(remaining)

    @staticmethod
    def seconds_until(when: float) -> float:
        """Seconds from now to `when` on the grid (0 when `when` has passed), for a gevent sleep that
        starts right away: the loop's cached time is brought up to now first, so the timer does not
        fire early."""
        gevent.get_hub().loop.update_now()
        now = time.time()
        if when <= now:
            return 0.0
        return on_grid(when) - now


def load_user_classes(path: str) -> dict[str, type[User]]:
    """The locustfile's user classes, loaded by Locust's own loader; a bad locustfile raises
    RunFailure (exit 1) with Locust's own error text."""
    return load_locustfile_classes(path)[0]


def load_locustfile_classes(path: str, import_timeout: float | None = None) -> tuple[dict[str, type[User]], list[Any]]:
    """(user classes, LoadTestShape instances) of a locustfile, by Locust's own loader; RunFailure
    as load_user_classes, with the reason when the locustfile calls sys.exit at import; ends the
    process (import_watchdog) when, given `import_timeout` (seconds), it does not finish importing
    in time."""
    path = parse_locustfile_paths([path])[0]  # Locust's "Could not find ..." and exit 1
    call_off = import_watchdog(import_timeout) if import_timeout else None
    try:
        user_classes, shapes = load_locustfile(path)
    except SystemExit as stop:  # the locustfile's own sys.exit: no traceback, say so
        raise RunFailure(exit_at_import(stop.code)) from None
    except Exception as error:  # noqa: BLE001 - the user's code; show Locust's (Python's) own traceback
        raise RunFailure(traceback.format_exception_only(type(error), error)[-1].strip(),
                         stderr=traceback.format_exc()) from None
    finally:
        if call_off is not None:
            call_off()
    if not user_classes:
        raise RunFailure(NO_USER_CLASS, stderr=NO_USER_CLASS)
    return user_classes, list(shapes or [])


IMPORT_TIMEOUT_EXIT = 124  # exit code of a check whose locustfile did not finish importing (as timeout(1))


def exit_at_import(code: Any) -> str:
    """What a sys.exit at import is called in messages: "the locustfile called sys.exit(3) at import"."""
    call = "sys.exit()" if code is None else f"sys.exit({code!r})"
    return (f"the locustfile called {call} at import; a locustfile is imported by Locust and must not exit: "
            f"remove the call, or guard it with `if __name__ == '__main__':`")


def import_watchdog(seconds: float) -> Any:
    """End this process from a real OS thread (not a greenlet: a loop at import holds the gevent
    loop) when the import takes over `seconds`, with the reason on stderr and exit code
    IMPORT_TIMEOUT_EXIT. Returns the function that calls it off."""
    start_thread = monkey.get_original("_thread", "start_new_thread")
    finished = monkey.get_original("_thread", "allocate_lock")()
    finished.acquire()

    def guard() -> None:
        if not finished.acquire(True, seconds):
            os.write(2, (f"hailstorm_runtime: the locustfile did not finish importing within {seconds:g} s: a loop "
                         "or a wait at import (a network call, input())? Move that into on_start or a test_start "
                         "listener, or give it more time with hailstorm_import_timeout\n").encode())
            os._exit(IMPORT_TIMEOUT_EXIT)

    start_thread(guard, ())
    return finished.release


def locust_options(locustfile: str, target: str | None, locust_args: list[str]) -> Any:
    """`environment.parsed_options` as the `locust` command makes it: Locust's own parser with its
    defaults and the arguments the locustfile adds (init_command_line_parser listeners, so call it
    after the import), given -f, --host and hailstorm_locust_args (e.g. --tags checkout). No
    config file is read: a locust.conf on a load host must not change a planned run. An unknown
    argument: argparse's own message and exit 2."""
    host = ["--host", target] if target else []
    return get_parser(default_config_files=[]).parse_args(["-f", locustfile, *host, *locust_args])


def options_given(locustfile: str, locust_args: list[str]) -> dict[str, Any]:
    """The options that `locust_args` set, by Locust's parser (abbreviations, -u5, --users=5 and
    --config files included): {dest: value} of each that differs from a parse without them, for the
    controller to refuse those the plan replaces (plugins/module_utils/locustfile.py). Arguments
    that make Locust print and exit (--help, --version) give {"help": True}."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            given = vars(locust_options(locustfile, None, list(locust_args)))
    except SystemExit as stop:
        if stop.code != 0:
            raise  # argparse's own error (exit 2), as the check reports it
        return {"help": True}
    defaults = vars(locust_options(locustfile, None, []))
    return {dest: value for dest, value in given.items() if value != defaults.get(dest)}


def selected_classes(user_classes: dict[str, type[User]], options: Any, locustfile: str) -> dict[str, type[User]]:
    """The user classes a run uses: those named on the command line (positional names in
    hailstorm_locust_args), as `locust -f locustfile.py A B` runs only A and B; else all of them.
    A name the locustfile does not define: RunFailure with the reason (exit 1; Locust exits too)."""
    names = list(dict.fromkeys(getattr(options, "user_classes", None) or []))
    unknown = [name for name in names if name not in user_classes]
    if unknown:
        raise RunFailure(f"hailstorm_locust_args names the user class(es) {', '.join(unknown)}, which {locustfile} "
                         f"does not define; its user classes are {', '.join(sorted(user_classes))}: name some of "
                         "those, or none to run them all")
    return {name: user_classes[name] for name in names} if names else user_classes


def planned_classes(user_classes: dict[str, type[User]], names: list[str] | None) -> dict[str, type[User]]:
    """The classes a plan names (`user_classes`: a LoadTestShape's tick() gives a fixed list, as
    Locust then spawns only those, by their weights), of those the run selected; all of them
    when it names none. The controller's check refused names outside them; one here means the
    locustfile changed since: RunFailure with the reason (exit 1)."""
    if not names:
        return user_classes
    unknown = [name for name in names if name not in user_classes]
    if unknown:
        raise RunFailure(f"the plan runs the user class(es) {', '.join(unknown)} (the LoadTestShape's user_classes), "
                         f"which this run's classes {', '.join(sorted(user_classes))} lack: the locustfile changed "
                         "since the controller checked it; run the playbook again")
    return {name: user_classes[name] for name in names}


def apply_tags(user_classes: Any, options: Any) -> None:
    """--tags / --exclude-tags, as Locust's runner applies them when it starts."""
    tags = set(options.tags) if getattr(options, "tags", None) else None
    exclude = set(options.exclude_tags) if getattr(options, "exclude_tags", None) else None
    if tags is not None or exclude is not None:
        for cls in user_classes:
            filter_tasks_by_tags(cls, tags, exclude)


def locustfile_exit_code(env: Environment) -> int | None:
    """The locustfile's own verdict, `environment.process_exit_code` (set in a test_stop or quitting
    listener, the usual CI pattern, from this core's own `environment.stats`), or None when it set
    none. As in Locust's main, a verdict set, 0 included, outranks --exit-code-on-error (the
    controller's run_state combines the cores'); a value that is no integer counts as 1, as
    sys.exit("text") exits 1."""
    code = getattr(env, "process_exit_code", None)
    if code is None:
        return None
    try:
        return int(code)
    except (TypeError, ValueError):
        return 1


DRY_ITERATIONS = 10  # task iterations per user class in the check's dry run
DRY_SECONDS = 10.0  # at most, for every class of a dry run together


def check(path: str, locust_args: list[str] | None = None, dry_run: bool = False,
          import_timeout: float | None = None) -> dict[str, Any]:
    """The controller's preflight report of a locustfile (plugins/module_utils/locustfile.py);
    with `dry_run`, also what each HTTP user class sends per task iteration (`dry_run`)."""
    started = time.perf_counter()
    classes, shapes = load_locustfile_classes(path, import_timeout)
    given = options_given(path, list(locust_args or []))  # exits 2 on an argument neither Locust's nor the locustfile's
    if "help" in given:
        return {"user_classes": sorted(classes), "locust_options": given, "locust": locust.__version__}
    options = locust_options(path, None, list(locust_args or []))
    all_classes, classes = classes, selected_classes(classes, options, path)
    report: dict[str, Any] = {
        "user_classes": sorted(classes), "shape_classes": sorted(type(shape).__name__ for shape in shapes),
        "all_user_classes": sorted(all_classes), "locust_options": {k: _plain(v) for k, v in given.items()},
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


def _plain(value: Any) -> Any:
    """A parsed option's value as JSON can carry it."""
    return value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)


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
    "exceptions", "all_tasks"}}, "skipped": [classes not dry-run: other clients may reach real
    systems], "labels": [the request labels seen, records.request_label]}. "all_tasks": each of
    the class's own tasks ran at least once (false when one is a TaskSet: its tasks are not
    followed), so its labels are all there unless a task names its requests by chance.
    No init or test_start event is fired, nothing reaches the run's target (a task that
    builds absolute URLs to other hosts would reach them)."""
    from locust import FastHttpUser, HttpUser

    stub = _StubTarget()
    env = Environment(user_classes=list(user_classes.values()), host=stub.url, parsed_options=options,
                      events=locust.events)
    apply_tags(user_classes.values(), options)
    counted = {"requests": 0, "exceptions": 0}
    labels: set[str] = set()

    def on_request(request_type: str = "", name: str = "", **_kwargs: Any) -> None:
        counted["requests"] += 1
        labels.add(request_label(str(request_type or ""), str(name or "")))

    def on_error(**_kwargs: Any) -> None:
        counted["exceptions"] += 1

    env.events.request.add_listener(on_request)
    env.events.user_error.add_listener(on_error)
    pacing_takes_over(user_classes)  # a TaskSet's own wait_time defers to the user's, as in a run
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
                "on_start_requests": marks[0] if marks else counted["requests"], "exceptions": counted["exceptions"],
                "all_tasks": _every_task_ran(cls, wait.ran)}
        out["labels"] = sorted(labels)
    finally:
        locust.user.users.DefaultTaskSet = saved_task_set  # type: ignore[misc]
        stub.stop()
    return out


def pacing_takes_over(user_classes: dict[str, type[User]]) -> list[str]:
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
    at its first slot on the lattice (the open model: at the first arrival it takes). A client
    with no slot before its stop waits for its stop and ends (StopUser: its on_stop runs, no task
    is run)."""

    def on_start(self) -> None:
        wait = self.user.wait_time
        if isinstance(wait, (PacedWait, PoolWait)):
            self._sleep(wait())

    def _sleep(self, seconds: float) -> None:
        """Locust's sleep, but none after an open-model hand-over that is due (the hand-over has
        just switched the user in: a gevent.sleep(0) would only cost a second switch)."""
        if seconds <= 0:
            wait = self.user.wait_time
            if isinstance(wait, PoolWait) and wait.handed:
                return
        gevent.sleep(seconds)


class _DryWait:
    """A dry run user's wait_time: notes the request count at each call (after on_start, then
    after each task iteration) and stops the user after `iterations` iterations; `ran` holds the
    user's own tasks that ran (noted by _DryDefaultTaskSet)."""

    def __init__(self, marks: list[int], counted: dict[str, int], iterations: int) -> None:
        self.marks, self.counted, self.iterations = marks, counted, iterations
        self.ran: set[Any] = set()

    def __call__(self) -> float:
        self.marks.append(self.counted["requests"])
        if len(self.marks) > self.iterations:
            raise StopUser()
        return 0.0


class _DryDefaultTaskSet(DefaultTaskSet):
    """A dry run's root TaskSet: marks the request count after User.on_start (a wait call)."""

    def on_start(self) -> None:
        self.user.wait_time()

    def get_next_task(self) -> Any:
        """Each of the user's tasks once first, in their order, then Locust's weighted choice: the
        few iterations of a dry run reach every task whatever its weight (at random, a task of weight
        1 beside one of 3 stays out of 10 iterations one time in 18), so its labels are all seen."""
        wait = self.user.wait_time
        if isinstance(wait, _DryWait):
            for task in self.user.tasks or []:
                if task not in wait.ran:
                    return task
        return super().get_next_task()

    def execute_task(self, task: Any) -> None:
        wait = self.user.wait_time
        if isinstance(wait, _DryWait):
            wait.ran.add(task)
        super().execute_task(task)


def _every_task_ran(cls: type[User], ran: set[Any]) -> bool:
    """Whether a dry run ran each of a user class's own tasks (none of them a TaskSet)."""
    tasks = set(cls.tasks or [])
    return bool(tasks) and not any(isinstance(t, type) and issubclass(t, TaskSet) for t in tasks) and tasks <= ran


def pace_the_first_task() -> None:
    """Make every User run its tasks under PacedDefaultTaskSet (User.run builds its root TaskSet
    from the name in locust.user.users)."""
    locust.user.users.DefaultTaskSet = PacedDefaultTaskSet  # type: ignore[misc]


def warm_up(target: str | None) -> None:
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
