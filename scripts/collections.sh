#!/usr/bin/env bash
# The collections romram.hailstorms uses (community.docker, ansible.posix), without a Galaxy
# server: taken from the `ansible` wheel on PyPI pinned in requirements-collections.txt, into
# collections/ansible_collections/ (gitignored). With Galaxy, `ansible-galaxy collection install
# -r requirements.yml` does the same. Idempotent: a second run reuses what is there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIP=${PIP:-"$ROOT/.venv/bin/pip"}
CACHE="$ROOT/.cache"
COLLECTIONS="$ROOT/collections/ansible_collections"
spec=$(grep -E '^ansible==' "$ROOT/requirements-collections.txt")
stamp="$COLLECTIONS/.from-$spec"
if [ -e "$stamp" ] && [ -e "$COLLECTIONS/community/docker/MANIFEST.json" ] \
    && [ -e "$COLLECTIONS/ansible/posix/MANIFEST.json" ]; then
    exit 0
fi
echo "collections: extracting community.docker and ansible.posix from $spec" >&2
mkdir -p "$CACHE"
"$PIP" download --quiet --no-deps "$spec" -d "$CACHE/ansible-wheel"
wheel=$(ls "$CACHE"/ansible-wheel/ansible-"${spec#ansible==}"-*.whl)
rm -rf "$COLLECTIONS/community/docker" "$COLLECTIONS/ansible/posix" "$COLLECTIONS"/.from-* "$CACHE/ansible-unzip"
"$ROOT/.venv/bin/python" - "$wheel" "$CACHE/ansible-unzip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    wheel.extractall(sys.argv[2], [n for n in wheel.namelist()
                                   if n.startswith(("ansible_collections/community/docker/",
                                                    "ansible_collections/ansible/posix/"))])
PY
mkdir -p "$COLLECTIONS/community" "$COLLECTIONS/ansible"
mv "$CACHE/ansible-unzip/ansible_collections/community/docker" "$COLLECTIONS/community/docker"
mv "$CACHE/ansible-unzip/ansible_collections/ansible/posix" "$COLLECTIONS/ansible/posix"
rm -rf "$CACHE/ansible-unzip"
touch "$stamp"
