"""The recorder's tap on an event hook (capture.Tap), against a stand-in for Locust's EventHook."""
from __future__ import annotations

from hailstorm_runtime.capture import Tap


class Hook:
    """Locust's EventHook as the tap uses it: listeners in order, fired with keyword arguments."""

    def __init__(self):
        self._handlers = []

    def add_listener(self, handler):
        self._handlers.append(handler)

    def fire(self, **kwargs):
        for handler in self._handlers.copy():
            handler(**kwargs)


def test_events_before_the_sink_are_kept_and_handed_over_then_the_sink_is_called_first_directly():
    hook = Hook()
    tap = Tap(hook)
    later = []
    hook.add_listener(lambda **kwargs: later.append(kwargs["n"]))  # a locustfile's listener, added after
    hook.fire(n=1)
    got = []
    assert tap.connect(lambda **kwargs: got.append(kwargs["n"])) == 1
    hook.fire(n=2)
    assert got == [1, 2] and later == [1, 2]
    assert hook._handlers[0] is tap.sink and tap not in hook._handlers  # no call through the tap per event
    assert tap.is_first()


def test_a_listener_put_ahead_of_the_tap_is_moved_behind_the_sink_at_connect():
    hook = Hook()
    tap = Tap(hook)
    order = []
    hook._handlers.insert(0, lambda **kwargs: order.append("other"))
    tap.connect(lambda **kwargs: order.append("sink"))
    hook.fire(n=1)
    assert order == ["sink", "other"]
