"""Full disks, for real: a tmpfs with a few KiB free in a private mount namespace
(harness.on_a_small_disk) under the load host's work directory, the real playbooks on the local
backend. What a user must see is the cause, "No space left on device", in the run's own output."""
from __future__ import annotations

import subprocess

import pytest

from harness import BIN, ROOT, feeder, on_a_small_disk, playbook_env, small_disks_work

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
