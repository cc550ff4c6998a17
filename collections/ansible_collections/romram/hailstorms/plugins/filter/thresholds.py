# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thresholds filters: check hailstorm_thresholds before any host is touched (docs: thresholds.yml),
and their abort `after` against the run's duration once it is known (docs: checked_abort_after.yml)."""
from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.module_utils import thresholds as _thresholds


def thresholds(given: Any, phase: Any = "constant", profiles: Any = None, selection: Any = "default") -> dict[str, Any]:
    try:
        return _thresholds.check(_thresholds.stack(profiles, selection, given), phase)
    except _thresholds.ThresholdError as error:
        raise AnsibleFilterError(f"romram.hailstorms.thresholds: {error}") from None


def checked_abort_after(checked: Any, settings: Any) -> dict[str, Any]:
    """The checked thresholds (hs_thresholds) unchanged, or an error naming an abort threshold whose
    `after` is not shorter than the run (settings: the resolved run settings, hs_run)."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("romram.hailstorms.checked_abort_after: the run settings must be a mapping (hs_run)")
    try:
        _thresholds.check_abort_after(checked, settings)
        _thresholds.check_scenario_names(checked, settings)  # judged against the run too
    except _thresholds.ThresholdError as error:
        raise AnsibleFilterError(f"romram.hailstorms.checked_abort_after: {error}") from None
    return checked


class FilterModule:
    """romram.hailstorms thresholds filter."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"thresholds": thresholds, "checked_abort_after": checked_abort_after}
