#!/usr/bin/env bash
# Every molecule scenario on real systemd hosts (containers built by scripts/testhosts.sh), or the
# ones named: scripts/molecule.sh default docker (every one but ee, which needs make ee's image)
# Without a docker engine it says which scenarios it could not run; with
# HAILSTORMS_REQUIRE_MOLECULE=1 (CI) that is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# `ee` runs the execution environment's image: make ee-test builds it and names that scenario
scenarios=${*:-$(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -rn1 basename | grep -vx ee | sort)}
if ! scripts/testhosts.sh; then
    echo "molecule: NOT RUN (no usable docker engine on this machine): $(echo $scenarios)" >&2
    [ "${HAILSTORMS_REQUIRE_MOLECULE:-0}" = 1 ] && exit 1
    exit 0
fi
for scenario in $scenarios; do
    echo "molecule: scenario $scenario" >&2
    .venv/bin/molecule test -s "$scenario"
done
