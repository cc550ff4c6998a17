#!/usr/bin/env python3
"""Where a paced load process loses time: benchmarks/capacity.py's hailstorms run, with the load
process instrumented, and every late first request attributed.

The load process runs `python benchmarks/loop_lag.py --child ...`: the runtime's own `run`, plus
  - a fine event-loop lag probe (sleeps 2 ms again and again; every wake-up more than 5 ms late
    is kept with its time),
  - Python's cyclic GC timed through gc.callbacks (generation, duration, objects collected),
  - the duration of the runtime's own loop work: Recorder.flush, status writes, LoadMonitor.sample,
    user construction (prepare) and start (spawn),
  - per client: its start lateness, and when its first request began in the process;
and writes them to diag.json in the run's work directory. The driver then prints the late first
requests at the target with what the process was doing (GC, a stall, a slow connect).

    flock -o /tmp/hs-heavy.lock .venv/bin/python benchmarks/loop_lag.py [--rps 2000,3000] [--rampup 5] [--constant 12]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(argv: list[str]) -> int:
    """The runtime's `run`, instrumented (runs in the load process)."""
    import gc

    from hailstorm_runtime import runner  # imports Locust: gevent is monkey-patched from here on
    import gevent

    diag: dict = {"gc": [], "lag": [], "calls": {}, "first_request": {}, "start_late": {}, "spawned_at": {}}
    clock = time.time
    gc_started = [0.0, 0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[:] = time.perf_counter(), time.thread_time()
        else:
            diag["gc"].append((clock(), info["generation"], time.perf_counter() - gc_started[0], info["collected"],
                               time.thread_time() - gc_started[1]))

    gc.callbacks.append(on_gc)
    if os.environ.get("DIAG_NO_FREEZE"):  # A/B: the runtime without its GC freezes
        gc.freeze = lambda: None

    def timed(cls, name):
        original = getattr(cls, name)
        spans = diag["calls"].setdefault(f"{cls.__name__}.{name}", [])

        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spans.append((clock(), time.perf_counter() - began))

        setattr(cls, name, wrapper)

    from hailstorm_runtime import monitor, recorder
    for cls, name in ((recorder.Recorder, "flush"), (recorder.Recorder, "write_status"),
                      (monitor.LoadMonitor, "sample"), (runner.CoreRun, "prepare"), (runner.CoreRun, "spawn")):
        timed(cls, name)

    core_run_cls = runner.CoreRun
    original_start_recording = core_run_cls.start_recording

    def start_recording(self):
        original_start_recording(self)
        rec = self.recorder
        original_on_request = rec.on_request
        original_started = rec.client_started
        firsts = diag["first_request"]

        def on_request(*args, **kwargs):
            client = self.greenlet_client.get(gevent.getcurrent())
            if client is not None and client not in firsts:
                firsts[client] = (kwargs.get("start_time"), clock(), kwargs.get("response_time"))
            return original_on_request(*args, **kwargs)

        def client_started(client_id, lateness):
            diag["start_late"][client_id] = lateness
            diag["spawned_at"][client_id] = clock()
            return original_started(client_id, lateness)

        self.env.events.request.remove_listener(original_on_request)
        self.env.events.request.add_listener(on_request)
        rec.client_started = client_started

        def probe():
            while True:
                gevent.get_hub().loop.update_now()
                due = clock() + 0.002
                cpu = time.thread_time()
                gevent.sleep(0.002)
                late = clock() - due
                if late > 0.005:  # with the CPU time this thread got meanwhile (the rest: preempted or blocked)
                    diag["lag"].append((due, late, time.thread_time() - cpu - 0.0))

        gevent.spawn(probe)

        def count_objects():  # tracked objects at the start and at the end (counting them stalls the loop)
            diag["objects_before"] = [len(gc.get_objects(g)) for g in (0, 1, 2)]
            diag["frozen_before"] = gc.get_freeze_count()
            runner.WallClock.sleep_until(self.t0 + self.duration + 0.05)
            diag["objects_end"] = [len(gc.get_objects(g)) for g in (0, 1, 2)]
            diag["frozen_end"] = gc.get_freeze_count()

        gevent.spawn(count_objects)

    core_run_cls.start_recording = start_recording
    original_run = core_run_cls.run

    def run(self):
        try:
            return original_run(self)
        finally:
            with open(os.path.join(self.work_dir, "diag.json"), "w", encoding="utf-8") as handle:
                json.dump(diag, handle)

    core_run_cls.run = run
    from hailstorm_runtime.__main__ import main
    return main(argv)


FEEDER_WRAPPER = """
import gc, runpy, sys, time
out = open(sys.argv.pop(1), "w")
began = [0.0, 0.0]
def on_gc(phase, info):
    if phase == "start":
        began[:] = time.perf_counter(), time.thread_time()
    elif time.perf_counter() - began[0] > 0.002:
        frame, forced = sys._getframe(0), "auto"
        while frame is not None:
            if frame.f_code.co_name == "gc_tick":
                forced = "gc_tick"
            frame = frame.f_back
        out.write(f"{time.time():.6f} {info['generation']} {time.perf_counter() - began[0]:.6f} "
                  f"{time.thread_time() - began[1]:.6f} {forced}\\n")
        out.flush()
gc.callbacks.append(on_gc)
_collect = gc.collect
def collect(generation=2):
    sizes = [len(gc.get_objects(g)) for g in range(3)]
    t = time.perf_counter()
    n = _collect(generation)
    out.write(f"# collect({generation}) {1000 * (time.perf_counter() - t):.1f} ms, generations {sizes}, {n} collected\\n")
    return n
gc.collect = collect
sys.argv[0] = sys.argv[1]; del sys.argv[1]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def feeder_pauses(path: Path, lo: float, hi: float, t0: float) -> str:
    rows = [line.split() for line in path.read_text().splitlines() if not line.startswith("#")] if path.exists() else []
    print("".join(line + "\n" for line in path.read_text().splitlines()[-8:] if line.startswith("#")))
    hits = [(float(t), int(g), float(d), float(c), w) for t, g, d, c, w in rows if lo <= float(t) <= hi]
    return ", ".join(f"gen{g} {1000 * d:.0f} ms ({1000 * c:.0f} on CPU, {w}) at +{t - t0:.2f}"
                     for t, g, d, c, w in sorted(hits, key=lambda r: -r[2])[:6])


def report(work: Path, arrivals: dict[int, list[float]], planned: dict[int, float], top: int = 15) -> None:
    diag = json.loads((work / "diag.json").read_text())
    t0 = min(planned.values())
    late = sorted(((min(arrivals[c]) - p, c) for c, p in planned.items() if c in arrivals), reverse=True)
    gcs = diag["gc"]
    print(f"  GC: {len(gcs)} collections; by generation (count, total ms, max ms): " + ", ".join(
        f"gen{g} ({sum(1 for x in gcs if x[1] == g)}, {1000 * sum(x[2] for x in gcs if x[1] == g):.0f}, "
        f"{1000 * max([x[2] for x in gcs if x[1] == g] or [0]):.1f})" for g in (0, 1, 2)))
    print(f"  tracked objects (gen0, gen1, gen2; frozen): before the start {diag.get('objects_before')}; "
          f"{diag.get('frozen_before')}, at the end {diag.get('objects_end')}; {diag.get('frozen_end')}")
    lags = diag["lag"]
    print(f"  loop stalls > 5 ms: {len(lags)}; > 20 ms: {sum(1 for _, x, _c in lags if x > 0.02)}; "
          f"> 50 ms: {sum(1 for _, x, _c in lags if x > 0.05)}; of their time not on the CPU (preempted, "
          f"blocked): {100 * (1 - sum(c for *_, c in lags) / max(1e-9, sum(x + 0.002 for _, x, _c in lags))):.0f} %; "
          "worst (ms late, ms on CPU): "
          + ", ".join(f"{1000 * x:.0f} ({1000 * c:.0f}) at +{d - t0:.2f}" for d, x, c in sorted(lags, key=lambda v: -v[1])[:8]))
    for name, spans in diag["calls"].items():
        if spans:
            worst = max(spans, key=lambda s: s[1])
            print(f"  {name}: {len(spans)} calls, total {1000 * sum(s[1] for s in spans):.0f} ms, "
                  f"max {1000 * worst[1]:.1f} ms at +{worst[0] - t0:.2f}")
    for big in sorted((g for g in gcs if g[2] > 0.005), key=lambda g: -g[2])[:6]:
        print(f"  GC gen{big[1]} {1000 * big[2]:.1f} ms ({1000 * big[4]:.1f} on CPU) at +{big[0] - t0:.2f} "
              f"({big[3]} collected)")
    firsts = {int(k): v for k, v in diag["first_request"].items()}
    start_late = {int(k): v for k, v in diag["start_late"].items()}
    print("  latest first requests at the target (ms): late, [spawn late, request began late, "
          "began->arrival]")
    for lateness, c in late[:top]:
        began = firsts.get(c, (None,))[0]
        bits = [f"{1000 * start_late.get(c, float('nan')):.0f}"]
        bits.append(f"{1000 * (began - planned[c]):.0f}" if began else "?")
        bits.append(f"{1000 * (min(arrivals[c]) - began):.0f}" if began else "?")
        print(f"    client {c} at +{planned[c] - t0:.3f}: {1000 * lateness:.0f} [{', '.join(bits)}]")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2:]))
    import capacity
    from capacity import arrivals_of, pin, plan_queries
    from harness import start_feeder
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", default="2000,3000")
    parser.add_argument("--rampup", type=float, default=5.0)
    parser.add_argument("--constant", type=float, default=12.0)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--keep", help="keep the work directories here")
    parser.add_argument("--ab", action="store_true", help="each rate twice: without the GC freezes, then with")
    args = parser.parse_args()
    real_popen = subprocess.Popen

    def popen(command, *a, **kw):  # the hailstorms run, instrumented
        if command[1:3] == ["-m", "hailstorm_runtime"]:
            command = [command[0], str(Path(__file__).resolve()), "--child", *command[3:]]
        return real_popen(command, *a, **kw)

    capacity.subprocess.Popen = popen
    cpus = sorted(os.sched_getaffinity(0))
    feeder_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    import tempfile
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp_name:
        tmp = Path(tmp_name)
        locustfile = tmp / "paced.py"
        locustfile.write_text(capacity.LOCUSTFILE)
        log = tmp / "arrivals.log"
        feeder_gc = tmp / "feeder-gc.txt"
        feeder, target = start_feeder("--arrival-log", str(log), prefix=[sys.executable, "-c", FEEDER_WRAPPER,
                                                                         str(feeder_gc)],
                                      popen=real_popen, stdout=subprocess.DEVNULL, preexec_fn=pin(feeder_cpu))
        try:
            runs = [(int(r), variant) for r in args.rps.split(",") for variant in (("nofreeze", "") if args.ab else ("",))]
            for i, (rps, variant) in enumerate(runs):
                os.environ["DIAG_NO_FREEZE"] = variant
                name = f"{rps}-{i}"
                f = capacity.run_hailstorms(rps, args, tmp, locustfile, target, log, load_cpu, name)
                print(capacity.table_row(rps, "hailstorms " + variant, f), flush=True)
                data = json.loads((tmp / f"data-{name}.json").read_text())
                t0 = data["start_time"]
                planned = {c.client_id: t0 + next(plan_queries.request_times(c, 1.0))
                           for c in plan_queries.core_clients(data["plan"], data["cores"][0])}
                report(tmp / f"work-{name}", arrivals_of(log, f"/h{name}"), planned)
                print(f"  feeder GC pauses > 2 ms during the run: {feeder_pauses(feeder_gc, t0 - 1, t0 + 18, t0)}")
        finally:
            feeder.terminate()
            feeder.wait(timeout=10)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
