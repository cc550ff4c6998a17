"""The file names the roles write or read (one YAML variable per file) are contract.py's: a role
and the Python that reads its file (hailstorm_results, ownership, the runtime) never disagree."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.romram.hailstorms.plugins.module_utils import contract

ROLES = Path(__file__).resolve().parents[3] / "roles"
COMMON_VARS = ROLES / "common" / "vars" / "main.yml"

# the roles' variable for each file name, and contract.py's
NAMES = {
    "_hailstorm_plan_file_name": contract.PLAN_FILE,
    "_hailstorm_launch_file_name": contract.LAUNCH_FILE,
    "_hailstorm_abort_file_name": contract.ABORT_FILE,
    "_hailstorm_env_file_name": contract.ENV_FILE,
    "_hailstorm_stop_file_name": contract.STOP_FILE,
}


@pytest.mark.parametrize("variable", sorted(NAMES))
def test_each_file_name_variable_is_contracts(variable):
    assert yaml.safe_load(COMMON_VARS.read_text())[variable] == NAMES[variable]


def test_no_role_spells_a_results_file_name_itself():
    """Outside the variables above, no role task or var names a results-directory or work-directory
    file literally (a name in a task's title or a comment is text, not a path)."""
    literal = re.compile("|".join(re.escape(name) for name in (*contract.RESULTS_FILES, *NAMES.values())))
    found = []
    for path in sorted(ROLES.glob("*/*/*.yml")):
        if path.parent.name == "meta":
            continue  # documentation
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split(" #", 1)[0]
            if code.lstrip().startswith(("#", "- name:", "name:")) or not literal.search(code):
                continue
            if path == COMMON_VARS and code.split(":", 1)[0] in NAMES:
                continue
            found.append(f"{path.relative_to(ROLES)}:{number}: {line.strip()}")
    assert not found
