"""RunFailure: the one way library code of the runtime ends its process on purpose.

Library code (runner.py, core.py, calibrate.py) never calls sys.exit: it raises RunFailure with
the reason, the exit code and the text for stderr; only `__main__` turns it into the process's
exit code. No Locust import here (the command line imports it before Locust)."""
from __future__ import annotations

import sys
from typing import TextIO

from .contract import RUNTIME_SAYS


class RunFailure(Exception):
    """A reason this process ends without doing its job.

    `reason`: one line, what a core's status file says (and the log); `exit_code`: the process's
    exit code; `stderr`: the text `__main__` writes to stderr (default "hailstorm_runtime: <reason>",
    which the controller's check reads as the runtime's own message; "" when it was written
    already, e.g. Python's traceback of the locustfile)."""

    def __init__(self, reason: str, exit_code: int = 1, stderr: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code
        self.stderr = f"{RUNTIME_SAYS}{reason}" if stderr is None else stderr

    def say(self, stream: TextIO | None = None) -> int:
        """Write the failure's text to stderr (or `stream`); returns its exit code."""
        if self.stderr:
            stream = stream or sys.stderr
            stream.write(self.stderr if self.stderr.endswith("\n") else self.stderr + "\n")
            stream.flush()
        return self.exit_code
