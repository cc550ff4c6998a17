# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thresholds filter: check hailstorm_thresholds (docs: thresholds.yml). The roles check them in the
settings gate (module_utils/settings_gate.py), with their abort `after` against the run's length."""
from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.module_utils import thresholds as _thresholds


def thresholds(given: Any, phase: Any = "constant", profiles: Any = None, selection: Any = "default") -> dict[str, Any]:
    try:
        return _thresholds.check(_thresholds.stack(profiles, selection, given), phase)
    except _thresholds.ThresholdError as error:
        raise AnsibleFilterError(f"romram.hailstorms.thresholds: {error}") from None


class FilterModule:
    """romram.hailstorms thresholds filter."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"thresholds": thresholds}
