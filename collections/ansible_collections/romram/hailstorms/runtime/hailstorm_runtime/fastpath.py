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

`install()` swaps the check (keeping its yield) and the numeric lookup; connections, sessions and cookies stay per user as Locust makes them.
"""
from __future__ import annotations

import ipaddress
import logging
import select
import socket
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
    return changed
