"""Command line of the load-host runtime (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hailstorm_runtime",
                                     description="romram.hailstorms load-host runtime (one Locust process per core)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one core of this host's plan")
    run.add_argument("--data", required=True, help="this host's data.json")
    run.add_argument("--core", required=True, type=int, help="index into data.json 'cores'")
    check = sub.add_parser("check", help="import a locustfile with Locust's loader and list its user classes")
    check.add_argument("--locustfile", required=True)
    check.add_argument("--locust-args-json", default="[]",
                       help="hailstorm_locust_args as a JSON list, parsed as the run will (exit 2 when unknown)")
    args = parser.parse_args(argv)

    # Locust (and gevent's monkey-patching) only from here on.
    from . import runner

    if args.command == "check":
        print(json.dumps(runner.check(args.locustfile, json.loads(args.locust_args_json))))
        return 0
    return runner.run(args.data, args.core)


if __name__ == "__main__":
    sys.exit(main())
