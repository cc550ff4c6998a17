"""A run whose load generator is the bottleneck says so, and a light one does not.

The real playbook on this machine with two load cores: the locustfile burns CPU in every task of
the clients of core 0 only (70 ms per request at 20 requests a second: 1.4 CPU seconds a
second, and the event loop blocked most of the time), while core 1's clients only send their
GET. Core 0 must be reported generator-limited in the progress lines and in the summary; core 1
(and the run's other figures) must not.
"""
from __future__ import annotations

import json
import os
import re

import pytest

from harness import ansible_playbook, feeder

pytestmark = pytest.mark.serial  # measures timing: runs alone, after the parallel tests (pytest.ini)

LOCUSTFILE = '''
import time

from locust import HttpUser, task


class Burner(HttpUser):
    @task
    def hit(self):
        if self.hailstorm.core_index == 0:
            end = time.process_time() + 0.07
            while time.process_time() < end:
                pass
        self.client.get("/burn", name="/burn")
'''
MESSAGE = "results from localhost core {} are generator-limited; plan fewer rps per core"
PROGRESS = re.compile(r"\d+/\d+ s: active .*?(?=\d+/\d+ s: active|TASK \[)")


def test_an_overloaded_core_is_reported_generator_limited_and_a_light_one_is_not(tmp_path):
    locustfile = tmp_path / "burner.py"
    locustfile.write_text(LOCUSTFILE)
    with feeder() as url:
        result = ansible_playbook(
            "distribute.yml", "local", "-e", "hailstorm_profile=short", "-e", "hailstorm_cores=2",
            "-e", f"hailstorm_locustfile={locustfile}", "-e", "hailstorm_progress_interval=4",
            "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={tmp_path}", "-e", "hailstorm_run_id=sat")
    # a generator-limited run is degraded: it says so in its exit code and its last lines
    assert result.returncode != 0, result.stdout[-6000:] + result.stderr
    assert "run state: DEGRADED" in result.stdout
    summary = json.loads((tmp_path / "sat" / "summary.json").read_text())
    loads = {core["core"]: core["load"] for core in summary["cores"]}
    print("\n" + json.dumps(loads, indent=1))
    assert loads[0]["generator_limited"] and loads[0]["limited_seconds"] >= 4
    assert not loads[1]["generator_limited"]
    assert loads[1]["cpu_max"] < 0.9
    # on a machine busy with other work, core 0 gets only part of a CPU and its loop is held for
    # seconds at a time: it is then reported as stalled too (the same cause); a stall of a second or
    # more of the light core (the machine's, not its own work) is reported as such, never as a limit
    named = [m.split(" (")[0] for m in summary["generator_limited"]]
    assert named[0] == MESSAGE.format(0) and MESSAGE.format(1) not in named, named
    assert all(re.match(r"localhost core [01] stalled for ", m) for m in named[1:]), named
    (tmp_path / "stdout").write_text(result.stdout)
    output = " ".join(result.stdout.split())  # the YAML output folds long lines
    assert f"WARNING: {summary['generator_limited'][0]}" in output
    progress = PROGRESS.findall(output)
    print("\n".join(progress))
    assert any(MESSAGE.format(0) in line for line in progress), progress
    assert not any(MESSAGE.format(1) in line for line in progress), progress
    # the light core kept its plan: its clients all started on time and never overran
    assert summary["failures"] == 0


STARVED_LOCUSTFILE = '''
from locust import FastHttpUser, task


class Light(FastHttpUser):
    @task
    def hit(self):
        self.client.get("/light")
'''


