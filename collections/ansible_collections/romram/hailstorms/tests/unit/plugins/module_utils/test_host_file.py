"""A load host's cores in one compact file: the controller's merge gives exactly what the raw
per-core files give, and never counts a request twice."""
from __future__ import annotations

import json
import random

from hypothesis import given, settings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils.records import end_record, meta_record, stats_record
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import (
    HOST_FILE, compact_core, read_host_file, run_sources, unpack_host_files, write_host_file)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge


def core_records(rng: random.Random, core: int, flushes: int) -> list[dict]:
    records = [meta_record(host="h1", core=core, start_time=1000.0, clients=5)]
    for flush in range(flushes):
        seconds = {}
        for sec in range(flush, flush + 2):
            seconds[sec] = {label: {"requests": rng.randint(0, 9), "failures": rng.randint(0, 2), "bytes": 10,
                                    "time_us": rng.randint(0, 10_000), "errors": {"HTTP 500": 1} if rng.random() < .3 else {},
                                    "hist": {rng.randint(1, 300): rng.randint(1, 5)}}
                            for label in rng.sample(["/a", "/b", "GET /c"], 2)}
        records.append(stats_record(
            seconds, active={flush: rng.randint(0, 5)},
            overruns={core * 100 + flush: 1} if rng.random() < .3 else {},
            late={core * 100 + 50 + flush: 0.2} if rng.random() < .2 else {}, started=rng.randint(0, 2),
            time=1000.0 + flush, load={flush: {"cpu": 0.5, "lag_ms": 1.0, "lag_max_ms": 2.0}},
            pool={flush: rng.randint(0, 9)}, pool_started={flush: rng.randint(0, 3), flush - 1: rng.randint(0, 1)}))
    records.append(end_record("done", requests=0, failures=0, time=1000.0 + flushes))
    return records


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.integers(0, 12))
def test_compacted_cores_merge_to_exactly_the_raw_figures(seed, cores, flushes):
    rng = random.Random(seed)
    raw = [core_records(rng, core, flushes) for core in range(cores)]
    compact = [compact_core(records) for records in raw]
    a, b = merge(raw), merge(compact)
    for key in ("seconds", "active", "overruns", "late", "started", "overruns_at", "late_at", "host_requests"):
        assert a[key] == b[key], key
    assert a.get("pool_started") == b.get("pool_started")  # the open model's pools
    assert [(c["requests"], c["failures"], c["overruns"], c["late"], c["load"], c.get("pool")) for c in a["cores"]] == \
           [(c["requests"], c["failures"], c["overruns"], c["late"], c["load"], c.get("pool")) for c in b["cores"]]
    assert sum(len(r) for r in compact) <= sum(len(r) for r in raw) + cores  # one summed record per core


def test_the_host_file_carries_cores_logs_and_data_and_is_preferred_to_raw_files(tmp_path):
    run = tmp_path / "work" / "run1"
    run.mkdir(parents=True)
    rng = random.Random(7)
    for core in range(2):
        lines = [json.dumps(r) for r in core_records(rng, core, 5)]
        (run / f"core-{core}.jsonl").write_text("\n".join(lines) + "\n{\"type\": \"sta")  # a cut last line
        (run / f"core-{core}.log").write_text(f"core {core} says hello\n")
    (run / "data.json").write_text('{"host": "h1"}')
    written = write_host_file(run)
    assert written["cores"] == 2
    cores, files = read_host_file(written["path"])
    assert [name for name, _records, bad in cores] == ["core-0.jsonl", "core-1.jsonl"]
    assert [bad for _name, _records, bad in cores] == [1, 1]
    assert files == {"core-0.log": "core 0 says hello\n", "core-1.log": "core 1 says hello\n", "data.json": '{"host": "h1"}'}
    # the controller's results directory: host h1 fetched host.jsonl and (hailstorm_fetch_raw) the raw files
    fetched = tmp_path / "results" / "run1" / "h1"
    fetched.mkdir(parents=True)
    (fetched / HOST_FILE).write_bytes((run / HOST_FILE).read_bytes())
    for core in range(2):
        (fetched / f"core-{core}.jsonl").write_bytes((run / f"core-{core}.jsonl").read_bytes())
    sources = run_sources(fetched.parent)
    assert len(sources) == 2 and all(isinstance(s, list) for s in sources)  # the host file, not both
    raw = merge([run / "core-0.jsonl", run / "core-1.jsonl"])
    merged = merge(sources)
    assert merged["seconds"] == raw["seconds"]
    assert [c["bad_lines"] for c in merged["cores"]] == [1, 1]
    (fetched / "data.json").write_text("kept")  # a file fetched already is not overwritten
    assert unpack_host_files(fetched.parent) == [str(fetched / "core-0.log"), str(fetched / "core-1.log")]
    assert (fetched / "core-0.log").read_text() == "core 0 says hello\n"
    assert (fetched / "data.json").read_text() == "kept"
