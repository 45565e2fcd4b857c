"""The service registry: which services exist, how to start them and where they live.

The registry file (``deploy/registry.yaml`` unless ``MODELCHAIN_REGISTRY`` names another)
is the one source of truth for service names and ports. A service's URL can be
overridden per deployment with ``MODELCHAIN_URL_<NAME>`` (upper case), so code never
holds a URL.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import yaml
from packaging.version import InvalidVersion, Version

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
    #: The service this deploys (``name`` itself, or the service a ``versions:`` entry
    #: serves another version of).
    service: str = ""
    #: The version it serves, where the registry states it ("" when it does not).
    version: str = ""
    #: Settings for every run of this deployment (local, compose, Kubernetes).
    env: Mapping[str, str] = field(default_factory=dict)
    #: The services it may call (``calls:``); None when the registry states no policy,
    #: an empty tuple when it may call none.
    calls: tuple[str, ...] | None = None

    @property
    def service_name(self) -> str:
        """The service this entry deploys (a version deployment's service)."""
        return self.service or self.name


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

    @property
    def env(self) -> dict[str, str]:
        """The deployment settings of its members (``env:`` in the registry)."""
        return {k: v for m in self.members for k, v in m.env.items()}

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
    entries: dict[str, ServiceEntry] = {}
    for name, spec in (document.get("services") or {}).items():
        spec = spec or {}
        entries[name] = _entry(name, spec, environ)
        for version, overrides in (spec.get("versions") or {}).items():
            entry = _version_entry(name, spec, str(version), overrides or {}, environ)
            entries[entry.name] = entry
    return entries


def deployment_name(service: str, version: str) -> str:
    """The registry name of the deployment of ``service`` at ``version`` beside its
    main one: ``sentiment_v1_0_0`` (a name compose, Kubernetes and the environment's
    ``MODELCHAIN_URL_<NAME>`` all accept)."""
    return f"{service}_v" + re.sub(r"[^a-z0-9]+", "_", version.lower()).strip("_")


def versions_of(entries: Mapping[str, ServiceEntry]) -> dict[str, list[ServiceEntry]]:
    """Each service's deployments, newest version first; a service whose registry entry
    states no version has just its one deployment."""
    found: dict[str, list[ServiceEntry]] = {}
    for entry in entries.values():
        found.setdefault(entry.service_name, []).append(entry)
    return {name: sorted(deployments, key=_version_key, reverse=True)
            for name, deployments in found.items()}


def _version_key(entry: ServiceEntry) -> Version:
    try:
        return Version(entry.version or "0")
    except InvalidVersion:
        return Version("0")


def _entry(name: str, spec: Mapping, environ: Mapping[str, str]) -> ServiceEntry:
    port = int(spec["port"])
    url = environ.get(f"MODELCHAIN_URL_{name.upper()}") or spec.get("url") \
        or f"http://127.0.0.1:{port}"
    calls = spec.get("calls")
    return ServiceEntry(name=name, app=str(spec["app"]), port=port, url=url.rstrip("/"),
                        workers=int(spec.get("workers", 1)),
                        threads=int(spec.get("threads", 8)),
                        local_env=_strings(spec.get("local_env")),
                        group=str(spec.get("group") or ""),
                        service=str(spec.get("service") or name),
                        version=str(spec.get("version") or ""),
                        env=_strings(spec.get("env")),
                        calls=None if calls is None else tuple(str(c) for c in calls))


def _version_entry(service: str, spec: Mapping, version: str, overrides: Mapping,
                   environ: Mapping[str, str]) -> ServiceEntry:
    """Another version of ``service``, deployed on its own beside the main one: the
    main entry's settings, with the version's own (a port, at least) over them. It is
    never co-located, since its ``env`` is its process's own."""
    merged = {**{k: v for k, v in spec.items() if k not in ("versions", "group")},
              **overrides, "service": service, "version": version}
    merged["env"] = {**_strings(spec.get("env")), **_strings(overrides.get("env"))}
    return _entry(deployment_name(service, version), merged, environ)


def _strings(mapping: Mapping | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}
