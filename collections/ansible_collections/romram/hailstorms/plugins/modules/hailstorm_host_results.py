#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A load host merges its own cores into one compact file, so the controller fetches one file per host."""
from __future__ import annotations

DOCUMENTATION = r"""
module: hailstorm_host_results
short_description: Merge a load host's per-core results into one compact file
version_added: 1.0.0
author: romram.hailstorms contributors (@romram)
description:
  - Runs on the load host, after its load processes ended. Writes C(host.jsonl) in the run's work directory - one line per
    core with its records compacted (every second's cells, active clients and load samples summed; the merge on the
    controller gives exactly the figures the raw C(core-N.jsonl) files give), the tail of each C(core-N.log) and
    C(data.json).
  - The raw files stay on the host; the collect role fetches them only with C(hailstorm_fetch_raw).
options:
  path:
    description: The run's work directory on the load host.
    type: path
    required: true
extends_documentation_fragment:
  - romram.hailstorms.attributes
attributes:
  check_mode:
    description: Writes nothing in check mode.
"""

EXAMPLES = r"""
- name: Merge this host's cores into one file
  romram.hailstorms.hailstorm_host_results:
    path: /var/lib/hailstorms/20261129T101500Z
"""

RETURN = r"""
path:
  description: The file written.
  returned: success
  type: str
cores:
  description: Number of core-N.jsonl files merged.
  returned: success
  type: int
bytes:
  description: Size of the file.
  returned: success
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.romram.hailstorms.plugins.module_utils.hostfile import HOST_FILE, write_host_file


def main() -> None:
    module = AnsibleModule(argument_spec={"path": {"type": "path", "required": True}}, supports_check_mode=True)
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg=f"hailstorm_host_results: no run directory {path} on this host")
    if module.check_mode:
        module.exit_json(changed=False, path=os.path.join(path, HOST_FILE), cores=0, bytes=0)
    try:
        written = write_host_file(path)
        os.chmod(written["path"], 0o640)
    except OSError as exc:
        try:  # a full disk leaves a partial file behind
            os.remove(os.path.join(path, HOST_FILE + ".tmp"))
        except OSError:
            pass
        module.fail_json(msg=f"hailstorm_host_results: cannot write {os.path.join(path, HOST_FILE)}: {exc}")
    module.exit_json(changed=True, **written)


if __name__ == "__main__":
    main()
