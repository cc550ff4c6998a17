# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The results pipeline: a run's results directory in, its summary and its files out.

    summary, outputs = build(run_dir, plan, checked)   # nothing written yet
    write(run_dir, outputs)                            # summary.json, junit.xml, the CSVs, report.html, results.jtl

`build` runs STEPS in order over one Build (what the steps share): the sources to merge (each
host's host.jsonl, else its core-N.jsonl files), the merge, the summary (with live metrics, the
run's clock and the service's metrics), the run state, the thresholds and the exit code, then the
files' text (`outputs`: {file name: text}); the thresholds' step also compares the run with its
baseline (baseline.attach: the histograms block, the comparison, the relative thresholds). A step
is a function of the Build; a new one goes into the list where it belongs, or a caller passes its
own `steps`. Pure Python apart from reading the results directory (and the service's metrics when
hailstorm_prometheus_url is set); the hailstorm_results module is its thin wrapper.
"""
from __future__ import annotations

import errno
import filecmp
import glob
import json
import os
from typing import Any, Callable, Iterable, Mapping

from ansible_collections.romram.hailstorms.plugins.module_utils import (
    baseline, compare, contract, exports, grafana, junit, live_metrics, report, service_metrics, thresholds)
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import HOST_FILE, run_sources
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import (
    EXIT_CODE_ON_ERROR, exit_code, run_state, state_lines)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import (
    constant_window, merge, phase_figures, summarize, summary_lines)

# what each file of the results directory holds (the report lists them)
DESCRIBED = {
    contract.CSV_PREFIX + "_stats.csv": "Locust CSV layout: per label and aggregated",
    contract.CSV_PREFIX + "_stats_history.csv": "Locust CSV layout: per second",
    contract.CSV_PREFIX + "_failures.csv": "Locust CSV layout: failures by label and kind",
    contract.CSV_PREFIX + "_exceptions.csv": "Locust CSV layout: the locustfile's exceptions",
    contract.CSV_PREFIX + contract.CSV_SCHEDULE_SUFFIX: "Locust's stats layout, response times from schedule "
                                                        "(from each request's slot, queueing included)",
    contract.JUNIT_FILE: "JUnit XML: one testcase per run-state check and per threshold",
}


class ResultsError(Exception):
    """The results cannot be built or written: the message says where, why and how to go on;
    `details` are what the module returns beside it (files, written)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class Build:
    """What the steps of one build share: their inputs, then what each step adds."""

    def __init__(self, run_dir: str, plan: Mapping[str, Any], checked: Mapping[str, Any], *,
                 sources: list | None = None, warnings: list[str] | None = None, on_error: int | None = None,
                 prometheus_url: str = "", queries: Mapping[str, Any] | None = None,
                 summary_file: str = contract.SUMMARY_FILE, baseline: Any = None,
                 results_dir: str | None = None, query_headers: Mapping[str, str] | None = None,
                 grafana_url: str = "") -> None:
        self.run_dir, self.plan, self.checked = run_dir, plan, checked
        self.sources = sources
        self.warnings = warnings if warnings is not None else []  # lines left out or made safe, named
        self.on_error = int(plan.get("exit_code_on_error", EXIT_CODE_ON_ERROR)) if on_error is None else on_error
        self.prometheus_url, self.queries, self.summary_file = prometheus_url, queries or {}, summary_file
        self.baseline, self.results_dir = baseline, results_dir  # hailstorm_baseline, hailstorm_results_dir
        # the service metrics queries' headers (live_metrics.query_headers: auth, tenant), never logged
        self.query_headers, self.grafana_url = dict(query_headers or {}), grafana_url
        self.merged: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.service: Any = None
        self.figures: dict[str, Any] = {}
        self.verdicts: list[dict[str, Any]] = []
        self.outputs: dict[str, str] = {}


# --- the steps, in order --------------------------------------------------------------------

def read_sources(run: Build) -> None:
    """The sources to merge, unless given (fetched_sources)."""
    if run.sources is None:
        run.sources = fetched_sources(run.run_dir, run.warnings)


def merge_records(run: Build) -> None:
    """Every core's records summed exactly (summary.merge)."""
    run.merged = merge(run.sources, run.warnings)


