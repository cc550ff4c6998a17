#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_bundle
short_description: Bundle a directory on the controller, to push it to the load hosts as one file
version_added: "2.0.0"
description:
  - Puts the files under I(src) on the controller (symlinks followed; C(__pycache__) and hidden entries left out)
    in one deterministic tar in the controller's cache (C($XDG_CACHE_HOME/romram.hailstorms/bundles), else
    C(~/.cache/romram.hailstorms/bundles)), with a member C(.bundle-<content hash>) that names its content.
  - The provision role copies the bundle to each load host and unpacks it there only when the host does not have
    that marker yet - one transfer instead of several round trips per file, and one stat when nothing changed.
  - The same files give the same bundle, which is made once and reused.
options:
  src:
    description: The directory on the controller.
    type: path
    required: true
  name:
    description: The bundle's name (letters, digits, C(-), C(_), C(.)), the start of its file name.
    type: str
    required: true
  patterns:
    description: Shell patterns of the base names to include.
    type: list
    elements: str
    default: ["*"]
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: The bundle is made in check mode too (it changes nothing on any host).
author: romram.hailstorms contributors (@romram)
"""

EXAMPLES = r"""
- name: Bundle the runtime on the controller
  romram.hailstorms.hailstorm_bundle:
    src: "{{ _provision_runtime_src }}/hailstorm_runtime"
    name: runtime
    patterns: ["*.py"]
  register: __provision_runtime_bundle
  run_once: true
"""

RETURN = r"""
path:
  description: The bundle on the controller.
  returned: success
  type: str
marker:
  description: The member C(.bundle-<content hash>) that a host which unpacked this content has.
  returned: success
  type: str
files:
  description: How many files the bundle holds.
  returned: success
  type: int
bytes:
  description: Their total size.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"src": {"type": "path", "required": True}, "name": {"type": "str", "required": True},
                       "patterns": {"type": "list", "elements": "str", "default": ["*"]}},
        supports_check_mode=True,
    )
    module.fail_json(msg="romram.hailstorms.hailstorm_bundle is an action plugin; it runs on the controller")


if __name__ == "__main__":
    main()
