"""RunFailure: library code of the runtime raises it, only __main__ turns it into the exit code
and the text on stderr; and the runtime's modules import one another without a circle."""
from __future__ import annotations

import ast
import io
import json
import os
from pathlib import Path

import pytest

from hailstorm_runtime.failure import RunFailure

RUNTIME = Path(__file__).resolve().parents[3] / "runtime" / "hailstorm_runtime"


def test_a_failure_says_its_reason_after_the_runtime_prefix_and_gives_its_exit_code():
    out = io.StringIO()
    assert RunFailure("no start signal", 2).say(out) == 2
    assert out.getvalue() == "hailstorm_runtime: no start signal\n"


def test_a_failure_said_already_writes_nothing_more():
    out = io.StringIO()
    assert RunFailure("RuntimeError: boom", stderr="").say(out) == 1
    assert out.getvalue() == ""


def test_a_failure_with_its_own_text_writes_that_text():
    out = io.StringIO()
    RunFailure("ValueError: x", stderr="Traceback (most recent call last):\nValueError: x\n").say(out)
    assert out.getvalue() == "Traceback (most recent call last):\nValueError: x\n"


@pytest.fixture()
def main():
    """The command line's main, run in this process (its umask restored after)."""
    from hailstorm_runtime.__main__ import main as run_main

    umask = os.umask(0o022)
    os.umask(umask)
    yield run_main
    os.umask(umask)


def test_a_core_the_data_does_not_have_exits_1_naming_the_cores_it_has(main, tmp_path, capsys):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"cores": [{"index": 0}, {"index": 1}], "plan": {}}))
    assert main(["run", "--data", str(data), "--core", "5"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "--core 5: data.json has cores [0, 1]"


@pytest.mark.parametrize("text,last_line", [
    ("from locust import task\n", "No User class found!"),
    ("import sys\nsys.exit(3)\n", "hailstorm_runtime: the locustfile called sys.exit(3) at import; a locustfile "
                                  "is imported by Locust and must not exit: remove the call, or guard it with "
                                  "`if __name__ == '__main__':`"),
    ("raise RuntimeError('no database')\n", "RuntimeError: no database"),
])
def test_a_locustfile_the_check_cannot_use_exits_1_with_the_reason_on_the_last_line(
        main, tmp_path, capsys, text, last_line):
    locustfile = tmp_path / f"bad_{abs(hash(text))}.py"
    locustfile.write_text(text)
    assert main(["check", "--locustfile", str(locustfile)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == last_line
    assert captured.out == ""


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The runtime's own modules that `path` imports (at module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found.update(name for name in names if name in modules)
    return found


def test_the_runtime_modules_import_one_another_without_a_circle():
    modules = {path.stem for path in RUNTIME.glob("*.py")} - {"__init__"}
    graph = {name: _imports(RUNTIME / f"{name}.py", modules) for name in modules}
    assert "core" in graph["__main__"] and "core" not in graph["runner"]  # the trampoline is gone
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import circle: {' -> '.join(path + (name,))}"
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, path + (name,))
        done.add(name)

    for module in sorted(modules):
        visit(module, ())
