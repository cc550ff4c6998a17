"""Command line of the load-host runtime (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import time
from typing import MutableMapping

from . import contract
from .failure import RunFailure


class EnvFileError(ValueError):
    """An environment file that cannot be used; the message names the file and the fix."""


def load_env_file(path: str, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Put the variables of the run's environment file into the process environment.

    The file is a JSON object of names to values (hailstorm_environment), written by the launch
    role with mode 0600: secrets never pass on a command line, in a container's configuration or
    in Ansible's output. Refused if others may read it or if it is not such an object. Returns the
    names set (never the values). Called before Locust and the locustfile are imported.
    """
    environ = os.environ if environ is None else environ
    try:
        mode = os.stat(path).st_mode
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise EnvFileError(f"cannot read the environment file {path}: {error.strerror}") from None
    except ValueError:
        raise EnvFileError(f"the environment file {path} is not JSON; it must be an object of names to values") from None
    if stat.S_IMODE(mode) & 0o077:
        raise EnvFileError(f"the environment file {path} has mode {stat.S_IMODE(mode):04o}; it holds secrets and must "
                           "be readable by its owner only (chmod 0600)")
    if not isinstance(data, dict) or not all(isinstance(key, str) and key and "=" not in key for key in data):
        raise EnvFileError(f"the environment file {path} must be a JSON object of variable names to values")
    for key, value in data.items():
        environ[key] = value if isinstance(value, str) else json.dumps(value)
    return sorted(data)


def remove_env_file(path: str | None) -> None:
    """The run's environment file holds secrets: a load process that ends after it loaded the
    locustfile removes it (the launch role removes it once all are armed, or at once when one
    fails; this covers a controller that never got there). One that ends before, failing at
    import, leaves it: the host's other processes may not have read it yet. Gone already:
    nothing to do."""
    if not path:
        return
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        print(f"hailstorm_runtime: cannot remove the environment file {path}: {error.strerror}", file=sys.stderr)


class UserError(ValueError):
    """A user to run as that cannot be used; the message names it and the fix."""


def run_as(name: str | None, euid: int | None = None, lookup=None, switch=None) -> str:
    """Run the rest of this process as the load user `name` (hailstorm_user): what the preflight
    check and calibration use, since they import the user's locustfile and should not do so as
    root. As root: the user's groups, group and user are taken for good (before Locust or the
    locustfile is imported) and HOME, USER and LOGNAME follow. As anyone else nothing can change:
    the process goes on as that user. Returns the user the rest runs as."""
    import pwd

    euid = os.geteuid() if euid is None else euid
    lookup = lookup or pwd.getpwnam
    current = _user_name(euid)
    if not name or name == current or euid != 0:
        return current
    try:
        entry = lookup(name)
    except KeyError:
        raise UserError(f"--as-user {name}: no such user on this host. Fix: provision the host first "
                        "(romram.hailstorms.provision creates hailstorm_user), or set hailstorm_user to an "
                        "existing unprivileged user") from None
    if entry.pw_uid == 0:
        raise UserError(f"--as-user {name}: that user is root (uid 0); the load user must be unprivileged. Fix: set "
                        "hailstorm_user to an unprivileged user")
    (switch or _switch)(entry)
    return entry.pw_name


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _switch(entry) -> None:  # noqa: ANN001 - a pwd.struct_passwd
    os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)


def _work_dir(data_path: str) -> str | None:
    """The run's work directory on this host (data.json's), None when data.json cannot say."""
    try:
        with open(data_path, encoding="utf-8") as handle:
            return json.load(handle).get("work_dir") or None
    except (OSError, ValueError, AttributeError):
        return None  # the run reports the problem with data.json itself


def _failed_before_loading(work_dir: str | None, core: int, reason: str) -> None:
    """The status of a process that ends before it could load anything (the launch reads it at once)."""
    if work_dir:
        from . import PROCESS_START
        from .recorder import write_status_file

        try:
            write_status_file(contract.core_base(work_dir, core), core, contract.FAILED, 0.0, 0, 0, 0.0,
                              reason=f"exited at start-up after {time.time() - PROCESS_START:.1f} s: {reason}")
        except OSError:
            pass


