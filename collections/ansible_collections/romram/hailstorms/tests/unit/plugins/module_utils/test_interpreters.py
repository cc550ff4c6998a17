"""The load host's interpreter of the runtime: the pinned runtime's minimum, and the choice (pure
Python: what the probe found on the host and its os-release -> an interpreter or a refusal)."""
from __future__ import annotations

import importlib.metadata
import re
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ansible_collections.romram.hailstorms.plugins.module_utils import interpreters

COLLECTION = Path(__file__).resolve().parents[4]
REQUIREMENTS = COLLECTION / "runtime" / "requirements.txt"
WHEELHOUSE = COLLECTION.parents[3] / ".cache" / "wheelhouse"

DEBIAN_11 = {"id": "debian", "version_id": "11", "pretty_name": "Debian GNU/Linux 11 (bullseye)"}
DEBIAN_12 = {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"}
UBUNTU_2204 = {"id": "ubuntu", "version_id": "22.04", "id_like": "debian", "pretty_name": "Ubuntu 22.04.5 LTS"}
UBUNTU_2404 = {"id": "ubuntu", "version_id": "24.04", "id_like": "debian", "pretty_name": "Ubuntu 24.04.1 LTS"}
UBUNTU_2004 = {"id": "ubuntu", "version_id": "20.04", "id_like": "debian", "pretty_name": "Ubuntu 20.04.6 LTS"}
RHEL_9 = {"id": "rhel", "version_id": "9.4", "id_like": "fedora", "pretty_name": "Red Hat Enterprise Linux 9.4 (Plow)"}
ROCKY_9 = {"id": "rocky", "version_id": "9.3", "id_like": "rhel centos fedora", "pretty_name": "Rocky Linux 9.3"}
AL2023 = {"id": "amzn", "version_id": "2023", "id_like": "fedora", "pretty_name": "Amazon Linux 2023.5.20240805"}
FEDORA = {"id": "fedora", "version_id": "41", "pretty_name": "Fedora Linux 41 (Server Edition)"}


def probed(**versions):
    """What the probe returns for interpreters.candidates(): each name's version (venv works), a
    version ending in '-novenv' (no ensurepip), or absent (not on the host)."""
    found = []
    for name in interpreters.PREFERRED:
        version = versions.get(name.replace(".", "_"))
        entry = {"name": name, "path": None, "version": None, "venv": False, "error": None}
        if version:
            entry.update(path=f"/usr/bin/{name}", version=version.split("-")[0], venv=not version.endswith("-novenv"))
        found.append(entry)
    return found


def lower_bound(requires_python: str | None) -> tuple[int, ...]:
    """The oldest Python 3 minor a Requires-Python specifier admits."""
    spec = SpecifierSet(requires_python or "")
    return next(((3, minor) for minor in range(0, 30) if Version(f"3.{minor}.99") in spec), (3, 0))


def pins() -> dict[str, str]:
    found = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            found[name.lower()] = version
    return found


def installed_closure(names):
    """Every distribution the pinned ones need (their dependencies for Linux, no extras), as installed."""
    seen, todo = {}, list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = importlib.metadata.distribution(name)
        seen[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": "", "sys_platform": "linux",
                                                                          "platform_system": "Linux"}):
                todo.append(requirement.name)
    return seen


def test_the_minimum_is_the_highest_requires_python_of_the_pinned_runtime():
    """MIN_PYTHON against the metadata of what the pins install (the environment's Locust is the pinned one)."""
    for name, version in pins().items():
        assert importlib.metadata.version(name) == version, f"{name} in the test environment is not the pinned one"
    closure = installed_closure(pins())
    bounds = {key: lower_bound(dist.metadata.get("Requires-Python")) for key, dist in closure.items()}
    assert max(bounds.values()) == interpreters.MIN_PYTHON, bounds
    assert bounds["locust"] == (3, 11) and bounds["cramjam"] == (3, 11)


@pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason="no wheelhouse (scripts/testhosts.sh fills .cache/wheelhouse)")
def test_the_minimum_matches_the_pinned_wheels_in_the_wheelhouse():
    bounds = {}
    for name, version in pins().items():
        wheel = next(WHEELHOUSE.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(item for item in archive.namelist() if item.endswith(".dist-info/METADATA"))
            bounds[name] = lower_bound(Parser().parsestr(archive.read(metadata).decode())["Requires-Python"])
    assert max(bounds.values()) == interpreters.MIN_PYTHON, bounds


@pytest.mark.parametrize("found,distro,chosen", [
    (probed(python3_11="3.11.2", python3="3.11.2"), DEBIAN_12, "/usr/bin/python3.11"),
    # Ubuntu 22.04 with python3.11 from universe beside its python3 3.10
    (probed(python3_11="3.11.0", python3="3.10.12"), UBUNTU_2204, "/usr/bin/python3.11"),
    (probed(python3_13="3.13.1", python3_12="3.12.8", python3="3.12.8"), FEDORA, "/usr/bin/python3.13"),
    # a newer python3 than every preferred name (Fedora 43's 3.14)
    (probed(python3="3.14.0"), FEDORA, "/usr/bin/python3"),
    # the newest one without venv is passed over
    (probed(python3_12="3.12.3-novenv", python3_11="3.11.9", python3="3.12.3"), UBUNTU_2204, "/usr/bin/python3.11"),
])
def test_the_newest_usable_interpreter_is_chosen(found, distro, chosen):
    choice = interpreters.choose("h1", found, distro)
    assert choice["failure"] is None and choice["python"] == chosen and choice["install"] == []


def test_the_wheelhouse_decides_between_usable_interpreters():
    found = probed(python3_12="3.12.3", python3_11="3.11.9", python3="3.12.3")
    assert interpreters.choose("h1", found, UBUNTU_2204, wheels=["3.11"])["python"] == "/usr/bin/python3.11"
    refused = interpreters.choose("h1", probed(python3_12="3.12.3", python3="3.12.3"), UBUNTU_2204, wheels=["3.11"])
    assert refused["python"] is None
    assert "has no wheels in hailstorm_wheelhouse, which holds wheels for Python 3.11 only" in refused["failure"]
    assert "pip download --python-version 3.12 --only-binary=:all:" in refused["failure"]


def test_wheel_versions_are_read_from_the_wheel_names():
    assert interpreters.wheel_versions([
        "gevent-26.9.0-cp311-cp311-manylinux_2_28_x86_64.whl", "protobuf-6.33.6-cp39-abi3-manylinux2014_x86_64.whl",
        "locust-2.47.0-py3-none-any.whl", "greenlet-3.5.6-cp312-cp312-manylinux_2_24_x86_64.whl"]) == ["3.11", "3.12"]
    assert interpreters.wheel_versions(["locust-2.47.0-py3-none-any.whl"]) == []


@pytest.mark.parametrize("distro,fix", [
    (DEBIAN_11, "Fix: Debian GNU/Linux 11 (bullseye) has no Python >= 3.11 package: set hailstorm_backend: docker"),
    (UBUNTU_2004, "Fix: Ubuntu 20.04.6 LTS has no Python >= 3.11 package: set hailstorm_backend: docker"),
    (UBUNTU_2204, "Fix: install python3.11 and python3.11-venv on it (apt-get install python3.11 python3.11-venv, "
                  "from the universe component (or the deadsnakes PPA)), or set hailstorm_install_python: true"),
    (RHEL_9, "Fix: install python3.11 on it (dnf install python3.11, from AppStream), or set hailstorm_install_python"),
    (ROCKY_9, "Fix: install python3.11 on it (dnf install python3.11, from AppStream)"),
    (AL2023, "Fix: install python3.11 on it (dnf install python3.11, from AppStream)"),
])
def test_a_host_without_a_usable_python_is_refused_with_its_distributions_package(distro, fix):
    found = probed(python3="3.9.2") if distro is DEBIAN_11 else probed(python3="3.10.12")
    choice = interpreters.choose("h1", found, distro)
    assert choice["python"] is None
    assert choice["failure"].startswith(f"h1: no Python >= 3.11 with venv on this host ({distro['pretty_name']}: ")
    assert ("the pinned runtime (Locust and its dependencies, runtime/requirements.txt) requires Python >= 3.11."
            in choice["failure"])
    assert fix in choice["failure"]
    assert "hailstorm_backend: docker" in choice["failure"]


def test_the_refusal_names_what_the_host_has():
    choice = interpreters.choose("h1", probed(python3_11="3.11.2-novenv", python3="3.9.2"), DEBIAN_12)
    assert ("(Debian GNU/Linux 12 (bookworm): python3.11 3.11.2 at /usr/bin/python3.11 without venv, "
            "python3 3.9.2 at /usr/bin/python3)") in choice["failure"]
    # the Python that is new enough needs only its venv package
    assert "install python3.11-venv on it (apt-get install python3.11-venv" in choice["failure"]


def test_a_new_enough_python3_without_venv_needs_only_its_venv_package():
    choice = interpreters.choose("h1", probed(python3_12="3.12.3-novenv", python3="3.12.3-novenv"), UBUNTU_2404)
    assert "Fix: install python3.12-venv on it (apt-get install python3.12-venv, from the distribution's archive)" \
        in choice["failure"]
    installed = interpreters.choose("h1", probed(python3_12="3.12.3-novenv", python3="3.12.3-novenv"), UBUNTU_2404,
                                    install=True)
    assert installed == {"python": "/usr/bin/python3.12", "version": "3.12", "install": ["python3.12-venv"],
                         "failure": None}


def test_an_old_rhel_like_release_has_no_package():
    assert interpreters.python_package({"id": "centos", "version_id": "7", "id_like": "rhel fedora"}) is None
    assert interpreters.python_package(ROCKY_9)["packages"] == ["python3.11"]


def test_install_python_plans_the_package_where_the_distribution_has_one():
    choice = interpreters.choose("h1", probed(python3="3.10.12"), UBUNTU_2204, install=True)
    assert choice == {"python": "/usr/bin/python3.11", "version": "3.11", "install": ["python3.11", "python3.11-venv"],
                      "failure": None}
    assert interpreters.choose("h1", probed(python3="3.9.18"), RHEL_9, install=True)["install"] == ["python3.11"]
    # nothing to install where one is there already
    assert interpreters.choose("h1", probed(python3_11="3.11.2"), UBUNTU_2204, install=True)["install"] == []
    # Debian 11 has no package: still refused
    refused = interpreters.choose("h1", probed(python3="3.9.2"), DEBIAN_11, install=True)
    assert refused["python"] is None and "set hailstorm_backend: docker" in refused["failure"]


def test_hailstorm_python_is_the_only_one_and_is_checked():
    given = [{"name": "/opt/py/bin/python3", "path": "/opt/py/bin/python3", "version": "3.12.1", "venv": True}]
    assert interpreters.choose("h1", given, DEBIAN_11, given="/opt/py/bin/python3")["python"] == "/opt/py/bin/python3"
    old = [{"name": "/usr/bin/python3", "path": "/usr/bin/python3", "version": "3.9.2", "venv": True}]
    refused = interpreters.choose("h1", old, DEBIAN_11, given="/usr/bin/python3")
    assert refused["failure"].startswith("h1: hailstorm_python=/usr/bin/python3 is Python 3.9.2, and the pinned "
                                         "runtime")
    missing = [{"name": "/opt/none", "path": None, "version": None, "venv": False, "error": None}]
    refused = interpreters.choose("h1", missing, RHEL_9, given="/opt/none")
    assert refused["failure"].startswith("h1: hailstorm_python=/opt/none does not run on this host (not found)")
    assert "install python3.11 (dnf install python3.11, AppStream) and give hailstorm_python=/usr/bin/python3.11" \
        in refused["failure"]


@pytest.mark.parametrize("value", ["python3.11", "~/py/bin/python", "/usr/bin/python 3", 3.11])
def test_a_relative_or_odd_hailstorm_python_is_refused_naming_the_variable(value):
    with pytest.raises(interpreters.InterpreterError, match=r"hailstorm_python=.* is not an absolute path of an "
                                                            r"interpreter\. Fix: give the path of a Python >= 3\.11"):
        interpreters.checked_python(value)


def test_candidates():
    assert interpreters.candidates() == ["python3.13", "python3.12", "python3.11", "python3"]
    assert interpreters.candidates(interpreters.checked_python("/usr/bin/python3.12")) == ["/usr/bin/python3.12"]
    assert interpreters.checked_python(None) == "" and interpreters.checked_python("") == ""
