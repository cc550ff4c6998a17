"""Unit tests of the run's settings (run_settings.py): durations, profiles, overrides, the
refusals that name the setting and the fix, the usable cores of a load host."""
from __future__ import annotations

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

TARGET = "http://127.0.0.1:3456"


@pytest.mark.parametrize("text,seconds", [(90, 90), ("90", 90), ("90s", 90), ("3m", 180), ("1h30m", 5400),
                                          ("1m30s", 90), (2.5, 2.5), ("0.5s", 0.5), ("1h", 3600),
                                          ("100ms", 0.1), ("1s500ms", 1.5), ("2m100ms", 120.1),
                                          ("0.5ms", 0.0005), ("100 ms", 0.1)])
def test_durations(text, seconds):
    assert run_settings.parse_duration(text, "rampup") == seconds


@pytest.mark.parametrize("text", ["soon", "3x", "", "m", True, "1d", "ms", "100msec", "100ms1s", "1mss"])
def test_bad_durations_name_the_setting(text):
    with pytest.raises(PlanError, match="hailstorm_rampup"):
        run_settings.parse_duration(text, "rampup")


def test_a_bad_duration_shows_milliseconds_among_the_forms():
    with pytest.raises(PlanError, match=r"hailstorm_pace: cannot read '1 sec' as a duration; use seconds \(90\) "
                                        r"or Locust style \('90s', '3m', '1h30m', '100ms'\)"):
        run_settings.parse_duration("1 sec", "pace")


def test_pace_in_milliseconds_plans_like_seconds():
    ms = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 50, "pace": "200ms", "rampup": "1m"}},
                                       "")[0]
    assert (ms["pace"], ms["clients"]) == (pytest.approx(0.2), 10)


PROFILES = {
    "default": {"target": TARGET, "rps": 10, "pace": "2s", "rampup": "1m", "constant": "5m"},
    "high": {"rps": 100},
    "long": {"constant": "1h", "rps": 50},
}


def test_profiles_stack_in_order_with_default_first():
    settings = run_settings.resolve_settings(PROFILES, "high+long")[0]
    assert (settings["rps"], settings["constant"], settings["rampup"]) == (50, 3600, 60)
    settings = run_settings.resolve_settings(PROFILES, "long+high")[0]
    assert settings["rps"] == 100 and settings["clients"] == 200


def test_overrides_beat_profiles():
    settings = run_settings.resolve_settings(PROFILES, "high", {"rps": 20, "constant": "10s"})[0]
    assert (settings["rps"], settings["constant"], settings["clients"]) == (20, 10, 40)


def test_rampdown_defaults_to_rampup_and_pace_to_one_second():
    settings = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 7, "rampup": 30}})[0]
    assert settings["rampdown"] == 30 and settings["pace"] == 1 and settings["clients"] == 7


def test_clients_give_the_pace():
    settings = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 20, "clients": 181,
                                                          "rampup": 30}})[0]
    assert settings["pace"] == pytest.approx(9.05)


@pytest.mark.parametrize("profiles,selection,overrides,message", [
    (PROFILES, "huge", None, r"unknown profile\(s\) huge; known profiles in hailstorm_profiles: default, high, long"),
    ({"default": {"target": TARGET, "rps": 0, "rampup": 5}}, "default", None, "hailstorm_rps: must be > 0"),
    ({"default": {"target": TARGET, "rps": -3, "rampup": 5}}, "default", None, "hailstorm_rps: must be > 0"),
    ({"default": {"target": TARGET, "rampup": 5}}, "default", None, "hailstorm_rps: not set"),
    ({"default": {"target": TARGET, "rps": 100, "pace": 0.05, "rampup": 5}}, "default", None,
     r"hailstorm_pace: 0.05s is under 0.1s .* use at least 10 clients"),
    ({"default": {"target": TARGET, "rps": 10, "clients": 30, "pace": 2, "rampup": 5}}, "default", None,
     "hailstorm_clients=30 and hailstorm_pace=2s disagree"),
    ({"default": {"target": TARGET, "rps": 10, "rampup": 0}}, "default", None, "hailstorm_rampup: must be > 0"),
    ({"default": {"target": TARGET, "rps": 10, "rampup": 5, "constant": -1}}, "default", None,
     "hailstorm_constant: must be >= 0"),
    ({"default": {"target": TARGET, "rps": 10, "rampup": 5, "rampdown": "-5s"}}, "default", None,
     "hailstorm_rampdown"),
    ({"default": {"target": TARGET, "rps": 10}}, "default", None, "hailstorm_rampup: not set"),
    ({"default": {"target": "localhost:80", "rps": 10, "rampup": 5}}, "default", None, "hailstorm_target"),
    ({"default": {"target": TARGET, "rps": 3, "pace": 0.5, "rampup": 5}}, "default", None,
     "not a whole number"),
    ({"default": {"target": TARGET, "rps": 3, "rampup": 5, "ramp": 3}}, "default", None,
     r"hailstorm_profiles.default: unknown key\(s\) ramp"),
    ({"default": {"target": TARGET, "rps": "many", "rampup": 5}}, "default", None, "hailstorm_rps: expected a number"),
])
def test_refusals_name_the_setting_and_the_fix(profiles, selection, overrides, message):
    with pytest.raises(PlanError, match=message):
        run_settings.resolve_settings(profiles, selection, overrides)


def test_pace_over_ten_seconds_warns():
    warnings = run_settings.resolve_settings({"default": {"target": TARGET, "rps": 2, "clients": 30, "rampup": 5}})[1]
    assert warnings and "hailstorm_pace is 15s" in warnings[0]


# --- usable cores ----------------------------------------------------------------------------------

@pytest.mark.parametrize("vcpus,given,cores", [(8, None, 7), (1, None, 1), (2, None, 1), (8, 3, 3), ("4", "", 3)])
def test_usable_cores_are_vcpus_minus_one_unless_given(vcpus, given, cores):
    assert run_settings.usable_cores(vcpus, given) == cores


@pytest.mark.parametrize("given", [0, -1, "two", True, 1.5])
def test_bad_core_counts_name_hailstorm_cores(given):
    with pytest.raises(PlanError, match="hailstorm_cores: must be a whole number >= 1"):
        run_settings.usable_cores(4, given)
