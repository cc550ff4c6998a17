#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hailstorm_results
short_description: Merge the per-core results of a hailstorms run, summarize, judge the thresholds, write the report
version_added: 1.0.0
description:
  - Reads every C(<host>/core-*.jsonl) file under O(path) (the per-core recordings fetched from
    the load hosts), merges them exactly (per-second, per-label deltas and latency histograms
    are summed, never averaged) and writes C(<path>/summary.json).
  - Also writes the results in Locust's CSV layout (C(locust_stats.csv), C(locust_stats_history.csv),
    C(locust_failures.csv), C(locust_exceptions.csv)), a merged C(results.jtl) when the cores wrote
    JTL files, and the self-contained C(report.html).
  - Judges the thresholds (O(thresholds), else those recorded in the plan) and returns the broken
    ones; it does not fail on them (the caller decides).
  - "Uses only the results directory; contacts no host. Runs on the controller
    (use C(delegate_to: localhost) and C(run_once))."
options:
  path:
    description:
      - The run's results directory, holding plan.json and one sub-directory per load host with that
        host's C(core-N.jsonl) files.
    type: path
    required: true
  plan:
    description:
      - The run's plan (the object in plan.json); unset means read C(<path>/plan.json).
      - Used for the target rate, the phases, the planned clients and requests, and the report's settings.
    type: dict
  thresholds:
    description:
      - Thresholds as C(hailstorm_thresholds) takes them (checked here); unset means those the plan
        role recorded in plan.json (key C(thresholds)), if any.
    type: raw
  thresholds_phase:
    description:
      - With O(thresholds), the phase they are judged on - C(constant), C(all), or for a plan with stages a stage's
        number (1 is the first) or name; unset means plan.json's, else C(constant).
    type: str
  exit_code_on_error:
    description:
      - As Locust's C(--exit-code-on-error) - the exit code of a run with failed requests or locustfile
        exceptions that no threshold (C(failure_rate), C(exceptions)) allows; such a run's state is C(failed).
      - 0 lets failures and exceptions pass (as k6 does without a threshold). Unset means plan.json's, else 1.
    type: int
  prometheus_url:
    description:
      - The base URL of a Prometheus holding the service's own metrics (C(hailstorm_prometheus_url)); empty means none.
      - Each of O(report_queries) is queried over the run window after the run (query_range, step 1 to 5 s) and drawn
        in the report on the load's time axis; a query that fails or returns nothing is said, never fatal.
    type: str
    default: ""
  report_queries:
    description:
      - "Named PromQL queries (C(hailstorm_report_queries)), e.g. C({api_cpu: 'rate(process_cpu_seconds_total[15s])'})."
      - Each becomes a chart and a row (min, mean, max over the constant phase) in the report and C(service_metrics) in
        the summary.
    type: dict
    default: {}
  prometheus_headers:
    description:
      - Extra HTTP headers of the O(prometheus_url) queries (C(hailstorm_prometheus_headers), e.g. C(X-Scope-OrgID));
        never logged.
    type: dict
    default: {}
  prometheus_environment:
    description:
      - The run's secrets (C(hailstorm_environment)); the queries' Authorization comes from its
        C(HAILSTORM_PROMETHEUS_QUERY_BEARER_TOKEN) (or C(HAILSTORM_PROMETHEUS_QUERY_USERNAME) and
        C(HAILSTORM_PROMETHEUS_QUERY_PASSWORD)), else from the remote write's C(HAILSTORM_PROMETHEUS_BEARER_TOKEN) (or
        user and password). Never logged.
    type: dict
    default: {}
  grafana_url:
    description:
      - The base URL of the Grafana holding the collection's dashboard (C(hailstorm_grafana_url)); the report's header
        and the summary's C(grafana) link to the run there. Empty means no link.
    type: str
    default: ""
  summary_file:
    description: Name of the summary written inside O(path).
    type: str
    default: summary.json
author:
  - romram.hailstorms contributors (@romram)
"""

EXAMPLES = r"""
- name: Merge and summarize the run
  romram.hailstorms.hailstorm_results:
    path: "{{ hailstorm_results_dir }}/{{ hailstorm_run_id }}"
  delegate_to: localhost
  run_once: true
  register: __collect_summary
"""

RETURN = r"""
exit_code:
  description:
    - The exit code of the run's playbook for its outcome (run_state.EXIT_CODES in module_utils) - 0 completed
      with every threshold met, 10 a threshold broken, 11 degraded, 12 aborted, 13 incomplete, and for a
      failed run O(exit_code_on_error) (1 by default) or the locustfile's C(environment.process_exit_code).
  returned: success
  type: int
