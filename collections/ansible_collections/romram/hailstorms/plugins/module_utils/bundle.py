# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One file to push instead of many: a directory's files in a deterministic tar, built on the
controller (hailstorm_bundle), copied to each load host once and unpacked there.

Ansible's copy module makes several round trips per file: the runtime (about 20 files) and a
wheelhouse (about 40 wheels) took 40 s and 88 s on three hosts (molecule default's converge), and
as long again to find nothing changed on the next run. A bundle is one transfer, and on the next
run one stat of its marker: the tar holds a file `.bundle-<content hash>` that names exactly what
was unpacked, so a host that has it needs nothing.

The same files give the same bytes (sorted names, no times, owners or modes from the controller),
so the bundle is made once per content and kept in the controller's cache.
"""
from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import tarfile
import tempfile
from typing import Any, Sequence

from .plan_queries import PlanError

MARKER_PREFIX = ".bundle-"
SKIPPED_DIRS = ("__pycache__",)


def cache_dir(environ: Any = None) -> str:
    """Where the controller keeps its bundles: $XDG_CACHE_HOME (else ~/.cache)/romram.hailstorms/bundles."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "romram.hailstorms", "bundles")


def members(src: str, patterns: Sequence[str] = ("*",)) -> list[tuple[str, str]]:
    """(name in the bundle, path) of every file under `src` whose base name matches one of
    `patterns`, symlinks followed, sorted by name; __pycache__ and hidden entries are left out."""
    if not os.path.isdir(src):
        raise PlanError(f"hailstorm_bundle: {src!r} is not a directory on the controller")
    found = []
    for root, dirs, files in os.walk(src, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in files:
            if name.startswith(".") or not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                continue
            path = os.path.join(root, name)
            found.append((os.path.relpath(path, src).replace(os.sep, "/"), path))
    return sorted(found)


def content_hash(files: Sequence[tuple[str, str]]) -> str:
    """sha256 over the names and bytes of `files` (what members returns)."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build(src: str, name: str, patterns: Sequence[str] = ("*",), directory: str | None = None) -> dict[str, Any]:
    """The bundle of `src` (the files `members` finds): its path in the controller's cache,
    `marker` (the member naming its content), the count and total size of its files. Made once
    per content (an existing bundle of the same content is returned as it is)."""
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise PlanError(f"hailstorm_bundle: name {name!r}: use letters, digits, '-', '_' or '.'")
    files = members(src, patterns)
    if not files:
        raise PlanError(f"hailstorm_bundle: no file under {src!r} matches {', '.join(patterns)}")
    digest = content_hash(files)[:32]
    marker = MARKER_PREFIX + digest
    directory = directory or cache_dir()
    path = os.path.join(directory, f"{name}-{digest}.tar")
    size = sum(os.path.getsize(file) for _name, file in files)
    if not os.path.exists(path):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}-", dir=directory)
        try:
            with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
                for member, file in files:
                    with open(file, "rb") as data:
                        tar.addfile(_info(member, os.path.getsize(file)), data)
                tar.addfile(_info(marker, 0), io.BytesIO(b""))
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)  # concurrent builders of the same content write the same bytes
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    return {"path": path, "marker": marker, "files": len(files), "bytes": size}
