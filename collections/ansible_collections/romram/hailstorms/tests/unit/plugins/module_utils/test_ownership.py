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
