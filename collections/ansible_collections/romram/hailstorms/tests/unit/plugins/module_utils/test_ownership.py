"""One owner per run id on the controller, and stop requests bound to the owner's claim."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import ownership

HOST = os.uname().nodename


def me() -> dict:
    return {"pid": os.getpid(), "pid_start": ownership.process_start(os.getpid()), "playbooks": ["distribute.yml"]}


@pytest.fixture
def ended():
    """The owner of a process that has ended (its pid no longer names it)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = ownership.process_start(child.pid)
    child.wait()
    return {"pid": child.pid, "pid_start": start or "1", "playbooks": ["distribute.yml"]}


def test_the_first_command_takes_the_claim_and_may_take_it_again(tmp_path):
    taken = ownership.take(str(tmp_path), "r1", "run", me(), host=HOST, user="alice", now=100.0)
    assert not taken["already"] and taken["replaced"] == {}
    claim = json.loads((tmp_path / ".claims" / "r1.json").read_text())
    assert claim == {"run_id": "r1", "kind": "run", "pid": os.getpid(), "pid_start": me()["pid_start"],
                     "playbooks": ["distribute.yml"], "host": HOST, "user": "alice", "since": 100.0}
    assert oct((tmp_path / ".claims" / "r1.json").stat().st_mode & 0o777) == "0o640"
    assert (tmp_path / ".claims" / "lock" / "r1").exists()  # the flock's file
    again = ownership.take(str(tmp_path), "r1", "run", me(), host=HOST, user="alice")
    assert again["already"] and again["claim"] == claim


