"""The real playbooks on this machine: plan preview, refusals, check mode and a local run."""
from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from harness import BIN, ROOT, ansible_playbook, feeder, interrupt, local_aliases, local_run, playbook_env, wait_until


def test_plan_preview_of_the_seed_example_contacts_no_host(tmp_path):
    # the seed hosts (192.0.2.x) do not exist: any contact would fail the play as unreachable
    result = ansible_playbook("plan.yml", "seed-example", "-e", f"hailstorm_results_dir={tmp_path}",
                              "-e", "hailstorm_run_id=seed")
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads((tmp_path / "seed" / "plan.json").read_text())
    assert (plan["clients"], plan["rps"], plan["rampup"], plan["rampdown"]) == (181, 20, 180, 180)
    assert plan["pace"] == pytest.approx(9.05) and plan["gap"] == pytest.approx(180 / 181)
    hosts = plan["hosts"]
    assert list(hosts) == ["slave1", "slave2"]
    assert [sum(c["clients"] for c in h["cores"]) for h in hosts.values()] == [91, 90]
    first = hosts["slave1"]["cores"]
    assert [c["first_start"] for c in first][:2] == pytest.approx([0.5 * 180 / 181, 2.5 * 180 / 181])
    assert first[0]["start_step"] == pytest.approx(14 * 180 / 181)
    assert f"plan written to {tmp_path}/seed/plan.json" in result.stdout
    assert "slave2                   7      90    12/13" in result.stdout


@pytest.mark.parametrize("override,message", [
    ("hailstorm_rps=0", "hailstorm_rps: must be > 0"),
    ("hailstorm_profile=default+nope", "unknown profile(s) nope; known profiles in hailstorm_profiles: default, high, long"),
    ("hailstorm_pace=0.01s", "hailstorm_pace"),
])
def test_bad_settings_stop_before_any_host_is_touched(tmp_path, override, message):
    result = ansible_playbook("plan.yml", "seed-example", "-e", override, "-e", f"hailstorm_results_dir={tmp_path}")
    assert result.returncode != 0
    assert message in result.stdout.replace("\n", " ").replace("    ", " ")
    assert "UNREACHABLE" not in result.stdout
    assert not list(tmp_path.iterdir())


def test_check_mode_previews_and_starts_nothing(tmp_path):
    with feeder() as url:
        result = ansible_playbook("distribute.yml", "local", "--check", "-e", "hailstorm_profile=short",
                                  "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={tmp_path}",
                                  "-e", "hailstorm_run_id=preview")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing was installed or started" in result.stdout
    assert (tmp_path / "preview" / "plan.json").exists()
    assert not (tmp_path / ".work" / "localhost" / "preview").exists()


# what the plan is compared with: task iterations per second (requests per second from a host
# that reports no iterations)
PROGRESS = re.compile(r"active (\d+)/(\d+), ([\d.]+) (?:iterations/s|rps) \(planned ([\d.]+)\)")


