# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The versions a run was made with, recorded once, where it is planned (plan.json's `versions`,
written by the hailstorm_plan action) and read by the summary and the report:

  collection          romram.hailstorms' version: MANIFEST.json's (an installed collection), else
                      galaxy.yml's (a checkout)
  ansible_core        ansible-core on the controller
  controller_python   the controller's Python

Locust and Python on the load hosts are what each load process says in its meta record;
summary.load_versions joins them, and the summary's `versions` holds all five. Pure Python, no Ansible.
"""
from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Any

COLLECTION = Path(__file__).resolve().parents[2]  # .../romram/hailstorms
_GALAXY_VERSION = re.compile(r"^version:\s*['\"]?([^'\"\s#]+)", re.M)


def collection_version(root: Path = COLLECTION) -> str | None:
    """The collection's version, or None when neither MANIFEST.json nor galaxy.yml says it."""
    try:
        return str(json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        match = _GALAXY_VERSION.search((root / "galaxy.yml").read_text(encoding="utf-8"))
    except OSError:
        return None
    return match.group(1) if match else None


def controller_versions(ansible_core: str | None, root: Path = COLLECTION) -> dict[str, Any]:
    """What plan.json records: the collection, ansible-core (given by the caller, which runs in
    Ansible) and the controller's Python."""
    return {"collection": collection_version(root), "ansible_core": ansible_core,
            "controller_python": platform.python_version()}
