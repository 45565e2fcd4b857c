"""Tests for ``tools.scaffold`` (``make service NAME=<name>``).

Most tests scaffold into a bare temporary root (registry, ``services/``, ``tests/``);
the end-to-end test scaffolds into a temporary copy of the project and runs the
generated tests there, TensorFlow and a real gunicorn start included.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools import scaffold
from common.core.registry import ROOT, load_registry

NAME = "word_counter"
GENERATED = [f"services/{NAME}/__init__.py", f"services/{NAME}/app.py",
             f"services/{NAME}/README.md", f"tests/services/{NAME}/test_{NAME}.py"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A bare project root: the real registry, empty services/ and tests/services/."""
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "registry.yaml", tmp_path / "deploy" / "registry.yaml")
    (tmp_path / "services").mkdir()
    (tmp_path / "tests" / "services").mkdir(parents=True)
    return tmp_path


def run(root: Path, *args: str) -> int:
    """The scaffold's exit code for ``args`` scaffolded into ``root``."""
    return scaffold.main([*args, "--root", str(root)])


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with its content) and folder under ``root``: proof nothing was written."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in root.rglob("*")}


def registry_text(root: Path) -> str:
    return (root / "deploy" / "registry.yaml").read_text()


# ------------------------------------------------------------------ happy path
def test_creates_the_files_and_says_what_next(root, capsys):
    assert run(root, NAME) == 0
    for rel in GENERATED:
        assert (root / rel).is_file(), rel
    out = capsys.readouterr().out
    assert all(f"created {rel}" in out for rel in GENERATED)
    assert "make run" in out and "make test" in out and "curl" in out


def test_registers_on_the_next_port_keeping_comments(root):
    before = registry_text(root)
    old = load_registry(root / "deploy" / "registry.yaml", environ={})
    assert run(root, NAME) == 0
    after = registry_text(root)
    assert after.startswith(before)  # appended: every old line and comment is intact
    new = load_registry(root / "deploy" / "registry.yaml", environ={})
    assert set(new) == set(old) | {NAME}
    assert all(new[name] == entry for name, entry in old.items())
    assert new[NAME].app == f"services.{NAME}:create_app()"
    assert new[NAME].port == max(e.port for e in old.values()) + 1


def test_generated_python_compiles_and_fills_every_placeholder(root):
    assert run(root, NAME, "--description", 'Says "hi" \\ in $dollars') == 0
    for rel in GENERATED:
        text = (root / rel).read_text()
        assert "${" not in text and "$name" not in text, rel
        if rel.endswith(".py"):
            compile(text, rel, "exec")
    app = (root / f"services/{NAME}/app.py").read_text()
    assert "class WordCounter(Model)" in app and "prefix ``WORD_COUNTER_``" in app
    package = (root / f"services/{NAME}/__init__.py").read_text()
    assert "from .app import WordCounter as MODEL" in package
    assert "import tensorflow" not in app.split("def load")[0]  # lazily, in load() only


def test_port_option(root):
    assert run(root, NAME, "--port", "9123") == 0
    assert load_registry(root / "deploy" / "registry.yaml", environ={})[NAME].port == 9123


def test_port_already_used_is_refused(root):
    before = snapshot(root)
    assert run(root, NAME, "--port", "8101") == 2
    assert snapshot(root) == before


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("name", ["Bad-Name", "1abc", "", "text_cleaner", "with space",
                                  "common", "class", "x" * 41])
def test_bad_names_are_refused_and_nothing_is_written(root, capsys, name):
    before = snapshot(root)
    assert run(root, name) == 2
    assert snapshot(root) == before
    assert capsys.readouterr().err.startswith("error: ")


def test_existing_folder_is_never_overwritten(root, capsys):
    (root / "services" / NAME).mkdir()
    (root / "services" / NAME / "app.py").write_text("# mine\n")
    before = snapshot(root)
    assert run(root, NAME) == 2
    assert snapshot(root) == before
    assert "already exists" in capsys.readouterr().err


def test_a_clashing_test_module_is_refused(root, capsys):
    (root / "tests" / "common").mkdir()
    (root / "tests" / "common" / f"test_{NAME}.py").write_text("")
    assert run(root, NAME) == 2
    assert "clash" in capsys.readouterr().err
    assert not (root / "services" / NAME).exists()


def test_a_root_without_a_registry_is_refused(tmp_path, capsys):
    (tmp_path / "services").mkdir()
    assert run(tmp_path, NAME) == 2
    assert "registry.yaml not found" in capsys.readouterr().err


@pytest.mark.parametrize("text,message", [("services: [oops\n", "not valid YAML"),
                                          ("services: 7\n", "not a mapping")])
