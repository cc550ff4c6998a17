"""Warnings for hailstorm_ variables that no role reads; the known names are the roles' argument specs."""
from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.romram.hailstorms.plugins.module_utils import known_settings

ROLES = Path(__file__).resolve().parents[4] / "roles"


def collection_known() -> set[str]:
    known: set[str] = set()
    for spec in ROLES.glob("*/meta/argument_specs.yml"):
        known |= known_settings.spec_options(yaml.safe_load(spec.read_text()))
    return known


def test_the_known_names_are_every_option_of_every_entry_point():
    specs = {"argument_specs": {"main": {"options": {"hailstorm_a": {}}}, "other": {"options": {"hailstorm_b": {}}},
                                "bare": {}}}
    assert known_settings.spec_options(specs) == {"hailstorm_a", "hailstorm_b"}
    assert known_settings.spec_options(None) == set()
    known = collection_known()
    assert {"hailstorm_rampup", "hailstorm_backend", "hailstorm_locustfile", "hailstorm_python"} <= known


def test_a_misspelt_setting_names_the_closest_known_one():
    assert known_settings.warnings(["hailstorm_ramup", "hailstorm_rampup"], collection_known()) == [
        "hailstorm_ramup is not a setting of romram.hailstorms: no role reads it, so it changes nothing; "
        "did you mean hailstorm_rampup?"]


def test_other_typos_find_their_setting():
    known = collection_known()
    assert known_settings.closest("hailstorm_locust_file", known) == "hailstorm_locustfile"
    assert known_settings.closest("hailstorm_rampdwon", known) == "hailstorm_rampdown"
    assert known_settings.closest("hailstorm_backnd", known) == "hailstorm_backend"


def test_a_name_like_no_setting_says_where_the_settings_are_listed():
    assert known_settings.warnings(["hailstorm_zzzzzzzz"], {"hailstorm_rampup"}, ["plan", "common"]) == [
        "hailstorm_zzzzzzzz is not a setting of romram.hailstorms: no role reads it, so it changes nothing; the "
        "settings are listed by `ansible-doc -t role romram.hailstorms.common romram.hailstorms.plan`"]


def test_only_public_hailstorm_names_are_judged():
    names = ["_hailstorm_cores", "__plan_x", "ansible_host", "hailstorm_rps", "inventory_hostname", "hailstorm_rsp"]
    assert known_settings.unknown(names, {"hailstorm_rps"}) == ["hailstorm_rsp"]
    assert known_settings.warnings(["hailstorm_rps"], {"hailstorm_rps"}) == []
