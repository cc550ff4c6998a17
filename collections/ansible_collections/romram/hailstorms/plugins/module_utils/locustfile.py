# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's check of the run's locustfile, before any host is touched, for every backend.

The locustfile is imported by Locust's own loader in a subprocess of the controller's Python
(`python -m hailstorm_runtime check --locustfile PATH`, the runtime the load hosts run), which
prints one JSON report: the user classes, the LoadTestShape classes, Locust's version. This module
builds that command and turns its outcome into one verdict with one message. Every message names
`hailstorm_locustfile`, the path, and what to do.

With `dry_run`, the check also runs a few task iterations of each HTTP user class against a
loopback stub on the controller (nothing reaches the target) and counts their requests:
hailstorm_rps paces task iterations, so a task that sends three requests triples the rate at
the target; `requests_per_iteration` turns the counts into figures and `iteration_warnings`
into a warning when the mean is not one request per iteration.

A LoadTestShape whose tick() depends only on the run time is sampled by the check (the
runtime's shapes.sample) and returned as `shape`; the plan follows its curve exactly
(run_settings.resolve_shaped_settings). One that cannot be sampled is refused with the reason.
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

from ansible_collections.romram.hailstorms.plugins.module_utils import otel
from ansible_collections.romram.hailstorms.plugins.module_utils.contract import NO_USER_CLASS, RUNTIME_SAYS
from ansible_collections.romram.hailstorms.plugins.module_utils.records import split_label
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import RPI_TOLERANCE

IMPORT_TIMEOUT = 30.0  # seconds the locustfile's import may take on the controller (hailstorm_import_timeout)
CHECK_SLACK = 60.0  # seconds beyond that for Locust's own import and the dry run, before the check is given up
TRACEBACK_LINES = 15  # of the import's traceback, shown in the message
_NO_LOCUST = ("No module named 'locust'", "No module named 'gevent'", "No module named hailstorm_runtime")


def check_argv(python: str, locustfile: str, locust_args: Sequence[str] = (), dry_run: bool = False,
               timeout: float = IMPORT_TIMEOUT) -> list[str]:
    """The command, run with PYTHONPATH set to the collection's runtime directory; the runtime
    exits with the reason when the import takes over `timeout` seconds."""
    return [python, "-m", "hailstorm_runtime", "check", "--locustfile", locustfile,
            "--locust-args-json", json.dumps([str(arg) for arg in locust_args]),
            "--import-timeout", f"{timeout:g}"] + (["--dry-run"] if dry_run else [])


def requests_per_iteration(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The dry run's figures: {"mean": requests per task iteration over the classes that ran,
    weighted by their weights (None when none ran), "classes": {name: requests per iteration},
    "unsure": [classes whose dry run raised exceptions or ran no iteration: their figure may be
    off against a stub], "skipped": [classes not dry-run (no HttpUser / FastHttpUser)]};
    None without a dry run."""
    dry = report.get("dry_run")
    if not isinstance(dry, Mapping):
        return None
    weights = report.get("weights") or {}
    classes: dict[str, float] = {}
    unsure: list[str] = []
    for name, row in sorted((dry.get("classes") or {}).items()):
        iterations = int(row.get("iterations") or 0)
        if iterations:
            classes[name] = round(int(row.get("requests") or 0) / iterations, 3)
        if not iterations or int(row.get("exceptions") or 0):
            unsure.append(name)
    total = sum(float(weights.get(name, 1) or 0) for name in classes)
    mean = (sum(float(weights.get(name, 1) or 0) * r for name, r in classes.items()) / total) if total else None
    return {"mean": round(mean, 3) if mean is not None else None, "classes": classes, "unsure": unsure,
            "skipped": sorted(dry.get("skipped") or []), "iterations": int(dry.get("iterations") or 0)}


def preview_line(figures: Mapping[str, Any] | None, rps: float, iterations: int) -> str:
    """The plan preview's line on what the rate and the planned count count (and, after a dry
    run, what they mean in requests)."""
    head = f"{rps:g} rps and {iterations} requests count task iterations (each @task call is one)"
    if not figures or figures.get("mean") is None:
        return head + "; a task that sends N requests sends N x as many"
    mean = float(figures["mean"])
    return (head + f"; dry run: {mean:.2f} requests per iteration on average, so about {rps * mean:.4g} rps "
            f"and {iterations * mean:.0f} requests at the target")


def iteration_warnings(locustfile: str, figures: Mapping[str, Any] | None, rps: float | None = None) -> list[str]:
    """A warning when the dry run's mean is not one request per task iteration (the planned rate
    counts iterations), with the hailstorm_rps that would give the planned rate in requests."""
    if not figures or figures.get("mean") is None or abs(figures["mean"] - 1.0) <= RPI_TOLERANCE:
        return []
    mean = float(figures["mean"])
    per_class = ", ".join(f"{name} {r:.2f}" for name, r in figures["classes"].items())
    unsure = figures.get("unsure") or []
    caveat = (f" (the dry run of {', '.join(unsure)} raised exceptions or ran no iteration against the stub: "
              f"the figure may be off)" if unsure else "")
    if mean == 0:
        return [f"hailstorm_locustfile: a dry run of {locustfile} against a loopback stub sent no request in its "
                f"task iterations ({per_class}){caveat}; hailstorm_rps paces task iterations, so this run may send "
                f"nothing: check the tasks (tags, conditions, clients other than self.client)"]
    fix = (f"set hailstorm_rps to {rps / mean:g} for {rps:g} requests per second, " if rps
           else "divide hailstorm_rps by that mean ")
    return [f"hailstorm_locustfile: a dry run of {locustfile} against a loopback stub sent {mean:.2f} requests per "
            f"task iteration on average ({per_class}){caveat}; hailstorm_rps paces task iterations, so the target "
            f"will get about {mean:.2f} x hailstorm_rps requests per second. To plan requests per second, {fix}"
            f"or make each task send one request"]


# Locust's options that a planned run replaces or cannot honour, by the parser's dest:
# (the arguments, what takes their place). Refused with that fix (conflicting_locust_args).
# Honoured: --tags, --exclude-tags, positional user class names (only those classes run, as with
# `locust -f locustfile.py A B`) and the locustfile's own arguments. Allowed as they change
# nothing a planned run does: --headless (a run is always headless), --skip-log-setup, --profile.
# --otel is honoured (runtime/hailstorm_runtime/otel.py) when hailstorm_pip_packages has its packages (otel.py).
_PLAN = "the plan"
_CORES = ("the load hosts (the inventory's load_hosts group) and hailstorm_cores: each usable core of each load "
          "host runs its own Locust process on its share of the plan")
_NO_UI = "nothing: a planned run has no web UI; follow it with the progress lines, then results/<run id>/report.html"
_RESULTS = ("the run's results, written for every run: results/<run id>/ has summary.json, report.html and "
            "Locust's CSV files (locust_stats.csv, ...; hailstorm_jtl=true adds results.jtl)")
_PRINTS = "nothing: it makes Locust print and exit; run `locust -f <locustfile> --list` (or --help) yourself"
LOCUST_ARGS_REPLACED: dict[str, tuple[str, str]] = {
    "num_users": ("-u/--users", "the plan's clients: hailstorm_rps x hailstorm_pace (or hailstorm_clients)"),
    "spawn_rate": ("-r/--spawn-rate", "hailstorm_rampup: the clients start evenly over it"),
    "run_time": ("-t/--run-time", "hailstorm_rampup, hailstorm_constant and hailstorm_rampdown"),
    "host": ("-H/--host", "hailstorm_target"),
    "locustfile": ("-f/--locustfile", "hailstorm_locustfile"),
    "config": ("--config", "the arguments themselves in hailstorm_locust_args (a config file is not read on the "
                           "load hosts)"),
    "config_users": ("--config-users", "the User classes' own attributes (weight, fixed_count, ...) in the locustfile"),
    "stop_timeout": ("-s/--stop-timeout", "the plan's stop slots: each client stops at its own, and "
                                          "hailstorm_deadline_grace bounds the end"),
    "equal_weights": ("--equal-weights", "the task weights in the locustfile"),
    "exit_code_on_error": ("--exit-code-on-error", "hailstorm_exit_code_on_error (the same meaning: the exit code "
                                                   "of a run with failures or exceptions; 0 lets them pass)"),
    "reset_stats": ("--reset-stats", "hailstorm_thresholds_phase: the figures of the constant phase, apart from "
                                     "the ramp-up"),
    **{dest: (arg, _CORES) for dest, arg in (
        ("master", "--master"), ("worker", "--worker"), ("processes", "--processes"),
        ("master_host", "--master-host"), ("master_port", "--master-port"),
        ("master_bind_host", "--master-bind-host"), ("master_bind_port", "--master-bind-port"),
        ("expect_workers", "--expect-workers"), ("expect_workers_max_wait", "--expect-workers-max-wait"),
        ("enable_rebalancing", "--enable-rebalancing"))},
    **{dest: (arg, _NO_UI) for dest, arg in (
        ("web_host", "--web-host"), ("web_port", "-P/--web-port"), ("web_login", "--web-login"),
        ("web_auth", "--web-auth"), ("web_base_path", "--web-base-path"), ("tls_cert", "--tls-cert"),
        ("tls_key", "--tls-key"), ("class_picker", "--class-picker"), ("autostart", "--autostart"),
        ("autoquit", "--autoquit"), ("headful", "--headful"), ("legacy_ui", "--legacy-ui"),
        ("web_host_display_name", "--web-host-display-name"), ("build_path", "--build-path"))},
    **{dest: (arg, _RESULTS) for dest, arg in (
        ("csv_prefix", "--csv"), ("stats_history_enabled", "--csv-full-history"), ("html_file", "--html"),
        ("json", "--json"), ("json_file", "--json-file"), ("print_stats", "--print-stats"),
        ("only_summary", "--only-summary"), ("logfile", "--logfile"), ("loglevel", "-L/--loglevel"))},
    **{dest: (arg, _PRINTS) for dest, arg in (
        ("help", "-h/--help or -V/--version"), ("list_commands", "-l/--list"),
        ("show_task_ratio", "--show-task-ratio"), ("show_task_ratio_json", "--show-task-ratio-json"))},
}


def conflicting_locust_args(given: Mapping[str, Any] | None) -> str | None:
    """One message naming each Locust option in hailstorm_locust_args that the plan replaces or a
    planned run cannot honour (LOCUST_ARGS_REPLACED), with what to set instead; None when there is
    none. `given` is the check's report of the options the arguments set ({dest: value})."""
    found = [(dest, value) for dest, value in (given or {}).items() if dest in LOCUST_ARGS_REPLACED]
    if not found:
        return None
    parts = []
    for dest, value in found:
        arg, instead = LOCUST_ARGS_REPLACED[dest]
        shown = "" if value is True else f" (given {value!r})"
        parts.append(f"{arg}{shown} -> {instead}")
    return ("hailstorm_locust_args: the plan sets these, or a planned run cannot honour them: "
            + "; ".join(parts) + ". Fix: remove them from hailstorm_locust_args (and set the settings named)")


