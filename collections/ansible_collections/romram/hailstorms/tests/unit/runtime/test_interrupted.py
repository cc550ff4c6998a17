"""A request killed while it waits for its answer (the run stopped) is reported as Interrupted,
under the name Locust would give it; one that ends any other way is left to Locust."""
from __future__ import annotations

import gevent
import pytest
from gevent import GreenletExit

from hailstorm_runtime import capture


class Session:
    """Stands for an HTTP session: `request` waits for an answer that never comes, or raises."""

    request_name = None
    user = None

    def request(self, method, url, name=None, catch_response=False, context=None, **kwargs):
        if kwargs.get("raises"):
            raise kwargs["raises"]
        gevent.sleep(10)
        return "answer"


def patched(fired: list) -> type:
    cls = type("PatchedSession", (Session,), {})
    cls.request = capture._interruptible(Session.request, lambda **kw: fired.append(kw), GreenletExit)
    return cls


@pytest.mark.parametrize(("call", "name"), [
    (lambda s: s.request("GET", "/items/7?full=1"), "/items/7?full=1"),
    (lambda s: s.request("post", "http://h:8/orders", name="/orders"), "/orders"),
    (lambda s: s.request("GET", "/items/8", "/items/[id]"), "/items/[id]"),
])
def test_a_request_killed_while_waiting_is_reported_interrupted_by_its_name(call, name):
    fired: list = []
    session = patched(fired)()
    greenlet = gevent.spawn(call, session)
    gevent.sleep(0.05)
    greenlet.kill(block=True)
    assert len(fired) == 1
    event = fired[0]
    assert event["name"] == name and event["request_type"] == ("POST" if "orders" in name else "GET")
    assert isinstance(event["exception"], capture.Interrupted) and event["response_length"] == 0
    assert 40.0 <= event["response_time"] < 10_000.0


def test_rename_request_and_the_users_context_are_kept():
    fired: list = []
    session = patched(fired)()
    session.request_name = "/grouped"
    session.user = type("U", (), {"context": lambda self: {"tenant": "a"}})()
    greenlet = gevent.spawn(session.request, "GET", "/x", context={"step": 2})
    gevent.sleep(0.01)
    greenlet.kill(block=True)
    assert fired[0]["name"] == "/grouped" and fired[0]["context"] == {"tenant": "a", "step": 2}


def test_other_endings_are_left_to_locust():
    fired: list = []
    session = patched(fired)()
    with pytest.raises(ValueError):
        session.request("GET", "/x", raises=ValueError("bad"))
    assert fired == []


def test_the_real_sessions_are_patched_once():
    fired: list = []
    first = capture.count_interrupted_requests(lambda **kw: fired.append(kw))
    again = capture.count_interrupted_requests(lambda **kw: fired.append(kw))
    assert again == [] and set(first) <= {"locust.clients.HttpSession", "locust.contrib.fasthttp.FastHttpSession"}
    from locust import clients
    from locust.contrib import fasthttp

    assert clients.HttpSession.request.hailstorm_interruptible and fasthttp.FastHttpSession.request.hailstorm_interruptible
