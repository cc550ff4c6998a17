"""Every role's defaults and argument specs stay in step (defaults live once, in defaults/main.yml;
scripts/role_docs.py copies them into the specs)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists())


def load(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def options(role: str) -> dict:
    specs = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]
    merged: dict = {}
    for entry in specs.values():
        merged.update(entry.get("options") or {})
    return merged


def test_every_role_has_argument_specs():
    assert sorted(p.name for p in ROLES.iterdir() if p.is_dir()) == ROLE_NAMES


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_defaults_are_specified_and_specs_show_the_same_defaults(role):
    """defaults/main.yml is the one source of a default; scripts/role_docs.py copies it into the
    specs (for ansible-doc and the README). A spec default that differs, or one without a value in
    defaults/main.yml (the role would not use it), fails here."""
    defaults = load(ROLES / role / "defaults" / "main.yml")
    everywhere = {}
    for other in ROLE_NAMES:
        everywhere.update(load(ROLES / other / "defaults" / "main.yml"))
    specified = options(role)
    assert sorted(set(defaults) - set(specified)) == [], f"{role}: defaults without a spec"
    for name, spec in specified.items():
        assert spec.get("description"), f"{role}: {name} has no description"
        assert name.startswith("hailstorm_"), f"{role}: {name} does not use the hailstorm_ prefix"
        if name in everywhere:
            assert "default" in spec and spec["default"] == everywhere[name], (
                f"{role}: {name} spec default {spec.get('default')!r} differs from defaults/main.yml "
                f"{everywhere[name]!r}; run scripts/role_docs.py")
        else:
            assert "default" not in spec, (
                f"{role}: {name} has a spec default {spec['default']!r} but no value in any defaults/main.yml; "
                "write it in defaults/main.yml and run scripts/role_docs.py")


def test_each_variable_is_defined_in_one_role_only():
    seen: dict[str, str] = {}
    for role in ROLE_NAMES:
        for name in load(ROLES / role / "defaults" / "main.yml"):
            assert name not in seen, f"{name} has defaults in both {seen[name]} and {role}"
            seen[name] = role
