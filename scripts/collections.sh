#!/usr/bin/env bash
# The collections romram.hailstorms uses (community.docker, ansible.posix, and what they depend on:
# community.library_inventory_filtering_v1), without a Galaxy server: taken from the `ansible`
# wheel on PyPI pinned in requirements-collections.txt, into collections/ansible_collections/
# (gitignored). With Galaxy, `ansible-galaxy collection install -r requirements.yml` does the
# same. Idempotent: a second run reuses what is there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIP=${PIP:-"$ROOT/.venv/bin/pip"}
CACHE="$ROOT/.cache"
COLLECTIONS="$ROOT/collections/ansible_collections"
# namespace/name of every collection to provide: the dependencies of galaxy.yml and theirs
WANTED=(community/docker ansible/posix community/library_inventory_filtering_v1)
spec=$(grep -E '^ansible==' "$ROOT/requirements-collections.txt")
stamp="$COLLECTIONS/.from-$spec"
complete=1
for c in "${WANTED[@]}"; do
    [ -e "$COLLECTIONS/$c/MANIFEST.json" ] || complete=0
done
if [ -e "$stamp" ] && [ "$complete" = 1 ]; then
    exit 0
fi
echo "collections: extracting ${WANTED[*]} from $spec" >&2
mkdir -p "$CACHE"
"$PIP" download --quiet --no-deps "$spec" -d "$CACHE/ansible-wheel"
wheel=$(ls "$CACHE"/ansible-wheel/ansible-"${spec#ansible==}"-*.whl)
rm -rf "$COLLECTIONS"/.from-* "$CACHE/ansible-unzip"
for c in "${WANTED[@]}"; do rm -rf "${COLLECTIONS:?}/$c"; done
"$ROOT/.venv/bin/python" - "$wheel" "$CACHE/ansible-unzip" "${WANTED[@]}" <<'PY'
import sys, zipfile
prefixes = tuple(f"ansible_collections/{c}/" for c in sys.argv[3:])
with zipfile.ZipFile(sys.argv[1]) as wheel:
    wheel.extractall(sys.argv[2], [n for n in wheel.namelist() if n.startswith(prefixes)])
PY
for c in "${WANTED[@]}"; do
    mkdir -p "$(dirname "$COLLECTIONS/$c")"
    mv "$CACHE/ansible-unzip/ansible_collections/$c" "$COLLECTIONS/$c"
done
rm -rf "$CACHE/ansible-unzip"
touch "$stamp"
