#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's work directory on a load host, never shared with an earlier run of the same id."""
from __future__ import annotations

DOCUMENTATION = r"""
module: hailstorm_run_dir
short_description: Clear or refuse an earlier run's work directory on a load host
version_added: 2.0.0
author: romram.hailstorms contributors (@romram)
description:
  - The run's work directory is I(work_dir)/I(run_id). When it holds files of an earlier run with the same id (its
    data.json, start signal, records, logs), a new run would read the old start time and refuse to append to the old
    records; it is refused, naming the files and the fix, unless I(overwrite), then that directory (and nothing
    else) is removed.
  - I(work_dir) must be an absolute path without C(..) and I(run_id) a safe run id (the same rules as the plan role's
    checks); a directory that is a symbolic link is never removed.
  - The caller creates the directory afterwards (owner, mode).
options:
  work_dir:
    description: hailstorm_work_dir, the directory of every run's work directory on this host.
    type: path
    required: true
  run_id:
    description: The run id.
    type: str
    required: true
  overwrite:
    description: Remove an earlier run's work directory with this id (hailstorm_overwrite) instead of refusing it.
    type: bool
    default: false
extends_documentation_fragment:
  - romram.hailstorms.attributes
attributes:
  check_mode:
    description: Says what would be removed, removes nothing.
"""

EXAMPLES = r"""
- name: Remove the earlier run's work directory of this run id (hailstorm_overwrite)
  romram.hailstorms.hailstorm_run_dir:
    work_dir: /var/lib/hailstorms
    run_id: 20261129T101500Z
    overwrite: true
"""

RETURN = r"""
path:
  description: The run's work directory.
  returned: always
  type: str
removed:
  description: The names the removed directory held (empty when nothing was removed).
  returned: always
  type: list
  elements: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.romram.hailstorms.plugins.module_utils.checks import host_run_dir
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "work_dir": {"type": "path", "required": True},
            "run_id": {"type": "str", "required": True},
            "overwrite": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    path = ""
    try:
        path = host_run_dir(params["work_dir"], params["run_id"])["path"]
        if os.path.islink(path):
            module.fail_json(msg=f"{path} (hailstorm_work_dir/hailstorm_run_id) is a symbolic link; a run's work "
                                 "directory must be a directory of its own. Fix: remove the link, or give another "
                                 "hailstorm_run_id", path=path, removed=[])
        entries = sorted(os.listdir(path)) if os.path.isdir(path) else ([path] if os.path.lexists(path) else None)
        decided = host_run_dir(params["work_dir"], params["run_id"], params["overwrite"], entries)
    except PlanError as error:
        module.fail_json(msg=f"{error} (on this load host)", path=path, removed=[])
    except OSError as error:
        module.fail_json(msg=f"cannot read the run's work directory {path}: {error.strerror}", path=path, removed=[])
    removed = list(entries or []) if decided["remove"] else []
    if decided["remove"] and not module.check_mode:
        try:
            if os.path.isdir(path):
                shutil.rmtree(path)  # never follows a symbolic link inside it
            else:
                os.remove(path)
        except OSError as error:
            module.fail_json(msg=f"hailstorm_overwrite: cannot remove the earlier run's work directory {path}: "
                                 f"{error}", path=path, removed=[])
    module.exit_json(changed=decided["remove"], path=path, removed=removed)


if __name__ == "__main__":
    main()
