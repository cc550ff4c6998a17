"""hailstorm_feeder: the small HTTP target bundled with romram.hailstorms for demos and tests.

Routes (as in the original hailstorms feeder):
  /wait/{ms}              answer after ms milliseconds
  /wait/{min_ms}/{max_ms} answer after a random delay between min_ms and max_ms
  /status/{code}          answer with that HTTP status
  /stall/{period_s}/{stall_ms}/{ms}
                          answer after ms milliseconds, but a request arriving in the first
                          stall_ms of each period_s of the epoch clock waits for that window's
                          end first (a service that stalls, e.g. a GC pause, every period)
  /fail_after/{seconds}/{code}
                          answer 200 until `seconds` after the first request to this path, then
                          that HTTP status (a service that breaks mid-run, for the abort tests)
  /slow_after/{seconds}/{ms}
                          answer at once until `seconds` after the first request to this path, then
                          after ms milliseconds (a service whose latency breaks mid-run)
  /clientId               a counter: 0, 1, 2, ... (one per request)
  /clientId/reset         set the counter back to 0
  /{name}                 "Hello, name"
  /metrics                its own figures in Prometheus' text format (requests answered by route and
                          status code, CPU seconds, resident memory): what a Prometheus scrapes
                          from a service under test, for the live-metrics and report tests

    python hailstorm_feeder.py --host 127.0.0.1 --port 3456 [--arrival-log FILE]

With --arrival-log every request's arrival time (time.time(), µs) and path is logged, one
"<epoch seconds with 6 decimals> <path>" line per request, buffered and written every second
(on a thread, off the event loop) and on shutdown (SIGTERM/SIGINT), so tests can check at the target what the load looked like.

Python's cyclic GC would pause the feeder for tens of ms now and then under load (a full
collection visits every open connection's objects: 85 ms with 3,000 keep-alive clients), and
every request arriving meanwhile would look late: while requests come, the long-lived objects
are frozen once a second (out of the collector's sight); in a second without any, they are
unfrozen and collected (gc_tick). Cyclic garbage made under load waits for that idle second.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import time
from typing import IO

from aiohttp import web


class ArrivalLog:
    """The arrival lines, taken in the event loop and written by `write` on another thread (see
    every_second): a write to a busy disk would otherwise hold the loop, and every request
    arriving meanwhile would be stamped late."""

    def __init__(self, path: str) -> None:
        self.handle: IO[str] = open(path, "a", encoding="utf-8")
        self.lines: list[str] = []

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines

    def write(self, lines: list[str]) -> None:
        if lines:
            self.handle.write("".join(lines))
        self.handle.flush()

    def close(self) -> None:
        self.write(self.take())
        self.handle.close()


def gc_tick(busy: bool, collector=gc) -> None:
    """Once a second: after a second with requests, a freeze of every tracked object (garbage
    among them waits for the next idle second; no collection here: one of the young generation
    took 30-40 ms after a busy second at 3,000 rps, as objects dying frozen keep the automatic
    young collections from running); after an idle second, an unfreeze and a full collection
    (nothing waits on it then)."""
    if busy:
        collector.freeze()
    elif collector.get_freeze_count():
        collector.unfreeze()
        collector.collect()


def metrics_text(answered: dict[tuple[str, int], int], started: float) -> str:
    """The feeder's own figures in Prometheus' text exposition format (version 0.0.4)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines = ["# HELP hailstorm_feeder_requests_total Requests the feeder answered, by route and status code.",
             "# TYPE hailstorm_feeder_requests_total counter"]
    for (route, code), n in sorted(answered.items()):
        lines.append(f'hailstorm_feeder_requests_total{{route="{route}",code="{code}"}} {n}')
    lines += ["# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
              "# TYPE process_cpu_seconds_total counter",
              f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime:.6f}",
              "# HELP process_resident_memory_bytes Peak resident memory size in bytes.",
              "# TYPE process_resident_memory_bytes gauge",
              f"process_resident_memory_bytes {usage.ru_maxrss * 1024}",
              "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
              "# TYPE process_start_time_seconds gauge",
              f"process_start_time_seconds {started:.3f}"]
    return "\n".join(lines) + "\n"


