"""What the catalog knows: the registry, and every service's ``/metadata``.

Metadata is fetched server-side with the pipe client (and the catalog's own API key),
for many services at once, each with a short timeout. A service that does not answer
is listed as ``down`` with the reason; it never breaks a page. Answers are kept for a
few seconds (``CACHE_TTL_S``) so a page view and its API calls do not each poll
every service. Everything a service says about itself is untrusted: it is normalised
to plain strings and lists here and escaped wherever it is shown.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from common.client import Client, unreached
from common.core.context import bind_context
from common.core.errors import NotFound, ServiceError
from common.core.registry import ServiceEntry, versions_of

READY, STARTING, DOWN = "ready", "starting", "down"


def as_text(value: Any, limit: int = 2000) -> str:
    """A metadata value as a bounded plain string (services may send anything)."""
    return ("" if value is None else str(value))[:limit]


def _tags(value: Any) -> list[str]:
    return [as_text(t, 50) for t in value[:20]] if isinstance(value, list) else []


def as_mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


KINDS = ("model", "function", "pipeline")


@dataclass(frozen=True)
class ServiceInfo:
    """One registered service as the catalog last saw it."""

    name: str
    url: str
    status: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    #: The service it deploys, and every deployment of that service, newest first:
    #: ``{"name", "version"}`` (the registry's ``versions:``).
    service: str = ""
    versions: tuple[Mapping[str, str], ...] = ()

    @property
    def healthy(self) -> bool:
        """Whether the service answered and its model is ready."""
        return self.status == READY

    @property
    def steps(self) -> list[Any]:
        """A pipeline's declared steps (empty for a model)."""
        steps = as_mapping(self.metadata.get("pipeline")).get("steps")
        return steps if isinstance(steps, list) else []

    @property
    def kind(self) -> str:
        """``pipeline`` when the metadata declares steps, else what the service says it
        is (``model`` or ``function``; ``model`` when it does not say); ``unknown`` for
        a service that has not answered."""
        if not self.metadata:
            return "unknown"
        if self.steps:
            return "pipeline"
        declared = self.metadata.get("kind")
        return declared if declared in KINDS else "model"

    @property
    def sample_input(self) -> dict[str, Any]:
        """The service's sample input (an empty object when it has none)."""
        return as_mapping(self.metadata.get("sample_input"))

    def summary(self) -> dict[str, Any]:
        """The fields the list, the search and ``/api/services`` show."""
        return {"name": self.name, "kind": self.kind,
                "version": as_text(self.metadata.get("version"), 50),
                "description": as_text(self.metadata.get("description")),
                "tags": _tags(self.metadata.get("tags")), "status": self.status,
                "healthy": self.healthy, "error": self.error,
                "page": f"/services/{self.name}", "service": self.service or self.name,
                "versions": [{**v, "page": f"/services/{v['name']}"}
                             for v in self.versions]}

    def haystack(self) -> str:
        """Lower-case text a search query is matched against."""
        summary = self.summary()
        words = [self.name, self.name.replace("_", " "), summary["kind"],
                 summary["description"], summary["version"], *summary["tags"],
                 *step_services(self.steps)]
        return " ".join(words).lower()


def step_services(steps: Iterable[Any]) -> list[str]:
    """Every service a list of pipeline steps names (parallel branches included)."""
    names: list[str] = []
    for step in steps:
        step = as_mapping(step)
        if "parallel" in step:
            names += step_services(as_mapping(step["parallel"]).values())
        elif step.get("service"):
            names.append(as_text(step["service"], 100))
    return names


def matches(info: ServiceInfo, query: str) -> bool:
    """Whether every word of ``query`` occurs in the service's searchable text."""
    haystack = info.haystack()
    return all(word in haystack for word in query.lower().split())