def threshold_labels_unseen(threshold_labels: Sequence[str], dry: Mapping[str, Any] | None,
                            locustfile: str) -> tuple[str | None, list[str]]:
    """Label thresholds (hailstorm_thresholds labels:) against the labels the dry run saw: a label
    matches a request label ("GET /x") or its name alone ("/x"), as the verdict after the run does.
    (refusal, warnings): a label that matches nothing is refused when the dry run was exhaustive
    (every user class dry-run, every one of their tasks ran, no exception), since the run's
    verdict would fail it; otherwise it is a warning (a task the dry run did not reach may send
    it). Nothing to say without a dry run."""
    if not isinstance(dry, Mapping) or not threshold_labels:
        return None, []
    seen = list(dry.get("labels") or [])
    names = {split_label(label)[1] for label in seen}
    unseen = [label for label in threshold_labels if label not in seen and label not in names]
    if not unseen:
        return None, []
    classes = dry.get("classes") or {}
    gaps = ([f"{', '.join(dry['skipped'])} not dry-run (no HttpUser / FastHttpUser)"] if dry.get("skipped") else []) + [
        f"{name} raised exceptions or did not run each of its tasks (or a TaskSet's)" for name, row in sorted(classes.items())
        if int(row.get("exceptions") or 0) or not row.get("all_tasks") or not int(row.get("iterations") or 0)]
    what = (f"hailstorm_thresholds.labels: {', '.join(repr(label) for label in unseen)} "
            f"{'matches' if len(unseen) == 1 else 'match'} no request of a dry run of {locustfile} "
            f"(labels seen: {', '.join(seen) or 'none'}; a label is \"METHOD name\" or the name alone)")
    if gaps:
        return None, [f"{what}; the dry run may have missed it ({'; '.join(gaps)}): check the label, else its "
                      f"threshold fails after the run"]
    return (f"{what}, though the dry run ran every task of every user class: the run's verdict would fail "
            f"{'it' if len(unseen) == 1 else 'them'}. Fix: give a label seen above, or remove the threshold"), []


