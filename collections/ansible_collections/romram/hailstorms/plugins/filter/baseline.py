# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The baseline filters: find and check hailstorm_baseline and hailstorm_tag before any host is touched
(docs: checked_baseline.yml, checked_tag.yml; module_utils/baseline.py)."""
from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.romram.hailstorms.plugins.module_utils import baseline as _baseline


def checked_baseline(value: Any, thresholds: Any, results_dir: Any, run_id: Any, profile: Any = None,
                     settings: Any = None) -> Any:
    try:
        return _baseline.checked_baseline(value, thresholds, str(results_dir), str(run_id), profile,
                                          settings if isinstance(settings, dict) else None)
    except _baseline.CompareError as error:
        raise AnsibleFilterError(f"romram.hailstorms.checked_baseline: {error}") from None


def checked_tag(value: Any) -> Any:
    try:
        return _baseline.checked_tag(value)
    except _baseline.CompareError as error:
        raise AnsibleFilterError(f"romram.hailstorms.checked_tag: {error}") from None


class FilterModule:
    """romram.hailstorms baseline filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"checked_baseline": checked_baseline, "checked_tag": checked_tag}