def summarize_run(run: Build) -> None:
    """The summary, with the live metrics' counts, the run's clock and the service's metrics."""
    run.summary = summarize(run.merged, run.plan)
    run.summary["live_metrics"] = live_metrics.live_metrics_figures(run.summary["cores"])
    run.summary["clock"] = exports.run_clock(run.merged)
    run.service = fetch_service_metrics(run.prometheus_url, run.queries, run.merged, run.plan, run.query_headers)
    run.summary["grafana"] = live_metrics.grafana_link(
        run.grafana_url, str(run.plan.get("run_id") or os.path.basename(run.run_dir)), run.summary["clock"])
    run.summary["service_metrics"] = service_metrics.summary_figures(run.service)


def judge_state(run: Build) -> None:
    """The run state (run_state.run_state), knowing whether the controller aborted the run."""
    abort = read_abort(run.run_dir)
    if abort:
        run.summary["abort"] = abort
    run.summary.update(run_state(run.summary, run.plan, thresholds.allowed_failures(run.checked), run.on_error,
                                 abort))


def judge_thresholds(run: Build) -> None:
    """The thresholds over their phase, and the exit code (run state, thresholds, locustfile)."""
    run.figures = phase_figures(run.merged, run.plan, run.checked["phase"])
    run.verdicts = thresholds.evaluate(run.checked, run.figures)
    try:  # the histograms block, the comparison with the baseline and the relative thresholds' verdicts
        run.verdicts += baseline.attach(run.summary, run.merged, run.plan, run.checked, run.run_dir, run.baseline,
                                        run.results_dir)
    except compare.CompareError as exc:
        raise ResultsError(f"hailstorm_results: {exc}") from exc
    broken = thresholds.broken(run.verdicts)
    run.summary["thresholds"] = {"phase": run.checked["phase"], "over": run.figures["description"],
                                 "passed": not broken, "verdicts": run.verdicts}
    locustfile_code = max([int(core.get("locustfile_exit_code") or 0) for core in run.summary["cores"]] or [0])
    run.summary["exit_code_on_error"] = run.on_error
    run.summary["exit_code"] = exit_code(run.summary["state"], bool(broken), run.on_error, locustfile_code)


def render_files(run: Build) -> None:
    """The files' text: the summary (JSON), junit.xml, the CSVs and report.html (listing them)."""
    outputs = {run.summary_file: json.dumps(run.summary, indent=1, sort_keys=True) + "\n",
               contract.JUNIT_FILE: junit.junit_xml(run.summary, str(run.plan.get("run_id")
                                                                     or os.path.basename(run.run_dir)))}
    for suffix, text in exports.locust_csv(run.merged).items():
        outputs[contract.CSV_PREFIX + suffix] = text
    described = {run.summary_file: "the merged figures (JSON)", **DESCRIBED}
    if jtl_files(run.run_dir):
        described[contract.JTL_FILE] = "every request, JMeter JTL columns, all cores merged by time"
    if run.queries:
        outputs[grafana.DASHBOARD_FILE] = json.dumps(grafana.dashboard(run.queries), indent=1) + "\n"
        described[grafana.DASHBOARD_FILE] = ("the Grafana dashboard with a panel per hailstorm_report_queries "
                                             "query (import it in Grafana)")
    described[contract.REPORT_FILE] = "this report"
    outputs[contract.REPORT_FILE] = report.render(
        run.merged, run.summary, run.plan, run.verdicts, run.figures["description"] if run.verdicts else None,
        described, clock_offsets(run.run_dir, run.plan), run.service)
    run.outputs = outputs


Step = Callable[[Build], None]
STEPS: tuple[Step, ...] = (read_sources, merge_records, summarize_run, judge_state, judge_thresholds, render_files)