def bad_locust_args(locust_args: Any) -> str | None:
    """A message when hailstorm_locust_args is not a list of strings."""
    if not isinstance(locust_args, (list, tuple)) or not all(isinstance(a, (str, int, float)) for a in locust_args):
        return (f"hailstorm_locust_args: expected a list of Locust command line arguments, such as "
                f"['--tags', 'checkout'], got {locust_args!r}")
    return None


def check_env(base: Mapping[str, str], runtime_dir: str, environment: Mapping[str, Any] | None) -> dict[str, str]:
    """The subprocess's environment: the controller's, the run's hailstorm_environment (a
    locustfile may read it at import), and the runtime on PYTHONPATH."""
    env = dict(base)
    env.update({str(key): str(value) for key, value in (environment or {}).items()})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (runtime_dir, base.get("PYTHONPATH", "")) if p)
    return env


def before_import(locustfile: Any, cwd: str) -> str | None:
    """A message when the path alone is wrong (unset, missing); None when it can be imported."""
    if locustfile is None or str(locustfile).strip() == "":
        return ("hailstorm_locustfile: not set; give your locustfile in hailstorm_profiles "
                "(locustfile: path/to/locustfile.py) or as -e hailstorm_locustfile=path/to/locustfile.py")
    path = str(locustfile)
    full = os.path.join(cwd, path)
    if not os.path.exists(full):
        where = "" if os.path.isabs(path) else f" (a relative path is read from {cwd})"
        return (f"hailstorm_locustfile: {path} does not exist on the controller{where}; "
                f"give the path of your locustfile, e.g. -e hailstorm_locustfile=$PWD/locustfile.py")
    return None


