"""``make service NAME=<name>``: scaffold a new, working service from templates.

``python -m tools.scaffold <name> [--root DIR] [--port N] [--description TEXT]`` renders
the files under ``common/templates/service/`` (``string.Template``, ``$name`` style) into

- ``services/<name>/__init__.py``, ``app.py`` (a tiny TensorFlow model) and ``README.md``,
- ``tests/services/<name>/test_<name>.py`` (unit tests and one gunicorn test),

and appends the service to ``deploy/registry.yaml`` (as text, so the file's comments
stay), on the next free port. Nothing is written unless every check passes; nothing is
ever overwritten. A refused request exits with code 2 and says why.
"""
from __future__ import annotations

import argparse
import json
import keyword
import os
import re
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

TEMPLATES = Path(__file__).resolve().parent / "templates" / "service"
DEFAULT_ROOT = Path(__file__).resolve().parent.parent
REGISTRY = Path("deploy") / "registry.yaml"

#: Template file -> where it goes, relative to the project root.
FILES = {
    "__init__.py.tmpl": "services/{name}/__init__.py",
    "app.py.tmpl": "services/{name}/app.py",
    "README.md.tmpl": "services/{name}/README.md",
    "test_service.py.tmpl": "tests/services/{name}/test_{name}.py",
}

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME_LENGTH = 40  # keeps the generated lines, env prefixes and class names sane
RESERVED = frozenset({"common", "tests", "test", "services"})
FIRST_PORT = 8101  # the port of the first service of an empty registry
EXIT_REFUSED = 2
DEFAULT_DESCRIPTION = ("Counts the words and characters of each text with a compiled "
                       "TensorFlow function: a starting point for your own model.")
SAMPLE_BODY = '{"text": "Hello modelchain world"}'


class ScaffoldError(Exception):
    """A request the scaffold refuses; the message says why and what to do instead."""


@dataclass(frozen=True)
class Plan:
    """Everything a scaffold run will write, computed and checked before writing."""

    root: Path
    name: str
    port: int
    files: dict[Path, str]  # absolute path -> rendered text
    registry_path: Path
    registry_text: str      # the whole registry file with the new entry


# ------------------------------------------------------------------ checks
def check_name_syntax(name: str) -> None:
    """Refuse names that cannot be a service's package, env prefix and registry key."""
    if not name:
        raise ScaffoldError("The service name is empty; usage: make service NAME=<name>, "
                            "e.g. make service NAME=my_model.")
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(f"{name!r} is not a valid service name: use lowercase letters, "
                            "digits and underscores, starting with a letter "
                            "(e.g. my_model).")
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(f"{name!r} is longer than {MAX_NAME_LENGTH} characters.")
    if keyword.iskeyword(name) or name in RESERVED:
        raise ScaffoldError(f"{name!r} is reserved (a Python keyword or one of "
                            f"{', '.join(sorted(RESERVED))}); choose another name.")


def check_name_free(name: str, root: Path, services: dict[str, Any]) -> None:
    """Refuse names already taken by a folder, a registry entry or a test module."""
    for taken in (Path("services") / name, Path("services") / f"{name}.py"):
        if (root / taken).exists():
            raise ScaffoldError(f"{taken} already exists; the scaffold never overwrites, "
                                "choose another name.")
    if name in services:
        raise ScaffoldError(f"{name!r} is already registered in {REGISTRY}; choose "
                            "another name.")
    # Test folders have no __init__.py, so pytest imports test files by their base
    # name: a second test_<name>.py anywhere under tests/ would break collection.
    clash = next((root / "tests").rglob(f"test_{name}.py"), None)
    if clash is not None:
        raise ScaffoldError(f"{clash.relative_to(root)} already exists; a second "
                            f"test_{name}.py would clash under pytest, choose another name.")


def check_project(root: Path) -> None:
    """Refuse a root that does not look like a modelchain checkout."""
    for needed in (Path("services"), REGISTRY):
        if not (root / needed).exists():
            raise ScaffoldError(f"{root / needed} not found: is {root} the project root? "
                                "(see --root)")


