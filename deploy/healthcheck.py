"""``python -m deploy.healthcheck [URL]``: exit 0 when the URL answers HTTP 200.

The default URL is this container's ``/healthz``: the port of ``MODELCHAIN_BIND``, else
the registry's port of ``MODELCHAIN_SERVICE`` (what ``deploy.serve`` binds).
The slim image has no curl; this uses the standard library only, so a check costs one
short-lived interpreter and no imports of the service.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from typing import Mapping

HEALTH_PATH = "/healthz"     # liveness: the process answers (compose, Docker, k8s)
READY_PATH = "/readyz"       # readiness: the model is loaded (k8s)


def default_url(environ: Mapping[str, str]) -> str:
    """``http://127.0.0.1:<port>/healthz`` for the port this container binds."""
    return f"http://127.0.0.1:{bound_port(environ)}{HEALTH_PATH}"


def bound_port(environ: Mapping[str, str]) -> str:
    """The port ``deploy.serve`` binds: ``MODELCHAIN_BIND``'s, else the registry's."""
    if environ.get("MODELCHAIN_BIND"):
        return environ["MODELCHAIN_BIND"].rsplit(":", 1)[-1]
    from common.core.registry import load_registry   # only when needed: a check stays light
    entry = load_registry(environ=environ).get(environ.get("MODELCHAIN_SERVICE", ""))
    return str(entry.port) if entry else "8000"


def check(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url`` answers 200 within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """0 if healthy, 1 otherwise (Docker's HEALTHCHECK convention)."""
    argv = sys.argv[1:] if argv is None else argv
    return 0 if check(argv[0] if argv else default_url(os.environ)) else 1


if __name__ == "__main__":
    sys.exit(main())
