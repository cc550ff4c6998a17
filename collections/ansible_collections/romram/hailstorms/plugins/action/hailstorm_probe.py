# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_probe (documentation in plugins/modules/)."""
from __future__ import annotations

import json
import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import clock, interpreters, plan_queries, preflight

# Runs on the host with any Python (2.7 too, so that an old one is reported, not a syntax
# error). Prints one JSON object; reads the clock first and last.
_PROBE = r"""
import json, os, subprocess, sys, time
t0 = time.time()
path = os.path.abspath(sys.argv[1])
names = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
dirs = os.environ.get("PATH", "").split(os.pathsep) + json.loads(sys.argv[3] if len(sys.argv) > 3 else "[]")
ASK = ("import sys\ntry:\n import venv, ensurepip\n ok = 1\nexcept Exception:\n ok = 0\n"
       "print('%d.%d.%d %d' % (sys.version_info[:3] + (ok,)))")
interpreters = []
for name in names:
    found = [name] if name.startswith("/") else [os.path.join(d, name) for d in dirs if d]
    found = [p for p in found if os.path.isfile(p) and os.access(p, os.X_OK)][:1]
    entry = {"name": name, "path": None, "version": None, "venv": False, "error": None}
    if found:
        try:
            child = subprocess.Popen([found[0], "-c", ASK], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = child.communicate()
            version, ok = out.decode().split()
            entry.update(path=found[0], version=version, venv=ok == "1")
        except Exception as error:
            entry["error"] = str(error)[:200]
    interpreters.append(entry)
distro = {}
try:
    for line in open("/etc/os-release"):
        key, sep, value = line.strip().partition("=")
        if key in ("ID", "VERSION_ID", "ID_LIKE", "PRETTY_NAME"):
            distro[key.lower()] = value.strip().strip('"')
except (IOError, OSError):
    pass
probe = path
while not os.path.isdir(probe):
    probe = os.path.dirname(probe)
st = os.statvfs(probe)
try:
    cpu_list = sorted(os.sched_getaffinity(0))
except AttributeError:
    cpu_list = list(range(os.cpu_count() if hasattr(os, "cpu_count") else 1))
cpus = len(cpu_list)
print(json.dumps({
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "version_info": list(sys.version_info[:3]),
    "executable": sys.executable,
    "cpus": cpus,
    "cpu_list": cpu_list,
    "cpu_count": os.cpu_count() if hasattr(os, "cpu_count") else cpus,
    "disk_path": probe,
    "disk_free_bytes": st.f_bavail * st.f_frsize,
    "interpreters": interpreters,
    "distro": distro,
    "time_first": repr(t0),
    "time_last": repr(time.time()),
}))
"""

_DATE = "date +%s.%N"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("python", "path", "samples", "max_offset", "cores", "interpreters"))

    def _timed(self, cmd):
        sent = time.time()
        res = self._low_level_execute_command(cmd, sudoable=False)
        received = time.time()
        return sent, res, received

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        python = args.get("python") or _python_of(self._templar.template(task_vars.get("ansible_python_interpreter")))
        path = args.get("path") or "/"
        try:
            samples = int(args.get("samples", 5))
        except (TypeError, ValueError):
            raise AnsibleActionFail(f"hailstorm_probe: samples must be an integer, got {args.get('samples')!r}")
        if samples < 1:
            raise AnsibleActionFail(f"hailstorm_probe: samples must be at least 1, got {samples}")
        try:
            max_offset = float(args["max_offset"]) if args.get("max_offset") is not None else None
        except (TypeError, ValueError):
            raise AnsibleActionFail(f"hailstorm_probe: max_offset must be a number, got {args.get('max_offset')!r}")

        names = args.get("interpreters") or []
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise AnsibleActionFail(f"hailstorm_probe: interpreters must be a list of names or paths, got {names!r}")
        cmd = " ".join((shlex.quote(python), "-c", shlex.quote(_PROBE), shlex.quote(path),
                        shlex.quote(json.dumps(names)), shlex.quote(json.dumps(list(interpreters.SEARCH_PATH)))))
        sent, res, received = self._timed(cmd)
        if res.get("rc") != 0:
            result.update(failed=True, rc=res.get("rc"), python=None,
                          msg=f"hailstorm_probe: {python} did not run on the host (rc {res.get('rc')}): "
                              f"{to_text(res.get('stderr', '')).strip() or to_text(res.get('stdout', '')).strip()}")
            return result
        try:
            found = json.loads(to_text(res.get("stdout", "")).strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AnsibleActionFail(f"hailstorm_probe: unexpected output of {python}: {res.get('stdout')!r}")
        timings = [clock.sample(sent, float(found["time_first"]), float(found["time_last"]), received)]

        # The cheapest command that reads the clock at sub-second resolution gives the
        # narrowest intervals; python's start-up only widens (never biases) them.
        # With max_offset, up to 4x the samples while the verdict is still open (the interval
        # straddles the limit or is wider than half of it): the least-delay sample narrows it.
        method = "date"
        budget = samples * 4 if max_offset else samples
        attempts = 0
        while attempts < budget + 1:
            attempts += 1
            if len(timings) > samples and not (max_offset and clock.more_samples(
                    clock.estimate(timings), max_offset, len(timings) - 1, budget)):
                break
            sent, res, received = self._timed(_DATE if method == "date" else _python_time(python))
            try:
                first, last = clock.parse_clock_output(to_text(res.get("stdout", "")) if res.get("rc") == 0 else "")
            except ValueError:
                if method == "python":
                    raise AnsibleActionFail(f"hailstorm_probe: cannot read the clock with {python}: {res!r}")
                method = "python"
                continue
            timings.append(clock.sample(sent, first, last, received))
        est = clock.estimate(timings)

        # What one ordinary module task costs on this host (transfer, interpreter start, return):
        # the unit the controller pays per host when it launches the run.
        sent = time.time()
        ping = self._execute_module(module_name="ansible.builtin.ping", module_args={},
                                    task_vars=task_vars)
        module_round_trip = time.time() - sent
        if ping.get("failed"):
            result.update(failed=True, msg=f"hailstorm_probe: a module did not run on the host: {ping.get('msg')}")
            return result

        result.update(
            changed=False,
            python={"executable": found["executable"], "version": found["version"],
                    "version_info": found["version_info"]},
            cpus=found["cpus"],
            cpu_list=found["cpu_list"],
            cpu_count=found["cpu_count"],
            disk={"path": found["disk_path"], "free_bytes": found["disk_free_bytes"]},
            clock={"offset": est.offset, "uncertainty": est.uncertainty, "round_trip": est.round_trip,
                   "samples": est.samples, "consistent": est.consistent, "method": method},
            module_round_trip=module_round_trip,
            interpreters=found.get("interpreters", []),
            distro=found.get("distro", {}),
        )
        try:
            result["usable_cores"], result["core_cpus"] = preflight.probed_cores(result, args.get("cores"))
        except plan_queries.PlanError:
            pass  # a bad hailstorm_cores: the host is not planned, and the verdict names the value and the fix
        return result


def _python_of(interpreter):
    if isinstance(interpreter, str) and interpreter and not interpreter.startswith("auto"):
        return interpreter
    return "python3"


def _python_time(python):
    return f"{shlex.quote(python)} -c 'import time; print(repr(time.time()))'"
