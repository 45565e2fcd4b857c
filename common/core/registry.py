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
from typing import Iterable, Mapping

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
    #: The process group it is co-located in (several services, one process), or "".
    group: str = ""


#: The WSGI app that serves a process group (``common/serving/group.py``).
GROUP_APP = "common.serving.group:create_group_app({group!r})"
#: Where a group process learns its members and their ports: ``name=port,name=port``.
GROUP_MEMBERS_ENV = "MODELCHAIN_GROUP_MEMBERS"


@dataclass(frozen=True)
class ProcessUnit:
    """What one server process serves: a single service, or a group co-located in one
    process. Each member keeps its own port; the process binds them all."""

    name: str
    members: tuple[ServiceEntry, ...]

    @property
    def grouped(self) -> bool:
        """Whether this is a process group (even of one member)."""
        return bool(self.members[0].group)

    @property
    def app(self) -> str:
        """The gunicorn application of the process."""
        return GROUP_APP.format(group=self.name) if self.grouped else self.members[0].app

    @property
    def workers(self) -> int:
        """Worker processes: the most any member asks for."""
        return max(m.workers for m in self.members)

    @property
    def threads(self) -> int:
        """Threads per worker: a service's own; a group has twice its members' together,
        since each member may run its ``threads`` requests and keep as many waiting
        (``common/serving/group.py``) without taking another member's threads."""
        if not self.grouped:
            return self.members[0].threads
        return 2 * sum(m.threads for m in self.members)

    def members_value(self, ports: Mapping[str, int] | None = None) -> str:
        """The :data:`GROUP_MEMBERS_ENV` value: ``name=port`` for each member."""
        ports = ports or {}
        return ",".join(f"{m.name}={ports.get(m.name, m.port)}" for m in self.members)


def process_units(entries: Iterable[ServiceEntry]) -> list[ProcessUnit]:
    """The processes that serve ``entries``: one per group, one per ungrouped service,
    in the order each first appears."""
    units: dict[str, list[ServiceEntry]] = {}
    for entry in entries:
        units.setdefault(entry.group or entry.name, []).append(entry)
    return [ProcessUnit(name, tuple(members)) for name, members in units.items()]


def parse_members(value: str) -> dict[str, int]:
    """:data:`GROUP_MEMBERS_ENV`'s ``name=port,...`` as a mapping."""
    members = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, port = part.partition("=")
        members[name.strip()] = int(port)
    return members


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
                                   (spec.get("local_env") or {}).items()},
                        group=str(spec.get("group") or ""))
