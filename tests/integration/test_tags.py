"""Tags per phase (docs/operations.md): --list-tags shows them, and --tags / --skip-tags do what a user expects."""
from __future__ import annotations

import json
import re

import pytest

from harness import ROOT, ansible_playbook, feeder, local_run

PHASES = {
    "distribute.yml": {"settings", "preflight", "plan", "provision", "launch", "follow", "collect", "report"},
    "plan.yml": {"settings", "plan"},
    "collect.yml": {"collect", "report"},
    "report.yml": {"report"},
    "stop.yml": {"stop"},
}


@pytest.mark.parametrize("playbook", sorted(PHASES))
def test_list_tags_shows_each_playbooks_phases(playbook):
    result = ansible_playbook(playbook, "local", "--list-tags")
    assert result.returncode == 0, result.stderr
    found = re.search(r"TASK TAGS: \[(.*)\]", result.stdout)
    assert found and set(found.group(1).split(", ")) - {"always"} == PHASES[playbook]


def test_the_phases_are_documented():
    text = (ROOT / "docs" / "operations.md").read_text()
    assert all(f"`{tag}`" in text for phases in PHASES.values() for tag in phases)


def test_tags_settings_checks_the_settings_and_touches_no_host(tmp_path):
    bad = ansible_playbook("distribute.yml", "local", "--tags", "settings", "-e", f"hailstorm_results_dir={tmp_path}",
                           "-e", "hailstorm_work_dir=var/lib")
    assert bad.returncode != 0 and "hailstorm_work_dir: 'var/lib' is not an absolute path" in bad.stdout
    good = ansible_playbook("distribute.yml", "local", "--tags", "settings", "-e", f"hailstorm_results_dir={tmp_path}",
                            "-e", "hailstorm_run_id=settings-only")
    assert good.returncode == 0, good.stdout[-3000:]
    assert "Check every setting once" in good.stdout and "Probe the load host" not in good.stdout
    assert not list(tmp_path.rglob("plan.json"))


def test_skip_tags_follow_and_report_fetches_only_and_report_yml_merges_later(tmp_path):
    with feeder() as url:
        result = local_run(tmp_path, "later", url, ROOT / "locustfiles" / "demo.py", "--skip-tags", "follow,report",
                           cores=1, rps=10, rampup="1s", constant="2s", rampdown="1s")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Show progress" not in result.stdout and "Merge every host's results" not in result.stdout
    run = tmp_path / "later"
    assert (run / "localhost" / "host.jsonl").exists() and not (run / "summary.json").exists()
    report = ansible_playbook("report.yml", "local", "-e", f"hailstorm_results_dir={tmp_path}",
                              "-e", "hailstorm_run_id=later")
    assert report.returncode == 0, report.stdout[-3000:]
    assert json.loads((run / "summary.json").read_text())["state"] == "completed"