def _tail(text: str, lines: int = TRACEBACK_LINES) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def verdict(locustfile: str, python: str, requirements: str, rc: int | None, stdout: str, stderr: str,
            locust_args: Sequence[str] = (), rps: float | None = None,
            threshold_labels: Sequence[str] = (), pip_packages: Sequence[str] | None = None) -> dict[str, Any]:
    """The check's outcome as a task result: {'failed': bool, 'msg': str, ...report}; with
    `pip_packages` (hailstorm_pip_packages), --otel is refused when they lack its packages."""
    last = _tail(stderr, 1)
    lines = (stderr or "").strip().splitlines()
    argparse_error = next((k for k, line in enumerate(lines) if ": error: " in line), None)
    if rc == 2 and argparse_error is not None:  # Locust's parser, on hailstorm_locust_args
        why = " ".join([lines[argparse_error].split(": error: ", 1)[1], *lines[argparse_error + 1:]]).strip()
        return {"failed": True, "msg": (
            f"hailstorm_locust_args: {list(locust_args)!r} are not all arguments of Locust or of {locustfile} "
            f"({why}); give arguments that `locust -f {locustfile} --help` lists")}
    if rc != 0:
        if any(marker in (stderr or "") for marker in _NO_LOCUST):
            return {"failed": True, "msg": (
                f"hailstorm_locustfile: cannot check {locustfile} on the controller, its Python {python} has no "
                f"Locust ({last}); install the runtime's pinned requirements there: "
                f"{python} -m pip install -r {requirements}")}
        if last.startswith(RUNTIME_SAYS):  # sys.exit at import, an import that did not finish in time
            reason = last[len(RUNTIME_SAYS):]  # names its variable when it is not the locustfile's
            return {"failed": True, "msg": reason if reason.startswith("hailstorm_") else
                    f"hailstorm_locustfile: {locustfile}: {reason}"}
        if last == NO_USER_CLASS:
            return {"failed": True, "msg": (
                f"hailstorm_locustfile: {locustfile} defines no User class; a locustfile needs at least one "
                f"class derived from locust.HttpUser, FastHttpUser or User, with @task methods or a tasks list")}
        return {"failed": True, "msg": (
            f"hailstorm_locustfile: {locustfile} does not import with Locust (exit {rc}): {last}; fix the "
            f"locustfile (`{python} -m locust -f {locustfile} --list` shows the same error). "
            f"Traceback:\n{_tail(stderr)}")}
    try:
        report = json.loads((stdout or "").strip().splitlines()[-1])
        users, shapes = list(report["user_classes"]), list(report.get("shape_classes") or [])
    except (IndexError, ValueError, KeyError, TypeError):
        return {"failed": True, "msg": (
            f"hailstorm_locustfile: the check of {locustfile} printed no report (stdout: {_tail(stdout, 3)!r}); "
            f"does the locustfile print to stdout or exit at import? Remove that, or guard it with "
            f"`if __name__ == '__main__':`")}
    conflict = conflicting_locust_args(report.get("locust_options")) or (
        None if pip_packages is None else otel.refusal(report.get("locust_options"), pip_packages))
    if conflict:
        return {"failed": True, "user_classes": users, "msg": conflict}
    shape = report.get("shape") if shapes else None
    refusal = shape_refusal(locustfile, shapes, shape, users, locust_args, report.get("all_user_classes") or ())
    if refusal:
        return {"failed": True, "user_classes": users, "shape_classes": shapes, "msg": refusal}
    selected, users = users, shape_users(report)
    figures = requests_per_iteration(_of_shape(report, users))
    refusal, label_warnings = threshold_labels_unseen(list(threshold_labels), report.get("dry_run"), locustfile)
    if refusal:
        return {"failed": True, "user_classes": users, "msg": refusal}
    per_iteration = ("" if not figures or figures["mean"] is None else
                     f"; a dry run sent {figures['mean']:.2f} requests per task iteration on average")
    shaped = "" if not shape else (f"; its LoadTestShape {shape['name']} was sampled ({len(shape['points'])} "
                                   f"breakpoints, {shape['duration']:g} s) and is planned exactly")
    return {"failed": False, "changed": False, "user_classes": users, "shape_classes": shapes,
            **({"shape": shape} if shape else {}),
            "locust": report.get("locust"), "import_seconds": report.get("import_seconds"),
            "requests_per_iteration": figures,
            "warnings": iteration_warnings(locustfile, figures, rps) + label_warnings,
            "msg": f"{locustfile}: user classes {', '.join(users)}{_of_all(selected, report, users)} "
                   f"(Locust {report.get('locust')}){per_iteration}{shaped}"}