def test_a_broken_registry_is_refused(root, capsys, text, message):
    (root / "deploy" / "registry.yaml").write_text(text)
    assert run(root, NAME) == 2
    assert message in capsys.readouterr().err
    assert not (root / "services" / NAME).exists()


def test_a_failure_while_writing_leaves_nothing_behind(root, monkeypatch):
    def fail(path, text):
        raise OSError("disk full")
    monkeypatch.setattr(scaffold, "_replace_text", fail)
    before = snapshot(root)
    with pytest.raises(OSError, match="disk full"):
        run(root, NAME)
    assert snapshot(root) == before


def test_command_line_exit_code(root):
    result = subprocess.run([sys.executable, "-m", "tools.scaffold", "Bad-Name",
                             "--root", str(root)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "not a valid service name" in result.stderr


# ------------------------------------------------------------------ registry editing
def test_entry_goes_inside_services_when_another_block_follows():
    text = ("# head\nservices:\n    a:\n        app: services.a:create_app()\n"
            "        port: 9000\n\n# about defaults\ndefaults:\n  workers: 2\n")
    new = scaffold.add_registry_entry(text, "b", 9001)
    scaffold.verify_registry(text, new, "b", 9001)
    assert new.index("    b:\n        app: services.b:create_app()") < new.index("# about")
    assert yaml.safe_load(new)["defaults"] == {"workers": 2}


@pytest.mark.parametrize("text", ["# nothing yet\n", "services:\n", "services:  # none"])
def test_first_service_of_an_empty_registry(text):
    port = scaffold.choose_port(scaffold.registered_services(text), None)
    new = scaffold.add_registry_entry(text, "a", port)
    scaffold.verify_registry(text, new, "a", port)
    assert port == scaffold.FIRST_PORT and new.startswith(text.rstrip("\n"))


def test_flow_style_services_are_refused_with_the_entry_to_add():
    with pytest.raises(scaffold.ScaffoldError, match="by hand"):
        scaffold.add_registry_entry("services: {}\n", "a", 9000)


# ------------------------------------------------------------------ end to end
def copy_repository(dest: Path) -> Path:
    """The repository as a fresh clone has it (tracked files, and new ones git does not
    ignore), modification times kept, with this checkout's installed environment linked
    in so that ``make`` finds it current and installs nothing."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    (dest / ".venv").symlink_to(Path(sys.executable).resolve().parents[1]
                                if not (ROOT / ".venv").exists() else ROOT / ".venv")
    for peers in (".venv-peers", ".venv-kserve", ".venv-algorithmia"):  # make test's peer clients
        if (ROOT / peers).exists():
            (dest / peers).symlink_to(ROOT / peers)
    return dest


def project_env(root: Path) -> dict[str, str]:
    """The environment of a process working in the copy, and nowhere else."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELCHAIN_", "PYTEST_"))}
    env.update(PYTHONPATH=str(root))
    return env


def in_copy(copy: Path, *command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=copy, env=project_env(copy),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.integration
def test_make_service_then_make_test_pass_in_a_copy_of_the_repository(tmp_path):
    """What a newcomer does: ``make service NAME=x`` then ``make test``, here limited to
    what a new service touches: the deploy files and their consistency, the registry,
    the layout rules and the new service's own tests."""
    copy = copy_repository(tmp_path / "project")
    made = in_copy(copy, "make", "service", f"NAME={NAME}")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert (copy / "deploy" / "contracts" / f"{NAME}.json").exists()
    assert f"services.{NAME}:create_app()" in (copy / "deploy" / "registry.yaml").read_text()
    check = in_copy(copy, ".venv/bin/python", "-m", "deploy.generate", "--check")
    assert check.returncode == 0, check.stderr
    lazy = in_copy(copy, ".venv/bin/python", "-c", f"import sys, services.{NAME}; "
                   "assert 'tensorflow' not in sys.modules")
    assert lazy.returncode == 0, lazy.stderr
    # The front's live tests (real nginx before real services) do not change with a
    # new service; its files and their checks (tests/deploy/front) do, and run.
    suites = (f"tests/deploy tests/core tests/architecture tests/services/{NAME} "
              "--ignore=tests/deploy/front/test_front_live.py "
              "--ignore=tests/deploy/front/test_front_timeouts.py")
    tested = in_copy(copy, "make", "test", f"PYTEST_ARGS=-q -p no:cacheprovider {suites}")
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert " passed" in tested.stdout and "failed" not in tested.stdout
    assert "skipped" not in tested.stdout and "error" not in tested.stdout.lower()