@pytest.mark.serial  # the run's rate and latency against the plan: alone (pytest.ini)
def test_local_run_end_to_end(tmp_path):
    arrivals = tmp_path / "arrivals.log"
    with feeder(arrivals) as url:
        result = ansible_playbook("distribute.yml", "local", "-e", "hailstorm_profile=short",
                                  "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={tmp_path}",
                                  "-e", "hailstorm_run_id=e2e", "-e", json.dumps({"hailstorm_thresholds": {
                                      "failure_rate": 0, "rps_ratio": 0.9, "overruns": 0, "p99_ms": 5000}}))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    assert "thresholds over the constant phase 6-14 s: all 4 met" in result.stdout
    run = tmp_path / "e2e"
    plan = json.loads((run / "plan.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    # short profile: 40 rps, pace 1 s, ramp-up 6 s, constant 8 s, ramp-down 3 s
    assert plan["clients"] == 40
    # the plan counts its requests exactly; a late start or a stop on a slot may move one or two
    assert abs(summary["requests"] - plan["expected_requests"]) <= 4
    assert summary["constant_phase"]["rps"] == pytest.approx(40, rel=0.02)
    assert summary["failures"] == 0
    assert set(summary["latency"]["labels"]) == {"GET /{name}", "GET /wait/{min}/{max}"}
    assert 20 <= summary["latency"]["labels"]["GET /wait/{min}/{max}"]["p50_ms"] <= 80
    assert summary["pacing"]["overruns"] == 0
    assert all(core["end"] == "done" for core in summary["cores"])
    assert summary["generator_limited"] == [] and all(core["load"]["seconds"] for core in summary["cores"])
    # every recorded request reached the target, and the summary was shown to the user
    seen = sum(1 for line in arrivals.read_text().splitlines() if line.strip())
    assert seen == summary["requests"]
    assert f"results: {run}" in result.stdout
    # one file per host (its cores merged there); the logs and data.json it carries are unpacked
    assert (run / "localhost" / "host.jsonl").exists() and not (run / "localhost" / "core-0.jsonl").exists()
    assert (run / "localhost" / "core-0.log").exists() and (run / "localhost" / "data.json").exists()
    # the progress lines compare what the processes report with the plan at the same moment
    progress = PROGRESS.findall(" ".join(result.stdout.split()))  # the YAML output folds long lines
    assert len(progress) >= 3, result.stdout[-4000:]
    for active, planned_active, rate, planned_rate in progress:
        assert abs(int(active) - int(planned_active)) <= 2, progress
        assert abs(float(rate) - float(planned_rate)) <= max(3.0, 0.1 * float(planned_rate)), progress


def runtime_pids(marker: str) -> list[int]:
    """Pids of load processes whose command line names `marker` (this test's work directory)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"hailstorm_runtime" in argv and any(marker.encode() in arg for arg in argv):
            pids.append(int(proc.name))
    return pids


def test_stop_aborts_a_local_run_and_keeps_what_was_recorded(tmp_path):
    results = tmp_path / "results"
    settings = ["-e", f"hailstorm_results_dir={results}", "-e", "hailstorm_run_id=abort"]
    with feeder() as url:
        run = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", "inventories/local",
             "-e", f"hailstorm_target={url}", "-e", "hailstorm_rampup=60s", "-e", "hailstorm_constant=5m", *settings],
            cwd=ROOT, env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            status = results / ".work" / "localhost" / "abort" / "core-0.status.json"

            def recording() -> bool:  # the load runs and has recorded requests
                state = json.loads(status.read_text() or "{}") if status.exists() else {}
                return state.get("state") == "running" and state.get("requests", 0) > 0

            wait_until(recording, "the local run to record its first requests", timeout=300)
            assert runtime_pids(str(results))
            stopped = ansible_playbook("stop.yml", "local", *settings)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
            assert not runtime_pids(str(results))  # stop.yml returns once the load processes are gone
            output = run.communicate(timeout=120)[0]
        finally:
            run.kill()
    # the aborted run still merges what every core had recorded
    summary = json.loads((results / "abort" / "summary.json").read_text())
    assert summary["requests"] > 0
    assert summary["cores"][0]["end"] == "signal SIGTERM"
    # ... and says loudly that it was aborted: state, reasons, exit code
    assert summary["state"] == "aborted"
    assert "localhost core 0: stopped (signal SIGTERM) before its planned end" in summary["reasons"]
    assert run.returncode != 0, output[-4000:]
    assert "run state: ABORTED" in output


def test_one_run_at_a_time_and_stop_finds_it_whatever_the_callers_settings(tmp_path):
    """A second distribute.yml while one runs is refused naming the running one; stop.yml with
    another results directory and run id still stops the running load (it reads the host's lock)."""
    first = tmp_path / "first"
    with feeder() as url:
        run = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", "inventories/local",
             "-e", f"hailstorm_target={url}", "-e", "hailstorm_rampup=30s", "-e", "hailstorm_constant=2m",
             "-e", f"hailstorm_results_dir={first}", "-e", "hailstorm_run_id=holder"],
            cwd=ROOT, env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_running(first / ".work" / "localhost" / "holder" / "core-0.status.json")
            second = ansible_playbook("distribute.yml", "local", "-e", f"hailstorm_target={url}",
                                      "-e", "hailstorm_profile=short", "-e", f"hailstorm_results_dir={tmp_path / 'second'}",
                                      "-e", "hailstorm_run_id=intruder")
            text = second.stdout.replace("\n", " ")
            assert second.returncode != 0
            assert "this load host is busy with run 'holder'" in text, second.stdout[-3000:]
            assert not (tmp_path / "second" / ".work" / "localhost" / "intruder" / "core-0.jsonl").exists()
            stopped = ansible_playbook("stop.yml", "local", "-e", f"hailstorm_results_dir={tmp_path / 'elsewhere'}",
                                       "-e", "hailstorm_run_id=other")
            assert stopped.returncode == 0, stopped.stdout[-3000:]
            assert not runtime_pids(str(first))
            output = run.communicate(timeout=120)[0]
        finally:
            run.kill()
    assert run.returncode == 12 and "run state: ABORTED" in output, output[-3000:]  # aborted (README: exit codes)


def wait_running(status: Path) -> None:
    """Until the load process of `status` (its core-N.status.json) says it runs."""
    wait_until(lambda: status.exists() and json.loads(status.read_text() or "{}").get("state") == "running",
               f"the run to start ({status})", 60, 0.5)


def test_the_same_run_id_started_twice_at_once_is_refused_and_the_first_run_is_untouched(tmp_path):
    """A second distribute.yml with the run id of a running run is refused: with the same results
    directory before any host is touched (the first owns the run id: its claim), with another one by
    the host's lock. The first run's plan.json and data.json stay its own."""
    first = tmp_path / "first"
    with feeder() as url:
        run = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", "inventories/local",
             "-e", f"hailstorm_target={url}", "-e", "hailstorm_rampup=30s", "-e", "hailstorm_constant=2m",
             "-e", f"hailstorm_results_dir={first}", "-e", "hailstorm_run_id=twice"],
            cwd=ROOT, env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            work = first / ".work" / "localhost" / "twice"
            wait_running(work / "core-0.status.json")
            plan, data = (first / "twice" / "plan.json").read_text(), (work / "data.json").read_text()
            again = ansible_playbook("distribute.yml", "local", "-e", f"hailstorm_target={url}",
                                     "-e", "hailstorm_profile=short", "-e", f"hailstorm_results_dir={first}",
                                     "-e", "hailstorm_run_id=twice")
            said = " ".join(again.stdout.split())
            assert again.returncode != 0
            assert f"run 'twice' is owned by a run (ansible-playbook distribute.yml, pid {run.pid}, " in said, said[-3000:]
            elsewhere = ansible_playbook("distribute.yml", "local", "-e", f"hailstorm_target={url}",
                                         "-e", "hailstorm_profile=short",
                                         "-e", f"hailstorm_results_dir={tmp_path / 'elsewhere'}",
                                         "-e", "hailstorm_run_id=twice")
            text = " ".join(elsewhere.stdout.split())
            assert elsewhere.returncode != 0
            assert "run 'twice' is running on this load host already" in text, elsewhere.stdout[-3000:]
            assert not (tmp_path / "elsewhere" / ".work" / "localhost" / "twice" / "data.json").exists()
            assert (first / "twice" / "plan.json").read_text() == plan and (work / "data.json").read_text() == data
            assert runtime_pids(str(first)) and not runtime_pids(str(tmp_path / "elsewhere"))
            stopped = ansible_playbook("stop.yml", "local", "-e", f"hailstorm_results_dir={first}")
            assert stopped.returncode == 0, stopped.stdout[-3000:]
            output = run.communicate(timeout=120)[0]
        finally:
            run.kill()
    assert "run state: ABORTED" in output, output[-3000:]


def test_overwrite_runs_a_used_run_id_again_from_a_clean_work_directory(tmp_path):
    """hailstorm_overwrite=true, the fix the "was used before" message gives, removes the earlier
    run's results on the controller and its work directory on the load host; the run then
    completes with its own records only."""
    short = ["-e", "hailstorm_rampup=2s", "-e", "hailstorm_constant=3s", "-e", "hailstorm_rampdown=1s"]
    with feeder() as url:
        first = local_run(tmp_path, "again", url, ROOT / "locustfiles" / "demo.py", *short)
        assert first.returncode == 0, first.stdout[-4000:]
        work = tmp_path / ".work" / "localhost" / "again"
        (work / "left-by-the-first-run").write_text("x")
        refused = local_run(tmp_path, "again", url, ROOT / "locustfiles" / "demo.py", *short)
        assert refused.returncode != 0 and "hailstorm_overwrite=true" in refused.stdout.replace("\n", " ")
        again = local_run(tmp_path, "again", url, ROOT / "locustfiles" / "demo.py", *short, overwrite=True)
    assert again.returncode == 0, again.stdout[-4000:]
    assert not (work / "left-by-the-first-run").exists()
    plan = json.loads((tmp_path / "again" / "plan.json").read_text())
    summary = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert summary["state"] == "completed" and abs(summary["requests"] - plan["expected_requests"]) <= 4


@pytest.mark.serial  # the run's rate and latency against the plan: alone (pytest.ini)
def test_ctrl_c_of_distribute_leaves_the_command_that_fetches_the_results(tmp_path):
    """Ansible runs nothing on SIGINT: the command to collect the run is printed before the load
    starts, the load goes on without the controller, and that command (run as printed) merges it."""
    with feeder() as url:
        run = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", "inventories/local",
             "-e", "hailstorm_profile=short", "-e", "hailstorm_rampup=2s", "-e", "hailstorm_constant=4s",
             "-e", "hailstorm_rampdown=1s", "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={tmp_path}",
             "-e", "hailstorm_run_id=interrupted"],
            cwd=ROOT, env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        try:
            wait_running(tmp_path / ".work" / "localhost" / "interrupted" / "core-0.status.json")
            output = " ".join(interrupt(run).split())  # ctrl-c: SIGINT to the whole foreground process group
        finally:
            run.kill()
        assert run.returncode != 0
        found = re.search(r"fetch and merge its results with:'? - '?(ansible-playbook playbooks/collect\.yml .*?)'? "
                          r"- '?stop it with", output)
        assert found, output[-3000:]
        assert not (tmp_path / "interrupted" / "summary.json").exists()
        collected = subprocess.run(shlex.split(found.group(1)), cwd=ROOT, env=playbook_env(), capture_output=True,
                                   text=True, timeout=300, check=False)
    assert collected.returncode == 0, collected.stdout[-4000:]
    summary = json.loads((tmp_path / "interrupted" / "summary.json").read_text())
    plan = json.loads((tmp_path / "interrupted" / "plan.json").read_text())
    assert summary["state"] == "completed" and abs(summary["requests"] - plan["expected_requests"]) <= 4


