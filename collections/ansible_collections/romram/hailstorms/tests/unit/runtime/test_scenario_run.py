"""The runtime's scenarios (hailstorm_scenarios): each scenario's clients from its start, its own
tally, the core's scenarios seen as one set of users and one driver, and each request recorded
under its scenario (records merge to summary.json's per-scenario figures and thresholds)."""
from __future__ import annotations

import csv

from hailstorm_runtime import plan_queries
from hailstorm_runtime.recorder import Recorder
from hailstorm_runtime.scenario_run import Part, Scenarios, Tally, scenario_clients
from ansible_collections.romram.hailstorms.plugins.module_utils import planner, run_settings, thresholds
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import merge, phase_figures, summarize

T0 = 1_795_000_000.0
SCENARIOS = {"ramp": {"user_classes": ["Browser"], "rps": 20, "rampup": 4, "constant": 4, "rampdown": 0},
             "late": {"user_classes": ["Buyer"], "model": "open", "rps": 10, "rampup": 1, "constant": 3,
                      "rampdown": 0, "start": "3s"}}


def plan_of(hosts=(("h", 2),)):
    settings, _warnings = run_settings.resolve_settings({"default": {"target": "http://127.0.0.1:1",
                                                                     "scenarios": SCENARIOS}})
    return planner.make_plan(settings, list(hosts))


def test_a_scenarios_clients_start_at_its_start_with_its_slots():
    plan = plan_of()
    part = plan_queries.host_slice(plan, "h")
    sub = part["plan"]["scenarios"]["late"]
    for core in part["cores"]:
        shifted = scenario_clients(part["plan"], core, "late")
        own = plan_queries.core_intervals(sub, core["scenarios"]["late"])
        assert len(shifted) == len(own) > 0
        for moved, client in zip(shifted, own):
            assert moved.start == client.start + 3 and moved.stop == client.stop + 3
            moved_times = list(plan_queries.request_times(moved, sub["pace"]))
            own_times = list(plan_queries.request_times(client, sub["pace"]))
            assert len(moved_times) == len(own_times) and all(abs(a - 3 - b) < 1e-9
                                                              for a, b in zip(moved_times, own_times))
            assert min(plan_queries.request_times(moved, sub["pace"])) >= 3


class FakeRecorder:
    def __init__(self):
        self.iterations = 0
        self.overruns, self.started = [], []

    def client_overrun(self, client_id):
        self.overruns.append(client_id)

    def client_started(self, client_id, lateness):
        self.started.append(client_id)


def test_a_tally_counts_for_its_scenario_and_the_recorder():
    recorder = FakeRecorder()
    one, two = Tally(recorder), Tally(recorder)
    one.iterations += 1
    one.iterations += 1
    two.iterations += 1
    one.client_overrun(4)
    two.client_started(7, 0.0)
    assert (recorder.iterations, one.count, two.count) == (3, 2, 1)
    assert (one.overruns, two.started, recorder.overruns, recorder.started) == (1, 1, [4], [7])


class FakeUsers:
    def __init__(self, greenlets, active):
        self.waits = {greenlet: object() for greenlet in greenlets}
        self.active = active
        self.finished = None

    def scheduled(self):
        return 12.5

    def client_id(self):
        return 3

    def early_ends(self):
        return [{"how": "StopUser", "iterations": 1, "clients": 1}]

    def finish_all(self, now):
        self.finished = now


class FakeDriver:
    def __init__(self, model, figures, finished=True):
        self.model, self._figures, self.finished, self.ran = model, figures, finished, False

    def run(self):
        self.ran = True

    def figures(self):
        return dict(self._figures)

    def take_dropped(self):
        return {4: 1}

    def take_started(self):
        return {}


class Joinable:
    def __init__(self, function):
        self.function = function

    def join(self):
        self.function()


