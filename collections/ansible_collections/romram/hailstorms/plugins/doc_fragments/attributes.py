# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of romram.hailstorms shares, written once.

A module extends `romram.hailstorms.attributes` and says in its own `attributes.check_mode.description`
what it does in check mode (its description replaces this one, the rest is kept); a module that is
run by an action plugin of the same name also extends `romram.hailstorms.attributes.action`."""
from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """check_mode (fully supported; each module describes how) and diff_mode (none)."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Supports check mode; the module's own description says what it does there.
    support: full
  diff_mode:
    description: Nothing to show a diff of.
    support: none
"""

    ACTION = r"""
options: {}
attributes:
  action:
    description: An action plugin of the same name runs the task (on the controller); the module file only
      documents it.
    support: full
"""
