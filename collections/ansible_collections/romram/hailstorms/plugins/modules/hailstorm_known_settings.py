#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_known_settings
short_description: Warn about hailstorm_ variables that no role of the collection reads
version_added: "1.0.0"
description:
  - The known settings are the options of the collection's role argument specs
    (C(roles/*/meta/argument_specs.yml)), the one place a setting is declared.
  - Each variable of the host whose name starts with C(hailstorm_) and that is not known (a typo such
    as C(-e hailstorm_ramup=30), which would change nothing) gets a warning naming the closest known
    setting. Facts and registered results set during the play are not settings and are left alone.
  - Never fails; read-only. Runs on the controller.
options:
  extra_known:
    description: More names to accept (variables of your own that use the prefix).
    type: list
    elements: str
    default: []
author:
  - romram.hailstorms contributors (@romram)
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
"""

EXAMPLES = r"""
- name: Warn about hailstorm_ variables that no role reads
  romram.hailstorms.hailstorm_known_settings:
  run_once: true
"""

RETURN = r"""
unknown:
  description: The unknown hailstorm_ variables, sorted (each also has a warning).
  returned: always
  type: list
  elements: str
  sample: [hailstorm_ramup]
"""
