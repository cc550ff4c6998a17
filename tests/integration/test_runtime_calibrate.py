"""`python -m hailstorm_runtime calibrate`: the real runtime, paced against its loopback stub,
reports its requests per CPU-second (the preflight's capacity figure). No timing is asserted:
only that it ran the plan and measured something."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms" / "runtime"


def test_calibrate_measures_paced_requests_per_cpu_second():
    result = subprocess.run([sys.executable, "-m", "hailstorm_runtime", "calibrate", "--seconds", "3", "--rps", "200"],
                            env={**os.environ, "PYTHONPATH": str(RUNTIME)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["clients"] == 200 and figures["planned_rps"] == 200
    assert figures["requests"] > 0 and figures["rps"] > 0
    assert figures["rps_per_cpu_second"] > 0
    assert 0 < figures["cpu"] <= 1.5
