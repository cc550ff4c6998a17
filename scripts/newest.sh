#!/usr/bin/env bash
# The newest tested ansible-core (requirements-newest.txt) on a Python >= 3.12, beside the main
# pair of requirements.txt: in .venv-newest, ansible-test sanity and the local integration run
# (a real distribute.yml with the local backend against the bundled feeder).
# `scripts/newest.sh sanity` or `scripts/newest.sh run` does one of the two (make test runs the sanity
# beside the real hosts and the local run, which measures timing, with the tests that do, alone).
# The Python: $PYTHON_NEWEST, else the newest python3.13 / python3.12 on PATH or under ~/.pyenv.
# Without one it says it did not run; with HAILSTORMS_REQUIRE_NEWEST=1 (CI) that is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv-newest"
# The local run's test (in tests/integration/test_playbooks_local.py)
TESTS=(tests/integration/test_playbooks_local.py::test_local_run_end_to_end)

find_python() {
    local candidate
    for candidate in "${PYTHON_NEWEST:-}" python3.13 python3.12 \
            $(ls -d "$HOME"/.pyenv/versions/3.1[23]*/bin/python 2>/dev/null | sort -rV); do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 \
                && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}

if ! python=$(find_python); then
    echo "newest: NOT RUN (no Python >= 3.12 for $(grep '^ansible-core==' requirements-newest.txt)); set PYTHON_NEWEST" >&2
    [ "${HAILSTORMS_REQUIRE_NEWEST:-0}" = 1 ] && exit 1
    exit 0
fi
# pytest and the bundled feeder's aiohttp at requirements.txt's pins (one place for each version)
test_pins=$(grep -E '^(pytest|aiohttp)==' requirements.txt || true)
stamp="$VENV/.installed"
wanted=$(printf '%s\n%s\n%s\n' "$python" "$(cat requirements-newest.txt "$(sed -n 's/^-r //p' requirements-newest.txt)")" "$test_pins")
if [ ! -e "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "newest: setting up $VENV with $python" >&2
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet -r requirements-newest.txt $test_pins
    printf '%s' "$wanted" >"$stamp"
fi
echo "newest: $("$VENV/bin/ansible" --version | sed -n 1p) on Python $("$VENV/bin/python" -V | cut -d' ' -f2)" >&2
scripts/collections.sh
what=${1:-all}
if [ "$what" != run ]; then
    VENV="$VENV" scripts/sanity.sh
fi
if [ "$what" != sanity ]; then
    ANSIBLE_CONFIG="$ROOT/ansible.cfg" "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
fi