def test_secrets_reach_the_load_processes_but_not_the_output_or_the_files_and_jtl_rows(tmp_path):
    arrivals = tmp_path / "arrivals.log"
    secret = "s3cret-token-4711"
    with feeder(arrivals) as url:
        result = ansible_playbook(
            "distribute.yml", "local", "-vvv", "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={url}",
            "-e", f"hailstorm_results_dir={tmp_path}", "-e", "hailstorm_run_id=secret",
            "-e", f"hailstorm_locustfile={ROOT}/tests/integration/files/secret_locustfile.py", "-e", "hailstorm_jtl=true",
            "-e", "hailstorm_rampup=2s", "-e", "hailstorm_constant=2s", "-e", "hailstorm_rampdown=1s",
            "-e", json.dumps({"hailstorm_environment": {"HS_TEST_TOKEN": secret}}))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert secret in arrivals.read_text()  # the locustfile got it
    assert secret not in result.stdout + result.stderr
    holders = [path for path in tmp_path.rglob("*")
               if path.is_file() and secret in path.read_text(errors="replace") and path != arrivals]
    # the run's 0600 environment file held it only while the processes started: no file holds it now
    assert holders == [] and not (tmp_path / ".work" / "localhost" / "secret" / "environment.json").exists()
    assert "Remove the load processes' environment file" in result.stdout
    # results and work files 0640, directories 0750
    modes = {path.relative_to(tmp_path).as_posix(): path.stat().st_mode & 0o777
             for base in (tmp_path / "secret", tmp_path / ".work") for path in [base, *base.rglob("*")]}
    assert {mode for name, mode in modes.items() if (tmp_path / name).is_dir()} == {0o750}, modes
    assert {mode for name, mode in modes.items() if (tmp_path / name).is_file()} == {0o640}, modes
    # one JMeter JTL row (16 columns) per request, as the merged summary counts them
    rows = list(csv.reader((tmp_path / "secret" / "localhost" / "core-0.jtl").open(encoding="utf-8")))
    summary = json.loads((tmp_path / "secret" / "summary.json").read_text())
    assert rows[0][:3] == ["timeStamp", "elapsed", "label"] and {len(row) for row in rows} == {17}
    assert len(rows) - 1 == summary["requests"] > 0
    assert {row[2] for row in rows[1:]} == {"/{token}"}