def build(run_dir: str, plan: Mapping[str, Any], checked: Mapping[str, Any], steps: Iterable[Step] = STEPS,
          **options: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(summary, outputs) of a run's results directory: `steps` in order over one Build (options:
    Build's). `checked` is thresholds.check's (chosen_thresholds). Writes nothing (write does).
    ResultsError when the results cannot be read or merged."""
    run = Build(run_dir, plan, checked, **options)
    try:
        for step in steps:
            step(run)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"hailstorm_results: cannot merge {run_dir}: {exc}",
                           files=merged_files(run_dir, run.sources or [])) from exc
    return run.summary, run.outputs


# --- around the steps -------------------------------------------------------------------------

def fetched_sources(run_dir: str, warnings: list[str]) -> list[Any]:
    """What to merge in the results directory (hostfile.run_sources: each host's host.jsonl, else
    its core-N.jsonl files), the host files' lines left out or made safe named in `warnings`.
    ResultsError when it cannot be read or holds nothing to merge."""
    try:
        sources = run_sources(run_dir, warnings)
    except OSError as exc:
        raise ResultsError(f"hailstorm_results: cannot read the fetched results in {run_dir}: {exc}") from exc
    if not sources:
        raise ResultsError(f"hailstorm_results: no <host>/{HOST_FILE} or <host>/core-*.jsonl files under "
                           f"{run_dir}; did the collect role fetch the load hosts' results?", files=[])
    return sources


def chosen_thresholds(plan: Mapping[str, Any], given: Any, phase: str | None) -> dict[str, Any]:
    """The thresholds to judge, checked: `given` (hailstorm_thresholds) over `phase`, else those the
    plan recorded (over `phase` when given). thresholds.ThresholdError for bad ones."""
    recorded = plan.get("thresholds") or {}
    if given is None:
        if phase and recorded:
            return dict(recorded, phase=phase)
        return recorded or thresholds.check({}, phase or "constant")
    return thresholds.check(given, phase or recorded.get("phase") or "constant")


def merged_files(run_dir: str, sources: Iterable[Any]) -> list[str]:
    """The files a merge of `sources` (run_sources) read: each host's host.jsonl, and the raw
    core-N.jsonl files of the hosts without one."""
    return sorted(glob.glob(os.path.join(run_dir, "*", HOST_FILE))) + [src for src in sources if isinstance(src, str)]


def jtl_files(run_dir: str) -> list[str]:
    """Every core's JTL file fetched (hailstorm_jtl)."""
    return sorted(glob.glob(os.path.join(run_dir, "*", contract.core_pattern(contract.JTL))))


def read_abort(run_dir: str) -> Any:
    """What the controller recorded when it stopped the run on an abort threshold (ABORT_FILE), or None."""
    try:
        with open(os.path.join(run_dir, contract.ABORT_FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def clock_offsets(run_dir: str, plan: Mapping[str, Any]) -> dict[str, Any]:
    """Per host, the clock offset preflight measured, from the host's fetched data.json (if it has one)."""
    offsets = {}
    for host in plan.get("hosts") or {}:
        try:
            with open(os.path.join(run_dir, host, contract.DATA_FILE), encoding="utf-8") as handle:
                offsets[host] = json.load(handle).get("clock_offset")
        except (OSError, ValueError, AttributeError):
            offsets[host] = None
    return offsets


def fetch_service_metrics(url: str, queries: Mapping[str, Any], merged: Mapping[str, Any],
                          plan: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    """The service's metrics over the run window (service_metrics.fetch), or None when off or
    when the records carry no start time."""
    start = exports.start_time(merged)
    if not url or not queries or start is None:
        return None
    seconds = [int(s) for s in merged.get("seconds", {})] + [int(s) for s in merged.get("active", {})]
    end = start + max(seconds + [int(float(plan.get("duration") or 0)) - 1]) + 1
    return service_metrics.fetch(url, queries, start, end, constant_window(plan), headers=headers)


def write_text(path: str, text: str) -> bool:
    """Write `text` to `path` atomically unless it holds it already; returns whether it changed."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    tmp = path + ".tmp"
    try:  # whole or not at all; a text the merge missed is escaped, never a reason to lose the results
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return True


def write(run_dir: str, outputs: Mapping[str, str]) -> tuple[bool, list[str]]:
    """Write `outputs` in the results directory, then the merged results.jtl when the cores wrote
    JTL files: (whether any file changed, the files written). ResultsError (a full disk) naming
    the directory, what is kept and how to merge again; no partial file is left."""
    changed, written = False, []
    try:
        for name, text in outputs.items():
            changed = write_text(os.path.join(run_dir, name), text) or changed
            written.append(name)
        jtl = jtl_files(run_dir)
        if jtl:
            tmp, dest = os.path.join(run_dir, contract.JTL_FILE + ".new"), os.path.join(run_dir, contract.JTL_FILE)
            exports.merge_jtl(jtl, tmp)
            if os.path.exists(dest) and filecmp.cmp(tmp, dest, shallow=False):
                os.remove(tmp)
            else:
                os.replace(tmp, dest)
                changed = True
            written.append(contract.JTL_FILE)
    except OSError as exc:  # a full disk: say where, what is kept and how to merge again
        raise ResultsError(cannot_write(run_dir, exc, written), written=written) from exc
    return changed, written


def result_lines(run_dir: str, summary: Mapping[str, Any]) -> list[str]:
    """What the collect role prints: the summary's lines, the live metrics, the thresholds, the
    report's path, the run state and the exit code with its meaning."""
    lines = [report.verdict_line(summary)] + summary_lines(summary)  # the verdict opens and ends the lines
    if summary.get(compare.COMPARISON):
        lines.extend(compare.comparison_lines(summary[compare.COMPARISON]))
    live_line = live_metrics.live_metrics_line(summary["live_metrics"])
    if live_line:
        lines.append(live_line)
    judged = summary["thresholds"]
    verdicts = judged["verdicts"]
    broken = thresholds.broken(verdicts)
    if verdicts:
        lines.append("thresholds over the %s: %s" % (
            judged["over"], "%d of %d broken" % (len(broken), len(verdicts)) if broken
            else "all %d met" % len(verdicts)))
        lines.extend("threshold broken: " + message for message in broken)
    lines.append("report: " + os.path.join(run_dir, contract.REPORT_FILE))
    lines.extend(state_lines(summary))
    if summary["exit_code"]:
        meaning = ("run state %s" % summary["state"] if summary["state"] != "completed"
                   else "%d threshold(s) broken" % len(broken))
        lines.append("exit code %d (%s)" % (summary["exit_code"], meaning))
    lines.append(report.verdict_line(summary))
    return lines


def disk_state(path: str, exc: OSError) -> tuple[str, str]:
    """(free space at `path`, " (the disk is full)" when `exc` says so, else "") for the messages below."""
    try:
        stats = os.statvfs(path)
        free = "%d KiB free there" % (stats.f_bavail * stats.f_frsize // 1024)
    except OSError:
        free = "free space unknown"
    return free, " (the disk is full)" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""


def cannot_write(path: str, exc: OSError, written: list[str]) -> str:
    """What a user reads when the controller cannot write the merged results (a full disk)."""
    free, full = disk_state(path, exc)
    for name in os.listdir(path):  # a partial file of this merge is not a result
        if name.endswith((".tmp", ".new")):
            os.remove(os.path.join(path, name))
    kept = sorted(name for name in os.listdir(path))
    return ("hailstorm_results: cannot write the merged results in %s: %s%s, %s. Kept: %s (written now: %s); the "
            "records also stay on the load hosts. Free disk space there, then merge again with ansible-playbook "
            "playbooks/collect.yml -i <your inventory> -e hailstorm_run_id=%s -e hailstorm_results_dir=%s"
            % (path, exc.strerror or exc, full, free, ", ".join(kept) or "nothing", ", ".join(written) or "nothing",
               os.path.basename(path.rstrip("/")), os.path.dirname(path.rstrip("/"))))


def cannot_unpack(path: str, exc: OSError) -> str:
    """What a user reads when the controller cannot unpack the logs and data.json of the fetched
    host files (a full disk): the file, the cause, the free space and the command to run again."""
    where = getattr(exc, "filename", None) or path
    free, full = disk_state(path, exc)
    return ("hailstorm_results: cannot unpack the load hosts' logs from their %s into %s: %s%s, %s (at %s). The "
            "fetched %s files are kept, the records also stay on the load hosts. Free disk space there, then run "
            "again: ansible-playbook playbooks/collect.yml -i <your inventory> -e hailstorm_run_id=%s "
            "-e hailstorm_results_dir=%s"
            % (HOST_FILE, path, exc.strerror or exc, full, free, where, HOST_FILE,
               os.path.basename(path.rstrip("/")), os.path.dirname(path.rstrip("/"))))
