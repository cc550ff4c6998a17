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
  baseline:
    description:
      - The baseline run to compare with (C(hailstorm_baseline)) - a run id of O(results_dir), a results directory,
        C(last) or a tag (C(hailstorm_tag)); unset or empty means the one the plan role recorded in plan.json, if any.
      - The comparison goes in the summary (C(comparison)) and the report; relative thresholds are judged on it.
    type: raw
  results_dir:
    description: Where the runs are (C(hailstorm_results_dir)); unset means the parent directory of O(path).
    type: path
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
extends_documentation_fragment:
  - romram.hailstorms.attributes
attributes:
  check_mode:
    description: Merges, summarizes and judges; writes no file in check mode.
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
  description: The run's figures (see summary.summarize in module_utils).
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

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.romram.hailstorms.plugins.module_utils import contract, history, live_metrics, pipeline, service_metrics, thresholds, urls
from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import unpack_host_files
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


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
            baseline=dict(type="raw"),
            results_dir=dict(type="path"),
            prometheus_headers=dict(type="dict", default={}, no_log=True),
            prometheus_environment=dict(type="dict", default={}, no_log=True),
            grafana_url=dict(type="str", default=""),
            summary_file=dict(type="str", default=contract.SUMMARY_FILE),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        parent = os.path.dirname(path.rstrip("/"))
        runs = sorted(name for name in os.listdir(parent)
                      if os.path.isfile(os.path.join(parent, name, contract.PLAN_FILE))) if os.path.isdir(parent) else []
        module.fail_json(msg="hailstorm_results: no results directory %s; runs with a %s in %s: %s "
                             "(give one with -e hailstorm_run_id=<id>, and hailstorm_results_dir if they are elsewhere)"
                             % (path, contract.PLAN_FILE, parent, ", ".join(runs) or "none"))
    plan = module.params["plan"]
    if plan is None:
        plan_path = os.path.join(path, contract.PLAN_FILE)
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
            module.fail_json(msg=pipeline.cannot_unpack(path, exc))
    warnings = []  # host file lines left out or made safe, named
    try:
        sources = pipeline.fetched_sources(path, warnings)
    except pipeline.ResultsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    files = pipeline.merged_files(path, sources)
    try:
        checked = pipeline.chosen_thresholds(plan, module.params["thresholds"], module.params["thresholds_phase"])
        prometheus_url = urls.checked_url(module.params["prometheus_url"], "hailstorm_prometheus_url")
        queries = service_metrics.checked_queries(module.params["report_queries"])
        grafana_url = urls.checked_url(module.params["grafana_url"], "hailstorm_grafana_url")
        live_metrics.checked_headers(module.params["prometheus_headers"])
    except (thresholds.ThresholdError, PlanError) as exc:
        module.fail_json(msg="hailstorm_results: %s" % exc)
    written = []
    try:
        summary, outputs = pipeline.build(path, plan, checked, sources=sources, warnings=warnings,
                                          on_error=module.params["exit_code_on_error"], prometheus_url=prometheus_url,
                                          queries=queries, summary_file=module.params["summary_file"],
                                          baseline=module.params["baseline"], results_dir=module.params["results_dir"],
                                          query_headers=live_metrics.query_headers(
                                              module.params["prometheus_environment"],
                                              module.params["prometheus_headers"]),
                                          grafana_url=grafana_url)
        changed = False
        if not module.check_mode:
            changed, written = pipeline.write(path, outputs)
    except pipeline.ResultsError as exc:
        module.fail_json(msg=str(exc), **dict({"files": files}, **exc.details))
    if not module.check_mode:  # results/index.html: every run of the results directory
        history.write_index(module.params["results_dir"] or os.path.dirname(path.rstrip("/")))
    verdicts = summary["thresholds"]["verdicts"]
    module.exit_json(changed=changed, summary=summary, lines=pipeline.result_lines(path, summary),
                     exit_code=summary["exit_code"], summary_path=os.path.join(path, module.params["summary_file"]),
                     files=files, verdicts=verdicts, broken=thresholds.broken(verdicts),
                     report_path=os.path.join(path, contract.REPORT_FILE), written=written)


if __name__ == "__main__":
    main()
