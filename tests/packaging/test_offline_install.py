"""The built tarball installs offline with its dependencies (as `make setup` provides them, from the
pinned `ansible` wheel) into an empty collections path, and works from there: ansible-doc shows the
roles' defaults, and the collection's playbook runs by its FQCN."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
PROVIDED = ROOT / "collections" / "ansible_collections"
BIN = Path(sys.executable).parent


def dependency_dirs() -> list[Path]:
    """The collections romram.hailstorms needs, and what they need, as make setup provides them."""
    wanted = list(yaml.safe_load((COLLECTION / "galaxy.yml").read_text())["dependencies"])
    found: dict[str, Path] = {}
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        path = PROVIDED.joinpath(*name.split("."))
        manifest = path / "MANIFEST.json"
        assert manifest.exists(), f"{name} is not in {PROVIDED}: run `make setup` (scripts/collections.sh)"
        found[name] = path
        wanted += list(json.loads(manifest.read_text())["collection_info"]["dependencies"] or {})
    return [found[name] for name in sorted(found)]


def isolated_env(tmp_path: Path, collections: Path) -> dict[str, str]:
    config = tmp_path / "ansible.cfg"  # nothing of this checkout's ansible.cfg (its collections path)
    config.write_text("[defaults]\nretry_files_enabled = false\n")
    return dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=str(collections),
                ANSIBLE_NOCOLOR="1", ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                PATH=f"{BIN}:{os.environ['PATH']}")


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_built_tarball_installs_offline_with_its_dependencies_and_runs(tmp_path):
    deps = dependency_dirs()
    assert {d.name for d in deps} >= {"docker", "posix", "library_inventory_filtering_v1"}
    collections = tmp_path / "collections"
    env = isolated_env(tmp_path, collections)
    build = run([str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path",
                 str(tmp_path)], env, tmp_path)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = next(tmp_path.glob("romram-hailstorms-*.tar.gz"))

    install = run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), *map(str, deps),
                   "-p", str(collections), "--offline"], env, tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    installed = collections / "ansible_collections"
    assert (installed / "romram" / "hailstorms" / "MANIFEST.json").exists()
    assert (installed / "community" / "library_inventory_filtering_v1" / "MANIFEST.json").exists()

    doc = run([str(BIN / "ansible-doc"), "-t", "role", "romram.hailstorms.common"], env, tmp_path)
    assert doc.returncode == 0, doc.stderr
    assert str(installed / "romram" / "hailstorms") in doc.stdout  # this copy, not the checkout
    backend = doc.stdout[doc.stdout.index("hailstorm_backend"):]
    assert "default: systemd" in backend[:400]

    # the collection's own plan playbook by FQCN, a dry run: the seed hosts are never contacted
    results = tmp_path / "results"
    plan = run([str(BIN / "ansible-playbook"), "romram.hailstorms.plan", "-i",
                str(ROOT / "inventories" / "seed-example"), "-e", f"hailstorm_results_dir={results}",
                "-e", "hailstorm_run_id=offline"], env, tmp_path)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert json.loads((results / "offline" / "plan.json").read_text())["clients"] == 181