class Directory:
    """The registered services (less the catalog itself) and their live metadata."""

    def __init__(self, entries: Mapping[str, ServiceEntry], client: Client, *,
                 timeout: float = 2.0, ttl: float = 5.0, exclude: Iterable[str] = ()):
        self.entries = {n: e for n, e in entries.items() if n not in set(exclude)}
        self.versions = {service: tuple({"name": e.name, "version": e.version}
                                        for e in deployments)
                         for service, deployments in versions_of(self.entries).items()}
        self.client = client
        self.timeout = timeout
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ServiceInfo]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def names(self) -> list[str]:
        """Service names in registry order."""
        return list(self.entries)

    def entry(self, name: str) -> ServiceEntry:
        """The registry entry of ``name``; a 404 for any name the catalog does not list."""
        if name not in self.entries:
            raise NotFound(f"No service named {name[:100]!r} in this catalog.",
                           {"known": self.names()})
        return self.entries[name]

    def get(self, name: str) -> ServiceInfo:
        """One service's info (fetched unless fresh in the cache)."""
        self.entry(name)
        return self.fetch([name])[0]

    def snapshot(self) -> list[ServiceInfo]:
        """Every service's info, in registry order."""
        return self.fetch(self.names())

    def search(self, query: str) -> list[ServiceInfo]:
        """The services matching ``query`` (all of them for a blank query)."""
        return [info for info in self.snapshot() if matches(info, query)]

    def fetch(self, names: list[str]) -> list[ServiceInfo]:
        """Infos for ``names``: cached ones, and the rest fetched concurrently."""
        fresh = self._fresh(names)
        missing = [n for n in names if n not in fresh]
        if missing:
            fetched = self._fetch_all(missing)
            with self._lock:
                now = time.monotonic()
                self._cache.update({n: (now, info) for n, info in fetched.items()})
            fresh.update(fetched)
        return [fresh[n] for n in names]

    def _fresh(self, names: list[str]) -> dict[str, ServiceInfo]:
        now = time.monotonic()
        with self._lock:
            hits = {n: self._cache.get(n) for n in names}
        return {n: hit[1] for n, hit in hits.items() if hit and now - hit[0] < self.ttl}

    def _fetch_all(self, names: list[str]) -> dict[str, ServiceInfo]:
        """Fetch concurrently; whatever has not answered in time is reported down."""
        futures = {name: self._executor().submit(bind_context(self._fetch_one), name)
                   for name in names}
        wait(futures.values(), timeout=self.timeout + 0.5)
        return {name: future.result() if future.done() else
                self._down(name, f"No answer within {self.timeout:g}s.")
                for name, future in futures.items()}

    def _executor(self) -> ThreadPoolExecutor:
        # Created on first use, so in the gunicorn worker, after the fork.
        with self._lock:
            if self._pool is None:
                # one thread per service (bounded): a hung one must not queue the rest
                self._pool = ThreadPoolExecutor(max_workers=min(32, max(4, len(self.entries))),
                                                thread_name_prefix="catalog-fetch")
            return self._pool

    def _fetch_one(self, name: str) -> ServiceInfo:
        try:
            metadata = self.client.call(name, "GET", "/metadata", timeout=self.timeout)
        except ServiceError as e:
            return self._down(name, describe_failure(name, e))
        except Exception as e:  # noqa: BLE001  one broken service must not break the page
            return self._down(name, f"{name} answered unexpectedly ({type(e).__name__}).")
        if not isinstance(metadata, Mapping):
            return self._down(name, f"{name} answered metadata that is not an object.")
        status = READY if metadata.get("ready") is True else STARTING
        return self._info(name, status, dict(metadata))

    def _info(self, name: str, status: str, metadata: Mapping[str, Any],
              error: str = "") -> ServiceInfo:
        entry = self.entries[name]
        return ServiceInfo(name, entry.url, status, metadata, error, entry.service_name,
                           self.versions.get(entry.service_name, ()))

    def _down(self, name: str, reason: str) -> ServiceInfo:
        return self._info(name, DOWN, {}, reason)


def describe_failure(name: str, error: ServiceError) -> str:
    """A short reason for a failed call, fit to show a visitor (no internal URLs)."""
    if error.status == 401:
        return (f"{name} refused the catalog's API key; set CATALOG_API_KEY to a key "
                f"{name} accepts.")
    if unreached(error):
        kind = "did not answer in time" if error.status == 504 else "could not be reached"
        return f"{name} {kind}."
    return f"{name} answered {error.status} {error.code}: {error.message[:200]}"
