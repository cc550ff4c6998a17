"""The bundles the provision role pushes: one deterministic file per content, its marker naming it."""
from __future__ import annotations

import os
import tarfile

import pytest

from ansible_collections.romram.hailstorms.plugins.module_utils import bundle
from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError


def tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_same_files_give_the_same_bundle_bytes_and_a_marker_naming_them(tmp_path):
    one = tree(tmp_path / "one", {"b.py": "b", "a.py": "a", "sub/c.py": "c"})
    two = tree(tmp_path / "two", {"sub/c.py": "c", "a.py": "a", "b.py": "b"})
    os.utime(two / "a.py", (1, 1))  # times and creation order do not matter
    first = bundle.build(str(one), "runtime", directory=str(tmp_path / "cache1"))
    second = bundle.build(str(two), "runtime", directory=str(tmp_path / "cache2"))
    with open(first["path"], "rb") as a, open(second["path"], "rb") as b:
        assert a.read() == b.read()
    assert first["marker"] == second["marker"] and first["marker"].startswith(".bundle-")
    assert first["files"] == 3 and first["bytes"] == 3
    with tarfile.open(first["path"]) as tar:
        names = tar.getnames()
        assert names == ["a.py", "b.py", "sub/c.py", first["marker"]]
        assert all(member.uid == 0 and member.mtime == 0 and member.mode == 0o644 for member in tar.getmembers())


def test_other_content_gets_another_bundle_and_marker(tmp_path):
    src = tree(tmp_path / "src", {"a.py": "a"})
    first = bundle.build(str(src), "runtime", directory=str(tmp_path / "cache"))
    (src / "a.py").write_text("changed")
    second = bundle.build(str(src), "runtime", directory=str(tmp_path / "cache"))
    assert second["marker"] != first["marker"] and second["path"] != first["path"]
    assert os.path.exists(first["path"]) and os.path.exists(second["path"])


def test_an_existing_bundle_of_the_same_content_is_reused(tmp_path):
    src = tree(tmp_path / "src", {"a.py": "a"})
    first = bundle.build(str(src), "runtime", directory=str(tmp_path / "cache"))
    made = os.stat(first["path"]).st_mtime_ns
    again = bundle.build(str(src), "runtime", directory=str(tmp_path / "cache"))
    assert again == first and os.stat(first["path"]).st_mtime_ns == made


def test_symlinks_are_followed_and_caches_and_hidden_files_left_out(tmp_path):
    shared = tree(tmp_path / "shared", {"planner.py": "plan"})
    src = tree(tmp_path / "src", {"core.py": "core", ".hidden.py": "x", "__pycache__/core.cpython-311.pyc": "x",
                                  "notes.txt": "x"})
    (src / "planner.py").symlink_to(shared / "planner.py")
    made = bundle.build(str(src), "runtime", ["*.py"], directory=str(tmp_path / "cache"))
    with tarfile.open(made["path"]) as tar:
        assert tar.getnames() == ["core.py", "planner.py", made["marker"]]
        assert tar.extractfile("planner.py").read() == b"plan"


def test_bad_input_is_refused_with_the_reason(tmp_path):
    with pytest.raises(PlanError, match="is not a directory on the controller"):
        bundle.build(str(tmp_path / "missing"), "runtime")
    src = tree(tmp_path / "src", {"a.txt": "a"})
    with pytest.raises(PlanError, match=r"no file under .* matches \*\.whl"):
        bundle.build(str(src), "wheelhouse", ["*.whl"], directory=str(tmp_path / "cache"))
    with pytest.raises(PlanError, match="name '../x'"):
        bundle.build(str(src), "../x")


def test_the_cache_follows_xdg_cache_home():
    assert bundle.cache_dir({"XDG_CACHE_HOME": "/c"}) == "/c/romram.hailstorms/bundles"
