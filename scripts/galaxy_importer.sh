#!/usr/bin/env bash
# Galaxy's import of romram.hailstorms, run here: build the tarball as a release would
# (`ansible-galaxy collection build`), then galaxy-importer (pinned in requirements.txt) with the
# settings in .config/galaxy-importer.cfg. Fails on any import error (e.g. a role without README)
# and on any warning or error the importer logs; prints the importer's log either way.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COLLECTION="$ROOT/collections/ansible_collections/romram/hailstorms"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$ROOT/.venv/bin/ansible-galaxy" collection build "$COLLECTION" --output-path "$out" >/dev/null
tarball=$(ls "$out"/romram-hailstorms-*.tar.gz)
export PATH="$ROOT/.venv/bin:$PATH"  # the importer calls ansible-doc and ansible-lint by name
export GALAXY_IMPORTER_CONFIG="$ROOT/.config/galaxy-importer.cfg"
export GALAXY_IMPORTER_TMP_ROOT_DIR="$out"
export HOME="$out/home"  # the importer's ansible-doc/ansible-lint caches, not the user's ~/.ansible
mkdir -p "$HOME"
status=0
(cd "$out" && "$ROOT/.venv/bin/python" -m galaxy_importer.main "$tarball") >"$out/importer.log" 2>&1 || status=$?
cat "$out/importer.log"
if [ "$status" -ne 0 ]; then
    echo "galaxy-importer: the import of $(basename "$tarball") failed (exit $status)" >&2
    exit 1
fi
# The importer lints the extracted tarball alone (it sets ANSIBLE_COLLECTIONS_PATH to its own
# folder, as Galaxy does), so a module of a declared dependency cannot be resolved there; that one
# kind of warning is expected. Every other warning or error fails.
dependencies=$("$ROOT/.venv/bin/python" -c 'import sys, yaml; print("|".join(yaml.safe_load(open(sys.argv[1]))["dependencies"]).replace(".", "[.]"))' "$COLLECTION/galaxy.yml")
expected="syntax-check\[unknown-module\]: couldn't resolve module/action '($dependencies)[.]"
if grep -E '^(WARNING|ERROR):' "$out/importer.log" | grep -Ev "$expected" | grep -q .; then
    echo "galaxy-importer: $(basename "$tarball") imports, but with the warnings/errors above" >&2
    exit 1
fi
ignored=$(grep -Ec "$expected" "$out/importer.log" || true)
echo "galaxy-importer: $(basename "$tarball") imports; no warning but $ignored about modules of the declared dependencies"
