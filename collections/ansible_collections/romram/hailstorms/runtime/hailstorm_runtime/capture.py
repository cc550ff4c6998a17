"""Every request the target gets reaches the results, whatever the locustfile does.

Two ways a locustfile could hide a request from a recorder that listens like any other
listener, both closed here:

- **Listener order.** Locust's `EventHook.fire` calls the listeners in the order they were added
  and lets Locust's control exceptions (RescheduleTask, StopUser, InterruptTaskSet, ...) raised by
  one of them through, so the later ones never see the event: a locustfile listener that raises
  RescheduleTask on a failed request (the pattern Locust's documentation shows for "stop the task
  on the first failure") hid every failed request from a recorder added after it. `Tap` is added
  to `request` and `user_error` before the locustfile is imported (its `@events.request.add_listener`
  decorators run at import; its `init` listeners later), so it is first; the events that come before
  the recorder exists (a request sent in an `init` or `test_start` listener) are kept and handed to
  it when it is connected.
- **catch_response blocks that raise.** Locust reports a `catch_response` request when its block
  ends, and when the block raises an exception that is not Locust's ResponseError it reports
  nothing: the request reached the target and is in no statistics. `count_raising_blocks` makes
  such a block report its request as failed with that exception (then the exception goes on as in
  Locust: the task ends, the exception is counted as the locustfile's). A control exception raised
  in the block (RescheduleTask, StopUser, ...) is flow control, not a failure: the request is
  reported as the block's end would have reported it (by its status), then the exception goes on.
  This is a documented difference from Locust, which drops such requests.

And one way the run itself could hide requests: a run stopped mid-way (stop.yml, a signal, an
abort, the deadline) kills the users, and a request still waiting for its answer then ends with
GreenletExit, which Locust reports nowhere, though the target got it. `count_interrupted_requests`
makes the HTTP clients' `request` report such a request as failed with `Interrupted` (its time:
from its start to the stop).
"""
from __future__ import annotations

from typing import Any, Callable

Sink = Callable[..., None]


class Tap:
    """The first listener of an event hook: forwards every firing to `sink`, or keeps it until a
    sink is connected."""

    __slots__ = ("hook", "sink", "early")

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self.sink: Sink | None = None
        self.early: list[dict[str, Any]] = []
        hook.add_listener(self)

    def __call__(self, **kwargs: Any) -> None:
        sink = self.sink
        if sink is None:
            self.early.append(kwargs)
        else:
            sink(**kwargs)

    def is_first(self) -> bool:
        handlers = getattr(self.hook, "_handlers", None)
        return bool(handlers) and (handlers[0] is self or (self.sink is not None and handlers[0] is self.sink))

    def connect(self, sink: Sink) -> int:
        """Forward to `sink` from now on, after handing it the events kept so far (returned: how
        many). A listener put ahead of the tap since (by another library's hook) is moved behind
        it: the tap must see every event first. The sink then takes the tap's place, first in
        the hook's list: every event reaches it without a call through the tap."""
        handlers = getattr(self.hook, "_handlers", None)
        if isinstance(handlers, list) and self in handlers and handlers[0] is not self:
            handlers.remove(self)
            handlers.insert(0, self)
        early, self.early = self.early, []
        for kwargs in early:
            sink(**kwargs)
        self.sink = sink
        if isinstance(handlers, list) and handlers and handlers[0] is self:
            handlers[0] = sink
        return len(early)


def control_exceptions() -> tuple[type[BaseException], ...]:
    """Locust's flow-control exceptions (what EventHook.fire lets through)."""
    from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

    extra: tuple[type[BaseException], ...] = ()
    try:
        from gevent import GreenletExit

        extra = (GreenletExit,)
    except ImportError:  # pragma: no cover - Locust brings gevent
        pass
    return (StopUser, RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet, *extra)


def _counting_exit(original: Callable[..., Any], response_error: type[BaseException],
                   control: tuple[type[BaseException], ...]) -> Callable[..., Any]:
    def __exit__(self: Any, exc: Any, value: Any, traceback: Any) -> Any:
        if exc is None or getattr(self, "_manual_result", None) is not None or isinstance(value, response_error):
            return original(self, exc, value, traceback)
        if isinstance(value, control):
            original(self, None, None, None)  # reported as the block's end would report it
        else:
            self.request_meta["exception"] = value
            self._report_request()
        return False  # the exception goes on, as in Locust

    __exit__.hailstorm_counting = True  # type: ignore[attr-defined]
    return __exit__


def count_raising_blocks() -> list[str]:
    """Make the catch_response context managers of HttpUser and FastHttpUser report their request
    when the block raises (see the module docstring). Idempotent; returns the classes changed."""
    from locust.exception import ResponseError

    changed: list[str] = []
    control = control_exceptions()
    targets = []
    from locust import clients

    targets.append(clients.ResponseContextManager)
    try:
        from locust.contrib import fasthttp

        targets.append(fasthttp.ResponseContextManager)
    except ImportError:  # pragma: no cover - geventhttpclient comes with Locust
        pass
    for cls in targets:
        original = cls.__exit__
        if getattr(original, "hailstorm_counting", False):
            continue
        cls.__exit__ = _counting_exit(original, ResponseError, control)
        changed.append(f"{cls.__module__}.{cls.__name__}")
    return changed


class Interrupted(Exception):
    """The failure of a request that was still waiting for its answer when the run stopped."""

    def __init__(self) -> None:
        super().__init__("interrupted: the run stopped before the answer came")


def _request_name(session: Any, url: Any, name: Any) -> str:
    """The name Locust would give the request: `name`, the session's request_name (rename_request),
    else the URL's path and query."""
    if name:
        return str(name)
    if getattr(session, "request_name", None):
        return str(session.request_name)
    from urllib.parse import urlsplit

    text = url.decode() if isinstance(url, bytes) else str(url)
    parts = urlsplit(text)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _interruptible(original: Callable[..., Any], fire: Callable[..., None],
                   killed: type[BaseException]) -> Callable[..., Any]:
    from time import perf_counter, time

    def request(self: Any, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        start, began = time(), perf_counter()
        try:
            return original(self, method, url, *args, **kwargs)
        except killed:
            name = kwargs.get("name", args[0] if args else None)
            user = getattr(self, "user", None)
            context = {**(user.context() if user is not None else {}), **(kwargs.get("context") or {})}
            fire(request_type=str(method.decode() if isinstance(method, bytes) else method).upper(),
                 name=_request_name(self, url, name), response_time=(perf_counter() - began) * 1000.0,
                 response_length=0, response=None, context=context,
                 exception=Interrupted(), start_time=start, url=url)
            raise

    request.hailstorm_interruptible = True  # type: ignore[attr-defined]
    return request


def count_interrupted_requests(fire: Callable[..., None]) -> list[str]:
    """Make HttpUser's and FastHttpUser's sessions report a request killed while it waited for its
    answer (GreenletExit: the run stopped) through `fire` (the request event's fire) as failed with
    Interrupted. Idempotent; returns the classes changed."""
    from gevent import GreenletExit
    from locust import clients

    targets: list[Any] = [clients.HttpSession]
    try:
        from locust.contrib import fasthttp

        targets.append(fasthttp.FastHttpSession)
    except ImportError:  # pragma: no cover - geventhttpclient comes with Locust
        pass
    changed: list[str] = []
    for cls in targets:
        if getattr(cls.request, "hailstorm_interruptible", False):
            continue
        cls.request = _interruptible(cls.request, fire, GreenletExit)
        changed.append(f"{cls.__module__}.{cls.__name__}")
    return changed
