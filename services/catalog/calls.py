"""The observed call graph: every service's ``GET /calls``, gathered and remembered.

Each service counts the pipe calls it makes (``common/serving/callgraph.py``); the
catalog asks every registered service for its ``/calls`` (concurrently, each within
``FETCH_TIMEOUT_S``, kept for ``CACHE_TTL_S``) and adds its own. It also remembers, in
memory only, every edge it has seen: a service that restarted starts counting from
zero, and its earlier edges are kept (marked ``current: false``) so that it can ask
here whom it used to call (``common/serving/dependents.py``). Names are bounded: a
caller is a registered service, a callee a registered service or ``other``.
"""
from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Mapping

from common.core.context import bind_context
from common.core.errors import ServiceError

from .directory import Directory, as_mapping

OTHER = "other"
MAX_EDGES_PER_SERVICE = 100


class CallGraph:
    """The edges every service reports, and those seen before (in this process)."""

    def __init__(self, directory: Directory, own_name: str,
                 own: Callable[[], Mapping[str, Any]]):
        self.directory = directory
        self.own_name = own_name
        self.own = own
        self._edges: dict[tuple[str, str], dict[str, Any]] = {}
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._gathering = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def gather(self) -> dict[str, Any]:
        """``{"edges": [...], "services": [...], "unanswered": [...]}``, fresh unless
        gathered less than ``CACHE_TTL_S`` ago."""
        with self._gathering:   # one gather at a time: the others get its answer
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.directory.ttl:
                return cached[1]
            reports = self._reports()
            with self._lock:
                for name, edges in reports.items():
                    if edges is not None:
                        self._remember(name, edges)
                document = self._document([n for n, e in reports.items() if e is None])
                self._cached = (time.monotonic(), document)
            return document

    def _reports(self) -> dict[str, list[dict[str, Any]] | None]:
        """Each service's edges (None where it did not answer), the catalog's own too."""
        names = self.directory.names()
        futures = {n: self._executor().submit(bind_context(self._fetch), n) for n in names}
        wait(futures.values(), timeout=self.directory.timeout + 0.5)
        reports = {n: f.result() if f.done() else None for n, f in futures.items()}
        reports[self.own_name] = self._edges_of(self.own_name, self.own())
        return reports

    def _fetch(self, name: str) -> list[dict[str, Any]] | None:
        try:
            document = self.directory.client.call(name, "GET", "/calls",
                                                  timeout=self.directory.timeout)
        except ServiceError:   # down, or no /calls (not a modelchain service)
            return None
        except Exception:  # noqa: BLE001  one broken service must not break the graph
            return None
        return self._edges_of(name, document)

    def _edges_of(self, caller: str, document: Any) -> list[dict[str, Any]]:
        """A ``/calls`` answer's edges, checked: numbers, bounded names, ``caller`` as
        the name the catalog asked (what the service says of itself is untrusted)."""
        known = set(self.directory.entries) | {self.own_name}
        edges = as_mapping(document).get("calls")
        if not isinstance(edges, list):
            return []
        found = [_edge(caller, as_mapping(e), known) for e in edges[:MAX_EDGES_PER_SERVICE]]
        return [e for e in found if e is not None]

    def _remember(self, caller: str, edges: list[dict[str, Any]]) -> None:
        for key, edge in self._edges.items():
            if key[0] == caller:
                edge["current"] = False    # not in the caller's records now: restarted
        for edge in edges:
            self._edges[(caller, edge["callee"])] = {**edge, "current": True}

    def _document(self, unanswered: list[str]) -> dict[str, Any]:
        edges = [dict(self._edges[key]) for key in sorted(self._edges)]
        services = sorted({e["caller"] for e in edges} | {e["callee"] for e in edges})
        return {"edges": edges, "services": services, "unanswered": sorted(unanswered)}

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:   # created on first use: in the worker, after the fork
                self._pool = ThreadPoolExecutor(
                    max_workers=min(32, max(4, len(self.directory.entries))),
                    thread_name_prefix="catalog-calls")
            return self._pool


def _edge(caller: str, edge: Mapping[str, Any], known: set[str]) -> dict[str, Any] | None:
    """One reported edge as numbers and known names, or None if it is not one."""
    callee = str(edge.get("callee") or "")[:100]
    outcomes = {str(k)[:20]: _count(v) for k, v in
                list(as_mapping(edge.get("outcomes")).items())[:10]}
    calls = sum(outcomes.values()) or _count(edge.get("calls"))
    if not callee or not calls:
        return None
    mean = edge.get("mean_ms")
    return {"caller": caller, "callee": callee if callee in known else OTHER,
            "calls": calls, "outcomes": outcomes,
            "mean_ms": round(float(mean), 3) if isinstance(mean, (int, float))
            and not isinstance(mean, bool) and math.isfinite(mean) and mean >= 0 else None}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else 0
