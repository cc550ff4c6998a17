# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which `hailstorm_<name>` variables the collection knows, and a warning for each one it does not.

The known names are the options of the roles' argument specs (roles/*/meta/argument_specs.yml):
the one place a setting is declared. A variable named like a setting that no role reads (a typo
such as `-e hailstorm_ramup=30`) would otherwise change nothing, silently; the warning names the
closest known setting.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping

PREFIX = "hailstorm_"
CUTOFF = 0.6  # difflib similarity of the names without the prefix; 'ramup' ~ 'rampup' is 0.91


def spec_options(argument_specs: Mapping[str, Any] | None) -> set[str]:
    """The option names of every entry point of one role's meta/argument_specs.yml (loaded)."""
    names: set[str] = set()
    for entry in ((argument_specs or {}).get("argument_specs") or {}).values():
        names.update((entry or {}).get("options") or {})
    return names


def unknown(names: Iterable[str], known: Iterable[str]) -> list[str]:
    """The `hailstorm_` names (one underscore: settings; `_hailstorm...` and `__` are private)
    that are not known, sorted."""
    known = set(known)
    return sorted(name for name in set(names) if name.startswith(PREFIX) and name not in known)


def closest(name: str, known: Iterable[str]) -> str | None:
    stems = {k[len(PREFIX):]: k for k in known if k.startswith(PREFIX)}
    match = difflib.get_close_matches(name[len(PREFIX):], sorted(stems), n=1, cutoff=CUTOFF)
    return stems[match[0]] if match else None


def warnings(names: Iterable[str], known: Iterable[str], roles: Iterable[str] = (),
             collection: str = "romram.hailstorms") -> list[str]:
    """One warning per unknown `hailstorm_` variable, naming the closest known setting (or, with
    none close, where the settings are listed)."""
    known = sorted(set(known))
    out: list[str] = []
    for name in unknown(names, known):
        guess = closest(name, known)
        where = " ".join(f"{collection}.{role}" for role in sorted(roles)) or f"{collection}.<role>"
        hint = f"did you mean {guess}?" if guess else f"the settings are listed by `ansible-doc -t role {where}`"
        out.append(f"{name} is not a setting of {collection}: no role reads it, so it changes nothing; {hint}")
    return out
