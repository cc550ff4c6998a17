"""The settings gate (settings_gate.py): every setting checked once, in one place, before any host is touched."""
from __future__ import annotations

import calendar
from pathlib import Path

import pytest
import yaml

from ansible_collections.romram.hailstorms.plugins.module_utils import run_settings, settings_gate

ROLES = Path(__file__).resolve().parents[4] / "roles"
NOW = calendar.timegm((2026, 12, 6, 17, 0, 0))
PROFILES = {"default": {"target": "http://127.0.0.1:3456/", "rps": 20, "clients": 40, "rampup": 10, "constant": 30,
                        "locustfile": "/srv/locustfiles/shop.py"}}


def defaults() -> dict:
    """Every role's defaults as a play sees them, templated ones replaced by what they give."""
    values: dict = {}
    for path in sorted(ROLES.glob("*/defaults/main.yml")):
        values.update(yaml.safe_load(path.read_text()) or {})
    values.update(hailstorm_results_dir="/tmp/results", hailstorm_profiles=PROFILES)
    values.pop("hailstorm_health_url")  # its default reads hs_run: given by the health_url callback
    return values


def test_the_role_defaults_pass_and_the_result_is_what_the_roles_read():
    values = {**defaults(), "hailstorm_rps": "10", "hailstorm_overwrite": "yes", "hailstorm_backend": "systemd"}
    checked = settings_gate.check(values, NOW, health_url=lambda run: run["target"])
    settings, warnings = run_settings.resolve_settings(PROFILES, "default", {"rps": "10"})
    assert checked["run"] == {**settings, "profile": "default", "warnings": warnings}
    assert checked["run_id"] == "20261206T170000Z" and checked["run_dir"] == "/tmp/results/20261206T170000Z"
    assert checked["options"]["overwrite"] is True and checked["options"]["preview_points"] == 12
    assert checked["settings"]["paths"] == {"work_dir": "/var/lib/hailstorms", "install_dir": "/opt/hailstorms"}
    assert checked["settings"]["urls"]["health_url"] == checked["run"]["target"] == "http://127.0.0.1:3456"
    assert checked["settings"]["urls"]["prometheus_remote_write"] == ""
    assert checked["settings"]["interpreters"][-1] == "python3"  # systemd: the probe looks for these
    preflight = checked["settings"]["preflight"]
    assert preflight["locustfile"] == "/opt/hailstorms/locustfiles/shop.py" and preflight["clock_samples"] == 5
    assert checked["live_metrics"]["histograms"] == "native" and checked["baseline"] is None
    assert checked["settings"]["overrides"] == {"rps": "10"}


def test_a_given_run_id_is_kept_and_an_unsafe_one_refused():
    assert settings_gate.check({**defaults(), "hailstorm_run_id": "r1"}, NOW)["run_id"] == "r1"
    with pytest.raises(ValueError, match=r"hailstorm_run_id: '\.\./x' is not a safe run id"):
        settings_gate.check({**defaults(), "hailstorm_run_id": "../x"}, NOW)


