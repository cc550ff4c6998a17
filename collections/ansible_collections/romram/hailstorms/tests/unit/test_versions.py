# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One version for everything that states one: galaxy.yml's is the runtime's, the last release of
changelogs/changelog.yaml (where `make changelog` folds the fragments), and the release that lists
each plugin is its version_added; every role's min_ansible_version is requires_ansible's lower bound."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

COLLECTION = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((COLLECTION / "galaxy.yml").read_text(encoding="utf-8"))
RELEASES = yaml.safe_load((COLLECTION / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))["releases"]


def _constant(path: Path, name: str) -> str:
    """A module-level string constant of a Python file, read without importing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no {name}")


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def plugin_docs() -> dict[tuple[str, str], dict]:
    """{(kind, name): documentation} of every documented plugin: modules and callbacks (their
    DOCUMENTATION string), filters (their .yml)."""
    docs = {}
    for kind in ("modules", "callback"):
        for path in sorted((COLLECTION / "plugins" / kind).glob("*.py")):
            docs[(kind, path.stem)] = yaml.safe_load(_constant(path, "DOCUMENTATION"))
    for path in sorted((COLLECTION / "plugins" / "filter").glob("*.yml")):
        docs[("filter", path.stem)] = yaml.safe_load(path.read_text(encoding="utf-8"))["DOCUMENTATION"]
    return docs


def released_in() -> dict[tuple[str, str], str]:
    """{(kind, name): the release of changelog.yaml that lists the plugin as new}."""
    out = {}
    for version, release in RELEASES.items():
        for module in release.get("modules") or []:
            out[("modules", module["name"])] = str(version)
        for kind, plugins in (release.get("plugins") or {}).items():
            for plugin in plugins:
                out[(kind, plugin["name"])] = str(version)
    return out


def test_the_runtime_has_the_collections_version():
    runtime = _constant(COLLECTION / "runtime" / "hailstorm_runtime" / "__init__.py", "__version__")
    assert runtime == GALAXY["version"], "set __version__ in runtime/hailstorm_runtime/__init__.py to galaxy.yml's"


def test_the_last_release_of_the_changelog_is_galaxy_yml_version():
    last = max(RELEASES, key=_semver)
    assert last == GALAXY["version"], (
        f"changelogs/changelog.yaml's last release is {last}, galaxy.yml says {GALAXY['version']}: run make changelog")


def test_every_plugin_is_new_in_the_release_its_version_added_names():
    docs, listed = plugin_docs(), released_in()
    assert len(docs) > 30  # every module, filter and callback was read
    wrong = {f"{kind}/{name}": (str(doc.get("version_added")), listed.get((kind, name)))
             for (kind, name), doc in docs.items() if str(doc.get("version_added")) != listed.get((kind, name))}
    assert not wrong, ("version_added (first) differs from the changelog release that lists the plugin as new "
                       f"(second): {wrong}; a new plugin has galaxy.yml's version {GALAXY['version']} (then run "
                       "make changelog)")


def test_every_role_needs_the_ansible_core_that_requires_ansible_names():
    requires = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text(encoding="utf-8"))["requires_ansible"]
    oldest = re.search(r">=\s*(\d+)\.(\d+)", requires)
    assert oldest, requires
    roles = sorted((COLLECTION / "roles").glob("*/meta/main.yml"))
    assert len(roles) >= 7
    for meta in roles:
        found = yaml.safe_load(meta.read_text(encoding="utf-8"))["galaxy_info"]["min_ansible_version"]
        assert found == f"{oldest.group(1)}.{oldest.group(2)}", f"{meta.relative_to(COLLECTION)}: {found} ({requires})"