@pytest.mark.serial  # the run's rate and latency against the plan: alone (pytest.ini)
def test_ten_load_hosts_on_this_machine_run_one_plan(tmp_path):
    """Ten inventory aliases of this machine (local backend, a work directory each) run one plan:
    each host its share, one progress line per interval naming the hosts only by count."""
    inventory = local_aliases(tmp_path, 10)
    with feeder() as url:
        result = subprocess.run(
            [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory), "-f", "10",
             "-e", "hailstorm_profile=short", "-e", "hailstorm_rps=20", "-e", "hailstorm_rampup=4s",
             "-e", "hailstorm_constant=6s", "-e", "hailstorm_rampdown=2s", "-e", "hailstorm_progress_interval=3",
             "-e", f"hailstorm_target={url}", "-e", f"hailstorm_results_dir={tmp_path / 'results'}",
             "-e", "hailstorm_run_id=ten"],
            cwd=ROOT, env=playbook_env(), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    run = tmp_path / "results" / "ten"
    plan = json.loads((run / "plan.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert len(plan["hosts"]) == 10 and {c["host"] for c in summary["cores"]} == set(plan["hosts"])
    assert summary["state"] == "completed"
    assert abs(summary["requests"] - plan["expected_requests"]) <= 4
    lines = re.findall(r"\d+/\d+ s: active .*?hosts [a-z=0-9, ]+", " ".join(result.stdout.split()))
    assert lines and any("hosts running=10" in line for line in lines), lines
    assert not any("load03" in line for line in lines)  # hosts are counted, not listed
