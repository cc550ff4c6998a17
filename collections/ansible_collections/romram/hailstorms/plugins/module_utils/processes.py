# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load processes of a load host, found from their pid files (core-N.pid in a run's work
directory): one definition for the stop module and the run lock."""
from __future__ import annotations


def runtime_pid(pid_file: str) -> int | None:
    """The pid a core-N.pid names when that process is a hailstorm_runtime `run` (not a pid the
    system gave to another program since); None otherwise."""
    try:
        with open(pid_file, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"hailstorm_runtime" in argv and b"run" in argv else None