def test_a_core_whose_cpu_other_work_takes_is_reported_starved_not_overplanned(tmp_path):
    """A light core (20 requests/s, about 2 % of a CPU) sharing its CPU with two spinning processes
    that outrank it (it runs at nice 19): its event loop is late because it waits for the CPU, not
    because of its plan, and the verdict says so instead of "plan fewer rps per core". How late
    depends on the scheduler: late seconds (generator-limited by other work) or whole seconds
    without a turn (a stall: CI, 2026-12-07, 16 s on the run queue at 2 % CPU); either way the
    verdict names the other work and the fix, never the plan or a stopped process."""
    import os
    import subprocess
    import sys
    import time

    from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize, summary_lines

    from harness import start_cores

    def pinned_low() -> None:
        os.sched_setaffinity(0, {0})
        os.nice(19)

    spinners: list[subprocess.Popen] = []

    def stop_spinners() -> None:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()

    try:
        with feeder() as url:
            settings = {"clients": 20, "rps": 20.0, "pace": 1.0, "rampup": 1.0, "constant": 9.0, "rampdown": 0.0}
            _plan, data, work, t0, procs = start_cores(tmp_path, url, settings, STARVED_LOCUSTFILE, cores=1,
                                                       deadline_grace=20, preexec=pinned_low)
            # the process loads Locust on a free CPU; the other work comes once it runs its plan, and
            # goes before its end (the process then ends on time, whatever turns it got)
            time.sleep(max(0.0, t0 + 2.0 - time.time()))
            spinners = [subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
                        for _spinner in range(2)]
            time.sleep(max(0.0, t0 + 9.0 - time.time()))
            stop_spinners()
            codes = [proc.wait(timeout=120) for proc in procs]
    finally:
        stop_spinners()
    summary = summarize(merge([str(work / "core-0.jsonl")]), data["plan"])
    load = summary["cores"][0]["load"]
    print("\n" + json.dumps(load, indent=1) + "\n" + "\n".join(summary_lines(summary)))
    assert codes == [0], codes
    assert load["generator_limited"] or load["stalls"], load
    assert max(load["wait_max"] or 0, load["stall_wait_max"] or 0) >= 0.05 and load["cpu_max"] < 0.5, load
    said = summary["generator_limited"]
    assert said and all(
        ("core 0 are generator-limited by other work on the load host, not by this plan's rate" in m
         or re.search(r"core 0 stalled for .* it waited for a CPU up to \d+ % of the time and ran at most \d+ %: "
                      r"other work on the load host held its CPU", m))
        and "plan fewer rps" not in m and "SIGSTOP" not in m and "hailstorm_cores than the host has CPUs" in m
        for m in said), said


BURST_LOCUSTFILE = '''
import time

from locust import FastHttpUser, task


class Burst(FastHttpUser):
    def on_start(self):
        end = time.process_time() + 0.002  # 500 clients in a second: a CPU-second of start-up work
        while time.process_time() < end:
            pass

    @task
    def hit(self):
        self.client.get("/burst")
'''


def test_a_start_up_burst_too_short_to_be_generator_limited_is_said_next_to_the_latencies(tmp_path):
    """500 clients ramped in one second, each burning 2 ms of CPU in its on_start: the load
    process is over its limit for a second or two, too briefly to be generator-limited, and the
    requests that began then waited for it. The summary says so next to the latency figures, with
    how many requests and which seconds."""
    from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize, summary_lines

    from harness import start_cores

    with feeder() as url:
        settings = {"clients": 500, "rps": 500.0, "pace": 1.0, "rampup": 1.0, "constant": 11.0, "rampdown": 0.0}
        _plan, data, work, _t0, procs = start_cores(tmp_path, url, settings, BURST_LOCUSTFILE, cores=1,
                                                    deadline_grace=20, preexec=lambda: os.sched_setaffinity(0, {0}))
        codes = [proc.wait(timeout=120) for proc in procs]
    summary = summarize(merge([str(work / "core-0.jsonl")]), data["plan"])
    lines = summary_lines(summary)
    load, busy = summary["cores"][0]["load"], summary["generator_busy"]
    print("\n" + json.dumps({"load": load, "busy": busy}, indent=1) + "\n" + "\n".join(lines))
    assert codes == [0], codes
    assert not load["generator_limited"], load
    assert busy["requests"] > 0 and busy["share"] >= 0.01, busy
    assert busy["seconds"]["local core 0"] and min(busy["seconds"]["local core 0"]) <= 2, busy
    note = next(i for i, line in enumerate(lines) if "began while their load process was over its limit" in line)
    assert lines[note - 1].startswith("all ") and f"{busy['requests']} of the requests above" in lines[note]
    assert "local core 0 seconds " in lines[note] and "may be the load generator's own queueing" in lines[note]
