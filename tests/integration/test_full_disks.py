"""Full disks, for real: a tmpfs with a few KiB free in a private mount namespace
(harness.on_a_small_disk) under the load host's work directory, the real playbooks on the local
backend. What a user must see is the cause, "No space left on device", in the run's own output."""
from __future__ import annotations

import subprocess

import pytest

from harness import BIN, ROOT, feeder, local_aliases, on_a_small_disk, playbook_env, small_disks_work

pytestmark = pytest.mark.skipif(not small_disks_work(), reason="no mount namespaces here (needs root or user namespaces)")


def test_a_load_host_whose_disk_fills_during_the_run_says_so_in_the_output(tmp_path):
    """32 KiB free: the processes arm (their small files take a page each), then the records fill
    the disk mid-run; the core stops and the run's failure lines quote its reason."""
    work, results = tmp_path / "work", tmp_path / "results"
    release = f"{BIN}/ansible-playbook playbooks/stop.yml -i inventories/local > /dev/null"  # the lock; the dir is gone
    with feeder() as url:
        argv = [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", "inventories/local",
                "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={results}",
                "-e", f"hailstorm_work_dir={work}", "-e", "hailstorm_run_id=full", "-e", "hailstorm_disk_reserve_mb=0",
                "-e", "hailstorm_disk_bytes_per_request=0"]
        run = subprocess.run(on_a_small_disk({work: 32}, argv, after=release), cwd=ROOT, env=playbook_env(),
                             capture_output=True, text=True, timeout=600, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    failure = output[output.index("TASK [romram.hailstorms.collect : Check that the run completed as planned]"):]
    assert "run state: INCOMPLETE" in failure or "run state: DEGRADED" in failure, failure[-3000:]
    assert "recording failed: [Errno 28] No space left on device" in failure, failure[-3000:]


def distribute(url: str, results, work, *extra: str, inventory: str = "inventories/local") -> list[str]:
    return [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", inventory,
            "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={results}",
            "-e", f"hailstorm_work_dir={work}", "-e", "hailstorm_run_id=full", *extra]


def test_a_controller_results_disk_too_small_for_the_run_is_refused_by_the_preflight(tmp_path):
    results = tmp_path / "results"
    with feeder() as url:
        run = subprocess.run(on_a_small_disk({results: 32}, [*distribute(url, results, tmp_path / "work"), "--check"]),
                             cwd=ROOT, env=playbook_env(), capture_output=True, text=True, timeout=600, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "Preflight passed on all 1 load hosts but FAILED on the controller" in output, output[-3000:]
    assert (f"controller: 0 MiB free at {results} (hailstorm_results_dir={results}), 101 MiB needed (") in output
    assert "Fix: free disk space on the controller, or set hailstorm_results_dir to a larger disk." in output


def test_a_controller_results_disk_without_room_for_the_plan_says_so_before_the_verdict(tmp_path):
    """probe -> plan -> verdict: the run's first file on the controller (its claim of the run id, then
    plan.json) is written before the verdict judges the disk; a disk with no room at all for it names
    the directory, the cause and the fix (no traceback, no partial file)."""
    results = tmp_path / "results"
    with feeder() as url:
        run = subprocess.run(on_a_small_disk({results: 0}, [*distribute(url, results, tmp_path / "work"), "--check"]),
                             cwd=ROOT, env=playbook_env(), capture_output=True, text=True, timeout=600, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert (f"hailstorm_results_dir: cannot claim run 'full' in {results}: No space left on device (the disk is "
            "full)") in output, output[-3000:]
    assert "Fix: free disk space on the controller, or set hailstorm_results_dir to a larger disk" in output
    assert not (results / "full").exists()
    assert "Traceback" not in run.stdout + run.stderr


def test_a_controller_disk_that_fills_while_merging_says_where_what_is_kept_and_keeps_it_private(tmp_path):
    """64 KiB free for the results: the host's records are fetched, the merge fills the disk. The
    message names the directory, what is kept and how to merge again; the files stay 0640/0750."""
    results, work = tmp_path / "results", tmp_path / "work"
    modes = f"find {results}/full -printf 'MODE %m %y %P\\n'"
    with feeder() as url:
        argv = distribute(url, results, work, "-e", "hailstorm_disk_reserve_mb=0", "-e", "hailstorm_disk_bytes_per_request=0",
                          "-e", "hailstorm_rampup=2s", "-e", "hailstorm_constant=3s", "-e", "hailstorm_rampdown=1s")
        run = subprocess.run(on_a_small_disk({results: 64}, argv, after=modes), cwd=ROOT, env=playbook_env(),
                             capture_output=True, text=True, timeout=600, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert (f"hailstorm_results: cannot write the merged results in {results}/full: No space left on device (the "
            "disk is full)") in output, output[-3000:]
    kept = output[output.find("Kept: "):output.find(" (written now")]
    assert "launch.json" in kept and "localhost" in kept and "plan.json" in kept, kept
    assert (f"merge again with ansible-playbook playbooks/collect.yml -i <your inventory> -e hailstorm_run_id=full "
            f"-e hailstorm_results_dir={results}") in output
    found = [line.split(" ", 3)[1:] for line in run.stdout.splitlines() if line.startswith("MODE ")]
    assert ["640", "f", "localhost/host.jsonl"] in found and ["640", "f", "plan.json"] in found, found
    assert {mode for mode, kind, _ in found if kind == "f"} == {"640"}, found
    assert {mode for mode, kind, _ in found if kind == "d"} == {"750"}, found
    assert not [name for _, _, name in found if name.endswith((".tmp", ".new"))]


LOUD = '''
import sys

from locust import HttpUser, constant, task

for line in range(1200):  # a locustfile that says a lot: a 64 KiB log tail in the host file
    sys.stderr.write(f"line {line:04d} of a long story, told while the locustfile loads\\n")


class Quiet(HttpUser):
    wait_time = constant(1)

    @task
    def hit(self):
        self.client.get("/")
'''


def loud_run(tmp_path, free_kib: int) -> tuple[subprocess.CompletedProcess, str, dict[str, int]]:
    """The LOUD locustfile run on its own alias of this machine (its own host lock) with `free_kib`
    KiB free for the results: (the run, its output on one line, {results file: bytes})."""
    results, work, locustfile = tmp_path / "results", tmp_path / "work", tmp_path / "loud.py"
    locustfile.write_text(LOUD)
    files = f"find {results}/full -printf 'FILE %s %P\\n'"
    inventory = local_aliases(tmp_path, 1, name="unpack")
    with feeder() as url:
        argv = distribute(url, results, work, "-e", "hailstorm_disk_reserve_mb=0", "-e", "hailstorm_disk_bytes_per_request=0",
                          "-e", f"hailstorm_locustfile={locustfile}", "-e", "hailstorm_rps=4",
                          "-e", "hailstorm_rampup=1s", "-e", "hailstorm_constant=2s", "-e", "hailstorm_rampdown=1s",
                          inventory=str(inventory))
        run = subprocess.run(on_a_small_disk({results: free_kib}, argv, after=files), cwd=ROOT, env=playbook_env(),
                             capture_output=True, text=True, timeout=600, check=False)
    found = {line.split(" ", 2)[2]: int(line.split(" ", 2)[1]) for line in run.stdout.splitlines()
             if line.startswith("FILE ") and len(line.split(" ", 2)) == 3}
    return run, " ".join(run.stdout.split()), found


def test_a_controller_disk_too_full_for_the_host_file_says_where_why_and_how_to_fetch_again(tmp_path):
    """40 KiB free: the host's host.jsonl (about 72 KiB) does not fit; the fetch says the file, the
    cause and the collect.yml command, and leaves no part of the file."""
    run, output, found = loud_run(tmp_path, 40)
    results = tmp_path / "results"
    assert run.returncode != 0
    assert (f"unpack00: cannot fetch its results to {results}/full/unpack00/host.jsonl: ") in output, output[-3000:]
    assert "No space left on device" in output[output.index("unpack00: cannot fetch its results"):]
    assert (f"Free disk space on the controller, then run again: ansible-playbook playbooks/collect.yml -i <your "
            f"inventory> -e hailstorm_run_id=full -e hailstorm_results_dir={results}") in output, output[-3000:]
    assert "unpack00/host.jsonl" not in found, found


def test_a_controller_disk_that_fills_while_the_host_files_are_unpacked_says_where_why_and_how_to_go_on(tmp_path):
    """96 KiB free for the results: plan.json, launch.json and the host's host.jsonl (its records
    and a 64 KiB log tail, about 72 KiB) fit; the log unpacked beside it does not. The message names
    the file, the cause and the collect.yml command that unpacks and merges again; no partial file."""
    run, output, found = loud_run(tmp_path, 96)
    results = tmp_path / "results"
    assert run.returncode != 0
    assert found.get("unpack00/host.jsonl", 0) > 65536, (found, output[-3000:])  # fetched whole, with the log tail
    assert (f"hailstorm_results: cannot unpack the load hosts' logs from their host.jsonl into {results}/full: No "
            "space left on device (the disk is full)") in output, output[-3000:]
    assert f"(at {results}/full/unpack00/core-0.log)" in output, output[-3000:]
    assert (f"run again: ansible-playbook playbooks/collect.yml -i <your inventory> -e hailstorm_run_id=full "
            f"-e hailstorm_results_dir={results}") in output
    assert "[Errno 28]" not in output and "Traceback" not in run.stdout + run.stderr
    assert "unpack00/core-0.log" not in found and not [name for name in found if name.endswith((".tmp", ".new"))]