def _log_to_work_dir(work_dir: str | None, core: int) -> None:
    """Every backend keeps each process's output on the host, beside its records: core-N.log in
    the run's work directory (stdout and stderr, so Python's own tracebacks land there too)."""
    if not work_dir:
        return
    try:
        fd = os.open(contract.core_file(work_dir, core, contract.LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    except OSError:
        return
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
    run.add_argument("--env-file", help="a 0600 JSON file of environment variables for the locustfile (secrets)")
    check = sub.add_parser("check", help="import a locustfile with Locust's loader and list its user classes")
    check.add_argument("--locustfile", required=True)
    check.add_argument("--locust-args-json", default="[]",
                       help="hailstorm_locust_args as a JSON list, parsed as the run will (exit 2 when unknown)")
    check.add_argument("--import-timeout", type=float, metavar="SECONDS",
                       help="exit 124 with the reason when the locustfile's import takes longer")
    check.add_argument("--dry-run", action="store_true",
                       help="also run a few task iterations of each HTTP user class against a loopback stub "
                            "and count their requests")
    calibrate = sub.add_parser("calibrate", help="measure the paced requests per CPU-second of one core of this host "
                                                 "against a loopback stub (a few seconds)")
    calibrate.add_argument("--seconds", type=float, default=4.0)
    calibrate.add_argument("--rps", type=float, default=1000.0, help="planned rate of the calibration run")
    calibrate.add_argument("--pace", type=float, default=1.0)
    for command in (check, calibrate):
        command.add_argument("--as-user", metavar="USER",
                             help="as root: run as this unprivileged user (hailstorm_user) before the locustfile "
                                  "or Locust is imported; as another user: go on as that user")
    args = parser.parse_args(argv)
    # Results and work files 0640, directories 0750, whatever the backend's own umask.
    os.umask(0o027)
    work_dir = _work_dir(args.data) if args.command == "run" else None
    if args.command == "run":
        _log_to_work_dir(work_dir, args.core)
    if getattr(args, "env_file", None):
        try:
            load_env_file(args.env_file)
        except EnvFileError as error:
            print(f"hailstorm_runtime: {error}", file=sys.stderr)
            _failed_before_loading(work_dir, getattr(args, "core", 0), str(error))
            return 2
        from .metrics import take_credentials

        take_credentials()  # the remote write's, out of the environment before the locustfile is imported
    try:
        user = run_as(getattr(args, "as_user", None))  # the user the rest runs as
    except (UserError, OSError) as error:
        print(f"hailstorm_runtime: {error}", file=sys.stderr)
        return 2
    # Locust (and gevent's monkey-patching) only from here on.
    try:
        return _command(args, user)
    except RunFailure as failure:  # the one place a failure becomes the exit code
        return failure.say()


def _command(args: argparse.Namespace, user: str) -> int:
    """Run `calibrate`, `check` or `run` (each imports Locust); RunFailure when one cannot do its job."""
    if args.command == "calibrate":
        import logging

        from .calibrate import calibrate as run_calibration

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        print(json.dumps({**run_calibration(args.seconds, args.rps, args.pace), "user": user}))
        return 0
    if args.command == "check":
        from .runner import check

        report = check(args.locustfile, json.loads(args.locust_args_json), args.dry_run, args.import_timeout)
        sys.stdout.flush()
        print(json.dumps({**report, "user": user}))
        return 0
    from .core import Hooks, run

    class Loaded(Hooks):
        """Notes that this process loaded Locust and the locustfile (and so had read the environment file)."""

        done = False

        def loaded(self, core_run: object) -> None:
            self.done = True

    hooks = Loaded()
    try:
        return run(args.data, args.core, hooks)
    finally:
        if hooks.done:
            remove_env_file(args.env_file)


if __name__ == "__main__":
    sys.exit(main())
