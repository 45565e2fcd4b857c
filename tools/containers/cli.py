"""The docker and docker-compose command lines, and running them loudly.

Debian's clients are preferred (``/usr/bin/docker``: docker.io 20.10, the daemon we
start; ``docker-compose`` 1.29.2): another ``docker`` earlier on ``PATH`` may be a newer
client whose ``build`` insists on a buildx plugin that is not installed. ``DOCKER`` and
``DOCKER_COMPOSE`` name others.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

DEBIAN_DOCKER = Path("/usr/bin/docker")


class Failure(RuntimeError):
    """A step failed: the message says which and why, and the run exits non-zero."""


def docker_cli() -> str:
    """The docker client to run."""
    if os.environ.get("DOCKER"):
        return os.environ["DOCKER"]
    if DEBIAN_DOCKER.exists():
        return str(DEBIAN_DOCKER)
    return shutil.which("docker") or "docker"


def compose_cli() -> str:
    """The docker-compose client to run (Compose v1, which reads the same file as v2)."""
    return os.environ.get("DOCKER_COMPOSE") or shutil.which("docker-compose") or "docker-compose"


def log(message: str) -> None:
    """One progress line on stderr, prefixed with the elapsed time of the run."""
    print(f"[{time.monotonic() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


_START = time.monotonic()


def run(args: Sequence[str], *, env: Mapping[str, str] | None = None, check: bool = True,
        capture: bool = True, timeout: float = 600, input: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``args``; a non-zero exit raises :class:`Failure` with its output's tail."""
    try:
        done = subprocess.run(list(args), env=None if env is None else dict(env),
                              capture_output=capture, text=True, timeout=timeout,
                              input=input, cwd=cwd)
    except FileNotFoundError as e:
        raise Failure(f"{args[0]} is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise Failure(f"`{' '.join(args[:4])} ...` did not finish in {timeout:.0f} s") from e
    if check and done.returncode != 0:
        output = ((done.stdout or "") + (done.stderr or "")).strip()
        raise Failure(f"`{' '.join(args)}` exited {done.returncode}:\n"
                      + "\n".join(output.splitlines()[-30:]))
    return done


def cleanup(step: Callable[[], None]) -> None:
    """Run ``step`` from a ``finally`` block: its failure is raised, unless a failure is
    already on its way out, which keeps its place (this one is logged after it)."""
    pending = sys.exc_info()[1]
    try:
        step()
    except Failure as e:
        if pending is None:
            raise
        log(f"and while cleaning up: {e}")
