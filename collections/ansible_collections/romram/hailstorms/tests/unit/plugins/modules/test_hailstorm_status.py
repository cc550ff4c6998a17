"""The progress lines' warning of a generator-limited core, from its status file's fields."""
from __future__ import annotations

from ansible_collections.romram.hailstorms.plugins.modules.hailstorm_status import limited_messages


def test_a_core_over_its_own_limit_is_told_to_plan_less_and_a_starved_one_to_free_its_cpu():
    cores = [{"core": 0, "generator_limited": True, "cpu": 0.97, "lag_ms": 14.0, "wait": 0.01, "starved": False},
             {"core": 1, "generator_limited": True, "cpu": 0.01, "lag_ms": 20.0, "wait": 0.3, "starved": True},
             {"core": 2, "generator_limited": False, "cpu": 0.2, "lag_ms": 1.0}]
    own, starved = limited_messages("load1", cores)
    assert own == ("results from load1 core 0 are generator-limited; plan fewer rps per core "
                   "(CPU 97 %, event-loop lag 14 ms)")
    assert starved.startswith("results from load1 core 1 are generator-limited by other work on the load host, "
                              "not by this plan's rate (it waited for a CPU up to 30 % of a second and used at most "
                              "1 % itself)")
    assert starved.endswith("(CPU 1 %, event-loop lag 20 ms)") and "plan fewer rps" not in starved