# ------------------------------------------------------------------ registry
def registered_services(text: str) -> dict[str, Any]:
    """The ``services`` mapping of a registry document (empty if it has none)."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ScaffoldError(f"{REGISTRY} is not valid YAML; fix it first:\n{e}") from e
    if not isinstance(document, dict):
        raise ScaffoldError(f"{REGISTRY} is not a YAML mapping with a 'services' key.")
    services = document.get("services")
    if services is not None and not isinstance(services, dict):
        raise ScaffoldError(f"{REGISTRY}: 'services' is not a mapping.")
    return services or {}


def choose_port(services: dict[str, Any], wanted: int | None) -> int:
    """``wanted`` if it is valid and free, else the highest registered port plus one."""
    used = {int(spec["port"]) for spec in services.values() if spec and "port" in spec}
    if wanted is None:
        return max(used) + 1 if used else FIRST_PORT
    if not 1024 <= wanted <= 65535:
        raise ScaffoldError(f"Port {wanted} is outside 1024-65535.")
    if wanted in used:
        raise ScaffoldError(f"Port {wanted} is already used in {REGISTRY}.")
    return wanted


def registry_entry(name: str, port: int, indent: str = "  ") -> str:
    """The YAML lines registering ``name``, indented as a child of ``services:``."""
    # A new service may call none (README, "Permissions"): list its callees here
    # when its code calls others, as tests/deploy/test_policy.py checks.
    return (f"{indent}{name}:\n"
            f"{indent * 2}app: services.{name}:create_app()\n"
            f"{indent * 2}port: {port}\n"
            f"{indent * 2}calls: []\n")


def _block_end(lines: list[str], start: int) -> int:
    """Index just after the last line of the top-level block opened at ``start``."""
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1
    # Blank lines and column-0 comments just before the next key belong to that key.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1][0] == "#"):
        end -= 1
    return end


def _child_indent(lines: list[str], start: int, end: int) -> str:
    """The indentation of the block's first child key (two spaces if it has none)."""
    for line in lines[start + 1:end]:
        if line.strip() and not line.lstrip().startswith("#"):
            return line[:len(line) - len(line.lstrip())]
    return "  "


def add_registry_entry(text: str, name: str, port: int) -> str:
    """The registry text with ``name`` appended to ``services:``; comments kept."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines)
                  if re.match(r"services:\s*(#.*)?$", line.rstrip("\n"))), None)
    if start is None:
        if re.search(r"^services:", text, re.MULTILINE):  # e.g. `services: {}`
            raise ScaffoldError(f"{REGISTRY}: 'services:' is not a block mapping; add the "
                                f"entry by hand:\n{registry_entry(name, port)}")
        return "".join(lines) + "services:\n" + registry_entry(name, port)
    end = _block_end(lines, start)
    entry = registry_entry(name, port, _child_indent(lines, start, end))
    return "".join(lines[:end] + [entry] + lines[end:])


def verify_registry(old: str, new: str, name: str, port: int) -> None:
    """Check that ``new`` parses to ``old`` plus exactly the new entry."""
    expected = yaml.safe_load(old) or {}
    expected.setdefault("services", {})
    expected["services"] = {**(expected["services"] or {}),
                            name: {"app": f"services.{name}:create_app()", "port": port,
                                   "calls": []}}
    if yaml.safe_load(new) != expected:
        raise ScaffoldError(f"Could not append to {REGISTRY} safely; add this entry under "
                            f"'services:' by hand:\n{registry_entry(name, port)}")


# ------------------------------------------------------------------ rendering
def python_literal(text: str, indent: int = 19, width: int = 92) -> str:
    """``text`` as a Python string expression whose lines fit in ``width`` columns."""
    chunks = textwrap.wrap(text, width - indent - 2, drop_whitespace=False)
    # json.dumps writes a valid Python literal in double quotes; "".join checks the
    # wrapping lost nothing (else one long literal is still correct).
    if len(chunks) < 2 or "".join(chunks) != text:
        return json.dumps(text, ensure_ascii=False)
    return "(" + ("\n" + " " * indent).join(json.dumps(c, ensure_ascii=False)
                                              for c in chunks) + ")"


def template_values(name: str, port: int, description: str) -> dict[str, str]:
    """The placeholders the templates use."""
    class_name = "".join(part.capitalize() for part in name.split("_"))
    return {"name": name, "class_name": class_name, "prefix": f"{name.upper()}_",
            "port": str(port), "description": description,
            "description_literal": python_literal(description)}


def render(name: str, port: int, description: str) -> dict[str, str]:
    """Rendered text by destination path (relative to the root)."""
    values = template_values(name, port, description)
    return {dest.format(name=name): Template((TEMPLATES / src).read_text()).substitute(values)
            for src, dest in FILES.items()}


def make_plan(name: str, root: Path, port: int | None = None,
              description: str = DEFAULT_DESCRIPTION) -> Plan:
    """Check the request and compute every file to write; raises :class:`ScaffoldError`."""
    check_name_syntax(name)
    check_project(root)
    registry_path = root / REGISTRY
    old = registry_path.read_text()
    services = registered_services(old)
    check_name_free(name, root, services)
    port = choose_port(services, port)
    new = add_registry_entry(old, name, port)
    verify_registry(old, new, name, port)
    files = {root / rel: text for rel, text in render(name, port, description).items()}
    taken = [str(path.relative_to(root)) for path in files if path.exists()]
    if taken:
        raise ScaffoldError(f"{', '.join(taken)} already exist(s); the scaffold never "
                            "overwrites, choose another name.")
    return Plan(root, name, port, files, registry_path, new)


# ------------------------------------------------------------------ writing
def _replace_text(path: Path, text: str) -> None:
    """Write ``path`` atomically, so an interrupted run never leaves half a registry."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, path.stat().st_mode)  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_plan(plan: Plan) -> list[Path]:
    """Create the planned files (never overwriting), then update the registry.

    If anything fails, the files and folders created so far are removed again.
    """
    created: list[Path] = []  # files and folders, in the order they were made
    try:
        for path, text in plan.files.items():
            created += _make_folders(path.parent)
            with open(path, "x") as handle:  # "x": fail rather than overwrite
                created.append(path)
                handle.write(text)
        _replace_text(plan.registry_path, plan.registry_text)
    except FileExistsError as e:  # appeared since the plan was checked
        _undo(created)
        raise ScaffoldError(f"{e.filename} appeared meanwhile; nothing was written.") from e
    except BaseException:
        _undo(created)
        raise
    return [path for path in created if path in plan.files]


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    for path in missing:
        path.mkdir()
    return missing


