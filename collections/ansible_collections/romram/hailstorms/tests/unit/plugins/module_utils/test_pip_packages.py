"""hailstorm_pip_packages: only plain requirements reach pip (no options, URLs, paths or shell
characters), and the local backend's controller Python must already have them."""
from __future__ import annotations

import re
import sys
from importlib import metadata

import pytest
from hypothesis import given, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import checks
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


@pytest.mark.parametrize("good", [
    "locust-plugins==5.0.3", "locust-plugins", "boto3", "requests[socks]>=2.31,<3", "requests [socks, security] >= 2.31",
    "a", "Flask_Login~=0.6", "pkg===1.0+local", "pkg!=1.*", "zope.interface>7", "pkg==1!2.0rc1",
])
def test_plain_requirements_pass_stripped(good):
    assert checks.pip_packages([f"  {good} "]) == [good]


@pytest.mark.parametrize("empty", [None, "", [], ()])
def test_no_packages(empty):
    assert checks.pip_packages(empty) == []


@pytest.mark.parametrize("bad, why", [
    ("--index-url=https://evil.example/simple", "is a pip option, not a requirement"),
    ("-e .", "is a pip option, not a requirement"),
    ("-r /etc/passwd", "is a pip option, not a requirement"),
    ("--extra-index-url https://x", "is a pip option, not a requirement"),
    ("pkg @ https://example.com/pkg.whl", "is a URL or a path"),
    ("git+https://github.com/x/y", "is a URL or a path"),
    ("./wheels/pkg.whl", "is a URL or a path"),
    ("/tmp/pkg", "is a URL or a path"),
    ("..", "is a URL or a path"),
    ("wheels/pkg-1.0-py3-none-any.whl", "is a URL or a path"),
    ("pkg; rm -rf /", "is not a plain requirement"),
    ("pkg==1.0; python_version<'3.12'", "is not a plain requirement"),
    ("pkg$(id)", "is not a plain requirement"),
    ("pkg`id`", "is not a plain requirement"),
    ("pkg|cat", "is not a plain requirement"),
    ("pkg && true", "is not a plain requirement"),
    ("pkg\n--no-deps", "is not a plain requirement"),
    ("pkg==1.0\n", None),  # stripped: a trailing newline is only space around it
    ("'pkg'", "is not a plain requirement"),
    ("pkg==", "is not a plain requirement"),
    ("pkg[", "is not a plain requirement"),
    ("pkg==1..2", "is not a valid requirement"),
    ("", "is empty; remove it"),
    (5, "is not a string"),
    (None, "is not a string"),
])
def test_anything_else_is_refused_naming_the_variable_the_item_and_a_fix(bad, why):
    if why is None:
        assert checks.pip_packages([bad]) == [bad.strip()]
        return
    with pytest.raises(PlanError) as error:
        checks.pip_packages(["boto3", bad])
    message = str(error.value)
    assert message.startswith(f"hailstorm_pip_packages: item 2, {bad!r}, {why}")
    assert "Fix: " in message or message.endswith("remove it")


def test_every_bad_item_is_named_at_once():
    with pytest.raises(PlanError) as error:
        checks.pip_packages(["-e .", "ok", "a b"])
    assert "item 1, '-e .'" in str(error.value) and "item 3, 'a b'" in str(error.value)
    assert "item 2" not in str(error.value)


@pytest.mark.parametrize("value, shown", [
    ("locust-plugins==5.0.3", "locust-plugins==5.0.3"),
    ("--index-url=x", "locust-plugins==5.0.3"),
    ({"locust-plugins": "5.0.3"}, "locust-plugins==5.0.3"),
    (7, "locust-plugins==5.0.3"),
])
def test_a_single_string_or_a_mapping_is_refused_with_the_list_to_give(value, shown):
    with pytest.raises(PlanError) as error:
        checks.pip_packages(value)
    message = str(error.value)
    assert message.startswith(f"hailstorm_pip_packages: expected a list of pip requirements, got {value!r}")
    fix = re.search(r"-e '(.*)'$", message).group(1)
    import json
    assert checks.pip_packages(json.loads(fix)["hailstorm_pip_packages"]) == [shown]  # the fix is itself valid


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_nothing_that_passes_holds_an_option_a_url_a_quote_or_a_shell_character(text):
    try:
        checked = checks.pip_packages([text])
    except PlanError:
        return
    assert not checked[0].startswith("-")
    assert not set(checked[0]) & set("\n\r\t;$`|&'\"/\\@#()")