def test_the_scenarios_of_a_core_are_one_set_of_users_and_one_driver():
    current = ["g2"]
    closed = Part("ramp", FakeUsers(["g1"], 2), FakeDriver("closed", {}), Tally(FakeRecorder()), 5, 40)
    opened = Part("late", FakeUsers(["g2"], 1),
                  FakeDriver("open", {"arrivals_planned": 10, "arrivals_dropped": 1}, finished=False),
                  Tally(FakeRecorder()), 3, 10)
    scenarios = Scenarios([closed, opened], lambda: current[0], Joinable)
    assert scenarios.active == 3 and scenarios.scenario() == "late" and scenarios.scheduled() == 12.5
    current[0] = "elsewhere"
    assert scenarios.scenario() is None and scenarios.scheduled() is None and scenarios.client_id() == -1
    scenarios.run()
    assert closed.driver.ran and opened.driver.ran and not scenarios.finished
    figures = scenarios.figures()
    assert figures["arrivals_planned"] == 10 and figures["scenarios"]["late"]["arrivals_dropped"] == 1
    assert figures["scenarios"]["ramp"] == {"model": "closed", "clients": 5, "planned": 40, "iterations": 0,
                                            "overruns": 0, "started": 0}
    assert scenarios.take_dropped() == {4: 2}
    assert len(scenarios.early_ends()) == 2


def test_requests_are_recorded_under_their_scenario_and_judged_per_scenario(tmp_path):
    plan = plan_of([("h", 1)])
    scenario = ["ramp"]
    rec = Recorder(str(tmp_path), 0, T0, jtl=True, now=lambda: T0 + 5, scenarios=True)
    rec.scenario_of = lambda: scenario[0]
    rec.meta(host="h", core=0, clients=3)
    for i in range(4):
        rec.on_request("GET", "/browse", 10.0 + i, 5, start_time=T0 + 0.5 + i)
        rec.jtl_row("h 0-1", 1, "GET", "/browse", 10.0, 5, start_time=T0 + 0.5 + i)
    scenario[0] = "late"
    rec.on_request("GET", "/buy", 400.0, 5, exception=RuntimeError("no"), start_time=T0 + 3.5)
    scenario[0] = None  # outside any user: in the labels, in no scenario
    rec.on_request("GET", "/other", 1.0, 5, start_time=T0 + 1.5)
    rec.flush()
    rec.end("done", scenarios={"ramp": {"iterations": 4, "overruns": 2},
                               "late": {"iterations": 1, "arrivals_planned": 30, "arrivals_sent": 1,
                                        "arrivals_dropped": 29}})
    assert rec.close() is None
    rows = list(csv.reader(open(tmp_path / "core-0.jtl", encoding="utf-8")))
    assert rows[0][-1] == "scenario" and [row[-1] for row in rows[1:]] == ["ramp"] * 4
    merged = merge([str(tmp_path / "core-0.jsonl")])
    summary = summarize(merged, plan)
    ramp, late = summary["scenarios"]["ramp"], summary["scenarios"]["late"]
    assert (ramp["requests"], ramp["failures"], ramp["sent"], ramp["overruns"]) == (4, 0, 4, 2)
    assert ramp["per_second"] == {"0": 1, "1": 1, "2": 1, "3": 1} and ramp["planned"] == plan["scenarios"]["ramp"][
        "expected_requests"]
    assert (late["requests"], late["failures"], late["arrivals"]["dropped"]) == (1, 1, 29)
    assert summary["requests"] == 6
    checked = thresholds.check({"scenarios": {"ramp": {"p95_ms": 100, "overruns": 1}, "late": {"failure_rate": 1},
                                              "nowhere": {"p50_ms": 5}}})
    verdicts = thresholds.evaluate(checked, phase_figures(merged, plan, "all"))
    passed = {(v["scenario"], v["threshold"]): v["passed"] for v in verdicts}
    assert passed == {("ramp", "p95_ms"): True, ("ramp", "overruns"): False, ("late", "failure_rate"): True,
                      ("nowhere", "p50_ms"): False}
    assert any("the run has no scenario nowhere (its scenarios: late, ramp)" in v["message"] for v in verdicts)


