#!/usr/bin/env bash
# `ansible-test sanity` on the collection, on this Python, without the internet hosts it expects.
# ansible-test bootstraps pip in its sanity venvs with a get-pip script from ci-files.testing.ansible.com,
# which is unreachable from closed networks; we give it an equivalent that uses Python's own
# ensurepip and then PyPI (in a HOME of our own, so the user's ~/.ansible is left alone).
# VENV: the virtual environment whose ansible-test runs (default .venv; scripts/newest.sh gives its own).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-"$ROOT/.venv"}
export HOME="$ROOT/.cache/ansible-test-home$([ "$VENV" = "$ROOT/.venv" ] || echo "-$(basename "$VENV")")"
# the pip version ansible-test bootstraps: PIP_VERSION up to ansible-core 2.19, per Python from 2.20
pip_version=$("$VENV/bin/python" - 2>/dev/null <<'PY' || echo 24.2
from ansible_test._internal import python_requirements as r
try:
    print(r.PIP_VERSION)
except AttributeError:
    import sys
    from types import SimpleNamespace
    print(r.get_venv_packages(SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"])
PY
)
shim="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -e "$shim" ]; then
    mkdir -p "$(dirname "$shim")"
    cat >"$shim" <<'PY'
"""Stand-in for get-pip.py: bootstrap pip with ensurepip, then install the requested packages."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
os.environ.pop("PIP_CONFIG_FILE", None)  # ensurepip hides pip's configuration (CA, index) from itself
# get-pip's own options, which pip install does not know
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", *args]))
PY
fi
cd "$ROOT/collections/ansible_collections/romram/hailstorms"
"$VENV/bin/ansible-test" sanity --python "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --local --color no "$@"
