#!/usr/bin/env python3
"""The collection's changelog, by antsibull-changelog (pinned in requirements.txt):

- a change is a fragment, collections/ansible_collections/romram/hailstorms/changelogs/fragments/
  <branch or topic>.yml (`minor_changes:` / `bugfixes:` / ... lists of strings, RST: ``code``);
- changelogs/changelog.yaml holds every release and its changes; CHANGELOG.md is generated from it.

    scripts/changelog.py           # fold the fragments into galaxy.yml's version, write CHANGELOG.md
                                   # (`make changelog`; antsibull-changelog release)
    scripts/changelog.py --check   # change nothing; exit 1 when a fragment is malformed or
                                   # misplaced, or CHANGELOG.md is not what changelog.yaml gives
                                   # (`make docs-check`)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
CHANGELOG = COLLECTION / "CHANGELOG.md"
FRAGMENTS = COLLECTION / "changelogs" / "fragments"


def antsibull_changelog(*args: str) -> subprocess.CompletedProcess:
    """antsibull-changelog of this Python's environment, run in the collection (it finds
    ansible-doc beside it)."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(bindir / "antsibull-changelog"), *args], cwd=COLLECTION, env=env, text=True,
                          capture_output=True, check=False)


def misplaced_fragments() -> list[str]:
    """Fragments written beside the project (changelogs/ at its root) instead of the collection's."""
    return sorted(str(path.relative_to(ROOT)) for path in (ROOT / "changelogs").glob("**/*.y*ml"))


def check() -> list[str]:
    problems = [f"{path}: a changelog fragment belongs in {FRAGMENTS.relative_to(ROOT)}/"
                for path in misplaced_fragments()]
    lint = antsibull_changelog("lint")
    if lint.returncode != 0 or lint.stdout.strip():
        problems.append(f"changelog fragments: {(lint.stdout + lint.stderr).strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "CHANGELOG.md"
        generated = antsibull_changelog("generate", "--output", str(out), "--output-format", "md")
        if generated.returncode != 0:
            problems.append(f"antsibull-changelog generate failed: {generated.stderr.strip()[-2000:]}")
        elif not CHANGELOG.exists() or CHANGELOG.read_text(encoding="utf-8") != out.read_text(encoding="utf-8"):
            problems.append(f"{CHANGELOG.relative_to(ROOT)} is not what changelogs/changelog.yaml gives: run "
                            "make changelog (or edit changelog.yaml, never CHANGELOG.md)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on a stale CHANGELOG.md")
    if parser.parse_args().check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if misplaced_fragments():
        print("\n".join(check()), file=sys.stderr)
        return 1
    # --update-existing --reload-plugins: a plugin new in the version being built joins its release
    released = antsibull_changelog("release", "--update-existing", "--reload-plugins")
    sys.stdout.write(released.stdout)
    sys.stderr.write("".join(line for line in released.stderr.splitlines(True) if "Cryptography" not in line))
    return released.returncode


if __name__ == "__main__":
    sys.exit(main())
