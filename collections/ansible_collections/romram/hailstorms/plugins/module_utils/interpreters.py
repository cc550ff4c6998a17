# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Python of a load host builds the runtime's virtual environment (systemd backend).

Pure Python (no Ansible). The probe (hailstorm_probe) runs the names of `candidates` on the host
and returns what each is (path, version, whether `venv` works) with the host's /etc/os-release;
`choose` picks the interpreter provisioning uses, or says what the host needs: the package of its
distribution (`python_package`), hailstorm_install_python, hailstorm_python or the docker backend.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping, Sequence

# The oldest Python the pinned runtime (runtime/requirements.txt) installs on: the highest
# Requires-Python of the pinned packages and their dependencies (locust 2.47.0, cramjam 2.14.0 and
# geventhttpclient 2.6.1 declare >=3.11). tests/unit/plugins/module_utils/test_interpreters.py checks
# it against the pinned packages' metadata.
MIN_PYTHON = (3, 11)
# The names looked for on a host, preferred first; `python3` last (Fedora's may be newer than all).
PREFERRED = ("python3.13", "python3.12", "python3.11", "python3")
# Where the probe looks for them besides the connection's PATH.
SEARCH_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
_WHEEL_TAG = re.compile(r"-cp(\d)(\d+)-cp\d+m?-[^-]+\.whl$")


class InterpreterError(ValueError):
    """A bad hailstorm_python (the message names the variable, the value and a fix)."""


def minimum() -> str:
    return "%d.%d" % MIN_PYTHON


