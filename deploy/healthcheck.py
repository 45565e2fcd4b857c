"""``python -m deploy.healthcheck [URL ...]``: exit 0 when every URL answers HTTP 200.

The default is this container's ``/healthz``: on each port of ``MODELCHAIN_BIND`` (a
process group binds several), else the registry's port of ``MODELCHAIN_SERVICE`` (what
``deploy.serve`` binds).
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
    """``http://127.0.0.1:<port>/healthz`` for the (first) port this container binds."""
    return default_urls(environ)[0]


def default_urls(environ: Mapping[str, str]) -> list[str]:
    """``/healthz`` on every port this container binds."""
    return [f"http://127.0.0.1:{port}{HEALTH_PATH}" for port in bound_ports(environ)]


def bound_ports(environ: Mapping[str, str]) -> list[str]:
    """The ports ``deploy.serve`` binds: ``MODELCHAIN_BIND``'s, else the registry's."""
    if environ.get("MODELCHAIN_BIND"):
        return [b.strip().rsplit(":", 1)[-1] for b in environ["MODELCHAIN_BIND"].split(",")
                if b.strip()]
    return [bound_port(environ)]


def bound_port(environ: Mapping[str, str]) -> str:
    """The port ``deploy.serve`` binds: ``MODELCHAIN_BIND``'s (first), else the
    registry's."""
    if environ.get("MODELCHAIN_BIND"):
        return bound_ports(environ)[0]
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
    urls = argv or default_urls(os.environ)
    return 0 if all(check(url) for url in urls) else 1


if __name__ == "__main__":
    sys.exit(main())
