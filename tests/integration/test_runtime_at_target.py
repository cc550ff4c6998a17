"""The real runtime (2 core processes) against the real feeder, checked AT THE TARGET from the
feeder's arrival log; plain Locust with the same users, pacing and spawn rate for comparison.

Plan: 120 clients, 100 rps (pace 1.2 s), ramp-up 10 s, constant 10 s, ramp-down 3 s, on one
host with 2 cores. Checks:
  - every client's first task request arrives at its planned slot (the first slot of its phase
    lattice at or after its start), so the first requests rise on the planned line, and every
    later request arrives at its own slot (assert_on_the_line): none early, the median within
    8 ms, 95 % within FIRST_ARRIVAL_TOLERANCE (15 ms: Locust's HTTP client needs ~2-4 ms from the
    slot to the bytes on the wire on this class of machine, plus gevent/OS scheduling noise of a
    few ms), at most one in twenty past FIRST_ARRIVAL_BOUND (50 ms: this 2-core VM stalls every
    process at once for up to ~230 ms under disk pressure), none half a pace late (a bent,
    shifted or missed slot is off by a gap, 10 ms here, repeated, or by a pace); the line fitted
    through the first requests on it has slope 1 (no drift);
  - the constant phase's rate is within 2 % of the target;
  - arrivals in 100 ms bins are even: CV under half of plain Locust's (printed, both; here
    0.08 against 0.9-1.1 on a quiet machine; with a parallel `dd` writing 4 GB files, whose
    machine stalls of up to 430 ms hit both runs, 0.26-0.43 against 1.09-1.17);
  - the runtime's own records (merged) count exactly the requests the target saw.
"""
from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize

from harness import feeder, start_cores

pytestmark = pytest.mark.serial  # measures timing: runs alone, after the parallel tests (pytest.ini)

RPS, CLIENTS, RAMPUP, CONSTANT, RAMPDOWN = 100, 120, 10.0, 10.0, 3.0
PACE = CLIENTS / RPS
FIRST_ARRIVAL_TOLERANCE = 0.015
FIRST_ARRIVAL_BOUND = 0.050
LOCUSTFILE = f'''
from locust import HttpUser, constant_pacing, task


class Paced(HttpUser):
    wait_time = constant_pacing({PACE})

    def on_start(self):
        hailstorm = getattr(self, "hailstorm", None)
        self.tag = f"c{{hailstorm.client_id}}" if hailstorm else "plain"

    @task
    def hit(self):
        self.client.get(f"/{{self.tag}}", name="/{{name}}")
'''


def slot_offsets(arrivals: dict[int, list[float]], data: dict, pace: float) -> dict[int, tuple[float, list[float]]]:
    """Each planned client with a slot: (its first slot, each of its requests' arrival minus its
    slot, in order), slots in seconds after T0 as `arrivals`; exactly one request per slot (none
    from a client whose run holds no slot)."""
    found = {}
    for host_core in data["cores"]:
        for client in plan_queries.core_clients(data["plan"], host_core):
            times = sorted(arrivals.get(client.client_id, []))
            slots = list(plan_queries.request_times(client, pace))
            assert len(times) == len(slots), (client, times, slots)
            if slots:
                found[client.client_id] = (slots[0], [t - slot for t, slot in zip(times, slots)])
    return found


def offsets_text(offsets: list[float]) -> str:
    ordered = sorted(offsets)
    within = sum(1 for o in ordered if -0.001 <= o <= FIRST_ARRIVAL_TOLERANCE) / len(ordered)
    return (f"median {statistics.median(ordered) * 1000:.2f} ms, p95 {quantile(ordered, 0.95) * 1000:.2f} ms, "
            f"min {ordered[0] * 1000:.2f} ms, max {ordered[-1] * 1000:.2f} ms, "
            f"{100 * within:.1f} % within {FIRST_ARRIVAL_TOLERANCE * 1000:.0f} ms")


def quantile(ordered: list[float], q: float) -> float:
    return ordered[int(q * (len(ordered) - 1))]


