"""One stop grace: the seconds a load process gets after SIGTERM before SIGKILL are the setting
hailstorm_docker_stop_timeout for a container (at the end of a run and when the stop role stops
it) and the common role's _hailstorm_stop_grace for systemd units and daemonless processes,
each written once and used wherever a process is stopped."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"


def role_files() -> dict[str, str]:
    return {str(path.relative_to(ROLES)): path.read_text(encoding="utf-8")
            for path in sorted(ROLES.glob("*/*/*")) if path.suffix in (".yml", ".j2") and path.is_file()}


def stop_tasks() -> list[dict]:
    return yaml.safe_load((ROLES / "stop" / "tasks" / "main.yml").read_text(encoding="utf-8"))


def test_the_grace_of_systemd_and_daemonless_processes_is_written_once():
    defined = {name: text for name, text in role_files().items() if re.search(r"^_hailstorm_stop_grace:", text, re.M)}
    assert list(defined) == ["common/vars/main.yml"]
    assert yaml.safe_load(defined["common/vars/main.yml"])["_hailstorm_stop_grace"] == 5
    unit = (ROLES / "provision" / "templates" / "hailstorm@.service.j2").read_text(encoding="utf-8")
    assert re.findall(r"^TimeoutStopSec=.*$", unit, re.M) == ["TimeoutStopSec={{ _hailstorm_stop_grace }}"]
    [stop] = [task for task in stop_tasks() if "romram.hailstorms.hailstorm_stop" in task]
    assert stop["romram.hailstorms.hailstorm_stop"]["timeout"] == "{{ _hailstorm_stop_grace }}"


def test_the_stop_role_gives_containers_hailstorm_docker_stop_timeout():
    [docker] = [task for task in stop_tasks() if "ansible.builtin.command" in task]
    stop_argv = docker["loop"][0]
    assert stop_argv[:3] == ["docker", "stop", "--time"]
    assert "docker_stop_timeout" in stop_argv[3] and not re.search(r"\d", stop_argv[3])
    [check] = [task for task in stop_tasks() if "__stop_docker_timeout" in (task.get("ansible.builtin.set_fact") or {})]
    assert "hailstorm_docker_stop_timeout" in check["ansible.builtin.set_fact"]["__stop_docker_timeout"]
    launch = (ROLES / "launch" / "tasks" / "docker.yml").read_text(encoding="utf-8")
    assert re.findall(r"stop_timeout: .*", launch) == ['stop_timeout: "{{ hailstorm_docker_stop_timeout }}"']


def test_no_other_grace_is_written_as_a_number():
    for name, text in role_files().items():
        assert not re.search(r"(--time\b\W*|TimeoutStopSec=|(?<!hailstorm_docker_)stop_timeout:\s*)\"?\d", text), name
