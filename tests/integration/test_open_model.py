"""The open model against a target that stalls, run for real (the runtime against the bundled
feeder's /stall route: answers in 5 ms, but a request arriving in the first 2 s of every 10 s of
the epoch clock waits for that window's end), beside the closed model on the same target.

- open model, a cap large enough: every planned arrival is sent, none dropped, each one at the
  target on its slot (new users take the arrivals while the stalled requests wait); the p99 from
  schedule shows the stall and the service time is what the target held each request;
- closed model: clients stuck in the stall skip their slots, so the target gets fewer requests,
  and the latency from schedule says how much the closed model hid;
- open model, a cap too small: the dropped arrivals are counted exactly (planned = sent +
  dropped, sent = what the target logged) and the run is degraded, naming them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries
from ansible_collections.romram.hailstorms.plugins.module_utils import report
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import read_host_file, write_host_file
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize, summary_lines
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state

import harness
from browser import CHART_PROBE, CHROMIUM, load
from harness import feeder

pytestmark = pytest.mark.serial  # measures timing: runs alone, after the parallel tests (pytest.ini)

RATE = 50  # arrivals per second on one core
SECONDS = 22.0  # constant phase
PERIOD, STALL_MS, ANSWER_MS = 10, 2000, 5

LOCUSTFILE = f'''
from locust import HttpUser, task


class Shopper(HttpUser):
    @task
    def browse(self):
        self.client.get("/stall/{PERIOD}/{STALL_MS}/{ANSWER_MS}", name="/stall")
'''


def run(tmp_path: Path, model: str, cap: int | None = None):
    log = tmp_path / "arrivals.log"
    settings = {"clients": RATE, "rps": RATE, "pace": 1.0, "rampup": 1.0, "constant": SECONDS, "rampdown": 1.0}
    extra = {"model": model, **({"max_clients": cap} if cap else {})}
    with feeder(log) as url:
        _plan, data, work, t0, procs = harness.start_cores(tmp_path, url, settings, LOCUSTFILE, cores=1,
                                                           deadline_grace=5, plan_extra=extra)
        codes = [proc.wait(timeout=120) for proc in procs]
    plan = {**data["plan"], **extra}
    merged = merge([str(path) for path in sorted(work.glob("core-*.jsonl"))])
    summary = summarize(merged, plan)
    arrivals = [float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if line.strip()]
    return codes, plan, summary, arrivals, t0, data


def planned_slots(plan: dict, data: dict, t0: float) -> list[float]:
    clients = plan_queries.core_clients(plan, data["cores"][0])
    return sorted(t0 + t for client in clients for t in plan_queries.request_times(client, float(plan["pace"])))


def held(arrival: float) -> float:
    """What the target held a request arriving at `arrival` (its own rule), seconds."""
    return max(0.0, STALL_MS / 1000.0 - arrival % PERIOD) + ANSWER_MS / 1000.0


@pytest.fixture(scope="module")
def open_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("open"), "open", cap=1000)


@pytest.fixture(scope="module")
def closed_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("closed"), "closed")


def test_open_model_sends_every_arrival_on_its_slot_through_the_stalls(open_run):
    codes, plan, summary, arrivals, t0, data = open_run
    assert codes == [0]
    figures = summary["arrivals"]
    assert figures["dropped"] == 0 and figures["planned"] == plan["expected_requests"]
    assert summary["requests"] == len(arrivals) == figures["sent"]
    assert abs(figures["sent"] - figures["planned"]) <= 0.01 * figures["planned"]
    # at the target, each arrival on its slot: the same count, each within a few ms (a busy 2-core
    # machine stalls every process now and then: the median and 95 % are what a user checks)
    slots = planned_slots(plan, data, t0)
    late = sorted(abs(at - slot) for at, slot in zip(sorted(arrivals), slots))
    assert late[len(late) // 2] < 0.010 and late[int(0.95 * len(late))] < 0.050, late[-10:]
    assert figures["users_started"] > 50  # the pool grew through the stalls (2 s x 50 rps waiting)


def test_open_model_latency_from_schedule_shows_the_stall_and_service_time_is_the_targets(open_run):
    _codes, _plan, summary, arrivals, _t0, _data = open_run
    scheduled = summary["latency"]["from_schedule"]["overall"]
    service = summary["latency"]["overall"]
    assert scheduled["p99_ms"] >= 1000.0
    # the target's own view: what it held each request, by its rule and its arrival log
    at_target = sorted(held(at) * 1000.0 for at in arrivals)
    target_p99 = at_target[int(0.99 * len(at_target))]
    assert abs(service["p99_ms"] - target_p99) <= 0.05 * target_p99 + 20, (service["p99_ms"], target_p99)


def test_open_model_records_its_pool_per_second_and_the_users_it_started_in_the_stalls(open_run, tmp_path):
    _codes, plan, summary, _arrivals, t0, data = open_run
    figures = summary["arrivals"]
    started = {int(s): n for s, n in figures["users_started_per_second"].items()}
    assert sum(started.values()) == figures["users_started"]
    # users start when arrivals find none idle: while the stalled requests wait (epoch seconds 0-2 of
    # every 10, and a little after, as the held requests answer), hardly on the steady seconds between
    # (a machine stall of this busy box may hold the dispatcher and start a few)
    def in_stall(second: int) -> bool:
        at = (t0 + second) % PERIOD  # the second [at, at + 1) of the period
        return at < STALL_MS / 1000.0 + 0.3 or at > PERIOD - 1

    assert sum(n for s, n in started.items() if in_stall(s)) >= 0.9 * figures["users_started"], started
    # one core: the pool size each second (users alive at its middle) grows in the stalls and keeps
    # its users (they are reused) until the arrivals are over, up to the largest pool of the end record
    pools = {int(s): p for s, p in figures["pool_per_second"].items()}
    assert all(p["mean"] == p["max"] for p in pools.values())
    last_arrival = planned_slots(plan, data, t0)[-1] - t0
    sizes = [pools[s]["max"] for s in sorted(pools) if s + 0.5 < last_arrival]
    assert sizes == sorted(sizes) and 50 <= sizes[-1] <= figures["pool_max_per_core"], sizes
    # the collect side's path (the host file, compacted) merges to the same pool figures, and the report
    # draws them: each point of the chart in a real browser
    host_file = write_host_file(Path(data["work_dir"]), tmp_path / "host.jsonl")["path"]
    merged = merge([records for _name, records, _bad in read_host_file(host_file)[0]])
    again = summarize(merged, plan)["arrivals"]
    assert again["pool_per_second"] == figures["pool_per_second"]
    assert again["users_started_per_second"] == figures["users_started_per_second"]
    page = tmp_path / "report.html"
    page.write_text(report.render(merged, summarize(merged, plan), plan, [], "constant phase"))
    if CHROMIUM is None and not os.environ.get("HAILSTORMS_REQUIRE_BROWSER"):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    seen = load(page, CHART_PROBE)
    assert seen.errors == [] and seen.requests == [page.resolve().as_uri()]
    chart = {c["id"]: c for c in seen.value}["pool"]
    assert chart["points"] == chart["declared"] >= 2 * len(sizes) and chart["drawn"] == chart["series"] == 2, chart


def test_closed_model_sends_fewer_and_its_latency_from_schedule_says_what_it_hid(closed_run, open_run):
    codes, plan, summary, arrivals, _t0, _data = closed_run
    assert codes == [0]
    assert summary["arrivals"] is None and summary["pacing"]["overruns"] > 0
    assert len(arrivals) == summary["requests"] < open_run[2]["requests"] - 50
    scheduled = summary["latency"]["from_schedule"]["overall"]
    service = summary["latency"]["overall"]
    # each overrun (a stalled client skipping its slot) that is followed by a request sent it at least a
    # pace after the slot it missed: from schedule, that pace is counted (what the closed model's service
    # time hides). A client's last overrun may have no request after it (a stall window over the end of
    # the run skips to past its stop), so at most one overrun per client counts nothing; the 22 s
    # constant phase holds two whole stall windows, each skipping a slot of most of the 50 clients
    overruns, clients = summary["pacing"]["overruns"], int(plan["clients"])
    assert overruns >= 1.5 * clients, summary["pacing"]
    hidden_ms = (scheduled["mean_ms"] - service["mean_ms"]) * scheduled["count"]
    assert hidden_ms >= 0.95 * (overruns - clients) * 1000.0 * float(plan["pace"]), (scheduled, service, overruns)
    assert scheduled["p99_ms"] >= service["p99_ms"]
    assert "from schedule" in " ".join(summary_lines(summary))


def test_a_cap_too_small_drops_arrivals_counted_exactly_and_degrades_the_run(tmp_path):
    codes, plan, summary, arrivals, _t0, _data = run(tmp_path, "open", cap=20)
    assert codes == [0]
    figures = summary["arrivals"]
    assert figures["pool_cap_per_core"] == 20 and figures["pool_max_per_core"] == 20
    assert figures["dropped"] > 0
    assert figures["planned"] == figures["sent"] + figures["dropped"]
    assert figures["sent"] == len(arrivals) == summary["requests"]
    assert sum(figures["dropped_per_second"].values()) == figures["dropped"]
    verdict = run_state(summary, plan)
    assert verdict["state"] == "degraded"
    assert any(f"{figures['dropped']} of {figures['planned']} arrivals dropped" in reason
               for reason in verdict["reasons"]), verdict["reasons"]
    assert run_state(summary, plan, {"dropped": figures["dropped"]})["state"] == "completed"


# the figure: 1,000/s on one core. Measured at the feeder's log on this 2-core machine, 20 s
# each, 3 rounds per model: quiet (load 0.6-1.3) rate within 0.02 % and CV of 100 ms bins 0.067-0.070
# for both models; under other work (load 5.7) rate within 0.5 %, CV closed 0.147-0.193, open
# 0.160-0.200 (open / closed 0.94-1.29): a machine stall hits both models alike. The test holds 12 s
# (12,000 arrivals, 120 bins per model: the rate to 0.01 %, the CV's own spread a few %)
STEADY_RATE, STEADY_SECONDS = 1000, 12.0
STEADY_LOCUSTFILE = '''
from locust import FastHttpUser, task


class Steady(FastHttpUser):
    @task
    def hit(self):
        self.client.get("/steady", name="/steady")
'''


def bin_cv(times: list[float], start: float, end: float, width: float = 0.1) -> float:
    import statistics

    counts = [0] * int(round((end - start) / width))
    for t in times:
        i = int((t - start) / width)
        if 0 <= i < len(counts):
            counts[i] += 1
    return statistics.pstdev(counts) / statistics.fmean(counts)


def steady(tmp_path: Path, model: str) -> tuple[float, float]:
    """(rate at the target over the constant phase, CV of its 100 ms bins) of one core's run."""
    log = tmp_path / f"{model}.log"
    settings = {"clients": STEADY_RATE, "rps": STEADY_RATE, "pace": 1.0, "rampup": 1.0, "constant": STEADY_SECONDS,
                "rampdown": 1.0}
    with feeder(log) as url:
        _plan, _data, _work, t0, procs = harness.start_cores(tmp_path / model, url, settings, STEADY_LOCUSTFILE,
                                                             cores=1, deadline_grace=5, plan_extra={"model": model})
        assert [proc.wait(timeout=90) for proc in procs] == [0]
    times = [float(line.split(" ", 1)[0]) for line in log.read_text().splitlines() if line.strip()]
    lo, hi = t0 + 1.0, t0 + 1.0 + STEADY_SECONDS
    return sum(1 for t in times if lo <= t < hi) / STEADY_SECONDS, bin_cv(times, lo, hi)


def test_a_steady_target_open_model_holds_the_plan_like_the_closed_model(tmp_path):
    for model in ("closed", "open"):
        (tmp_path / model).mkdir()
    closed_rate, closed_cv = steady(tmp_path, "closed")
    open_rate, open_cv = steady(tmp_path, "open")
    print(f"\nsteady {STEADY_RATE}/s: closed {closed_rate:.1f}/s CV {closed_cv:.3f}; open {open_rate:.1f}/s "
          f"CV {open_cv:.3f}")
    assert abs(open_rate - STEADY_RATE) <= 0.01 * STEADY_RATE
    assert abs(closed_rate - STEADY_RATE) <= 0.01 * STEADY_RATE
    # as even as the closed model on the same machine: CV 0.067-0.070 for both on a quiet one. The two
    # runs are one after the other, so a machine stall can hit one and not the other: open / closed
    # measured 0.94-1.29 under other work and 1.56 (0.126 against 0.081) beside a molecule run. A
    # bursty open model (arrivals sent in batches, as plain Locust's 0.9-1.1) is 5-15 x the closed
    # model's CV; the bound (2.5 x, at least 0.15) stays well below that and above the stalls' spread
    assert open_cv <= max(0.15, 2.5 * closed_cv)
