"""The collection's metadata agrees with what CI installs and tests."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"


def pinned(name: str, requirements: str = "requirements.txt") -> Version:
    text = (ROOT / requirements).read_text()
    return Version(re.search(rf"^{re.escape(name)}==(\S+)$", text, re.M).group(1))


def test_requires_ansible_spans_the_tested_ansible_core_releases():
    spec = SpecifierSet(yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())["requires_ansible"])
    oldest, newest = pinned("ansible-core"), pinned("ansible-core", "requirements-newest.txt")
    assert oldest < newest
    assert oldest in spec and newest in spec
    assert Version(f"{newest.major}.{newest.minor + 1}.0") not in spec  # an upper bound: untested releases
    assert Version(f"{oldest.major}.{oldest.minor - 1}.99") not in spec


def test_dependency_ranges_have_upper_bounds_and_requirements_yml_repeats_them_exactly():
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    requirements = {c["name"]: c["version"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    assert requirements == galaxy["dependencies"]
    for name, version in galaxy["dependencies"].items():
        assert any(s.operator in ("<", "<=") for s in SpecifierSet(version)), f"{name}: {version} has no upper bound"


def test_license_file_is_the_gpl_3_that_galaxy_yml_names():
    assert yaml.safe_load((COLLECTION / "galaxy.yml").read_text())["license"] == ["GPL-3.0-or-later"]
    text = (COLLECTION / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007")
    assert (ROOT / "LICENSE").resolve() == (COLLECTION / "LICENSE").resolve()


def test_the_execution_environment_installs_the_pinned_ansible_core_and_the_collections_python_requirements():
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert ee["version"] == 3
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={pinned('ansible-core')}"
    meta = yaml.safe_load((COLLECTION / "meta" / "execution-environment.yml").read_text())
    assert (COLLECTION / meta["dependencies"]["python"]) == COLLECTION / "runtime" / "requirements.txt"