def build_app(arrival_log: str | None = None) -> web.Application:
    app = web.Application()
    counter = [0]
    answered: dict[tuple[str, int], int] = {}  # (route, status code): requests (for /metrics)
    started = time.time()

    def count(route: str, code: int = 200) -> None:
        answered[(route, code)] = answered.get((route, code), 0) + 1
    arrivals = [0]
    log = ArrivalLog(arrival_log) if arrival_log else None
    now = time.time

    if log is not None:
        def arrived(request: web.Request) -> None:
            arrivals[0] += 1
            log.lines.append(f"{now():.6f} {request.path}\n")
    else:
        def arrived(request: web.Request) -> None:
            arrivals[0] += 1

    async def wait(request: web.Request) -> web.Response:
        arrived(request)
        ms = _int(request, "ms")
        await asyncio.sleep(ms / 1000.0)
        count("wait")
        return web.Response(text=f"waited {ms} ms")

    async def wait_between(request: web.Request) -> web.Response:
        arrived(request)
        low, high = _int(request, "min_ms"), _int(request, "max_ms")
        if high < low:
            raise web.HTTPBadRequest(text=f"max_ms ({high}) < min_ms ({low})")
        ms = random.uniform(low, high)
        await asyncio.sleep(ms / 1000.0)
        count("wait")
        return web.Response(text=f"waited {ms:.0f} ms")

    async def stall(request: web.Request) -> web.Response:
        arrived(request)
        period, stall_ms, ms = _int(request, "period_s"), _int(request, "stall_ms"), _int(request, "ms")
        if period <= 0:
            raise web.HTTPBadRequest(text=f"period_s ({period}) must be > 0")
        into = now() % period
        held = max(0.0, stall_ms / 1000.0 - into)
        await asyncio.sleep(held + ms / 1000.0)
        return web.Response(text=f"waited {1000 * held + ms:.0f} ms")

    async def status(request: web.Request) -> web.Response:
        arrived(request)
        code = _int(request, "code")
        if not 100 <= code <= 599:
            raise web.HTTPBadRequest(text=f"status code {code} is not between 100 and 599")
        count("status", code)
        return web.Response(status=code, text=f"status {code}")

    first_seen: dict[str, float] = {}  # /fail_after, /slow_after: path -> arrival time of its first request

    async def fail_after(request: web.Request) -> web.Response:
        arrived(request)
        seconds, code = _int(request, "seconds"), _int(request, "code")
        if not 100 <= code <= 599:
            raise web.HTTPBadRequest(text=f"status code {code} is not between 100 and 599")
        at = now()
        first = first_seen.setdefault(request.path, at)
        if at - first < seconds:
            count("fail_after")
            return web.Response(text=f"fine for {seconds - (at - first):.1f} s more")
        count("fail_after", code)
        return web.Response(status=code, text=f"broken since {first + seconds:.6f}")

    async def slow_after(request: web.Request) -> web.Response:
        arrived(request)
        seconds, ms = _int(request, "seconds"), _int(request, "ms")
        at = now()
        first = first_seen.setdefault(request.path, at)
        count("slow_after")
        if at - first < seconds:
            return web.Response(text=f"fast for {seconds - (at - first):.1f} s more")
        await asyncio.sleep(ms / 1000.0)
        return web.Response(text=f"slow since {first + seconds:.6f}")

    async def client_id(request: web.Request) -> web.Response:
        arrived(request)
        value = counter[0]
        counter[0] += 1
        count("clientId")
        return web.Response(text=str(value))

    async def client_id_reset(request: web.Request) -> web.Response:
        arrived(request)
        counter[0] = 0
        count("clientId")
        return web.Response(text="0")

    async def hello(request: web.Request) -> web.Response:
        arrived(request)
        count("hello")
        return web.Response(text=f"Hello, {request.match_info['name']}")

    async def metrics(_request: web.Request) -> web.Response:  # not an arrival: the load never asks for it
        return web.Response(text=metrics_text(answered, started), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})

    app.router.add_route("*", "/wait/{ms}", wait)
    app.router.add_route("*", "/wait/{min_ms}/{max_ms}", wait_between)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_route("*", "/stall/{period_s}/{stall_ms}/{ms}", stall)
    app.router.add_route("*", "/fail_after/{seconds}/{code}", fail_after)
    app.router.add_route("*", "/slow_after/{seconds}/{ms}", slow_after)
    app.router.add_route("*", "/clientId", client_id)
    app.router.add_route("*", "/clientId/reset", client_id_reset)
    app.router.add_route("GET", "/metrics", metrics)
    app.router.add_route("*", "/{name}", hello)

    async def every_second(app: web.Application):  # cleanup context: runs until shutdown
        writing: list[asyncio.Future] = []  # the log write under way, if any

        async def loop() -> None:
            seen = 0
            while True:
                await asyncio.sleep(1.0)
                if log is not None:
                    writing[:] = [asyncio.ensure_future(asyncio.to_thread(log.write, log.take()))]
                    await asyncio.shield(writing[0])
                gc_tick(arrivals[0] != seen)
                seen = arrivals[0]

        task = asyncio.get_running_loop().create_task(loop())
        yield
        task.cancel()
        if log is not None:
            if writing:
                await writing[0]  # its lines before the rest
            log.close()

    app.cleanup_ctx.append(every_second)
    return app


def _int(request: web.Request, key: str) -> int:
    text = request.match_info[key]
    try:
        return int(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{key}: expected a whole number, got {text!r}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="romram.hailstorms feeder: a small HTTP test target")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3456)
    parser.add_argument("--arrival-log", help="log every request's arrival time and path to this file")
    args = parser.parse_args(argv)
    print(f"hailstorm_feeder listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(build_app(args.arrival_log), host=args.host, port=args.port, access_log=None,
                print=None, handle_signals=True, backlog=1024)


if __name__ == "__main__":
    main()