summary:
  description: The run's figures (see results.summarize in module_utils).
  returned: success
  type: dict
  contains:
    state:
      description: How the run ended - completed, degraded, failed, aborted or incomplete (see run_state in module_utils).
      type: str
    clock:
      description:
        - The run's wall-clock start and end (C(start), C(end) as ISO 8601 with zone; C(start_epoch), C(end_epoch);
          C(seconds) between), to find the run in other tools; null for records without a start time.
      type: dict
    grafana:
      description:
        - With O(grafana_url) - the run in the collection's Grafana dashboard (its run id and time range), else null.
      type: str
    service_metrics:
      description:
        - With O(prometheus_url) and O(report_queries) - the URL, the query step and per query its PromQL, the series
          it returned, min, mean and max over the constant phase (C(over), seconds since the start) and C(error)
          (why there is no data) or null.
      type: dict
    checks:
      description: Each run-state check apart (processes, clients, iterations, generator, failures, exceptions), as junit.xml has them.
      type: list
      elements: dict
    reasons:
      description: Why the run is not completed, one line per host and core or per shortfall.
      type: list
      elements: str
    requests:
      description: Requests recorded on all cores.
      type: int
    failures:
      description: Failed requests.
      type: int
    constant_phase:
      description: Achieved against target rps over the whole seconds of the constant phase (null without one).
      type: dict
    failures_by_kind:
      description: Failure count per kind (HTTP code, exception or catch_response message).
      type: dict
    latency:
      description: p50, p95, p99 and max in ms, overall and per label, from merged histograms.
      type: dict
    pacing:
      description: Pacing overruns in total and the number of clients affected.
      type: dict
    starts:
      description: Clients planned, started, and started late.
      type: dict
    cores:
      description: Per core the start delay, late clients, requests, and how the process ended.
      type: list
      elements: dict
    series:
      description: Per second the requests, failures and active clients.
      type: list
      elements: dict
lines:
  description: The summary as readable lines (requests, constant-phase rate, failures, latency per label, pacing, starts).
  returned: success
  type: list
  elements: str
verdicts:
  description: One per threshold - threshold, label, limit, measured, passed, over, message.
  returned: success
  type: list
  elements: dict
broken:
  description: The messages of the broken thresholds (empty when every threshold was met or none was set).
  returned: success
  type: list
  elements: str
report_path:
  description: Where the HTML report was written.
  returned: success
  type: str
written:
  description: The files written in O(path) (summary, CSVs, JTL, report).
  returned: success
  type: list
  elements: str
summary_path:
  description: Where the summary was written.
  returned: success
  type: str
files:
  description: The files merged - each host's host.jsonl (its cores compacted on the host), or its core-N.jsonl files.
  returned: success
  type: list
  elements: str
"""

import errno
import filecmp
import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.romram.hailstorms.plugins.module_utils import contract
from ansible_collections.romram.hailstorms.plugins.module_utils import (
    exports, grafana, junit, live_metrics, report, service_metrics, thresholds, urls)
from ansible_collections.romram.hailstorms.plugins.module_utils.planner import PlanError
from ansible_collections.romram.hailstorms.plugins.module_utils import results
from ansible_collections.romram.hailstorms.plugins.module_utils.results import (
    HOST_FILE, merge, phase_figures, run_sources, summarize, summary_lines, unpack_host_files)
from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import (
    EXIT_CODE_ON_ERROR, exit_code, run_state, state_lines)

PLAN_FILE = "plan.json"
CSV_PREFIX = "locust"
ABORT_FILE = "abort.json"  # written by roles/collect/tasks/progress.yml (_collect_abort_file)


def _write(path, text):
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


def _thresholds(module, plan):
    given = module.params["thresholds"]
    recorded = plan.get("thresholds") or {}
    if given is None:
        if module.params["thresholds_phase"] and recorded:
            return dict(recorded, phase=module.params["thresholds_phase"])
        return recorded or thresholds.check({}, module.params["thresholds_phase"] or "constant")
    phase = module.params["thresholds_phase"] or recorded.get("phase") or "constant"
    try:
        return thresholds.check(given, phase)
    except thresholds.ThresholdError as exc:
        module.fail_json(msg="hailstorm_results: %s" % exc)


def _exit_meaning(summary, broken):
    if summary["state"] != "completed":
        return "run state %s" % summary["state"]
    return "%d threshold(s) broken" % len(broken)


def disk_state(path, exc):
    """(free space at `path`, " (the disk is full)" when `exc` says so, else "") for the messages below."""
    try:
        stats = os.statvfs(path)
        free = "%d KiB free there" % (stats.f_bavail * stats.f_frsize // 1024)
    except OSError:
        free = "free space unknown"
    return free, " (the disk is full)" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""


def cannot_write(path, exc, written):
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


def cannot_unpack(path, exc):
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


def _clock_offsets(path, plan):
    """Per host, the clock offset preflight measured, from the host's fetched data.json (if it has one)."""
    offsets = {}
    for host in plan.get("hosts") or {}:
        try:
            with open(os.path.join(path, host, contract.DATA_FILE), encoding="utf-8") as handle:
                offsets[host] = json.load(handle).get("clock_offset")
        except (OSError, ValueError, AttributeError):
            offsets[host] = None
    return offsets


