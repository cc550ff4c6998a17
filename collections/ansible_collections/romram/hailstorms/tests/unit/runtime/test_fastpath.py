"""The idle-connection check that replaces geventhttpclient's select(): right on any descriptor."""
from __future__ import annotations

import os
import resource
import select
import socket

import pytest

from hailstorm_runtime.fastpath import install, socket_alive


@pytest.fixture
def high_pair():
    """A connected socket pair whose descriptors are above FD_SETSIZE (1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"open-file limit {hard} is below 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    a, b = socket.socketpair()
    high = [socket.socket(fileno=os.dup2(s.detach(), 1100 + i)) for i, s in enumerate((a, b))]
    yield high
    for s in high:
        s.close()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_select_cannot_check_a_high_descriptor_which_is_why_the_check_is_replaced(high_pair):
    with pytest.raises(ValueError):
        select.select([high_pair[0]], [], [], 0.0)


def test_an_idle_open_connection_is_alive_above_fd_1024(high_pair):
    mine, peer = high_pair
    assert mine.fileno() > 1024
    assert socket_alive(mine)
    peer.sendall(b"unasked")  # readable while idle: dirty, not reusable
    assert not socket_alive(mine)


def test_a_connection_closed_by_the_peer_is_not_alive():
    mine, peer = socket.socketpair()
    assert socket_alive(mine)
    peer.close()
    assert not socket_alive(mine)
    mine.close()
    assert not socket_alive(mine)  # fileno -1
    assert not socket_alive(None)


def test_install_replaces_geventhttpclients_check():
    from geventhttpclient.connectionpool import ConnectionPool

    assert install()
    mine, peer = socket.socketpair()
    assert ConnectionPool._is_socket_alive(None, mine)
    peer.close()
    assert not ConnectionPool._is_socket_alive(None, mine)
    mine.close()


def test_the_installed_check_lets_the_other_greenlets_run_as_geventhttpclients_select_does():
    import gevent
    from gevent import select as gevent_select
    from geventhttpclient.connectionpool import ConnectionPool

    install()
    mine, peer = socket.socketpair()
    for check in (lambda: gevent_select.select([mine], [], [], 0.0), lambda: ConnectionPool._is_socket_alive(None, mine)):
        ran = []
        other = gevent.spawn(ran.append, True)
        check()
        assert ran == [True], "the check did not yield to a ready greenlet"
        other.join()
    mine.close()
    peer.close()


def test_an_ip_address_host_is_resolved_in_place_and_a_name_as_before():
    from geventhttpclient.connectionpool import ConnectionPool

    from hailstorm_runtime.fastpath import numeric_first

    class Pool:
        disable_ipv6 = True
        _connection_port = 8089

        def __init__(self, host):
            self._connection_host = host

    looked_up = []
    resolve = numeric_first(lambda pool: looked_up.append(pool._connection_host) or ["by name"])
    assert resolve(Pool("localhost")) == ["by name"] and looked_up == ["localhost"]
    assert [entry[4] for entry in resolve(Pool("10.1.2.3"))] == [("10.1.2.3", 8089)]
    assert looked_up == ["localhost"]  # no lookup for an address
    install()
    installed = ConnectionPool._resolve
    install()  # a second install does not wrap it again
    assert ConnectionPool._resolve is installed
    assert [entry[4] for entry in ConnectionPool._resolve(Pool("127.0.0.1"))] == [("127.0.0.1", 8089)]


def test_fasthttp_sessions_keep_cookies_with_the_lean_jar():
    """A cookie a response sets is sent with the next requests, none before it: the lean jar
    changes no cookie behaviour of FastHttpUser's session, only what an empty case costs."""
    from http.cookiejar import CookieJar

    import gevent
    from gevent.pywsgi import WSGIServer
    from locust.contrib.fasthttp import FastHttpSession
    from locust.env import Environment

    from hailstorm_runtime.fastpath import LeanCookieJar

    seen = []

    def app(environ, start_response):
        seen.append(environ.get("HTTP_COOKIE"))
        headers = [("Content-Type", "text/plain")]
        if environ["PATH_INFO"] == "/login":
            headers.append(("Set-Cookie", "session=abc; Path=/"))
        start_response("200 OK", headers)
        return [b"ok"]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        install()
        session = FastHttpSession(f"http://127.0.0.1:{server.server_port}", Environment().events.request, user=None)
        assert isinstance(session.cookiejar, LeanCookieJar) and isinstance(session.cookiejar, CookieJar)
        for path in ("/", "/", "/login", "/", "/other"):
            assert session.get(path).status_code == 200
        assert seen == [None, None, None, "session=abc", "session=abc"]
        assert [cookie.name for cookie in session.cookiejar] == ["session"]
    finally:
        server.stop()
        gevent.sleep(0)
