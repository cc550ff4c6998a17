"""Command line of the load-host runtime (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import sys


def _log_to_work_dir(data_path: str, core: int) -> None:
    """Every backend keeps each process's output on the host, beside its records: core-N.log in
    the run's work directory (stdout and stderr, so Python's own tracebacks land there too)."""
    import os

    try:
        with open(data_path, encoding="utf-8") as handle:
            work_dir = json.load(handle).get("work_dir")
        if not work_dir:
            return
        fd = os.open(os.path.join(work_dir, f"core-{core}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    except (OSError, ValueError):
        return  # the run reports the problem with data.json itself
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hailstorm_runtime",
                                     description="romram.hailstorms load-host runtime (one Locust process per core)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one core of this host's plan")
    run.add_argument("--data", required=True, help="this host's data.json")
    run.add_argument("--core", required=True, type=int, help="index into data.json 'cores'")
    check = sub.add_parser("check", help="import a locustfile with Locust's loader and list its user classes")
    check.add_argument("--locustfile", required=True)
    args = parser.parse_args(argv)

    if args.command == "run":
        _log_to_work_dir(args.data, args.core)
    # Locust (and gevent's monkey-patching) only from here on.
    from . import runner

    if args.command == "check":
        print(json.dumps(runner.check(args.locustfile)))
        return 0
    return runner.run(args.data, args.core)


if __name__ == "__main__":
    sys.exit(main())
