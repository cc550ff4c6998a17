"""The one URL rule (urls.checked_url): hailstorm_target and the Prometheus endpoints, refused with
the variable, the value (credentials masked) and a fix that the rule itself accepts."""
from __future__ import annotations

import re

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError
from ansible_collections.romram.hailstorms.plugins.module_utils.urls import SETTINGS, checked_url, masked

WRITE = "hailstorm_prometheus_remote_write"
TARGET = "hailstorm_target"


def refusal(value, name) -> str:
    with pytest.raises(PlanError) as error:
        checked_url(value, name)
    return str(error.value)


def the_fix(message: str, name: str) -> str:
    """The value the message's fix gives (name=value)."""
    return re.search(rf"{name}=(\S+?)[),;]*(?:\s|$)", message).group(1)


def test_an_empty_endpoint_is_off_a_plain_one_is_kept_and_the_target_is_required():
    assert checked_url("", WRITE) == "" and checked_url(None, WRITE) == ""
    assert checked_url(" https://prom.example:9090/api/v1/write ", WRITE) == "https://prom.example:9090/api/v1/write"
    assert checked_url("http://[::1]:8080/", TARGET) == "http://[::1]:8080/"
    message = refusal("", TARGET)
    assert message.startswith("hailstorm_target: not set") and checked_url(the_fix(message, TARGET), TARGET)


@pytest.mark.parametrize("name", sorted(SETTINGS))
@pytest.mark.parametrize("value, words", [
    ("prom:9090/api/v1/write", "not an http:// or https:// URL"),
    ("ftp://prom/api", "not an http:// or https:// URL"),
    ("http:///api/v1/write", "not an http:// or https:// URL"),
    ("http://prom/api v1", "space"),
])
def test_a_bad_url_is_refused_with_the_variable_and_a_url_that_works(name, value, words):
    message = refusal(value, name)
    assert message.startswith(f"{name}: {value!r}") and words in message
    assert checked_url(the_fix(message, name), name) == SETTINGS[name].example


@pytest.mark.parametrize("name", sorted(SETTINGS))
@pytest.mark.parametrize("value, fixed", [
    ("https://user:s3cret@host.example/api", "https://host.example/api"),
    ("https://user:s3cret@host.example:8443", "https://host.example:8443"),
    ("http://s3cret@[::1]:8080/x?a=1", "http://[::1]:8080/x?a=1"),
    ("https://user:s3c/ret@host.example/", "https://host.example/"),  # a "/" in the password ends the host
])
def test_a_url_with_credentials_is_refused_without_showing_them(name, value, fixed):
    message = refusal(value, name)
    assert "s3c" not in message and "user" not in message.split(":", 2)[1]
    assert "carries credentials" in message and the_fix(message, name) == fixed
    assert checked_url(the_fix(message, name), name) == fixed
    assert ("answers without a login" in message if name == "hailstorm_health_url" else
            "your browser logs in" in message if name == "hailstorm_grafana_url" else
            "hailstorm_environment" in message and "Ansible Vault" in message)


def test_the_targets_credentials_go_to_the_environment_and_the_locustfile():
    message = refusal("https://tester:s3cret@staging.example.com/", TARGET)
    assert "hailstorm_target=https://staging.example.com/" in message
    assert "self.client.auth = (os.environ['TARGET_USER'], os.environ['TARGET_PASSWORD'])" in message
    assert "HAILSTORM_PROMETHEUS" in refusal("https://u:p@prom/api", WRITE)


@pytest.mark.parametrize("port", ["0", "65536", "99999", "80a", "00000"])
def test_a_port_outside_1_to_65535_is_refused_with_the_default_port_as_the_fix(port):
    message = refusal(f"https://host.example:{port}/base", TARGET)
    assert f"has the port '{port}', which is not a number from 1 to 65535" in message
    assert the_fix(message, TARGET) == "https://host.example/base"
    assert checked_url(the_fix(message, TARGET), TARGET)


@pytest.mark.parametrize("port", ["1", "80", "8089", "65535"])
def test_ports_from_1_to_65535_are_accepted(port):
    assert checked_url(f"http://10.0.0.5:{port}", TARGET) == f"http://10.0.0.5:{port}"


def test_masking_hides_everything_before_the_host():
    assert masked("https://u:p@h/x") == "https://***@h/x"
    assert masked("https://h/x") == "https://h/x"


def test_the_planner_refuses_a_target_with_credentials_from_a_profile_without_showing_the_password():
    profiles = {"default": {"target": "https://tester:s3cret@staging.example.com", "rampup": 5, "rps": 10}}
    with pytest.raises(PlanError) as error:
        run_settings.resolve_settings(profiles)
    assert "hailstorm_target: 'https://***@staging.example.com' carries credentials" in str(error.value)
    assert "s3cret" not in str(error.value)
    with pytest.raises(PlanError, match="hailstorm_target: 'http://10.0.0.5:0' has the port '0'"):
        run_settings.resolve_settings({"default": {"target": "http://10.0.0.5:0", "rampup": 5, "rps": 10}})
