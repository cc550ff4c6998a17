"""The generator-limit figures and warning of the summary, from the cores' LOAD samples."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    SATURATION_SECONDS, generator_limited_message, load_figures, load_sample, meta_record, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, summarize, summary_lines

PLAN = {"rps": 10, "rampup": 0, "constant": 10}


def core_records(host: str, core: int, cpu: list[float], lag_ms: float = 1.0, split: int = 3):
    """One core's records, its LOAD samples spread over several stats records."""
    records = [meta_record(host=host, core=core, clients=10)]
    samples = {sec: load_sample(c, lag_ms / 1000.0, 2 * lag_ms / 1000.0) for sec, c in enumerate(cpu)}
    secs = sorted(samples)
    for i in range(0, len(secs), split):
        records.append(stats_record({}, load={sec: samples[sec] for sec in secs[i:i + split]}))
    return records


def test_a_saturated_core_gets_figures_and_the_warning_and_a_light_one_does_not():
    busy = [0.5, 0.95, 0.97, 0.99, 0.99, 0.96, 0.4]
    merged = merge([core_records("slave1", 0, [0.3] * 7), core_records("slave1", 1, busy)])
    summary = summarize(merged, PLAN)
    light, heavy = (core["load"] for core in summary["cores"])
    assert light == {"seconds": 7, "cpu_mean": 0.3, "cpu_max": 0.3, "lag_ms_mean": 1.0, "lag_max_ms": 2.0,
                     "limited_seconds": 0, "limited_from": None, "generator_limited": False,
                     "wait_max": None, "starved": False, "stalls": 0, "stalled_seconds": 0.0, "stall_max_ms": None, "stalled_from": None,
                     "stall_cpu_max": None, "stall_wait_max": None}
    assert heavy["generator_limited"] and heavy["limited_seconds"] == 5 and heavy["limited_from"] == 1
    assert heavy["cpu_max"] == 0.99
    assert len(summary["generator_limited"]) == 1
    message = summary["generator_limited"][0]
    assert message.startswith("results from slave1 core 1 are generator-limited; plan fewer rps per core")
    assert "for 5 s from second 1" in message and "hailstorm_rps" in message
    lines = summary_lines(summary)
    assert f"WARNING: {message}" in lines
    assert "load generator: CPU up to 99 %, event-loop lag up to 2 ms; 1/2 cores generator-limited" in lines
    # the latency table says next to its figures that they hold the generator's own queueing
    note = next(i for i, line in enumerate(lines) if line.startswith("(latencies above include"))
    assert lines[note - 1].startswith("all ") and "1 of 2 cores generator-limited" in lines[note]
    light_only = summary_lines(summarize(merge([core_records("slave1", 0, [0.3] * 7)]), PLAN))
    assert not any("latencies above include" in line for line in light_only)


def test_a_core_late_because_it_waited_for_a_cpu_is_said_to_be_starved_not_overplanned():
    # the fleet benchmark's warm run at 20 hosts on 2 CPUs: 2 rps per core, 1 % CPU, lag 10-226 ms
    starved = {sec: load_sample(0.01, 0.02, 0.2, wait=0.3) for sec in range(6)}
    figures = load_figures(starved)
    assert figures["generator_limited"] and figures["starved"] and figures["wait_max"] == 0.3
    message = generator_limited_message("fleet002", 0, figures)
    assert message.startswith("results from fleet002 core 0 are generator-limited by other work on the load host, "
                              "not by this plan's rate")
    assert "waited for a CPU up to 30 % of a second and used at most 1 % itself" in message
    assert "plan fewer rps" not in message and "hailstorm_cores" in message
    # its own load: the CPU full, the loop waited little (or waited but ran more)
    for own in (load_sample(0.97, 0.02, 0.2, wait=0.02), load_sample(0.6, 0.02, 0.2, wait=0.3)):
        figures = load_figures({sec: own for sec in range(6)})
        assert figures["generator_limited"] and not figures["starved"]
        assert "plan fewer rps per core" in generator_limited_message("h", 0, figures)
    # a kernel without schedstat: no wait figure, the verdict as before
    figures = load_figures({sec: load_sample(0.01, 0.02, 0.2) for sec in range(6)})
    assert figures["wait_max"] is None and not figures["starved"]
    # the majority of the seconds over the limit decides
    mixed = {sec: load_sample(0.95, 0.02, 0.2, wait=0.0) for sec in range(6)}
    mixed.update({sec: load_sample(0.01, 0.02, 0.2, wait=0.3) for sec in range(3)})
    assert not load_figures(mixed)["starved"]
    mixed.update({3: load_sample(0.01, 0.02, 0.2, wait=0.3)})
    assert load_figures(mixed)["starved"]


