"""hailstorm_python is checked on the controller before any load host is touched (systemd backend).
The choice of the interpreter on real hosts (Debian 11 refused, Ubuntu 22.04's python3.11 found) is
molecule/sudo's; the pure choice is test_interpreters.py's."""
from __future__ import annotations

import pytest

from harness import ansible_playbook


@pytest.mark.parametrize("given", ["python3.11", "~/python/bin/python3"])
def test_a_hailstorm_python_that_is_not_an_absolute_path_is_refused_before_the_probe(tmp_path, given):
    result = ansible_playbook("distribute.yml", "local", "--check", "-e", "hailstorm_backend=systemd",
                              "-e", f"hailstorm_python={given}", "-e", f"hailstorm_results_dir={tmp_path}/results",
                              "-e", "hailstorm_target=http://127.0.0.1:9")
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert (f"hailstorm_python='{given}' is not an absolute path of an interpreter. Fix: give the path of a "
            "Python >= 3.11 on the load hosts, e.g. hailstorm_python=/usr/bin/python3.11") in text
    assert "Probe the load host" not in result.stdout