def checked_python(value: Any) -> str:
    """hailstorm_python as given: "" (choose on each host) or an absolute path."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not value.startswith("/") or any(c.isspace() for c in value):
        raise InterpreterError(
            f"hailstorm_python={value!r} is not an absolute path of an interpreter. Fix: give the path of a "
            f"Python >= {minimum()} on the load hosts, e.g. hailstorm_python=/usr/bin/python3.11, or leave it unset "
            f"to use the newest of {', '.join(PREFERRED)} found there.")
    return value


def candidates(given: str = "") -> list[str]:
    """What the probe runs on the host: hailstorm_python alone when given, else PREFERRED."""
    return [given] if given else list(PREFERRED)


def _version(text: Any) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(text or ""))[:3])


def wheel_versions(filenames: Sequence[str]) -> list[str]:
    """The CPython versions ('3.11') a wheelhouse has version-specific wheels for (cp311-cp311 tags);
    [] when all its wheels fit any Python 3 (py3, abi3): then any interpreter can install from it."""
    found = set()
    for name in filenames:
        match = _WHEEL_TAG.search(os.path.basename(str(name)))
        if match:
            found.add(f"{match.group(1)}.{match.group(2)}")
    return sorted(found, key=_version)


def distro_name(distro: Mapping[str, Any] | None) -> str:
    distro = distro or {}
    return str(distro.get("pretty_name") or f"{distro.get('id', 'unknown')} {distro.get('version_id', '')}").strip()


# The Python version a release's archive has at least MIN_PYTHON of (its python3, or a newer one
# beside it); a later release of these distributions has a python3 that is new enough.
_RELEASE_PYTHON = {("debian", 12): "3.11", ("debian", 13): "3.13", ("ubuntu", 22): "3.11", ("ubuntu", 24): "3.12"}
_RHEL_LIKE = {"rhel", "centos", "rocky", "almalinux", "ol"}


def python_package(distro: Mapping[str, Any] | None, found: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any] | None:
    """The packages of the distribution that give a Python >= MIN_PYTHON with venv, and how:
    {packages, version, python (the path they install), command, note}; None when its archive has
    none. A Python >= MIN_PYTHON already there without venv (Debian and Ubuntu split it off) needs
    only its venv package."""
    distro = distro or {}
    ident = str(distro.get("id") or "").lower()
    like = set(str(distro.get("id_like") or "").lower().split())
    major = (_version(distro.get("version_id")) or (0,))[0]
    apt = ident in ("debian", "ubuntu") or "debian" in like
    if apt:
        if (ident == "debian" and major < 12) or (ident == "ubuntu" and major < 22):
            return None
        novenv = next((entry for entry in found if entry.get("path") and not entry.get("venv")
                       and _version(entry.get("version")) >= MIN_PYTHON), None)
        if novenv:
            minor = ".".join(map(str, _version(novenv["version"])[:2]))
            packages, python = [f"python{minor}-venv"], novenv["path"]
        else:
            minor = _RELEASE_PYTHON.get((ident, major), "3")
            packages = [f"python{minor}", f"python{minor}-venv"]
            python = f"/usr/bin/python{minor}"
            minor = minimum() if minor == "3" else minor
        note = ("the universe component (or the deadsnakes PPA)" if (ident, major) == ("ubuntu", 22)
                else "the distribution's archive")
        return {"packages": packages, "version": minor, "python": python,
                "command": f"apt-get install {' '.join(packages)}", "note": note}
    if (ident == "amzn" and major >= 2023) or ((ident in _RHEL_LIKE or like & _RHEL_LIKE) and major >= 8):
        minor = minimum()
        return {"packages": [f"python{minor}"], "version": minor, "python": f"/usr/bin/python{minor}",
                "command": f"dnf install python{minor}", "note": "AppStream"}
    if ident == "fedora":
        return {"packages": ["python3"], "version": minimum(), "python": "/usr/bin/python3",
                "command": "dnf install python3", "note": "Fedora's archive"}
    return None


def _shown(found: Sequence[Mapping[str, Any]]) -> str:
    runs = [f"{entry.get('name')} {entry.get('version')} at {entry.get('path')}"
            + ("" if entry.get("venv") else " without venv") for entry in found if entry.get("path")]
    return ", ".join(runs) if runs else "none of " + ", ".join(PREFERRED)


def choose(host: str, found: Sequence[Mapping[str, Any]], distro: Mapping[str, Any] | None, given: str = "",
           install: bool = False, wheels: Sequence[str] = ()) -> dict[str, Any]:
    """The interpreter a load host's virtual environment is built with, or why there is none.

    found: what the probe ran (`candidates`, in that order): name, path (None: not on the host),
    version, venv (whether `venv` and `ensurepip` import). distro: the host's os-release (id,
    version_id, id_like, pretty_name). given: hailstorm_python; install: hailstorm_install_python;
    wheels: `wheel_versions` of hailstorm_wheelhouse ([]: any version installs).
    Returns {python, version, install (packages to install first), failure (message or None)}.
    """
    least = minimum()
    name = distro_name(distro)
    package = python_package(distro, found)

    def fits_wheels(version: Any) -> bool:
        return not wheels or ".".join(map(str, _version(version)[:2])) in wheels

    usable = [entry for entry in found if entry.get("path") and _version(entry.get("version")) >= MIN_PYTHON
              and entry.get("venv")]
    chosen = next((entry for entry in usable if fits_wheels(entry["version"])), None)
    if chosen:
        return {"python": chosen["path"], "version": chosen["version"], "install": [], "failure": None}
    docker = ("or hailstorm_backend: docker (the runtime runs in a container built from hailstorm_docker_base_image; "
              "the host needs only docker)")
    if usable:
        versions = ", ".join(sorted({".".join(map(str, _version(e["version"])[:2])) for e in usable}, key=_version))
        return {"python": None, "version": None, "install": [], "failure": (
            f"{host}: its Python ({_shown(usable)}) has no wheels in hailstorm_wheelhouse, which holds wheels for "
            f"Python {', '.join(wheels)} only. Fix: add that version's wheels on the controller: pip download "
            f"--python-version {versions.rsplit(', ', maxsplit=1)[-1]} --only-binary=:all: -r "
            "collections/ansible_collections/romram/hailstorms/runtime/requirements.txt -d <hailstorm_wheelhouse>, "
            f"or set hailstorm_wheelhouse to \"\" (the hosts install from the package index), {docker}.")}
    why = f"the pinned runtime (Locust and its dependencies, runtime/requirements.txt) requires Python >= {least}"
    if given:
        entry = found[0] if found else {}
        if not entry.get("path"):
            what = f"hailstorm_python={given} does not run on this host ({entry.get('error') or 'not found'})"
        elif _version(entry.get("version")) < MIN_PYTHON:
            what = f"hailstorm_python={given} is Python {entry.get('version')}, and {why}"
        else:
            what = f"hailstorm_python={given} (Python {entry.get('version')}) cannot create a venv (no ensurepip)"
        fix = (f"install {' and '.join(package['packages'])} ({package['command']}, {package['note']}) and give "
               f"hailstorm_python={package['python']}" if package
               else f"give the path of a Python >= {least} with venv")
        return {"python": None, "version": None, "install": [], "failure": (
            f"{host}: {what} ({name}). Fix: {fix}, or unset hailstorm_python to use the newest of "
            f"{', '.join(PREFERRED)} found, {docker}.")}
    if package and install and fits_wheels(package["version"]):
        return {"python": package["python"], "version": package["version"], "install": list(package["packages"]),
                "failure": None}
    head = f"{host}: no Python >= {least} with venv on this host ({name}: {_shown(found)}); {why}."
    if package:
        fix = (f"install {' and '.join(package['packages'])} on it ({package['command']}, from {package['note']}), "
               "or set hailstorm_install_python: true to let provision install them (with become), "
               f"or give hailstorm_python the path of a Python >= {least} with venv, {docker}.")
    else:
        fix = (f"{name} has no Python >= {least} package: set hailstorm_backend: docker (the runtime runs in a "
               "container built from hailstorm_docker_base_image; the host needs only docker), upgrade the host's "
               f"release, or install a Python >= {least} yourself and give its path in hailstorm_python.")
    return {"python": None, "version": None, "install": [], "failure": f"{head} Fix: {fix}"}