def shape_refusal(locustfile: str, shapes: Sequence[str], shape: Mapping[str, Any] | None,
                  users: Sequence[str], locust_args: Sequence[str] = (), every: Sequence[str] = ()) -> str | None:
    """Why the locustfile's LoadTestShape cannot be planned (None: it can): the check found none
    it could sample, sampling it failed (the runtime's message says what to write instead, such
    as user_classes that change between ticks), or its tick() names no user class or one that
    the run does not use. A fixed list of the run's classes is planned: the run uses just those
    (`shape_users`), spread by their weights, as Locust spawns them."""
    if not shapes:
        return None
    if not shape or not shape.get("points"):
        error = (shape or {}).get("error") or "the check could not sample it"
        return (f"hailstorm_locustfile: {locustfile} defines the LoadTestShape {', '.join(shapes)}, which cannot be "
                f"planned: {error}")
    if not any(float(users_) > 0 for _t, users_ in shape["points"]):
        return (f"hailstorm_locustfile: the LoadTestShape {shape['name']} in {locustfile} asks for no users before "
                f"its tick() returns None, so the run would send nothing; return (user_count, spawn_rate) with "
                f"user_count > 0 from tick() for a while first (Locust's stages example)")
    wanted = shape.get("user_classes")
    if wanted is None:
        return None
    if not wanted:
        return (f"hailstorm_locustfile: the LoadTestShape {shape['name']} in {locustfile} returns an empty "
                f"user_classes from tick(), so no user would run; return (user_count, spawn_rate) to run all of "
                f"{', '.join(users)}, or name some of them, e.g. (user_count, spawn_rate, [{users[0]}])")
    missing = [name for name in wanted if name not in users]
    unknown = [name for name in missing if name not in (every or users)]
    if unknown:
        return (f"hailstorm_locustfile: the LoadTestShape {shape['name']} in {locustfile} runs the user classes "
                f"{', '.join(wanted)}, but {', '.join(unknown)} is not a user class Locust runs from it (its user "
                f"classes are {', '.join(every or users)}); return some of those from tick()")
    if missing:
        return (f"hailstorm_locustfile: the LoadTestShape {shape['name']} in {locustfile} runs the user classes "
                f"{', '.join(wanted)} but the run uses only {', '.join(users)} (hailstorm_locust_args="
                f"{list(locust_args)!r}); name {', '.join(missing)} there too (e.g. hailstorm_locust_args: "
                f"{sorted(set(users) | set(wanted))!r}), or name none there to run every class")
    return None