@pytest.mark.parametrize("name, value, message", [
    ("hailstorm_work_dir", "var/lib", "hailstorm_work_dir: 'var/lib' is not an absolute path"),
    ("hailstorm_install_dir", "/opt/../x", "hailstorm_install_dir: '/opt/../x' contains '..'"),
    ("hailstorm_prometheus_remote_write", "http://u:s3cret@prom:9090/", "carries credentials"),
    ("hailstorm_grafana_url", "ftp://grafana", "hailstorm_grafana_url: 'ftp://grafana' is not an http://"),
    ("hailstorm_pip_packages", ["--index-url=x"], "item 1, '--index-url=x', is a pip option"),
    ("hailstorm_prometheus_buckets", "sparse", "hailstorm_prometheus_buckets: 'sparse' is neither"),
    ("hailstorm_report_queries", "rate", "hailstorm_report_queries: 'rate' is not a"),
    ("hailstorm_thresholds", {"p95_ms": "fast"}, "hailstorm_thresholds"),
    ("hailstorm_tag", "last", "hailstorm_tag: 'last'"),
    ("hailstorm_python", "python3", "hailstorm_python='python3' is not an absolute path"),
    ("hailstorm_clock_samples", "0", "hailstorm_clock_samples: '0'"),
    ("hailstorm_rps", "fast", "hailstorm_rps"),
])
def test_each_bad_setting_is_refused_naming_the_variable(name, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.").replace("?", r"\?")) as error:
        settings_gate.check({**defaults(), name: value}, NOW)
    assert "s3cret" not in str(error.value)


def test_the_health_url_is_checked_with_the_run_known_and_only_where_it_is_a_setting():
    seen = []

    def health_url(run):
        seen.append(run["target"])
        return "https://u:s3cret@10.0.0.5:8080/health"
    with pytest.raises(ValueError, match=r"hailstorm_health_url: 'https://\*\*\*@10\.0\.0\.5:8080/health' carries"):
        settings_gate.check(defaults(), NOW, health_url=health_url)
    assert seen == ["http://127.0.0.1:3456"]
    assert "health_url" not in settings_gate.check(defaults(), NOW, health_url=lambda run: None)["settings"]["urls"]


def test_the_controllers_packages_are_asked_for_with_the_local_backend_only():
    asked = []
    values = {**defaults(), "hailstorm_pip_packages": ["pytest>=1"]}
    settings_gate.check(values, NOW, installed=asked.append)
    assert not asked  # systemd: the load hosts install them
    checked = settings_gate.check({**values, "hailstorm_backend": "local"}, NOW, installed=asked.append)
    assert asked == [["pytest>=1"]] and checked["settings"]["interpreters"] == []
    assert checked["settings"]["preflight"]["locustfile"] == "/srv/locustfiles/shop.py"  # the controller's own


def test_a_setting_that_is_not_defined_is_not_checked():
    checked = settings_gate.check({"hailstorm_profiles": PROFILES}, NOW)
    assert checked["options"] == {} and checked["settings"]["urls"] == {} and checked["settings"]["paths"] == {}


def test_the_shape_step_keeps_the_run_or_replaces_its_curve_and_judges_abort_after():
    values = defaults()
    checked = settings_gate.check(values, NOW)
    unshaped = settings_gate.shaped(values, checked["run"], checked["thresholds"])
    assert unshaped == {"run": checked["run"], "shaped": False}
    shape = {"name": "Steps", "points": [[0.0, 10.0], [20.0, 20.0], [40.0, 0.0]]}
    shaped = settings_gate.shaped(values, checked["run"], checked["thresholds"], shape)
    assert shaped["shaped"] and shaped["run"]["shape"] == "Steps" and "stages" in shaped["run"]
    long_after = {**values, "hailstorm_thresholds": {"p95_ms": {"limit": 300, "abort": True, "after": "2m"}}}
    checked = settings_gate.check(long_after, NOW)
    with pytest.raises(ValueError, match="hailstorm_thresholds.p95_ms"):
        settings_gate.shaped(long_after, checked["run"], checked["thresholds"])


def test_the_gate_reads_every_run_setting():
    assert {"hailstorm_" + key for key in run_settings.SETTING_KEYS} <= set(settings_gate.names())


def test_the_local_backend_needs_the_packages_in_the_controllers_own_python():
    import sys

    from ansible_collections.romram.hailstorms.plugins.module_utils import checks

    def installed(packages):
        return checks.controller_pip_packages(packages, sys.executable)
    local = {**defaults(), "hailstorm_backend": "local"}
    assert settings_gate.check({**local, "hailstorm_pip_packages": [" pytest>=1 "]}, NOW,
                               installed=installed)["settings"]["pip_packages"] == ["pytest>=1"]
    with pytest.raises(ValueError, match=(
            r"^hailstorm_pip_packages: no-such-package-hailstorms==1.0 is not installed in the controller's Python "
            r"\(.*python.*\), which the local backend runs: pip install 'no-such-package-hailstorms==1.0'$")):
        settings_gate.check({**local, "hailstorm_pip_packages": ["no-such-package-hailstorms==1.0"]}, NOW,
                            installed=installed)


def test_relative_thresholds_without_a_baseline_are_refused(tmp_path):
    values = {**defaults(), "hailstorm_results_dir": str(tmp_path),
              "hailstorm_thresholds": {"p95_ms": {"max_increase": "10%"}}}
    with pytest.raises(ValueError, match=r"hailstorm_thresholds: p95_ms"):
        settings_gate.check(values, NOW)
