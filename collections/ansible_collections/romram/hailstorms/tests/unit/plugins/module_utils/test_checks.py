"""Run identity, paths and the roles' options: every bad value refused with its name, value and a valid fix."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import checks, planner, run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

ROLES = Path(__file__).resolve().parents[4] / "roles"
TARGET = "http://127.0.0.1:8089"


# --- run identity ---------------------------------------------------------------------------

@pytest.mark.parametrize("good", ["e2e", "20261129T101500Z", "a.b_c-d", "x" * 64, "_x", "-x"])
def test_safe_run_ids_pass(good):
    assert checks.run_id(good) == good


@pytest.mark.parametrize("bad", ["../../x", "a/b", ".hidden", "a\nb", "", None, "x" * 65, "run id", "r;rm -rf"])
def test_unsafe_run_ids_are_refused_with_a_safe_example(bad):
    with pytest.raises(PlanError, match=r"hailstorm_run_id: .* is not a safe run id") as error:
        checks.run_id(bad)
    example = re.search(r"hailstorm_run_id=(\S+)\)$", str(error.value)).group(1)
    assert checks.run_id(example) == example  # the suggested id is itself valid


@given(st.text(max_size=80))
def test_the_suggested_run_id_is_always_valid(text):
    try:
        checks.run_id(text)
    except PlanError as error:
        example = re.search(r"hailstorm_run_id=(\S+)\)$", str(error)).group(1)
        assert checks.run_id(example) == example


def test_a_used_run_id_is_refused_unless_overwrite():
    with pytest.raises(PlanError, match=r"hailstorm_run_id: 'e2e' was used before: /r/e2e exists and holds "
                                        r"plan\.json, summary\.json.*hailstorm_overwrite=true"):
        checks.results_run_dir("/r", "e2e", False, ["summary.json", "plan.json"])
    assert checks.results_run_dir("/r", "e2e", "true", ["summary.json"]) == {"path": "/r/e2e", "remove": True}
    assert checks.results_run_dir("/r", "e2e", False, None) == {"path": "/r/e2e", "remove": False}


def test_a_load_hosts_used_work_directory_is_refused_unless_overwrite():
    """On a load host nothing is reusable: an earlier run's data.json or start signal would be read
    by the new run's processes."""
    with pytest.raises(PlanError, match=r"hailstorm_run_id: 'e2e' was used before: /w/e2e exists and holds "
                                        r"core-0\.jsonl, data\.json, start\.json;.*hailstorm_overwrite=true"):
        checks.host_run_dir("/w", "e2e", False, ["start.json", "data.json", "core-0.jsonl"])
    assert checks.host_run_dir("/w/", "e2e", True, ["data.json"]) == {"path": "/w/e2e", "remove": True}
    assert checks.host_run_dir("/w", "e2e", False, []) == {"path": "/w/e2e", "remove": False}
    assert checks.host_run_dir("/w", "e2e", False, None) == {"path": "/w/e2e", "remove": False}
    with pytest.raises(PlanError, match="not a safe run id"):
        checks.host_run_dir("/w", "..", True, [])
    with pytest.raises(PlanError, match="hailstorm_work_dir: 'w' is not an absolute path"):
        checks.host_run_dir("w", "e2e", True, [])


def test_a_preview_directory_may_be_taken_over():
    assert checks.results_run_dir("/r", "e2e", False, ["plan.json"]) == {"path": "/r/e2e", "remove": False}
    assert checks.results_run_dir("/r", "e2e", False, []) == {"path": "/r/e2e", "remove": False}


@pytest.mark.parametrize("bad,message", [
    ("relative/dir", "is not an absolute path"),
    ("/var/../etc", r"contains '\.\.'; give the directory itself, such as hailstorm_work_dir=/etc"),
    ("/var/lib/x\nExecStart=/bin/sh", "contains a control character"),
    ("", "is not an absolute path"),
])
def test_paths_are_absolute_without_dot_dot(bad, message):
    with pytest.raises(PlanError, match=f"hailstorm_work_dir: .*{message}"):
        checks.absolute_path(bad, "hailstorm_work_dir")


def test_paths_are_normalised():
    assert checks.absolute_path("/var//lib/./hailstorms/", "x") == "/var/lib/hailstorms"


# --- options ------------------------------------------------------------------------------

def test_numbers_given_as_strings_are_converted():
    checked = checks.check_options({"hailstorm_disk_reserve_mb": "50", "hailstorm_max_clock_offset": "0.1",
                                    "hailstorm_clock_samples": "1e1", "hailstorm_jtl": "false",
                                    "hailstorm_deadline_grace": " 10 ", "hailstorm_unrelated": "x"})
    assert checked == {"disk_reserve_mb": 50, "max_clock_offset": 0.1, "clock_samples": 10, "jtl": False,
                       "deadline_grace": 10}
    assert isinstance(checked["disk_reserve_mb"], int)


