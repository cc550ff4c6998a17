#!/usr/bin/env python3
"""Role documentation of romram.hailstorms, generated from one source each:

- a variable's default lives in its role's defaults/main.yml (the value Ansible uses); this
  script copies it into the `default:` of every argument spec that names the variable, so that
  `ansible-doc -t role romram.hailstorms.<role>` shows it;
- each role's README.md is rendered from its meta/argument_specs.yml (entry points, options,
  types, defaults, choices) and meta/main.yml (description, dependencies).

    scripts/role_docs.py           # write the specs' defaults and the READMEs
    scripts/role_docs.py --check   # change nothing; exit 1 and name each file that differs

Deterministic: the same inputs give byte-identical files, so `--check` (run by `make test`)
fails when a README or a spec default drifts from its source. Adding a variable: write its
default in defaults/main.yml and its spec (type, description) in meta/argument_specs.yml, then
run this script.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms"
FQCN_PREFIX = "romram.hailstorms."
GENERATOR = "scripts/role_docs.py"

_OPTION_LINE = re.compile(r"^(?P<indent>\s+)(?P<name>hailstorm_[a-z0-9_]+):\s*$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None


def role_names(collection: Path = COLLECTION) -> list[str]:
    return sorted(p.name for p in (collection / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def all_defaults(collection: Path = COLLECTION) -> dict[str, Any]:
    """Every variable's default, from the defaults/main.yml of the role that defines it."""
    merged: dict[str, Any] = {}
    for role in role_names(collection):
        merged.update(load_yaml(collection / "roles" / role / "defaults" / "main.yml") or {})
    return merged


