"""The one test and benchmark harness (harness.py): the helpers the tests and benchmarks/*.py share."""
from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest

from harness import accepts, cpu_seconds, free_port, start_feeder, wait_until


def test_free_port_binds_to_0_or_scans_below_32768():
    assert free_port() > 0
    port = free_port(20000)
    assert 20000 <= port < 32768 and not accepts(port)


def test_the_feeder_answers_once_started_and_a_feeder_that_cannot_start_is_named():
    process, url = start_feeder(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with urllib.request.urlopen(url + "/hello", timeout=10) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    with pytest.raises(RuntimeError, match="the feeder ended at its start"):
        start_feeder("--no-such-option", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_cpu_seconds_counts_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                             "while time.process_time() < end: pass\ntime.sleep(60)"])
    try:
        wait_until(lambda: cpu_seconds(busy.pid) >= 0.4, "half a CPU second spent", 60)
        assert cpu_seconds(busy.pid, children=True) >= cpu_seconds(busy.pid)
    finally:
        busy.kill()
        busy.wait()


def test_wait_until_returns_the_value_or_names_what_it_waited_for():
    assert wait_until(lambda: 7, "seven") == 7
    with pytest.raises(AssertionError, match="waited 0.2 s for nothing"):
        wait_until(lambda: None, "nothing", 0.2, 0.05)
