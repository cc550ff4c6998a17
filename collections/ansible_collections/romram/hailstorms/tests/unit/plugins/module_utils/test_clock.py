"""Unit and property tests of the clock offset measurement (pure Python)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils import clock


def test_symmetric_round_trip_gives_the_offset_and_half_the_round_trip():
    # controller 100.000 -> host reads 100.250 at controller time 100.005 -> back at 100.010
    est = clock.estimate([clock.sample(100.000, 100.255, 100.255, 100.010)])
    assert est.offset == pytest.approx(0.250)
    assert est.uncertainty == pytest.approx(0.005)
    assert est.round_trip == pytest.approx(0.010)
    assert est.consistent


def test_time_spent_inside_the_command_is_not_uncertainty():
    # the command itself took 80 ms on the host; only the 10 ms around it is unknown
    est = clock.estimate([clock.sample(10.0, 10.005, 10.085, 10.090)])
    assert est.offset == pytest.approx(0.0)
    assert est.uncertainty == pytest.approx(0.005)
    assert est.round_trip == pytest.approx(0.010)


def test_samples_are_intersected():
    # true offset -0.030; one sample leaves early, one late: the intersection is narrower than either
    a = clock.sample(0.000, -0.030 + 0.001, -0.030 + 0.001, 0.020)   # interval [-0.049, -0.029]
    b = clock.sample(1.000, 1.000 - 0.030 + 0.019, 1.000 - 0.030 + 0.019, 1.020)  # [-0.031, -0.011]
    est = clock.estimate([a, b])
    assert est.offset == pytest.approx(-0.030)
    assert est.uncertainty == pytest.approx(0.001)
    assert est.samples == 2 and est.consistent


def test_disjoint_samples_fall_back_to_the_narrowest():
    a = clock.sample(0.0, 1.0, 1.0, 0.010)      # [0.990, 1.000]
    b = clock.sample(5.0, 5.0, 5.0, 5.002)      # [-0.002, 0.000]  (clock stepped back)
    est = clock.estimate([a, b])
    assert not est.consistent
    assert est.offset == pytest.approx(-0.001)
    assert est.uncertainty == pytest.approx(0.001)


@given(
    offset=st.floats(-1000, 1000),
    legs=st.lists(st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0, 0.2)), min_size=1, max_size=8),
)
def test_the_true_offset_is_always_inside_the_estimate(offset, legs):
    samples, now = [], 1_700_000_000.0
    for out, back, inside in legs:
        arrive = now + out
        samples.append(clock.sample(now, arrive + offset, arrive + inside + offset, arrive + inside + back))
        now += out + inside + back + 0.1
    est = clock.estimate(samples)
    assert est.consistent
    assert abs(est.offset - offset) <= est.uncertainty + 1e-6
    assert est.uncertainty <= min(s.round_trip for s in samples) / 2 + 1e-6


def test_readings_out_of_order_are_refused():
    with pytest.raises(ValueError, match="controller readings"):
        clock.sample(2.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="host readings"):
        clock.sample(1.0, 3.0, 2.0, 4.0)
    with pytest.raises(ValueError, match="at least one"):
        clock.estimate([])


@pytest.mark.parametrize("text, expected", [
    ("1795000000.123456789\n", (1795000000.123456789, 1795000000.123456789)),
    ("1.5\n2.5\n", (1.5, 2.5)),
])
def test_parse_clock_output(text, expected):
    assert clock.parse_clock_output(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "1795000000.N\n", "1795000000\n", "%s.%N\n", "abc.def"])
def test_parse_clock_output_refuses_coarse_or_garbage(text):
    with pytest.raises(ValueError):
        clock.parse_clock_output(text)


# --- the verdict against hailstorm_max_clock_offset -------------------------------------------

def _run(offset, legs, start=1_700_000_000.0):
    samples, now = [], start
    for out, back in legs:
        arrive = now + out
        samples.append(clock.sample(now, arrive + offset, arrive + offset, arrive + back))
        now += out + back + 0.05
    return clock.estimate(samples)


@given(legs=st.lists(st.tuples(st.floats(0.120, 0.250), st.floats(0.005, 0.020)), min_size=1, max_size=20))
def test_a_host_with_a_correct_clock_never_fails_whatever_the_asymmetry(legs):
    est = _run(0.0, legs)
    assert clock.verdict(est, 0.05).state != "fail"


def test_the_reported_asymmetric_case_is_a_warning_not_a_failure():
    # 120-250 ms out, 5-20 ms back: the midpoint is +0.06 s, but the interval includes 0
    est = _run(0.0, [(0.120, 0.005), (0.250, 0.020), (0.180, 0.010)])
    assert est.offset > 0.05
    assert clock.verdict(est, 0.05).state == "warn"


@given(offset=st.sampled_from([0.2, -0.2]),
       legs=st.lists(st.tuples(st.floats(0.0, 0.1), st.floats(0.0, 0.1)), min_size=1, max_size=20))
def test_a_host_200_ms_off_always_fails_when_the_round_trips_can_resolve_it(offset, legs):
    # a round trip under 0.2 s bounds the uncertainty to 0.1 s: 0.2 - 0.1 = 0.1 > 0.05
    est = _run(offset, [(out, back) for out, back in legs if out + back < 0.2] or [(0.01, 0.01)])
    assert clock.verdict(est, 0.05).state == "fail"


@pytest.mark.parametrize("offset,uncertainty,consistent,state", [
    (0.001, 0.002, True, "ok"),
    (0.040, 0.005, True, "ok"),
    (0.048, 0.005, True, "warn"),      # may be over
    (-0.06, 0.020, True, "warn"),      # may be under
    (0.080, 0.020, True, "fail"),      # certainly over
    (-0.080, 0.020, True, "fail"),
    (0.001, 0.001, False, "warn"),     # stepped clock
])
def test_verdict_states(offset, uncertainty, consistent, state):
    est = clock.ClockEstimate(offset, uncertainty, 2 * uncertainty, 3, consistent)
    assert clock.verdict(est, 0.05).state == state


def test_more_samples_while_the_verdict_is_open_and_within_budget():
    wide = clock.ClockEstimate(0.03, 0.04, 0.08, 5, True)
    narrow = clock.ClockEstimate(0.001, 0.002, 0.004, 5, True)
    assert clock.more_samples(wide, 0.05, 5, 20)
    assert not clock.more_samples(wide, 0.05, 20, 20)
    assert not clock.more_samples(narrow, 0.05, 5, 20)