def _abort(path):
    """What the controller recorded when it stopped the run on an abort threshold (abort.json), or None."""
    try:
        with open(os.path.join(path, ABORT_FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _service_metrics(url, queries, merged, plan, headers=None):
    """The service's metrics over the run window (service_metrics.fetch), or None when off or
    when the records carry no start time."""
    start = exports.start_time(merged)
    if not url or not queries or start is None:
        return None
    seconds = [int(s) for s in merged.get("seconds", {})] + [int(s) for s in merged.get("active", {})]
    end = start + max(seconds + [int(float(plan.get("duration") or 0)) - 1]) + 1
    return service_metrics.fetch(url, queries, start, end, results.constant_window(plan), headers=headers)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            plan=dict(type="dict"),
            thresholds=dict(type="raw"),
            thresholds_phase=dict(type="str"),
            exit_code_on_error=dict(type="int"),
            prometheus_url=dict(type="str", default=""),
            report_queries=dict(type="dict", default={}),
            prometheus_headers=dict(type="dict", default={}, no_log=True),
            prometheus_environment=dict(type="dict", default={}, no_log=True),
            grafana_url=dict(type="str", default=""),
            summary_file=dict(type="str", default="summary.json"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        parent = os.path.dirname(path.rstrip("/"))
        runs = sorted(name for name in os.listdir(parent) if os.path.isfile(os.path.join(parent, name, PLAN_FILE))) \
            if os.path.isdir(parent) else []
        module.fail_json(msg="hailstorm_results: no results directory %s; runs with a plan.json in %s: %s "
                             "(give one with -e hailstorm_run_id=<id>, and hailstorm_results_dir if they are elsewhere)"
                             % (path, parent, ", ".join(runs) or "none"))
    plan = module.params["plan"]
    if plan is None:
        plan_path = os.path.join(path, PLAN_FILE)
        try:
            with open(plan_path, encoding="utf-8") as handle:
                plan = json.load(handle)
        except (OSError, ValueError) as exc:
            module.fail_json(msg="hailstorm_results: cannot read the run's plan %s (%s); is %s the results "
                                 "directory of a run (results/<run-id>)?" % (plan_path, exc, path))
    if not module.check_mode:
        try:
            unpack_host_files(path)  # the logs and data.json each host's host.jsonl carries
        except OSError as exc:  # a full disk: say where, why and how to go on
            module.fail_json(msg=cannot_unpack(path, exc))
    warnings = []  # host file lines left out or made safe, named
    try:
        sources = run_sources(path, warnings)
    except OSError as exc:
        module.fail_json(msg="hailstorm_results: cannot read the fetched results in %s: %s" % (path, exc))
    files = sorted(glob.glob(os.path.join(path, "*", HOST_FILE))) + [src for src in sources if isinstance(src, str)]
    if not sources:
        module.fail_json(msg="hailstorm_results: no <host>/%s or <host>/core-*.jsonl files under %s; "
                             "did the collect role fetch the load hosts' results?" % (HOST_FILE, path), files=[])
    checked = _thresholds(module, plan)
    try:
        prometheus_url = urls.checked_url(module.params["prometheus_url"], "hailstorm_prometheus_url")
        queries = service_metrics.checked_queries(module.params["report_queries"])
        grafana_url = urls.checked_url(module.params["grafana_url"], "hailstorm_grafana_url")
        live_metrics.checked_headers(module.params["prometheus_headers"])
    except PlanError as exc:
        module.fail_json(msg="hailstorm_results: %s" % exc)
    try:
        merged = merge(sources, warnings)
        summary = summarize(merged, plan)
        summary["live_metrics"] = live_metrics.live_metrics_figures(summary["cores"])
        summary["clock"] = exports.run_clock(merged)
        service = _service_metrics(prometheus_url, queries, merged, plan, live_metrics.query_headers(
            module.params["prometheus_environment"], module.params["prometheus_headers"]))
        summary["grafana"] = live_metrics.grafana_link(grafana_url, str(plan.get("run_id") or os.path.basename(path)),
                                                       summary["clock"])
        summary["service_metrics"] = service_metrics.summary_figures(service)
        on_error = module.params["exit_code_on_error"]
        if on_error is None:
            on_error = int(plan.get("exit_code_on_error", EXIT_CODE_ON_ERROR))
        abort = _abort(path)  # the controller stopped the run on an abort threshold (roles/collect/tasks/progress.yml)
        if abort:
            summary["abort"] = abort
        summary.update(run_state(summary, plan, thresholds.allowed_failures(checked), on_error, abort))
        figures = phase_figures(merged, plan, checked["phase"])
        verdicts = thresholds.evaluate(checked, figures)
        summary["thresholds"] = {"phase": checked["phase"], "over": figures["description"],
                                 "passed": not thresholds.broken(verdicts), "verdicts": verdicts}
        locustfile_code = max([int(core.get("locustfile_exit_code") or 0) for core in summary["cores"]] or [0])
        summary["exit_code_on_error"] = on_error
        summary["exit_code"] = exit_code(summary["state"], bool(thresholds.broken(verdicts)), on_error, locustfile_code)
        outputs = {module.params["summary_file"]: json.dumps(summary, indent=1, sort_keys=True) + "\n"}
        outputs[junit.JUNIT_FILE] = junit.junit_xml(summary, str(plan.get("run_id") or os.path.basename(path)))
        for suffix, text in exports.locust_csv(merged).items():
            outputs[CSV_PREFIX + suffix] = text
        described = {module.params["summary_file"]: "the merged figures (JSON)",
                     CSV_PREFIX + "_stats.csv": "Locust CSV layout: per label and aggregated",
                     CSV_PREFIX + "_stats_history.csv": "Locust CSV layout: per second",
                     CSV_PREFIX + "_failures.csv": "Locust CSV layout: failures by label and kind",
                     CSV_PREFIX + "_exceptions.csv": "Locust CSV layout: the locustfile's exceptions",
                     CSV_PREFIX + exports.SCHEDULE_SUFFIX: "Locust's stats layout, response times from schedule "
                                                           "(from each request's slot, queueing included)",
                     junit.JUNIT_FILE: "JUnit XML: one testcase per run-state check and per threshold"}
        jtl_files = sorted(glob.glob(os.path.join(path, "*", contract.core_pattern(contract.JTL))))
        if jtl_files:
            described[exports.JTL_FILE] = "every request, JMeter JTL columns, all cores merged by time"
        if queries:
            outputs[grafana.DASHBOARD_FILE] = json.dumps(grafana.dashboard(queries), indent=1) + "\n"
            described[grafana.DASHBOARD_FILE] = ("the Grafana dashboard with a panel per hailstorm_report_queries "
                                                 "query (import it in Grafana)")
        described[report.REPORT_FILE] = "this report"
        outputs[report.REPORT_FILE] = report.render(
            merged, summary, plan, verdicts, figures["description"] if verdicts else None, described,
            _clock_offsets(path, plan), service)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        module.fail_json(msg="hailstorm_results: cannot merge %s: %s" % (path, exc), files=files)
    changed = False
    written = []
    try:
        if not module.check_mode:
            for name, text in outputs.items():
                changed = _write(os.path.join(path, name), text) or changed
                written.append(name)
            if jtl_files:
                tmp, dest = os.path.join(path, exports.JTL_FILE + ".new"), os.path.join(path, exports.JTL_FILE)
                exports.merge_jtl(jtl_files, tmp)
                if os.path.exists(dest) and filecmp.cmp(tmp, dest, shallow=False):
                    os.remove(tmp)
                else:
                    os.replace(tmp, dest)
                    changed = True
                written.append(exports.JTL_FILE)
    except OSError as exc:  # a full disk: say where, what is kept and how to merge again
        module.fail_json(msg=cannot_write(path, exc, written), files=files, written=written)
    lines = summary_lines(summary)
    live_line = live_metrics.live_metrics_line(summary["live_metrics"])
    if live_line:
        lines.append(live_line)
    broken = thresholds.broken(verdicts)
    if verdicts:
        lines.append("thresholds over the %s: %s" % (
            figures["description"], "%d of %d broken" % (len(broken), len(verdicts)) if broken
            else "all %d met" % len(verdicts)))
        lines.extend("threshold broken: " + message for message in broken)
    lines.append("report: " + os.path.join(path, report.REPORT_FILE))
    lines.extend(state_lines(summary))
    if summary["exit_code"]:
        lines.append("exit code %d (%s)" % (summary["exit_code"], _exit_meaning(summary, broken)))
    module.exit_json(changed=changed, summary=summary, lines=lines, exit_code=summary["exit_code"],
                     summary_path=os.path.join(path, module.params["summary_file"]), files=files,
                     verdicts=verdicts, broken=broken, report_path=os.path.join(path, report.REPORT_FILE),
                     written=written)


if __name__ == "__main__":
    main()
