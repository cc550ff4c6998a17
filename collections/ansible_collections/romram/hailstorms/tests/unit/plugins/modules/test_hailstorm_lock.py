"""The per-host run lock: when a lock counts as live, and what a refused run is told."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from ansible_collections.romram.hailstorms.plugins.modules.hailstorm_lock import describe, is_live, refusal, write_new

NOW = 1_795_000_000.0


def status(run_dir, core, state, age=0.0):
    path = run_dir / f"core-{core}.status.json"
    path.write_text(json.dumps({"state": state}))
    os.utime(path, (time.time() - age, time.time() - age))


def lock_for(run_dir, taken=NOW - 1000, hold=600):
    return {"run_id": "r1", "run_dir": str(run_dir), "controller": "ci@box", "taken": taken, "hold": hold}


def test_a_starting_run_is_live_until_its_hold_ends(tmp_path):
    assert is_live(lock_for(tmp_path, taken=NOW - 10), 600, 10, NOW)
    assert not is_live(lock_for(tmp_path, taken=NOW - 700), 600, 10, NOW)


def test_fresh_statuses_keep_the_lock_live_and_final_ones_release_it(tmp_path):
    now = time.time()
    status(tmp_path, 0, "running")
    assert is_live(lock_for(tmp_path, taken=now - 5000), 600, 10, now)
    status(tmp_path, 0, "done")
    assert not is_live(lock_for(tmp_path, taken=now - 1), 600, 10, now)  # every process ended: stale at once
    status(tmp_path, 0, "armed", age=60)
    assert not is_live(lock_for(tmp_path, taken=now - 5000), 600, 10, now)  # a process that stopped writing


def test_a_live_runtime_pid_keeps_the_lock(tmp_path):
    # a live process whose command line is a load process's (`... hailstorm_runtime run ...`);
    # the lock was taken long ago and no status was written: only the pid keeps it live
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "hailstorm_runtime", "run"],
                              stdin=subprocess.PIPE)
    try:
        (tmp_path / "core-0.pid").write_text(f"{holder.pid}\n")
        assert is_live(lock_for(tmp_path), 600, 10, NOW)
    finally:
        holder.communicate(b"")
    assert not is_live(lock_for(tmp_path), 600, 10, NOW)  # ended: its pid file no longer keeps the lock


def test_a_pid_file_naming_another_program_does_not_keep_the_lock(tmp_path):
    (tmp_path / "core-0.pid").write_text(f"{os.getpid()}\n")  # pytest is alive but not hailstorm_runtime
    assert not is_live(lock_for(tmp_path), 600, 10, NOW)


def test_the_lock_is_created_once(tmp_path):
    path = str(tmp_path / "host.lock")
    assert write_new(path, {"run_id": "a"})
    assert not write_new(path, {"run_id": "b"})
    assert json.loads(open(path, encoding="utf-8").read()) == {"run_id": "a"}


def test_a_refused_run_is_told_which_run_holds_the_host(tmp_path):
    text = describe(lock_for(tmp_path, taken=1795000000))
    assert text == f"run 'r1' (from ci@box, since 2026-11-18 11:06:40 UTC, work directory {tmp_path})"


def test_a_live_run_refuses_every_other_start_even_with_its_own_run_id(tmp_path):
    lock = lock_for(tmp_path, taken=1795000000)
    assert refusal(lock, True, "r1").startswith("run 'r1' is running on this load host already: run 'r1' (from ci@box")
    assert "the same run id started twice at once is refused" in refusal(lock, True, "r1")
    assert refusal(lock, True, "r2").startswith("this load host is busy with run 'r1'")
    assert refusal(lock, False, "r1") is None and refusal(lock, False, "r2") is None  # stale: replaced