@pytest.mark.parametrize("name,value,message", [
    ("hailstorm_disk_reserve_mb", "abc", r"hailstorm_disk_reserve_mb: expected a whole number \(MiB .*\), got 'abc'; "
                                         r"for example hailstorm_disk_reserve_mb=10"),
    ("hailstorm_cores", "0", r"hailstorm_cores: '0' is under 1 .*; give at least hailstorm_cores=1"),
    ("hailstorm_cores", "2.5", r"hailstorm_cores: expected a whole number .* got '2.5'; for example hailstorm_cores=2"),
    ("hailstorm_clock_samples", "1000", r"hailstorm_clock_samples: '1000' is over 100 .*at most hailstorm_clock_samples=100"),
    ("hailstorm_max_clock_offset", "0", r"hailstorm_max_clock_offset: '0' is under 0.001"),
    ("hailstorm_progress_interval", "nan", r"hailstorm_progress_interval: expected a whole number"),
    ("hailstorm_deadline_grace", True, r"hailstorm_deadline_grace: expected a whole number .* got True"),
    ("hailstorm_jtl", "maybe", r"hailstorm_jtl: expected true or false, got 'maybe'; give hailstorm_jtl=true"),
])
def test_bad_options_name_the_variable_the_value_and_the_fix(name, value, message):
    with pytest.raises(PlanError, match=message):
        checks.check_options({name: value})


@given(name=st.sampled_from(sorted(checks.OPTIONS)),
       value=st.one_of(st.text(max_size=12), st.integers(-10**12, 10**12), st.floats(allow_nan=True)))
def test_every_suggested_fix_is_itself_accepted(name, value):
    try:
        checks.option(name, value)
    except PlanError as error:
        fix = re.search(rf"{name}=(\S+)$", str(error)).group(1)
        checks.option(name, fix)


def test_all_bad_options_are_listed_at_once_and_hosts_are_named():
    with pytest.raises(PlanError) as error:
        checks.check_options({"hailstorm_disk_reserve_mb": "x", "hailstorm_clock_samples": "0"},
                             {"load1": {"hailstorm_cores": None}, "load2": {"hailstorm_cores": "0"}})
    text = str(error.value)
    assert "hailstorm_disk_reserve_mb: expected" in text and "hailstorm_clock_samples: '0'" in text
    assert "load2: hailstorm_cores: '0' is under 1" in text and "load1" not in text


def test_role_defaults_pass_the_checks_and_the_settings_gate_reads_every_option():
    defaults: dict = {}
    for path in ROLES.glob("*/defaults/main.yml"):
        defaults.update(yaml.safe_load(path.read_text()) or {})
    known = {name: value for name, value in defaults.items() if name in checks.OPTIONS}
    assert known and checks.check_options(known)
    from ansible_collections.romram.hailstorms.plugins.module_utils import settings_gate
    assert set(checks.OPTIONS) <= set(settings_gate.names())


# --- run settings -------------------------------------------------------------------------

def base(**settings):
    return {"default": {"target": TARGET, "rampup": 5, **settings}}


@pytest.mark.parametrize("rps", ["50", "1e3", " 20 ", 20.0])
def test_rps_given_as_a_string_is_a_number(rps):
    assert run_settings.resolve_settings(base(rps=rps))[0]["rps"] == float(str(rps).strip())


def test_rps_that_is_not_a_number_names_the_value_and_an_example():
    with pytest.raises(PlanError, match=r"hailstorm_rps: expected a number, got 'abc'; for example hailstorm_rps=100"):
        run_settings.resolve_settings(base(), overrides={"rps": "abc"})


def test_an_override_of_clients_drops_the_profiles_pace_and_vice_versa():
    settings = run_settings.resolve_settings(base(rps=10, pace=2), overrides={"clients": "1"})[0]
    assert settings["clients"] == 1 and settings["pace"] == pytest.approx(0.1)
    settings = run_settings.resolve_settings(base(rps=10, clients=30), overrides={"pace": "2s"})[0]
    assert settings["clients"] == 20
    stacked = {**base(rps=10, pace=2), "many": {"clients": 40}}
    assert run_settings.resolve_settings(stacked, "many")[0]["clients"] == 40


def test_clients_and_pace_together_in_one_layer_still_disagree():
    with pytest.raises(PlanError, match="given together .* give only one of them there"):
        run_settings.resolve_settings(base(rps=10), overrides={"clients": 30, "pace": 2})


def _apply(error: PlanError, rps, layer):
    found = dict(re.findall(r"hailstorm_(pace|clients)=([0-9.e+-]+)", str(error)))
    assert found, f"no fix in {error}"
    for key, value in found.items():  # every suggestion, alone, is accepted
        run_settings.resolve_settings(base(rps=rps, **layer), overrides={key: value})


@given(rps=st.one_of(st.integers(1, 100_000), st.floats(0.01, 100_000)),
       pace=st.floats(0.001, 20))
