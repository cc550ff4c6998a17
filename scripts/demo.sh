#!/usr/bin/env bash
# The main job on its embedded default: start the bundled target (feeder) on loopback, run the
# local inventory's default profile (about a minute), stop the target, say where the results are.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PORT=3456
FEEDER=collections/ansible_collections/romram/hailstorms/feeder/hailstorm_feeder.py
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "demo: port $PORT is busy; stop what listens there (the demo's target uses it)" >&2
    exit 1
fi
mkdir -p .cache
.venv/bin/python "$FEEDER" --host 127.0.0.1 --port "$PORT" >.cache/feeder.log 2>&1 &
feeder=$!
trap 'kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
.venv/bin/ansible-playbook playbooks/distribute.yml -i inventories/local "$@"
echo "demo: results are in $(ls -dt "$ROOT"/results/*/ | head -1)"
