"""The runtime package a load host gets (runtime/hailstorm_runtime/, symlinks followed: the provision
role copies every *.py there): every module it imports from itself is in it, and of the planner
only what the load hosts use (plan_queries.py, and planner.py for the calibration's one-core plan),
not the controller's settings or preview."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "runtime" / "hailstorm_runtime"
MODULE_UTILS = Path(__file__).resolve().parents[3] / "plugins" / "module_utils"


def own_imports(path: Path) -> set[str]:
    """The package's modules `path` imports (relative imports: `from . import x`, `from .x import y`),
    at any depth (a function's lazy import counts: it runs on the load host too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module} if node.module else {alias.name for alias in node.names}
        if isinstance(node, ast.ImportFrom) and node.module and "module_utils" in node.module and node.level == 0:
            names.add(node.module.rsplit(".", 1)[-1] + " (a collection import: not on a load host)")
    return names


def test_every_module_the_runtime_imports_is_in_its_package():
    shipped = {path.stem for path in PACKAGE.glob("*.py")}
    shipped |= {target.id for node in ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8")).body
                if isinstance(node, ast.Assign) for target in node.targets}  # from . import PROCESS_START
    missing = {f"{path.name} imports {name}" for path in PACKAGE.glob("*.py") for name in own_imports(path)
               if name not in shipped}
    assert not missing


def test_the_runtime_gets_the_plan_queries_the_planner_and_the_records_not_the_settings_preview_or_summary():
    links = {path.name: path.resolve() for path in PACKAGE.glob("*.py") if path.is_symlink()}
    assert links == {name: MODULE_UTILS / name for name in ("contract.py", "plan_queries.py", "planner.py",
                                                            "records.py")}
    assert own_imports(PACKAGE / "plan_queries.py") == set()  # plain Python: imports nothing of ours
    assert own_imports(PACKAGE / "planner.py") == {"plan_queries"}
