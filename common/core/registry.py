"""The service registry: which services exist, how to start them and where they live.

The registry file (``deploy/registry.yaml`` unless ``MODELCHAIN_REGISTRY`` names another)
is the one source of truth for service names and ports. A service's URL can be
overridden per deployment with ``MODELCHAIN_URL_<NAME>`` (upper case), so code never
holds a URL.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REGISTRY = ROOT / "deploy" / "registry.yaml"


@dataclass(frozen=True)
class ServiceEntry:
    """One registered service."""

    name: str
    app: str
    port: int
    url: str
    workers: int = 1
    threads: int = 8
    #: Settings for local runs only (``make run``, tests); a test's own env wins.
    local_env: Mapping[str, str] = field(default_factory=dict)


def registry_path(environ: Mapping[str, str] | None = None) -> Path:
    """The registry file in force."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("MODELCHAIN_REGISTRY") or DEFAULT_REGISTRY)


def load_registry(path: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, ServiceEntry]:
    """Every registered service by name, URLs resolved against the environment."""
    environ = os.environ if environ is None else environ
    document = yaml.safe_load(Path(path or registry_path(environ)).read_text()) or {}
    return {name: _entry(name, spec or {}, environ)
            for name, spec in (document.get("services") or {}).items()}


def _entry(name: str, spec: Mapping, environ: Mapping[str, str]) -> ServiceEntry:
    port = int(spec["port"])
    url = environ.get(f"MODELCHAIN_URL_{name.upper()}") or spec.get("url") \
        or f"http://127.0.0.1:{port}"
    return ServiceEntry(name=name, app=str(spec["app"]), port=port, url=url.rstrip("/"),
                        workers=int(spec.get("workers", 1)),
                        threads=int(spec.get("threads", 8)),
                        local_env={str(k): str(v) for k, v in
                                   (spec.get("local_env") or {}).items()})
