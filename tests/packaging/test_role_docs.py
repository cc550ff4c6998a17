"""The role READMEs and the argument specs' defaults are what scripts/role_docs.py generates from
their sources (defaults/main.yml, meta/argument_specs.yml, meta/main.yml), so they cannot drift."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from project_scripts import ROOT, load

SCRIPT, role_docs = load("role_docs")


def test_committed_readmes_and_spec_defaults_are_generated():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_role_has_a_readme_with_every_variable_and_default():
    for role in role_names():
        text = (role_docs.COLLECTION / "roles" / role / "README.md").read_text()
        specs = yaml.safe_load((role_docs.COLLECTION / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for name, spec in specs["argument_specs"]["main"].get("options", {}).items():
            row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
            if "default" in spec:
                assert role_docs.cell(f"`{role_docs.flow(spec['default'])}`") in row


def role_names():
    return role_docs.role_names()


def copy_collection(tmp_path: Path) -> Path:
    collection = tmp_path / "hailstorms"
    shutil.copytree(role_docs.COLLECTION / "roles", collection / "roles")
    return collection


def test_check_names_a_hand_edited_readme_and_a_changed_default_until_regenerated(tmp_path):
    collection = copy_collection(tmp_path)
    readme = collection / "roles" / "collect" / "README.md"
    readme.write_text(readme.read_text() + "\nedited by hand\n")
    defaults = collection / "roles" / "common" / "defaults" / "main.yml"
    defaults.write_text(defaults.read_text().replace("hailstorm_backend: systemd", "hailstorm_backend: docker"))
    check = [sys.executable, str(SCRIPT), "--check", "--collection", str(collection)]
    result = subprocess.run(check, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{readme}: differs" in result.stderr
    assert f"{collection / 'roles' / 'common' / 'meta' / 'argument_specs.yml'}: differs" in result.stderr
    assert f"{collection / 'roles' / 'common' / 'README.md'}: differs" in result.stderr  # the default shown

    subprocess.run([sys.executable, str(SCRIPT), "--collection", str(collection)], check=True, capture_output=True)
    assert subprocess.run(check, capture_output=True, text=True).returncode == 0
    specs = yaml.safe_load((collection / "roles" / "common" / "meta" / "argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["hailstorm_backend"]["default"] == "docker"
    assert "| `hailstorm_backend` | str | `docker` |" in (collection / "roles" / "common" / "README.md").read_text()
    assert "edited by hand" not in readme.read_text()


def test_a_new_variable_gets_its_default_and_a_removed_default_goes():
    spec = (
        "argument_specs:\n  main:\n    options:\n"
        "      hailstorm_new:\n        type: list\n        elements: str\n        description: New.\n"
        "      hailstorm_gone:\n        type: dict\n        default:\n          a: 1\n        description: Gone.\n"
    )
    text = role_docs.with_defaults(spec, {"hailstorm_new": ["a b", "{{ x }}"]})
    options = yaml.safe_load(text)["argument_specs"]["main"]["options"]
    assert options["hailstorm_new"]["default"] == ["a b", "{{ x }}"]
    assert "default" not in options["hailstorm_gone"]
    assert options["hailstorm_gone"]["description"] == "Gone."
    assert role_docs.with_defaults(text, {"hailstorm_new": ["a b", "{{ x }}"]}) == text  # re-runnable


def test_markup_becomes_markdown():
    assert role_docs.markup("C(local) or I(docker), see U(https://x.y)") == "`local` or *docker*, see <https://x.y>"
