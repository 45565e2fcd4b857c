"""The container entry point: serve one registered service under gunicorn.

``python -m deploy.serve [NAME]`` (NAME defaults to ``$MODELCHAIN_SERVICE``, which the
image's ``SERVICE`` build argument sets) looks the service up in the registry and
replaces itself with gunicorn, bound to ``0.0.0.0:<the registry's port>`` unless
``MODELCHAIN_BIND`` says otherwise. The compose and Kubernetes files spell out the same
command and environment (:func:`command`, :func:`environment`), so they can be checked.
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

from common.core.registry import ServiceEntry, load_registry

GUNICORN_CONFIG = "deploy/gunicorn.conf.py"   # relative to the image's WORKDIR


def command(entry: ServiceEntry) -> list[str]:
    """The command line that serves ``entry`` in a container."""
    return ["python", "-m", "gunicorn", "--config", GUNICORN_CONFIG, entry.app]


def environment(entry: ServiceEntry) -> dict[str, str]:
    """The settings a container of ``entry`` needs (bind on every interface)."""
    return {"MODELCHAIN_SERVICE": entry.name, "MODELCHAIN_BIND": f"0.0.0.0:{entry.port}",
            "MODELCHAIN_WORKERS": str(entry.workers), "MODELCHAIN_THREADS": str(entry.threads)}


def resolve(name: str | None, environ: Mapping[str, str]) -> ServiceEntry:
    """The registry entry to serve; a clear error for a missing or unknown name."""
    name = name or environ.get("MODELCHAIN_SERVICE", "")
    registry = load_registry(environ=environ)
    if name not in registry:
        raise SystemExit(f"deploy.serve: {name or '(none)'!r} is not a registered service "
                         f"(set SERVICE when building the image); known: "
                         f"{', '.join(registry)}")
    return registry[name]


def main(argv: list[str] | None = None) -> None:
    """Replace this process with gunicorn serving the named service."""
    argv = sys.argv[1:] if argv is None else argv
    entry = resolve(argv[0] if argv else None, os.environ)
    env = {**environment(entry), **os.environ}   # the deployment's own settings win
    cmd = command(entry)
    cmd[0] = sys.executable
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
