"""The integration suite runs its tests that measure no timing on several pytest-xdist workers at
once (Makefile: test-integration). Every test has its own results directory (tmp_path) and ports
(free_port); the one thing a local run shares with every other on this machine is the load host's
lock under $HOME (one run at a time per load host, README). Each worker gets a HOME of its own, so
the local runs of two workers are two load hosts, as aliases of this machine are."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _HOME = Path(tempfile.gettempdir()) / f"hailstorms-{_WORKER}-{os.getpid()}"
    _HOME.mkdir(mode=0o700, exist_ok=True)
    os.environ["HOME"] = str(_HOME)
