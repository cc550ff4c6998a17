# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clock offset of a load host against the controller, measured like NTP does.

Pure Python (no Ansible). One sample is one command run on the host over Ansible's connection:
the controller reads its clock just before (``sent``) and just after (``received``); the host
reads its clock when the command starts (``host_first``) and when it ends (``host_last``).
With offset = host clock - controller clock, the true offset lies in the interval

    [host_last - received, host_first - sent]

(the host's readings happened between the controller's two readings). Every sample gives such
an interval; the true offset lies in all of them (the clocks do not drift measurably in the
second a measurement takes), so their intersection is the measurement: its midpoint is the
offset and its half-width the uncertainty. The uncertainty is at most half of the shortest
round trip, and usually smaller. If the intervals do not intersect (a clock was stepped during
the measurement) the narrowest sample alone is used and ``consistent`` is false.

The midpoint is biased when the two legs of the round trips differ (a busy controller is slow to
send, quick to receive), so it is never compared with the limit alone: like NTP, the verdict
uses the least-delay samples' interval as a whole. A host fails only when the whole interval is
beyond the limit (|offset| - uncertainty > limit: certainly over), and is warned about when the
interval reaches beyond it (it may be over). While the uncertainty is large against the limit,
more samples are taken (the least-delay one narrows the interval).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence


class ClockSample(NamedTuple):
    sent: float
    host_first: float
    host_last: float
    received: float

    @property
    def round_trip(self) -> float:
        """Controller time spent on the sample, minus what the host spent inside the command."""
        return max(0.0, (self.received - self.sent) - (self.host_last - self.host_first))

    @property
    def interval(self) -> tuple[float, float]:
        return (self.host_last - self.received, self.host_first - self.sent)


class ClockEstimate(NamedTuple):
    offset: float        # host - controller, seconds
    uncertainty: float   # the true offset is within offset +- uncertainty
    round_trip: float    # shortest controller-side round trip of one command, seconds
    samples: int
    consistent: bool     # false if the samples' intervals did not intersect


def sample(sent: float, host_first: float, host_last: float, received: float) -> ClockSample:
    """A sample, checked: the controller's readings must be in order, and so must the host's."""
    if received < sent:
        raise ValueError(f"controller readings out of order: sent {sent!r} > received {received!r}")
    if host_last < host_first:
        raise ValueError(f"host readings out of order: first {host_first!r} > last {host_last!r}")
    return ClockSample(float(sent), float(host_first), float(host_last), float(received))


def estimate(samples: Sequence[ClockSample]) -> ClockEstimate:
    """The offset from one or more samples (intersection of their intervals)."""
    if not samples:
        raise ValueError("at least one clock sample is needed")
    low = max(s.interval[0] for s in samples)
    high = min(s.interval[1] for s in samples)
    round_trip = min(s.round_trip for s in samples)
    consistent = low <= high
    if not consistent:
        best = min(samples, key=lambda s: s.interval[1] - s.interval[0])
        low, high = best.interval
    return ClockEstimate(
        offset=(low + high) / 2.0,
        uncertainty=(high - low) / 2.0,
        round_trip=round_trip,
        samples=len(samples),
        consistent=consistent,
    )


class ClockVerdict(NamedTuple):
    state: str           # 'ok', 'warn' (may be over the limit, or clock stepped) or 'fail' (certainly over)
    low: float           # the offset lies in [low, high]
    high: float


def verdict(est: ClockEstimate, limit: float) -> ClockVerdict:
    """ok / warn / fail of an estimate against the largest accepted |offset| (seconds)."""
    low, high = est.offset - est.uncertainty, est.offset + est.uncertainty
    nearest = 0.0 if low <= 0.0 <= high else min(abs(low), abs(high))
    farthest = max(abs(low), abs(high))
    if nearest > limit:
        state = "fail"
    elif farthest > limit or not est.consistent:
        state = "warn"
    else:
        state = "ok"
    return ClockVerdict(state, low, high)


def more_samples(est: ClockEstimate, limit: float, taken: int, budget: int) -> bool:
    """Whether to take another sample: the verdict is not settled yet (the interval straddles the
    limit, or is wider than the limit itself) and fewer than `budget` samples were taken."""
    if taken >= budget:
        return False
    return verdict(est, limit).state == "warn" or est.uncertainty > limit / 2


def parse_clock_output(text: str) -> tuple[float, float]:
    """The host's readings from a timing command's output: one or two numbers, one a line
    (the first is ``host_first``, the last ``host_last``).

    ``date +%s.%N`` prints a literal ``%N`` or ``N`` where nanoseconds are unsupported
    (busybox, BSD): such a reading has no sub-second resolution and is refused.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"expected a clock reading, got {text!r}")
    readings = []
    for line in (lines[0], lines[-1]):
        if "." not in line:
            raise ValueError(f"clock reading without sub-second resolution: {line!r}")
        try:
            readings.append(float(line))
        except ValueError:
            raise ValueError(f"not a clock reading: {line!r}") from None
    return readings[0], readings[1]