def test_the_suggested_fix_of_a_refused_pace_is_accepted(rps, pace):
    try:
        run_settings.resolve_settings(base(rps=rps, pace=pace))
    except PlanError as error:
        if "over the" in str(error):
            return
        _apply(error, rps, {"pace": pace})


def test_pace_one_hundredth_suggests_a_pace_that_is_accepted():
    with pytest.raises(PlanError) as error:
        run_settings.resolve_settings(base(rps=40, pace=0.01))
    assert "hailstorm_pace=0.1" in str(error.value) and "hailstorm_clients=4" in str(error.value)
    _apply(error.value, 40, {"pace": 0.01})


def planner_calls(action) -> list[str]:
    """The planner's functions that `action` calls, one name per call (sys.setprofile): the work
    of a refusal, counted rather than timed."""
    called: list[str] = []

    def profile(frame, event, _arg):
        if event == "call" and frame.f_code.co_filename == planner.__file__:
            called.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return called


PLANNING = {"make_plan", "core_requests", "core_clients", "_expand", "phase_multiplier", "ramp_errors"}


def test_plans_beyond_sane_bounds_are_refused_before_any_planning():
    def too_many_clients(rps):
        def refuse():
            with pytest.raises(PlanError, match=r"clients, over the 10000000 clients"):
                run_settings.resolve_settings(base(rps=rps))
        return refuse

    def too_few_cores(rps):
        settings = run_settings.resolve_settings(base(rps=rps, clients=10_000_000))[0]

        def refuse():
            with pytest.raises(PlanError, match=r"usable cores .* but the load hosts have 4; lower "
                                                r"hailstorm_rps to at most 40000"):
                run_settings.check_capacity(settings, [("a", 2), ("b", 2)])
        return refuse

    for refusal in (too_many_clients, too_few_cores):
        calls = planner_calls(refusal("1e5" if refusal is too_few_cores else "1e9"))
        assert not PLANNING & set(calls), calls
        # the same work for a plan a hundred times bigger: nothing in it grows with the plan
        assert planner_calls(refusal("1e7" if refusal is too_few_cores else "1e11")) == calls
    with pytest.raises(PlanError, match=r"needs at least 10 usable cores .* but the load hosts have 4; lower "
                                        r"hailstorm_rps to at most 40000"):
        run_settings.check_capacity(run_settings.resolve_settings(base(rps=100_000, pace=2))[0], [("a", 2), ("b", 2)])
    enough = [("a", 20)]
    run_settings.check_capacity(run_settings.resolve_settings(base(rps=100_000, pace=2))[0], enough)


def test_the_plan_filter_refuses_before_planning():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.romram.hailstorms.plugins.filter.hailstorm import plan
    settings = run_settings.resolve_settings(base(rps=1_000_000, pace=1))[0]
    with pytest.raises(AnsibleFilterError, match="romram.hailstorms.plan: hailstorm_rps=1e\\+06 .* needs at least 100"):
        plan(settings, {"a": 1})


class _AnsibleTaggedStr(str):
    """What Ansible hands a plugin for a string (its class name must not be shown)."""


@pytest.mark.parametrize("value,kind", [(_AnsibleTaggedStr("x"), "a string"), ("", "a string"), (3, "a number"),
                                        (2.5, "a number"), (True, "a boolean"), (None, "nothing (null)"),
                                        ({"a": 1}, "a mapping"), ([1], "a list"), (object(), "a value of another kind")])
def test_kind_of_says_what_a_value_is_in_a_users_words(value, kind):
    assert checks.kind_of(value) == kind


@pytest.mark.parametrize("value", [None, "", {}, {"API_TOKEN": "s3cret", "N": 3}])
def test_an_environment_mapping_passes(value):
    assert checks.environment_problem(value) is None


@pytest.mark.parametrize("value,kind", [(_AnsibleTaggedStr("API_TOKEN=s3cret"), "a string"), (["A=1"], "a list"),
                                        (7, "a number")])
def test_an_environment_that_is_no_mapping_is_named_with_a_fix_and_its_value_is_not_shown(value, kind):
    message = checks.environment_problem(value)
    assert message == (
        f"hailstorm_environment: expected a mapping of environment variable names to values, got {kind} (not shown: "
        f"it may hold a secret); give a mapping, such as hailstorm_environment: {{API_TOKEN: \"{{{{ vault_api_token }}}}\"}} "
        f"in YAML (the value from Ansible Vault), or -e '{{\"hailstorm_environment\": {{\"API_TOKEN\": \"...\"}}}}'")
    assert "s3cret" not in message and "_Ansible" not in message


def test_environment_names_that_cannot_be_names_are_named():
    assert checks.environment_problem({"A=B": "s3cret", "": 1, "OK": 2}) == (
        "hailstorm_environment: 'A=B', '' cannot be environment variable names (a name is a non-empty string "
        "without '='); rename them, such as hailstorm_environment: {API_TOKEN: \"{{ vault_api_token }}\"}")
