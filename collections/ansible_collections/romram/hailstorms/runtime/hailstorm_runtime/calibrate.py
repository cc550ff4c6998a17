"""`python -m hailstorm_runtime calibrate`: how many paced requests one core of this host can
send, measured in a few seconds without touching the target.

The runtime itself runs a one-core plan (core.CoreRun, as `run` does, with core.Hooks for its own
start signal and its measurement: every client its own
FastHttpUser, paced on its lattice, recorded) against a stub HTTP server on the loopback in a
child process, and measures the load process's own CPU time over the constant phase: requests
per CPU-second is what one fully busy core could send of such requests (the stub answers at
once; a real target's slower answers cost the load process little more). The preflight role
compares it with the plan's rate per core (plugins/module_utils/preflight.py)."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

STUB_SERVER = r'''
import asyncio, sys

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Stub(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # requests without a body (GET)
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(ANSWER)


async def main():
    server = await asyncio.get_running_loop().create_server(Stub, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


asyncio.run(main())
'''

LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class Calibration(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self):
        self.client.get("/", name="/calibrate")
'''


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def calibrate(seconds: float = 4.0, rps: float = 1000.0, pace: float = 1.0) -> dict[str, Any]:
    """Run `rps` clients' worth of paced requests (pace `pace`, ramp-up 1 s, `seconds` in all)
    against the stub; measure over the constant phase. Imports the runner (Locust, gevent). A run
    that measured nothing: RunFailure (exit 1)."""
    import gevent

    from . import contract, core, plan_queries, planner, runner
    from .failure import RunFailure

    seconds = max(2.0, float(seconds))
    stub = subprocess.Popen([sys.executable, "-c", STUB_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        port = int(stub.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="hailstorm-calibrate-") as work:
            locustfile = os.path.join(work, "calibrate.py")
            with open(locustfile, "w", encoding="utf-8") as handle:
                handle.write(LOCUSTFILE)
            rampup = 1.0
            settings = {"clients": max(1, round(rps * pace)), "rps": rps, "pace": pace, "rampup": rampup,
                        "constant": seconds - rampup, "rampdown": 0.0}
            plan = planner.make_plan(settings, [("calibrate", 1)])
            data = contract.host_data(plan_queries.host_slice(plan, "calibrate"), "calibrate",
                                      f"http://127.0.0.1:{port}", locustfile, work, deadline_grace=5)
            measured: dict[str, float] = {}

            class Calibration(core.Hooks):
                def armed(self, core_run: core.CoreRun) -> None:  # its own start signal, right away
                    with open(os.path.join(work, core.START_FILE), "w", encoding="utf-8") as handle:
                        json.dump({"start_time": time.time() + 0.3}, handle)

                def recording(self, core_run: core.CoreRun) -> None:
                    gevent.spawn(self._measure, core_run)

                @staticmethod
                def _measure(run: core.CoreRun) -> None:
                    marks = []
                    for when in (run.t0 + rampup + 0.2, run.t0 + seconds - 0.1):
                        runner.WallClock.sleep_until(when)
                        marks.append((time.time(), _cpu_seconds(),
                                      run.recorder.requests + run.recorder.pending_requests()))
                    (w0, c0, r0), (w1, c1, r1) = marks
                    measured.update(wall=w1 - w0, cpu=c1 - c0, requests=r1 - r0)

            try:
                code = core.CoreRun(data, 0, Calibration()).run()
            except RunFailure as failure:
                code = failure.exit_code
    finally:
        stub.stdin.close()
        stub.wait(timeout=10)
    if code != 0 or not measured.get("requests") or measured["cpu"] <= 0:
        raise RunFailure(f"calibration run failed (exit code {code}, {measured.get('requests', 0)} requests measured)")
    return {"rps_per_cpu_second": round(measured["requests"] / measured["cpu"], 1),
            "rps": round(measured["requests"] / measured["wall"], 1), "cpu": round(measured["cpu"] / measured["wall"], 3),
            "planned_rps": rps, "pace": pace, "clients": settings["clients"], "seconds": round(measured["wall"], 2),
            "requests": int(measured["requests"])}