# --- the local backend: the controller's Python ------------------------------------------------

INSTALLED = {"locust-plugins": "5.0.3", "requests": "2.34.2"}


def version_of(name: str) -> str:
    try:
        return INSTALLED[name]
    except KeyError:
        raise metadata.PackageNotFoundError(name) from None


def test_installed_and_matching_requirements_pass():
    packages = ["locust-plugins==5.0.3", "requests[socks]>=2.31,<3", "locust-plugins"]
    assert checks.controller_pip_packages(packages, "/venv/bin/python", version_of) == packages


def test_a_missing_package_is_named_with_the_python_and_the_pip_command():
    with pytest.raises(PlanError) as error:
        checks.controller_pip_packages(["boto3==1.0", "locust-plugins==5.0.3"], "/venv/bin/python", version_of)
    assert str(error.value) == (
        "hailstorm_pip_packages: boto3==1.0 is not installed in the controller's Python (/venv/bin/python), "
        "which the local backend runs: pip install 'boto3==1.0'")


def test_a_version_outside_the_specifier_is_named_with_the_installed_one():
    with pytest.raises(PlanError) as error:
        checks.controller_pip_packages(["locust-plugins>=6", "requests<2"], "/p/python", version_of)
    message = str(error.value)
    assert ("hailstorm_pip_packages: locust-plugins>=6 does not match locust-plugins 5.0.3, installed in the "
            "controller's Python (/p/python), which the local backend runs: pip install 'locust-plugins>=6'") in message
    assert "requests<2 does not match requests 2.34.2" in message


def test_the_real_controller_python_is_read_by_default():
    assert checks.controller_pip_packages(["pytest"], sys.executable) == ["pytest"]
    with pytest.raises(PlanError, match=r"no-such-package-hailstorms is not installed in the controller's Python"):
        checks.controller_pip_packages(["no-such-package-hailstorms"], sys.executable)


PINS = checks.runtime_pins("# pinned here\nlocust==2.47.0  # the load\n\n")


@pytest.mark.parametrize("item,name", [("locust==2.0", "locust"), ("locust", "locust"), ("Locust>=2", "Locust"),
                                       (" LOCUST ", "LOCUST"), ("locust[extra]==2.47.0", "locust")])
def test_a_package_the_runtime_pins_is_refused_with_a_fix_that_keeps_the_pin(item, name):
    assert PINS == {"locust": "locust==2.47.0"}
    with pytest.raises(PlanError) as error:
        checks.pip_packages(["locust-plugins==5.0.3", item], PINS)
    assert str(error.value) == (
        f"hailstorm_pip_packages: item 2, {item!r}, names {name}, "
        f"which romram.hailstorms pins itself (locust==2.47.0, in the runtime's requirements.txt) on every load host "
        f"and for the local backend. Fix: remove it from hailstorm_pip_packages; the locustfile gets locust==2.47.0")
    assert checks.pip_packages(["locust-plugins==5.0.3"], PINS) == ["locust-plugins==5.0.3"]


def test_the_pins_are_read_from_the_runtimes_requirements():
    from ansible_collections.romram.hailstorms.plugins.action.hailstorm_settings import RUNTIME_REQUIREMENTS
    from ansible_collections.romram.hailstorms.plugins.module_utils import settings_gate

    pins = checks.runtime_pins(RUNTIME_REQUIREMENTS.read_text())
    assert list(pins) == ["locust", "protobuf", "cramjam"]  # cramjam and protobuf: live metrics (metrics.py)
    with pytest.raises(PlanError, match=r"names locust, which romram.hailstorms pins itself \(locust=="):
        settings_gate.check({"hailstorm_profiles": {"default": {"target": "http://127.0.0.1:1", "rps": 1, "rampup": 1}},
                             "hailstorm_pip_packages": ["locust==2.0"]}, 0.0, pins)