def test_exactly_the_sustain_seconds_over_the_limit_is_not_yet_limited():
    samples = {sec: load_sample(0.99, 0.0, 0.0) for sec in range(SATURATION_SECONDS)}
    assert not load_figures(samples)["generator_limited"]
    samples[SATURATION_SECONDS] = load_sample(0.5, 0.011, 0.05)  # lag alone is over the limit too
    assert load_figures(samples)["generator_limited"]


def test_the_order_of_records_does_not_change_the_verdict_and_old_records_still_merge():
    records = core_records("h", 0, [0.99] * 6, split=1)
    forward = summarize(merge([records]), PLAN)["cores"][0]["load"]
    backward = summarize(merge([[records[0]] + records[:0:-1]]), PLAN)["cores"][0]["load"]
    assert forward == backward and forward["generator_limited"]
    old = [{"type": "meta", "host": "h", "core": 0},
           {"type": "stats",
            "seconds": {"0": {"/a": {"requests": 2, "failures": 0, "bytes": 0, "time_us": 10, "errors": {},
                                     "hist": {"5": 2}}}},
            "active": {}, "overruns": {}, "late": {}, "started": 1}]
    summary = summarize(merge([old]), PLAN)
    assert summary["requests"] == 2 and summary["generator_limited"] == []
    assert summary["cores"][0]["load"]["seconds"] == 0
    assert not any(line.startswith("load generator") for line in summary_lines(summary))


def stalled(cpu: float, stall_s: float) -> dict:
    """The sample after a stall of `stall_s` seconds (the monitor's stall_ms is its worst lag)."""
    return {**load_sample(cpu, stall_s / 3, stall_s), "stall_ms": round(stall_s * 1000.0, 3)}


def test_seconds_missing_while_the_core_held_its_own_loop_count_over_the_limit():
    # a locustfile that burns CPU on a CPU it shares (a busy machine): the process ran (CPU 0.4)
    # but its loop was held 2-3 s at a time, so the monitor sampled only after each hold
    samples = {0: load_sample(0.4, 0.5, 0.9), 3: stalled(0.4, 2.9), 6: stalled(0.45, 2.95), 8: stalled(0.5, 1.9)}
    figures = load_figures(samples)
    assert figures["generator_limited"] and figures["limited_from"] == 0 and figures["limited_seconds"] == 9
    assert figures["stalls"] == 3  # and it is a stall too, as before


def test_seconds_missing_while_the_process_was_not_scheduled_break_the_run():
    # stopped (SIGSTOP) or paused: no CPU during the stall, only a stall, never generator-limited
    samples = {0: load_sample(0.95, 0.0, 0.0), 1: load_sample(0.95, 0.0, 0.0), 6: stalled(0.01, 4.9),
               7: load_sample(0.95, 0.0, 0.0)}
    figures = load_figures(samples)
    assert not figures["generator_limited"] and figures["limited_seconds"] == 0 and figures["stalls"] == 1
    # a stall shorter than the gap does not cover it either
    samples = {0: load_sample(0.95, 0.0, 0.0), 1: load_sample(0.95, 0.0, 0.0), 6: stalled(0.6, 1.5),
               7: load_sample(0.95, 0.0, 0.0)}
    assert not load_figures(samples)["generator_limited"]


def test_a_stalled_core_is_warned_of_and_not_counted_as_generator_limited():
    """A stall (the process not scheduled) is said and degrades the run, but the count of
    generator-limited cores counts only those over the limit (it said 2/1 for one core before)."""
    stalled = [meta_record(host="slave1", core=0, clients=10),
               stats_record({}, load={0: load_sample(0.05, 0.001, 0.002),
                                      1: dict(load_sample(0.05, 0.001, 1.5), stall_ms=1500.0),
                                      2: load_sample(0.05, 0.001, 0.002)})]
    summary = summarize(merge([stalled, core_records("slave1", 1, [0.99] * 7)]), PLAN)
    stall, heavy = (core["load"] for core in summary["cores"])
    assert stall["stalls"] == 1 and not stall["generator_limited"] and heavy["generator_limited"]
    lines = summary_lines(summary)
    assert any(line.startswith("load generator: ") and line.endswith("; 1/2 cores generator-limited")
               for line in lines), lines
    assert sum(line.startswith("WARNING: ") for line in lines) == 2  # the stall and the limit, each said