def flow(value: Any) -> str:
    """One-line YAML for a default; loads back to the same value."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False, allow_unicode=True)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    text = text.removesuffix("...").strip()
    if isinstance(value, str) and ("''" in text or "\n" in text):
        text = json.dumps(value)
    if yaml.safe_load(f"default: {text}")["default"] != value:  # pragma: no cover - a YAML corner
        raise ValueError(f"cannot write {value!r} as a one-line YAML default")
    return text


def with_defaults(spec_text: str, defaults: dict[str, Any]) -> str:
    """The argument specs text with each option's `default:` line set from `defaults` (and
    removed for options without a default). Only those lines change, so the file keeps its
    comments, anchors and layout, and a merge with other edits stays simple."""
    lines = spec_text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = _OPTION_LINE.match(line.rstrip("\n"))
        if not match:
            continue
        indent = len(match["indent"])
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        trailing: list[str] = []
        while body and not body[-1].strip():
            trailing.insert(0, body.pop())
        child = " " * (indent + 2)
        kept: list[str] = []
        skipping = False
        for body_line in body:
            body_indent = len(body_line) - len(body_line.lstrip())
            if body_line.startswith(child + "default:") and body_indent == indent + 2:
                skipping = True
                continue
            if skipping and (not body_line.strip() or body_indent > indent + 2):
                continue
            skipping = False
            kept.append(body_line)
        name = match["name"]
        if name in defaults:
            where = next((k for k, b in enumerate(kept) if b.startswith(child + "type:")), -1) + 1
            kept.insert(where, f"{child}default: {flow(defaults[name])}\n")
        out.extend(kept)
        out.extend(trailing)
    return "".join(out)


# --- README ---------------------------------------------------------------------------------------
_MARKUP = [
    (re.compile(r"\bC\(([^)]*)\)"), r"`\1`"),
    (re.compile(r"\bV\(([^)]*)\)"), r"`\1`"),
    (re.compile(r"\bO\(([^)]*)\)"), r"`\1`"),
    (re.compile(r"\bI\(([^)]*)\)"), r"*\1*"),
    (re.compile(r"\bB\(([^)]*)\)"), r"**\1**"),
    (re.compile(r"\bM\(([^)]*)\)"), r"`\1`"),
    (re.compile(r"\bU\(([^)]*)\)"), r"<\1>"),
    (re.compile(r"\bL\(([^,)]*),([^)]*)\)"), r"[\1](\2)"),
]


def markup(text: Any) -> str:
    """Ansible doc markup (C(), I(), B(), U(), L(), M(), O(), V()) as Markdown."""
    text = " ".join(str(text).split())
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text


def paragraphs(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [markup(item) for item in items if str(item).strip()]


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def option_row(name: str, spec: dict[str, Any]) -> str:
    kind = spec.get("type", "str")
    if spec.get("elements"):
        kind = f"{kind} of {spec['elements']}"
    default = f"`{flow(spec['default'])}`" if "default" in spec else ("**required**" if spec.get("required") else "")
    text = " ".join(paragraphs(spec.get("description")))
    if spec.get("choices"):
        text += " Choices: " + ", ".join(f"`{choice}`" for choice in spec["choices"]) + "."
    return f"| `{name}` | {cell(kind)} | {cell(default)} | {cell(text.strip())} |"


def readme(role: str, specs: dict[str, Any], meta: dict[str, Any]) -> str:
    fqcn = FQCN_PREFIX + role
    info = (meta or {}).get("galaxy_info") or {}
    lines = [f"# {fqcn}", "",
             f"<!-- Generated by {GENERATOR} from meta/argument_specs.yml, meta/main.yml and defaults/main.yml;"
             f" do not edit by hand: run {GENERATOR}. -->", ""]
    if info.get("description"):
        lines += [markup(info["description"]), ""]
    seen: dict[str, str] = {}
    for entry, spec in specs.items():
        tasks_from = "" if entry == "main" else f"\n    tasks_from: {entry}"
        lines += [f"## Entry point `{entry}`", ""]
        if spec.get("short_description"):
            lines += [markup(spec["short_description"]) + ("" if spec["short_description"].endswith(".") else "."), ""]
        for paragraph in paragraphs(spec.get("description")):
            lines += [paragraph, ""]
        lines += ["```yaml", f"- name: Use {fqcn}", "  ansible.builtin.import_role:",
                  f"    name: {fqcn}{tasks_from}", "```", ""]
        options = spec.get("options") or {}
        key = json.dumps(options, sort_keys=True, default=str)
        if not options:
            lines += ["No variables of its own.", ""]
        elif key in seen:
            lines += [f"Variables: as for the entry point `{seen[key]}`.", ""]
        else:
            seen[key] = entry
            lines += ["| variable | type | default | description |", "|---|---|---|---|"]
            lines += [option_row(name, options[name]) for name in sorted(options)]
            lines += [""]
    dependencies = [d.get("role", d) if isinstance(d, dict) else d for d in (meta or {}).get("dependencies") or []]
    if dependencies:
        lines += ["## Dependencies", ""] + [f"- `{d}`" for d in dependencies] + [""]
    lines += ["## License", "", ", ".join(info.get("license") if isinstance(info.get("license"), list)
                                        else [info.get("license") or "GPL-3.0-or-later"]), ""]
    return "\n".join(lines)


def expected_files(collection: Path = COLLECTION) -> dict[Path, str]:
    """Every generated file and its content, from the current sources."""
    defaults = all_defaults(collection)
    files: dict[Path, str] = {}
    for role in role_names(collection):
        spec_path = collection / "roles" / role / "meta" / "argument_specs.yml"
        spec_text = with_defaults(spec_path.read_text(encoding="utf-8"), defaults)
        files[spec_path] = spec_text
        specs = (yaml.safe_load(spec_text) or {}).get("argument_specs") or {}
        meta = load_yaml(collection / "roles" / role / "meta" / "main.yml") or {}
        files[collection / "roles" / role / "README.md"] = readme(role, specs, meta)
    return files


def differing(collection: Path = COLLECTION) -> list[Path]:
    return [path for path, text in expected_files(collection).items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file differs")
    parser.add_argument("--collection", type=Path, default=COLLECTION)
    args = parser.parse_args(argv)
    stale = differing(args.collection)
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: differs from what "
                  f"{GENERATOR} generates; run {GENERATOR} and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_files(args.collection).items():
        if path in stale:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
