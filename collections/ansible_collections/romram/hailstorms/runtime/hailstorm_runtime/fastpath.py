"""Costs taken out of a load process's hot path that are not the locustfile's to pay.

geventhttpclient (FastHttpUser's HTTP client) checks a pooled keep-alive connection before it
reuses it with `select()` on the socket. `select()` cannot take a file descriptor at or above
FD_SETSIZE (1024): it raises ValueError, which the check takes for a dead connection. So with
more than about a thousand clients in one process, every request of a client whose socket got a
descriptor above 1024 closed its connection, resolved the host again (a round trip through
gevent's resolver thread pool) and connected anew: about half the requests at 2,000 clients,
and the pace of a core collapsed well below what it could send. `poll()` has no such limit and
answers the same question (is an idle socket readable, i.e. closed or dirty?). gevent's
`select()` with a zero timeout also yields to the other greenlets (gevent.sleep(0)) before it
returns, so every request let the other clients run before it was sent; the replacement keeps
that yield. Without it a flat-out process spent 10-20 % more CPU per request than plain Locust
(benchmarks/runtime_overhead.py, FastHttpUser, 50 users: +23 % without the yield, +7 % with it,
+3 % with geventhttpclient's own check, medians of 5 interleaved rounds).

Each new connection (every client's first request) also resolved its host through gevent's
resolver thread pool, a hop through another thread and back into the busy event loop, even when
the target is an IP address, which needs no lookup: a numeric host is now converted in place
(getaddrinfo with AI_NUMERICHOST never does I/O); a name is looked up as before.

FastHttpSession's cookie jar (the standard library's CookieJar, one per user) takes a lock, walks
its cookies and clears expired ones before every request, and takes the lock again to look for
cookies in every response, even when it holds no cookie and the response sets none: 3-4 % of a
planned request's CPU. `LeanCookieJar` is that CookieJar with the two empty cases answered in
place (nothing to add when it holds no cookie, nothing to take from a response without a
Set-Cookie or Set-Cookie2 header); with a cookie or such a header it is CookieJar itself.

`install()` swaps the check (keeping its yield), the numeric lookup and FastHttpSession's cookie jar;
connections, sessions and cookies stay per user as Locust makes them.
"""
from __future__ import annotations

import ipaddress
import logging
import select
import socket
import time
from http.cookiejar import CookieJar
from typing import Any, Callable

import gevent

logger = logging.getLogger("hailstorm_runtime")
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def _original_poll() -> Any:
    """The blocking-free system poll (gevent's monkey-patching removes select.poll)."""
    try:
        from gevent import monkey

        return monkey.get_original("select", "poll")
    except ImportError:  # pragma: no cover - the runtime always has gevent
        return select.poll


_POLL: list[Any] = []  # the system poll, looked up once (monkey.get_original costs more than the check)


def socket_alive(sock: Any) -> bool:
    """Whether an idle pooled socket can carry the next request: open, and nothing to read
    (readable while idle means the peer closed it or sent something unasked)."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        if not _POLL:
            _POLL.append(_original_poll())
        poller = _POLL[0]()
        poller.register(fd, _READABLE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def alive_then_yield(sock: Any) -> bool:
    """geventhttpclient's ConnectionPool._is_socket_alive: `socket_alive`, then a yield to the
    other greenlets, as the select()-based check it replaces yields."""
    alive = socket_alive(sock)
    gevent.sleep(0)
    return alive


def numeric_first(resolve: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """geventhttpclient's ConnectionPool._resolve, answering an IP-address host in place."""

    def _resolve(pool: Any) -> Any:
        host = pool._connection_host
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return resolve(pool)
        family = socket.AF_INET if pool.disable_ipv6 else 0
        return _original_getaddrinfo()(host, pool._connection_port, family, socket.SOCK_STREAM, socket.SOL_TCP,
                                       socket.AI_NUMERICHOST)

    return _resolve


def _original_getaddrinfo() -> Any:
    try:
        from gevent import monkey

        return monkey.get_original("socket", "getaddrinfo")
    except ImportError:  # pragma: no cover - the runtime always has gevent
        return socket.getaddrinfo


class LeanCookieJar(CookieJar):
    """The standard library's CookieJar, without its lock and walk when it has nothing to do."""

    def add_cookie_header(self, request: Any) -> None:
        if self._cookies:  # type: ignore[attr-defined]
            super().add_cookie_header(request)
        else:  # what CookieJar leaves behind when it has no cookie: its clock read
            self._policy._now = self._now = int(time.time())  # type: ignore[attr-defined]

    def extract_cookies(self, response: Any, request: Any) -> None:
        headers = response.info()
        if "Set-Cookie" in headers or "Set-Cookie2" in headers:
            super().extract_cookies(response, request)
        else:
            self._policy._now = self._now = int(time.time())  # type: ignore[attr-defined]


def install() -> list[str]:
    """Apply the fixes that apply to the installed libraries; returns what was changed."""
    changed = []
    try:
        from geventhttpclient.connectionpool import ConnectionPool
    except ImportError:
        return changed
    if hasattr(ConnectionPool, "_is_socket_alive"):
        ConnectionPool._is_socket_alive = lambda _self, sock: alive_then_yield(sock)  # type: ignore[method-assign]
        changed.append("geventhttpclient's idle-connection check uses poll() (select() fails above fd 1024) "
                       "and yields as select() does")
    if hasattr(ConnectionPool, "_resolve") and not getattr(ConnectionPool._resolve, "numeric_first", False):
        ConnectionPool._resolve = numeric_first(ConnectionPool._resolve)  # type: ignore[method-assign]
        ConnectionPool._resolve.numeric_first = True  # type: ignore[attr-defined]
        changed.append("geventhttpclient resolves an IP-address host in place (no resolver thread)")
    try:
        from locust.contrib import fasthttp
    except ImportError:  # pragma: no cover - the runtime always has Locust
        return changed
    if getattr(fasthttp, "CookieJar", None) is CookieJar:
        fasthttp.CookieJar = LeanCookieJar  # type: ignore[attr-defined,misc]
        changed.append("FastHttpSession's cookie jar skips its lock and walk when it has no cookie to add or take")
    return changed