def test_a_stall_says_whether_the_process_waited_for_a_cpu_or_was_not_scheduled_at_all():
    """A stall's sample tells its cause: on a run queue (other work held the CPU: the fix is CPUs of
    the load processes' own), not runnable (stopped, paused: no CPU and no wait), or its own loop."""
    from ansible_collections.romram.hailstorms.plugins.module_utils.records import stall_message

    def message(cpu: float, wait: float | None) -> str:
        sample = stalled(cpu, 16.0)
        if wait is not None:
            sample["wait"] = wait
        figures = load_figures({0: load_sample(0.02, 0.001, 0.002), 17: sample})
        assert figures["stalls"] == 1 and figures["stall_wait_max"] == wait
        return stall_message("h", 0, figures)

    # CI, a nice-19 core beside two spinners on its CPU: 16 s with no CPU, on the run queue the whole time
    starved = message(0.0174, 1.0)
    assert starved.startswith("h core 0 stalled for 16.0 s (1 stall(s) of at least 1 s, the longest 16.0 s")
    assert "it waited for a CPU up to 100 % of the time and ran at most 2 %: other work on the load host" in starved
    assert "SIGSTOP" not in starved and starved.endswith("hailstorm_cores than the host has CPUs) or use another "
                                                         "load host")
    for cpu, wait in ((0.01, 0.0), (0.01, None), (0.01, 0.04)):  # SIGSTOP, a paused VM: not runnable
        assert "it used no CPU then and did not wait for one: the process was not scheduled (stopped with SIGSTOP" \
            in message(cpu, wait)
    # its own loop held (it ran more than it waited)
    assert "code that does not yield to the event loop" in message(0.6, 0.3)


def _requests(n: int, ms: float = 1.0) -> dict:
    from ansible_collections.romram.hailstorms.plugins.module_utils.records import Histogram

    hist = Histogram()
    hist.record_ms(ms, n)
    return {"/": {"requests": n, "failures": 0, "bytes": 0, "time_us": int(ms * 1000) * n, "errors": {},
                  "hist": hist.counts}}


def test_requests_begun_in_a_burst_too_short_for_the_verdict_are_counted_and_said_next_to_the_latencies():
    # a core over its limit in seconds 0-1 and 5 (never more than 3 in a row): not generator-limited
    cpu = [0.95, 0.97, 0.3, 0.3, 0.3, 0.99, 0.3, 0.3, 0.3, 0.3]
    records = [meta_record(host="h", core=0, clients=10),
               stats_record({sec: _requests(100 if sec in (0, 1, 5) else 20) for sec in range(10)},
                            load={sec: load_sample(c, 0.001, 0.002) for sec, c in enumerate(cpu)})]
    summary = summarize(merge([records]), PLAN)
    assert not summary["cores"][0]["load"]["generator_limited"]
    assert summary["cores"][0]["busy_seconds"] == [0, 1, 5] and summary["cores"][0]["busy_requests"] == 300
    assert summary["generator_busy"] == {"requests": 300, "share": 0.6818, "seconds": {"h core 0": [0, 1, 5]}}
    lines = summary_lines(summary)
    note = next(i for i, line in enumerate(lines) if "began while their load process was over its limit" in line)
    assert lines[note - 1].startswith("all ")
    assert lines[note].startswith("(300 of the requests above (68.2 %) began while") and "h core 0 seconds 0-1, 5" \
        in lines[note] and "the p95 and p99 may be" in lines[note]
    # under 1 % of the requests: no note; 1-5 %: the p99 only
    few = [meta_record(host="h", core=0, clients=10),
           stats_record({sec: _requests(1 if sec == 0 else 1000) for sec in range(10)},
                        load={sec: load_sample(0.99 if sec == 0 else 0.3, 0.001, 0.002) for sec in range(10)})]
    assert not any("over its limit" in line for line in summary_lines(summarize(merge([few]), PLAN)))
    some = [meta_record(host="h", core=0, clients=10),
            stats_record({sec: _requests(200 if sec == 0 else 1000) for sec in range(10)},
                         load={sec: load_sample(0.99 if sec == 0 else 0.3, 0.001, 0.002) for sec in range(10)})]
    line = next(line for line in summary_lines(summarize(merge([some]), PLAN)) if "over its limit" in line)
    assert "(2.2 %)" in line and "the p99 may be" in line
    # a generator-limited core's seconds are its own verdict's, not a burst's
    limited = summarize(merge([core_records("h", 0, [0.99] * 6)]), PLAN)
    assert limited["generator_busy"]["requests"] == 0
    assert any(line.startswith("(latencies above include") for line in summary_lines(limited))