def _undo(created: list[Path]) -> None:
    """Remove what this run created, newest first (so files go before their folders)."""
    for path in reversed(created):
        try:
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
        except OSError:  # a folder someone else has put a file in meanwhile: keep it
            pass


# ------------------------------------------------------------------ CLI
def next_steps(plan: Plan) -> str:
    """What to do after scaffolding, with the service's own names and URL."""
    url = f"http://127.0.0.1:{plan.port}"
    return (f"\nNext steps:\n"
            f"  make run                      # serves every service; {plan.name} on {url}\n"
            f"  make run SERVICES={plan.name}\n"
            f"  make test PYTEST_ARGS=tests/services/{plan.name}\n"
            f"  curl -s {url}/predict -H 'Content-Type: application/json' \\\n"
            f"       -d '{SAMPLE_BODY}'\n"
            f"Then put your own model in services/{plan.name}/app.py (load() and "
            f"predict(), marked YOUR MODEL); see services/{plan.name}/README.md.")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.scaffold",
                                     description="Scaffold a new modelchain service.")
    parser.add_argument("name", help="service name: lowercase letters, digits, underscores")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="project root (default: this checkout)")
    parser.add_argument("--port", type=int, help="port in the registry "
                        "(default: the highest registered port + 1)")
    parser.add_argument("--description", default=DEFAULT_DESCRIPTION,
                        help="one-line description shown in /metadata and the README")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Scaffold the service named on the command line; 0 on success, 2 if refused."""
    args = _parser().parse_args(argv)
    root = args.root.resolve()
    try:
        # One line: it goes into a Python literal, a Markdown paragraph and /metadata.
        description = " ".join(args.description.split()) or DEFAULT_DESCRIPTION
        plan = make_plan(args.name, root, args.port, description)
        created = write_plan(plan)
    except ScaffoldError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_REFUSED
    for path in created:
        print(f"created {path.relative_to(root)}")
    print(f"registered {plan.name} on port {plan.port} in "
          f"{plan.registry_path.relative_to(root)}")
    print(next_steps(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