def test_the_report_draws_each_scenario_against_its_plan_and_tables_it(tmp_path):
    from ansible_collections.romram.hailstorms.plugins.module_utils import report

    plan = plan_of([("h", 1)])
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 9)
    rec.scenario_of = lambda: "ramp"
    rec.meta(host="h", core=0, clients=3)
    for second in range(8):
        for _i in range(7):
            rec.on_request("GET", "/browse", 10.0, 5, start_time=T0 + second + 0.5)
    rec.flush()
    rec.end("done", scenarios={"ramp": {"iterations": 56}})
    assert rec.close() is None
    merged = merge([str(tmp_path / "core-0.jsonl")])
    series = {name: points for name, _colour, points, _dashed in
              report.scenario_series(merged, plan, list(range(8)))}
    assert [y for _x, y in series["ramp measured"]] == [7.0] * 8
    assert [y for _x, y in series["ramp planned"]][4:8] == [20.0] * 4  # the hold of 20/s from 4 s
    assert [y for _x, y in series["late planned"]][:3] == [0.0] * 3 and series["late planned"][4][1] == 10.0
    assert any('id="scenarios"' in part or "per scenario" in part for part in report.charts(merged, plan))
    table = report.scenario_table(summarize(merged, plan))
    assert "<h2>Scenarios</h2>" in table and "<td>ramp</td>" in table and "Browser" in table
    assert report.scenario_table({"scenarios": None}) == ""


def test_a_load_hosts_compacted_records_keep_each_scenarios_cells(tmp_path):
    from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import compact_core, read_records

    plan = plan_of([("h", 1)])
    now = [T0 + 1]
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: now[0])
    rec.scenario_of = lambda: "ramp"
    rec.meta(host="h", core=0, clients=3)
    for second in range(3):
        rec.on_request("GET", "/browse", 10.0, 5, start_time=T0 + second + 0.5)
        rec.on_request("GET", "/browse", 30.0, 5, exception=RuntimeError("x"), start_time=T0 + second + 0.6)
        now[0] = T0 + second + 1
        rec.flush()
    rec.end("done")
    assert rec.close() is None
    records, _bad = read_records(tmp_path / "core-0.jsonl")
    direct = summarize(merge([records]), plan)["scenarios"]["ramp"]
    compacted = summarize(merge([compact_core(records)]), plan)["scenarios"]["ramp"]
    assert direct == compacted and (direct["requests"], direct["failures"]) == (6, 3)


def test_a_scenarios_failure_rate_allows_its_failures_and_its_dropped_arrivals_degrade_the_run(tmp_path):
    from ansible_collections.romram.hailstorms.plugins.module_utils.run_state import run_state

    plan = plan_of([("h", 1)])
    scenario = ["ramp"]
    rec = Recorder(str(tmp_path), 0, T0, now=lambda: T0 + 9)
    rec.scenario_of = lambda: scenario[0]
    rec.meta(host="h", core=0, clients=3)
    rec.on_request("GET", "/browse", 10.0, 5, exception=RuntimeError("no"), start_time=T0 + 0.5)
    scenario[0] = "late"
    rec.on_request("GET", "/buy", 10.0, 5, start_time=T0 + 3.5)
    rec.flush()
    rec.end("done", scenarios={"late": {"arrivals_planned": 30, "arrivals_sent": 28, "arrivals_dropped": 2}})
    assert rec.close() is None
    summary = summarize(merge([str(tmp_path / "core-0.jsonl")]), plan)

    def verdict(given):
        checked = thresholds.check(given)
        return run_state(summary, {**plan, "hosts": {}}, thresholds.allowed_failures(checked), 1)

    def reasons(state, check):
        return [r for c in state["checks"] if c["check"] == check for r in c["reasons"]]

    plain = verdict({})
    assert plain["state"] == "failed" and reasons(plain, "failures")[0].startswith("1 of 2 requests failed")
    assert reasons(plain, "arrivals") == ["scenario late: 2 of 30 arrivals dropped: no user within their tolerance "
                                          "of their slot; raise its max_clients, or allow them with "
                                          "hailstorm_thresholds {scenarios: {late: {dropped: <maximum>}}}"]
    allowed = verdict({"scenarios": {"ramp": {"failure_rate": 1}, "late": {"dropped": 2}}})
    assert not reasons(allowed, "failures") and not reasons(allowed, "arrivals")
    other = verdict({"scenarios": {"late": {"failure_rate": 1}}})  # not the scenario that failed
    assert reasons(other, "failures")[0].startswith("1 of 2 requests failed") and "scenario ramp" in \
        reasons(other, "failures")[0]