def assert_on_the_line(offsets: list[float], pace: float) -> None:
    """Requests at their planned slots (offsets: arrival minus slot, seconds): none early; the
    median within 8 ms and 95 % within FIRST_ARRIVAL_TOLERANCE; at most one in twenty past
    FIRST_ARRIVAL_BOUND; none half a pace or more late (a moved, missed or bunched slot). The
    stragglers allowance is for the machine, not the runtime: under disk pressure this 2-core VM
    stalls every process at once for 30-230 ms now and then (two bare `time.sleep(0.001)` loops
    saw the same stalls at the same instants), and the requests due meanwhile arrive late."""
    ordered = sorted(offsets)
    late = [round(o * 1000, 1) for o in ordered if o > FIRST_ARRIVAL_BOUND]
    assert ordered[0] >= -0.001, ordered[:5]
    assert statistics.median(ordered) <= 0.008, offsets_text(ordered)
    assert quantile(ordered, 0.95) <= FIRST_ARRIVAL_TOLERANCE, offsets_text(ordered)
    assert len(late) <= max(1, len(ordered) // 20), late
    assert ordered[-1] < pace / 2, late


def bin_cv(times: list[float], start: float, end: float, width: float = 0.1) -> float:
    n = int(round((end - start) / width))
    counts = [0] * n
    for t in times:
        i = int((t - start) / width)
        if 0 <= i < n:
            counts[i] += 1
    mean = statistics.fmean(counts)
    return statistics.pstdev(counts) / mean


def test_runtime_load_shape_at_the_target(tmp_path: Path) -> None:
    arrivals = tmp_path / "arrivals.log"
    locustfile = tmp_path / "paced.py"
    locustfile.write_text(LOCUSTFILE)
    with feeder(arrivals) as target:
        settings = {"clients": CLIENTS, "rps": RPS, "pace": PACE, "rampup": RAMPUP, "constant": CONSTANT,
                    "rampdown": RAMPDOWN}
        plan, data, _work, t0, procs = start_cores(tmp_path, target, settings, LOCUSTFILE, stderr=subprocess.PIPE)
        for proc in procs:
            _, err = proc.communicate(timeout=RAMPUP + CONSTANT + RAMPDOWN + 30)
            assert proc.returncode == 0, err[-3000:]

        plain_t = time.time()
        plain = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
             "-u", str(CLIENTS), "-r", str(CLIENTS / RAMPUP), "-t", f"{int(RAMPUP + CONSTANT)}s",
             "--host", target, "--loglevel", "WARNING"],
            capture_output=True, text=True, timeout=RAMPUP + CONSTANT + 40)
        assert plain.returncode == 0, plain.stderr[-3000:]

    ours: dict[str, list[float]] = {}
    plain_times: list[float] = []
    for line in arrivals.read_text().splitlines():
        stamp, path = line.split(" ", 1)
        t = float(stamp)
        if path.startswith("/c"):
            ours.setdefault(path, []).append(t)
        elif path == "/plain" and t > plain_t:
            plain_times.append(t)

    # 1. every client's first task request at its planned slot, on the planned line; every later
    #    request at its own slot
    found = slot_offsets({int(path[2:]): [t - t0 for t in times] for path, times in ours.items()}, data, PACE)
    planned = [first_slot for first_slot, _ in found.values()]
    firsts = [offsets[0] for _, offsets in found.values()]
    every = [o for _, offsets in found.values() for o in offsets]
    on_line = [(p, o) for p, o in zip(planned, firsts) if o <= FIRST_ARRIVAL_BOUND]
    slope = statistics.linear_regression([p for p, _ in on_line], [p + o for p, o in on_line]).slope
    print(f"\nfirst arrivals vs plan: {offsets_text(firsts)}, slope {slope:.6f}")
    print(f"every request vs its slot: {offsets_text(every)}")
    assert len(firsts) == CLIENTS
    assert_on_the_line(firsts, PACE)
    assert_on_the_line(every, PACE)
    assert abs(slope - 1) < 0.001

    # 2. the constant phase's rate
    all_ours = sorted(t for times in ours.values() for t in times)
    lo, hi = t0 + RAMPUP, t0 + RAMPUP + CONSTANT
    in_constant = sum(1 for t in all_ours if lo <= t < hi)
    rate = in_constant / CONSTANT
    print(f"constant phase: {rate:.2f} rps at the target (target {RPS})")
    assert abs(rate - RPS) / RPS <= 0.02

    # 3. evenness in 100 ms bins, against plain Locust (its own constant window, well inside)
    ours_cv = bin_cv(all_ours, lo, hi)
    p0 = min(plain_times)
    plain_lo, plain_hi = p0 + RAMPUP + 1.5, p0 + RAMPUP + CONSTANT - 1.5
    plain_cv = bin_cv(plain_times, plain_lo, plain_hi)
    plain_rate = sum(1 for t in plain_times if plain_lo <= t < plain_hi) / (plain_hi - plain_lo)
    print(f"CV of 100 ms bins: hailstorms {ours_cv:.3f}, plain Locust {plain_cv:.3f} "
          f"(plain Locust rate {plain_rate:.2f} rps)")
    assert ours_cv < 0.5 * plain_cv

    # 4. the runtime's merged records count what the target saw
    merged = merge(sorted((tmp_path / "work").glob("core-*.jsonl")))
    summary = summarize(merged, data["plan"])
    assert summary["requests"] == len(all_ours)
    assert summary["failures"] == 0
    assert summary["starts"]["clients_started"] == CLIENTS
    assert summary["starts"]["late_clients"] <= max(1, CLIENTS // 20)  # as assert_on_the_line: a machine stall
    assert [c["end"] for c in summary["cores"]] == ["done", "done"]
    assert summary["constant_phase"]["ratio"] == pytest.approx(1.0, abs=0.02)
    assert max(row["active"] for row in summary["series"]) == CLIENTS


# The plan of issue 7 that ramped worst before the schedule changed: pace 10 s, as long as the
# ramp-up (plain Locust: 75 % RMS per-second error on the ramp, the old schedule 64.5 %).
LONG_PACE = dict(clients=1000, rps=100, rampup=10.0, constant=4.0, rampdown=2.0)
RAMP_LOCUSTFILE = """
from locust import HttpUser, constant_pacing, task


class Paced(HttpUser):
    wait_time = constant_pacing(10)

    def on_start(self):
        self.path = f"/c{self.hailstorm.client_id}"

    @task
    def hit(self):
        self.client.get(self.path, name="/c")
"""


def test_requests_per_second_rise_on_the_straight_line_at_the_target(tmp_path: Path) -> None:
    arrivals = tmp_path / "arrivals.log"
    settings = {**LONG_PACE, "pace": LONG_PACE["clients"] / LONG_PACE["rps"]}
    with feeder(arrivals) as target:
        plan, data, _work, t0, procs = start_cores(tmp_path, target, settings, RAMP_LOCUSTFILE, lead=5.0,
                                                   stderr=subprocess.PIPE)
        for proc in procs:
            _, err = proc.communicate(timeout=plan["duration"] + 40)
            assert proc.returncode == 0, err[-3000:]

    seen: dict[int, list[float]] = {}
    for line in arrivals.read_text().splitlines():
        stamp, path = line.split(" ", 1)
        if path.startswith("/c"):
            seen.setdefault(int(path[2:]), []).append(float(stamp) - t0)

    # every request near its own lattice slot; each client's first task request at its first slot
    found = slot_offsets(seen, data, plan["pace"])
    offsets = [o for _, client_offsets in found.values() for o in client_offsets]
    first_offsets = [client_offsets[0] for _, client_offsets in found.values()]
    print(f"\nrequests vs their slots: {offsets_text(offsets)}; first task requests: {offsets_text(first_offsets)}")
    assert sum(len(t) for t in seen.values()) == plan["expected_requests"]
    assert statistics.median(first_offsets) <= 0.005
    assert_on_the_line(offsets, plan["pace"])

    # the per-second ramp at the target against the straight line rps x (second + 0.5) / rampup
    per_second = [0] * int(LONG_PACE["rampup"])
    for times in seen.values():
        for t in times:
            if 0 <= t < len(per_second):
                per_second[int(t)] += 1
    errors = [n - LONG_PACE["rps"] * (i + 0.5) / LONG_PACE["rampup"] for i, n in enumerate(per_second)]
    rms = math.sqrt(sum(e * e for e in errors) / len(errors))
    print(f"ramp at the target: {per_second}, RMS error {100 * rms / LONG_PACE['rps']:.2f} % of rps")
    assert rms <= 0.02 * LONG_PACE["rps"]
