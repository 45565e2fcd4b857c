"""Helpers of the batch tests (not fixtures): files, commands, polling."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from common.core.registry import ROOT

def read_batches(log: Path) -> list[list[str]]:
    """The batches the flaky service scored (each a list of texts)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list) -> Path:
    """Write ``rows`` as JSON lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def batch_command(*args: str) -> list[str]:
    """``python -m common.batch ...`` as a subprocess command line."""
    return [sys.executable, "-m", "common.batch", *args]


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               every: float = 0.01) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def subprocess_env() -> dict[str, str]:
    """The environment of a batch subprocess: the project importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
