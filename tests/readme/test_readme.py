"""Every shell command and Python snippet in README.md and services/*/README.md runs as
written, against the stack the README's own ``make run`` block starts.

A block that cannot run on a test machine (Docker, a cluster, a public URL) carries
``<!-- readme-test: skip: <why> -->`` on the line before its fence; the one block that
starts the stack carries ``<!-- readme-test: stack -->``. Every other ``sh`` or
``python`` block must run and succeed: shell blocks in the repository root with the
project's environment first on the PATH (so ``python`` is the project's), Python
snippets as scripts in a folder outside the repository (so the installed project, not
the working directory, is what they import).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from common.core.registry import ROOT, load_registry

pytestmark = pytest.mark.integration

READMES = [ROOT / "README.md", *sorted(ROOT.glob("services/*/README.md"))]
RUNNABLE = {"sh": "shell", "python": "python"}
#: Languages of blocks that show data or output, never run.
SHOWN = {"", "json", "yaml", "text"}
FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!--\s*readme-test:\s*(stack|skip)(?::\s*(.*?))?\s*-->$")
VENV_BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class Block:
    """One fenced block of a README, and its marker."""

    path: Path
    line: int
    lang: str
    code: str
    mark: str | None = None
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the marker on the line before."""
    found, lines, index = [], path.read_text().splitlines(), 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        before = lines[index - 1].strip() if index else ""
        mark = MARK.match(before)
        found.append(Block(path, index + 1, opened.group(1), "\n".join(lines[index + 1:end]),
                           mark.group(1) if mark else None,
                           (mark.group(2) or "") if mark else ""))
        index = end + 1
    return found


ALL = [b for path in READMES for b in blocks_of(path)]
TO_RUN = [b for b in ALL if b.lang in RUNNABLE and b.mark is None]
STACK = [b for b in ALL if b.mark == "stack"]
RAN: set[str] = set()


def test_every_block_is_run_shown_or_marked_with_a_reason():
    unknown = [b.id for b in ALL if b.lang not in RUNNABLE and b.lang not in SHOWN]
    assert unknown == [], "fences must say sh, python, json, yaml or text"
    assert [b.id for b in ALL if b.mark == "skip" and len(b.reason) < 10] == []
    assert [b.id for b in ALL if b.mark and b.lang not in RUNNABLE] == []
    assert len(STACK) == 1 and STACK[0].path.name == "README.md"
    assert len(TO_RUN) >= 8  # the reader can fail: it finds what it looks for


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The README's ``make run`` block, running, once every service printed its URL."""
    names = list(load_registry(environ={}))
    busy = [n for n, e in load_registry(environ={}).items() if _answers(e.url)]
    if busy:
        pytest.fail(f"the registry's ports are in use ({', '.join(busy)}): stop the other "
                    "`make run` first")
    log = tmp_path_factory.mktemp("readme") / "make-run.err"
    process = subprocess.Popen(["bash", "-c", STACK[0].code], cwd=ROOT, env=_shell_env(),
                               stdout=subprocess.PIPE, stderr=open(log, "w"), text=True,
                               start_new_session=True)
    printed = _read_lines(process, len(names), timeout=420)
    try:
        assert [line.split()[0] for line in printed] == names, log.read_text()[-3000:]
        yield {line.split()[0]: line.split()[1] for line in printed}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(90)


@pytest.mark.parametrize("block", TO_RUN, ids=[b.id for b in TO_RUN])
def test_the_block_runs_as_written(block, stack, tmp_path):
    result = _run(block, tmp_path)
    RAN.add(block.id)
    assert result.returncode == 0, (f"{block.id} exited {result.returncode}\n"
                                    f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    errors = [line for line in result.stdout.splitlines() if _is_error_envelope(line)]
    assert errors == [], f"{block.id} printed an error answer: {errors[0][:500]}"


def test_every_unmarked_block_ran():
    assert sorted(RAN) == sorted(b.id for b in TO_RUN)


def _run(block: Block, folder: Path) -> subprocess.CompletedProcess:
    if block.lang == "python":
        script = folder / "snippet.py"
        script.write_text(block.code + "\n")
        env = {k: v for k, v in _shell_env().items() if k != "PYTHONPATH"}
        return subprocess.run([sys.executable, str(script)], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=ROOT,
                          env=_shell_env(), capture_output=True, text=True, timeout=300)


def _shell_env() -> dict[str, str]:
    """A user's shell after ``source .venv/bin/activate``: no test settings, and not
    inside the ``make test`` that runs this (a make below it would say so on stdout)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELCHAIN_", "PYTEST_", "PYTHONPATH"))
           and k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    return {**env, "PATH": VENV_BIN + os.pathsep + env.get("PATH", "")}


def _is_error_envelope(line: str) -> bool:
    try:
        document = json.loads(line)
    except ValueError:
        return False
    return isinstance(document, dict) and "error" in document and "result" not in document


def _answers(url: str) -> bool:
    try:
        requests.get(f"{url}/healthz", timeout=1)
        return True
    except requests.RequestException:
        return False


def _read_lines(process: subprocess.Popen, count: int, timeout: float) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline()
        if line.strip():
            lines.append(line.strip())
    return lines


def test_the_text_cleaner_readme_shows_what_the_service_answers():
    from services.text_cleaner import create_app
    shown = [json.loads(b.code) for b in blocks_of(ROOT / "services/text_cleaner/README.md")
             if b.lang == "json"]
    request, documented = shown[0], shown[1]
    client = create_app({"LOAD_MODEL": "sync"}).test_client()
    assert client.post("/predict", json=request).get_json()["result"] == documented
