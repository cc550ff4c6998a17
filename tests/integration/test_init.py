"""playbooks/init.yml scaffolds a new environment that plan.yml accepts as it is, and never
overwrites one (real ansible-playbook runs, in a temporary directory)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness import BIN, ROOT, playbook_env

TARGET = "https://staging.example.com"


def run(cwd: Path, playbook: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / playbook), *args],
                          cwd=cwd, env={**playbook_env(), "PWD": str(cwd)}, capture_output=True, text=True, timeout=300)


def test_init_then_plan_exits_0_without_a_warning(tmp_path):
    init = run(tmp_path, "init.yml", "-e", "hailstorm_env=staging", "-e", f"hailstorm_target={TARGET}")
    assert init.returncode == 0, init.stdout + init.stderr
    env = tmp_path / "inventories" / "staging"
    assert sorted(str(p.relative_to(env)) for p in env.rglob("*") if p.is_file()) == [
        "group_vars/all.yml", "hosts.yml", "locustfiles/locustfile.py"]
    hosts = (env / "hosts.yml").read_text()
    assert "# load1:" in hosts and "# dock1:" in hosts  # the systemd and docker examples, commented
    assert f"target: \"{TARGET}\"" in (env / "group_vars" / "all.yml").read_text()

    plan = run(tmp_path, "plan.yml", "-i", "inventories/staging")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "WARNING" not in plan.stdout + plan.stderr, plan.stdout + plan.stderr
    assert "10 clients, 10 rps" in plan.stdout
    assert list((tmp_path / "results").glob("*/plan.json")), plan.stdout  # hailstorm_results_dir ./results, here


def test_init_refuses_to_overwrite_an_environment(tmp_path):
    assert run(tmp_path, "init.yml", "-e", "hailstorm_env=staging", "-e", f"hailstorm_target={TARGET}").returncode == 0
    hosts = tmp_path / "inventories" / "staging" / "hosts.yml"
    hosts.write_text("# mine\n")
    again = run(tmp_path, "init.yml", "-e", "hailstorm_env=staging", "-e", "hailstorm_target=http://other.example.com")
    assert again.returncode != 0
    assert "hailstorm_env=staging:" in again.stdout and "exists already, and init.yml never overwrites" in again.stdout
    assert hosts.read_text() == "# mine\n"


@pytest.mark.parametrize("target, message", [
    ("staging.example.com", "hailstorm_target: 'staging.example.com' is not an http:// or https:// URL with a host; "
                            "give one such as hailstorm_target=http://10.0.0.5:8080"),
    ("https://tester:s3cret@staging.example.com/", "hailstorm_target: 'https://***@staging.example.com/' carries "
                                                   "credentials, which would show in the output and the run's files; "
                                                   "give the URL without them "
                                                   "(hailstorm_target=https://staging.example.com/)"),
    ("https://staging.example.com:65536/", "hailstorm_target: 'https://staging.example.com:65536/' has the port "
                                           "'65536', which is not a number from 1 to 65535; give the service's port, "
                                           "or none for the scheme's default (hailstorm_target="
                                           "https://staging.example.com/)"),
    ("http://staging.example.com:0", "has the port '0', which is not a number from 1 to 65535"),
])
def test_init_names_a_bad_target_and_the_fix_without_showing_a_password(tmp_path, target, message):
    bad = run(tmp_path, "init.yml", "-e", "hailstorm_env=staging", "-e", f"hailstorm_target={target}")
    said = " ".join((bad.stdout + bad.stderr).split())
    assert bad.returncode != 0
    assert message in said and "s3cret" not in said
    assert not (tmp_path / "inventories").exists()
    fixed = re.search(r"hailstorm_target=(\S+?)\)", message)
    if fixed:  # the fix works
        assert run(tmp_path, "init.yml", "-e", "hailstorm_env=staging", "-e",
                   f"hailstorm_target={fixed.group(1)}").returncode == 0