def shape_users(report: Mapping[str, Any]) -> list[str]:
    """The user classes the run plans: a LoadTestShape's fixed user_classes when its tick()
    names some (a subset of the classes hailstorm_locust_args selects; `shape_refusal` checked),
    else the selected classes."""
    wanted = (report.get("shape") or {}).get("user_classes") if report.get("shape_classes") else None
    return sorted(wanted) if wanted else list(report["user_classes"])


def _of_shape(report: Mapping[str, Any], users: Sequence[str]) -> dict[str, Any]:
    """The report narrowed to the shape's classes (`shape_users`), so the dry run's mean weighs
    only the classes that run."""
    dry = report.get("dry_run")
    if not isinstance(dry, Mapping) or sorted(users) == sorted(report["user_classes"]):
        return dict(report)
    classes = {name: row for name, row in (dry.get("classes") or {}).items() if name in users}
    skipped = [name for name in dry.get("skipped") or [] if name in users]
    return {**report, "dry_run": {**dry, "classes": classes, "skipped": skipped}}


def _of_all(selected: Sequence[str], report: Mapping[str, Any], users: Sequence[str] = ()) -> str:
    """' (named in hailstorm_locust_args, of A, B, C)' when the arguments select some classes;
    ' (named by the LoadTestShape S, of A, B)' when the shape's tick() narrows them to `users`."""
    every = list(report.get("all_user_classes") or selected)
    if users and sorted(users) != sorted(selected):
        return f" (named by the LoadTestShape {(report.get('shape') or {}).get('name')}, of {', '.join(selected)})"
    return "" if sorted(every) == sorted(selected) else f" (named in hailstorm_locust_args, of {', '.join(every)})"


def import_timeout(value: Any) -> float | str:
    """hailstorm_import_timeout in seconds (IMPORT_TIMEOUT when unset), or the message refusing it."""
    if value is None or value == "":
        return IMPORT_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not 0 < seconds < 86400:
        return (f"hailstorm_import_timeout: expected the seconds the locustfile's import may take on the controller "
                f"(over 0), got {value!r}; for example hailstorm_import_timeout={IMPORT_TIMEOUT * 2:g}")
    return seconds


def timed_out(locustfile: str, timeout: float) -> dict[str, Any]:
    """The check ran over `timeout` seconds in all, though the locustfile's import ended in time:
    a dry run's task that never yields (the dry run's own limit cannot stop it)."""
    return {"failed": True, "msg": (
        f"hailstorm_locustfile: the check of {locustfile} on the controller (its import and a dry run of its "
        f"tasks) did not end within {timeout:g} s; does a task loop without yielding? Fix the task, or skip the "
        f"dry run with hailstorm_dry_run=false")}