def test_a_second_command_on_a_live_claim_is_refused_naming_the_owner(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {"pid": holder.pid, "pid_start": ownership.process_start(holder.pid), "playbooks": ["distribute.yml"]}
        ownership.take(str(tmp_path), "r1", "run", owner, host=HOST, user="alice", now=1796551200.0)
        before = (tmp_path / ".claims" / "r1.json").read_text()
        for kind in ownership.KINDS:
            with pytest.raises(ownership.OwnershipError) as refused:
                ownership.take(str(tmp_path), "r1", kind, me(), host=HOST, user="bob")
            text = str(refused.value)
            assert f"owned by a run (ansible-playbook distribute.yml, pid {holder.pid}, alice@{HOST}, " \
                   "since 2026-12-06 10:00:00 UTC)" in text
            assert "wrote nothing" in text and "stop.yml -e hailstorm_run_id=r1" in text
        assert (tmp_path / ".claims" / "r1.json").read_text() == before
    finally:
        holder.kill()
        holder.wait()
    # its owner has ended: the claim is stale and is taken over, and the stale one returned
    taken = ownership.take(str(tmp_path), "r1", "collect", me(), host=HOST, user="bob")
    assert taken["replaced"]["pid"] == holder.pid and taken["claim"]["kind"] == "collect"


def test_a_reused_pid_does_not_keep_a_claim_alive(tmp_path):
    owner = {**me(), "pid_start": "1"}  # this pid, but another process's start time
    ownership.take(str(tmp_path), "r1", "run", owner, host=HOST, user="alice")
    assert ownership.take(str(tmp_path), "r1", "run", me(), host=HOST, user="bob")["replaced"]


def test_a_claim_from_another_controller_counts_as_live_and_says_how_to_free_it(tmp_path, ended):
    ownership.take(str(tmp_path), "r1", "run", ended, host="other-box", user="alice")
    with pytest.raises(ownership.OwnershipError, match=r"if that command has ended on other-box, remove .*r1.json"):
        ownership.take(str(tmp_path), "r1", "run", me(), host=HOST, user="bob")


def test_a_damaged_claim_is_stale(tmp_path):
    (tmp_path / ".claims").mkdir()
    (tmp_path / ".claims" / "r1.json").write_text("{not json")
    assert ownership.take(str(tmp_path), "r1", "run", me(), host=HOST, user="bob")["replaced"] == {"unreadable": True}


def test_two_takers_at_once_get_one_claim(tmp_path, ended):
    """The check and the write are one step under the lock: of many threads that find the same stale
    claim and take it for different owners, exactly one wins; the others are refused."""
    ownership.take(str(tmp_path), "r1", "run", ended, host=HOST, user="old")
    holders = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _holder in range(8)]
    outcomes: list[str] = []
    try:
        def attempt(process):
            owner = {"pid": process.pid, "pid_start": ownership.process_start(process.pid), "playbooks": []}
            try:
                ownership.take(str(tmp_path), "r1", "run", owner, host=HOST, user="u")
                outcomes.append("taken")
            except ownership.OwnershipError:
                outcomes.append("refused")
        threads = [threading.Thread(target=attempt, args=(process,)) for process in holders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for process in holders:
            process.kill()
            process.wait()
    assert sorted(outcomes) == ["refused"] * 7 + ["taken"]


def test_the_owner_process_is_the_nearest_ansible_playbook_and_only_playbook_names_are_kept():
    argv = ["/usr/bin/python3", "/venv/bin/ansible-playbook", "-i", "inv/x.yml", "-e", "token=secret.yml",
            "playbooks/distribute.yml", "--extra-vars", "@vars.yml", "more.yaml"]
    assert ownership.playbooks(argv[1:]) == ["distribute.yml", "more.yaml"]
    script = "import sys, time; time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script, "ansible-playbook"])
    try:
        found = ownership.owner_process(child.pid)  # no ansible-playbook above: the parent (this test)
        assert found["pid"] == os.getpid() and found["pid_start"] == ownership.process_start(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_overwrite_of_a_launched_run_waits_for_its_end_its_summary_or_its_stop(tmp_path):
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    assert ownership.overwrite_refusal("r1", str(run_dir), 1000.0) is None  # never launched
    (run_dir / "launch.json").write_text(json.dumps({"launched": 900.0, "ends_by": 1100.0}))
    refused = ownership.overwrite_refusal("r1", str(run_dir), 1000.0)
    assert "hailstorm_overwrite: run 'r1' is not over" in refused and "stop.yml -e hailstorm_run_id=r1" in refused
    assert ownership.overwrite_refusal("r1", str(run_dir), 1100.0) is None  # past its planned end
    (run_dir / "summary.json").write_text("{}")
    assert ownership.overwrite_refusal("r1", str(run_dir), 1000.0) is None  # collected
    (run_dir / "summary.json").unlink()
    # launched, start time not yet known: the arming wait, the plan and a minute of grace
    (run_dir / "launch.json").write_text(json.dumps({"launched": 900.0, "hold": 300}))
    (run_dir / "plan.json").write_text(json.dumps({"duration": 40}))
    assert ownership.overwrite_refusal("r1", str(run_dir), 1299.0)
    assert ownership.overwrite_refusal("r1", str(run_dir), 1300.0) is None


def test_a_stop_request_is_bound_to_the_claim_it_was_made_against(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": holder.pid, "pid_start": ownership.process_start(holder.pid), "playbooks": ["distribute.yml"]}
        claim = ownership.take(str(tmp_path), "r1", "run", owner, host=HOST, user="alice")["claim"]
        assert ownership.stop_requested(str(tmp_path), "r1", claim) == {}
        assert ownership.live_runs(str(tmp_path), HOST) == ["r1"]
        made = ownership.request_stop(str(tmp_path), "r1", {"pid": 7, "playbooks": ["stop.yml"], "host": HOST,
                                                            "user": "bob"}, now=1796551203.0)
        assert made["claim"] == claim
        request = ownership.stop_requested(str(tmp_path), "r1", claim)
        assert request["user"] == "bob"
        message = ownership.stopped_message("r1", request, "the launch")
        assert message == (f"run state: ABORTED - run 'r1' was stopped before the launch by bob@{HOST} "
                           "(ansible-playbook stop.yml, pid 7) at 2026-12-06 10:00:03 UTC; nothing more was done")
        # a later claim of the same run id (a new run) is not stopped by it
        later = {**claim, "since": claim["since"] + 1}
        assert ownership.stop_requested(str(tmp_path), "r1", later) == {}
    finally:
        holder.kill()
        holder.wait()
    assert ownership.live_runs(str(tmp_path), HOST) == []
    assert ownership.request_stop(str(tmp_path), "r1", {"pid": 7}) == {}  # nobody to stop


def test_a_preview_or_a_collect_is_not_stopped(tmp_path):
    ownership.take(str(tmp_path), "r1", "preview", me(), host=HOST, user="alice")
    assert ownership.request_stop(str(tmp_path), "r1", {"pid": 7}) == {}
    assert ownership.live_runs(str(tmp_path), HOST) == []


def test_stop_lines_say_what_was_stopped_or_that_nothing_was_running(tmp_path):
    assert ownership.stop_lines({"r1": "stop requested for run 'r1'"}, {"h1": ["pid 12"], "h2": []}, "r1", "x") == \
        ["stop requested for run 'r1'", "h1: stopped pid 12"]
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "summary.json").write_text(json.dumps({"state": "completed"}))
    last = ownership.last_of(str(tmp_path), "r1")
    assert last == f"run 'r1' ended COMPLETED ({tmp_path}/r1/summary.json)"
    lines = ownership.stop_lines({}, {"h1": []}, "r1", last)
    assert lines == ["no run of id 'r1' is running: no command owns it on this controller and no load host had a "
                     f"load process of it; nothing was stopped; last: {last}"]
    time.sleep(0.01)
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "launch.json").write_text("{}")
    assert "run 'r2' was launched and not collected" in ownership.last_of(str(tmp_path), None)
    assert ownership.last_of(str(tmp_path), "nope") == f"no results of it in {tmp_path}"


def test_a_run_id_that_ends_like_a_stop_request_has_a_claim_of_its_own(tmp_path):
    """Stop requests and locks live in directories of their own: a run id cannot hold a '/', so the
    run "x.stop" has its own claim, never run x's stop request (a new user found them one file)."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": holder.pid, "pid_start": ownership.process_start(holder.pid), "playbooks": ["distribute.yml"]}
        ownership.take(str(tmp_path), "x.stop", "run", owner, host=HOST, user="alice")
        ownership.take(str(tmp_path), "x", "run", owner, host=HOST, user="alice")
        assert ownership.request_stop(str(tmp_path), "x", {"pid": 7, "user": "bob"})
        assert ownership.live_runs(str(tmp_path), HOST) == ["x", "x.stop"]
        assert ownership.read(ownership.claim_path(str(tmp_path), "x.stop"))["kind"] == "run"
    finally:
        holder.kill()
        holder.wait()


def test_a_claim_without_its_owners_start_time_ends_with_its_pid(tmp_path, ended):
    assert not ownership.is_live({"host": HOST, "pid": ended["pid"], "pid_start": None}, HOST)
    assert ownership.is_live({"host": HOST, "pid": os.getpid(), "pid_start": None}, HOST)


def test_a_run_stopped_before_its_start_has_nothing_to_collect_and_a_stopped_run_may_be_overwritten(tmp_path):
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    assert ownership.never_started("r1", str(run_dir)) is None
    (run_dir / "launch.json").write_text(json.dumps({"launched": 900.0, "hold": 300}))  # armed, never started
    (run_dir / "plan.json").write_text(json.dumps({"duration": 40}))
    assert ownership.overwrite_refusal("r1", str(run_dir), 1000.0)  # its controller ended: may still run
    assert ownership.mark_stopped(str(tmp_path), "r1", {"user": "bob", "host": "box", "pid": 7}, now=1796551203.0)
    assert not ownership.mark_stopped(str(tmp_path), "r1", {"user": "bob"})  # once
    assert ownership.overwrite_refusal("r1", str(run_dir), 1000.0) is None  # stopped on its hosts
    never = ownership.never_started("r1", str(run_dir))
    assert never.startswith("hailstorm_run_id: run 'r1' was stopped before its end (on its load hosts) by bob@box "
                            "at 2026-12-06 10:00:03 UTC; no load was sent")
    # started, then stopped: its records are collected as any aborted run's
    (run_dir / "launch.json").write_text(json.dumps({"launched": 900.0, "start_time": 905.0, "ends_by": 960.0}))
    assert ownership.never_started("r1", str(run_dir)) is None
    assert not ownership.mark_stopped(str(tmp_path), "never-launched", {"user": "bob"})
