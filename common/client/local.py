"""Co-located services: the ones living in this process, which the pipe client calls
in-process instead of over HTTP.

A process group (``group:`` in the registry, :mod:`common.serving.group`) registers
each of its members here after the fork; :class:`~common.client.Client` looks a name up
here before it opens a socket. The endpoint keeps the whole contract (validation,
limits, deadline, request id, per-item errors, metrics, auth) and skips only the HTTP
stack and the JSON round trip. This room knows only the shape of an endpoint, not how
a service serves one: the serving room implements it.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Protocol


class LocalEndpoint(Protocol):
    """What a co-located service offers the pipe client."""

    def call(self, method: str, path: str, body: Any, headers: Mapping[str, str],
             budget: float) -> tuple[int, Any, str | None]:
        """One call: the status, the decoded answer document and the request id."""


_endpoints: dict[str, LocalEndpoint] = {}
_lock = threading.Lock()


def register(name: str, endpoint: LocalEndpoint) -> None:
    """Make ``name`` reachable in-process from this process's pipe clients."""
    with _lock:
        _endpoints[name] = endpoint


def unregister(name: str) -> None:
    """Forget ``name`` (its callers go back to HTTP)."""
    with _lock:
        _endpoints.pop(name, None)


def find(name: str) -> LocalEndpoint | None:
    """The in-process endpoint of ``name``, or None (then it is called over HTTP)."""
    return _endpoints.get(name)


def names() -> list[str]:
    """The services registered in this process."""
    return sorted(_endpoints)


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether co-located members call each other in-process (default: yes);
    ``MODELCHAIN_COLOCATE=0`` keeps them on HTTP, to compare both transports. Read when a
    group registers its members, not per call."""
    value = (os.environ if environ is None else environ).get("MODELCHAIN_COLOCATE", "1")
    return value.strip().lower() not in ("0", "false", "no", "off")
