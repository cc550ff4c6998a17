# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of romram.hailstorms.hailstorm_known_settings (documentation in plugins/modules/).
The known settings are read from the collection's own roles/*/meta/argument_specs.yml."""
from __future__ import annotations

from pathlib import Path

import yaml
from ansible.plugins.action import ActionBase

from ansible_collections.romram.hailstorms.plugins.module_utils import known_settings

ROLES = Path(__file__).resolve().parents[2] / "roles"


def known_from_specs(roles: Path = ROLES) -> tuple[set[str], list[str]]:
    """(every option of every role's argument specs, the role names)."""
    known: set[str] = set()
    names: list[str] = []
    for spec in sorted(roles.glob("*/meta/argument_specs.yml")):
        known |= known_settings.spec_options(yaml.safe_load(spec.read_text(encoding="utf-8")))
        names.append(spec.parent.parent.name)
    return known, names


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("extra_known",))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        known, roles = known_from_specs()
        known |= set(self._task.args.get("extra_known") or [])
        # facts and registered results set during the play are the collection's own, not settings
        manager = self._task.get_variable_manager()
        host = task_vars.get("inventory_hostname")
        facts: set[str] = set()
        for cache in ("_nonpersistent_fact_cache", "_fact_cache"):
            try:
                facts |= set(getattr(manager, cache).get(host) or {})
            except (AttributeError, TypeError, KeyError):
                pass
        names = [name for name in task_vars if name not in facts]
        result.update(changed=False, unknown=known_settings.unknown(names, known))
        result["warnings"] = known_settings.warnings(names, known, roles)
        return result
