"""What the gateway does with a call once it is parsed: find the service and check
its version, turn the body into the service's input, and pipe it there with the pipe
client (so the request id, the deadline and the trace travel on)."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Iterator, Mapping

from common.client import Client
from common.client.client import Algo, PipeResponse
from common.client.stages import version_matches
from common.core import context as ctx
from common.core.errors import NotFound, ServiceError, VersionMismatch
from common.serving.validation import parse_json_body

from . import wire

log = logging.getLogger(__name__)


class Router:
    """Routes Algorithmia calls to registered services through one pipe client."""

    def __init__(self, client: Client, namespace: str, max_void: int = 8,
                 metadata_ttl: float = 5.0):
        self.client = client
        self.namespace = namespace
        self._void_slots = threading.BoundedSemaphore(max_void)
        self.max_void = max_void
        self.metadata_ttl = metadata_ttl
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}

    def resolve(self, ref: wire.AlgoRef) -> tuple[Algo, dict[str, Any]]:
        """The deployment ``ref`` reaches (the newest of the service's versions that
        matches ``ref.version``, the newest without one) and its ``/metadata``; 404 for
        an unknown name or a version no deployment serves."""
        try:   # NotFound naming the known services, or no matching version
            algo = self.client.algo(f"{ref.name}@{ref.version}" if ref.version
                                    else ref.name)
        except VersionMismatch as e:
            raise NotFound(f"{ref.owner}/{ref.name} has no version {ref.version}: "
                           f"{e.message}", {**e.details, "requested": ref.version}) from e
        metadata = self.metadata(algo.name)
        version = str(metadata.get("version", ""))
        if ref.version and not version_matches(version, ref.version):
            raise NotFound(f"{ref.owner}/{ref.name} has no version {ref.version}: it "
                           f"serves version {version}.",
                           {"version": version, "requested": ref.version})
        return algo, metadata

    def metadata(self, name: str) -> dict[str, Any]:
        """``name``'s ``/metadata`` (version, input schema), fetched again once it is
        ``metadata_ttl`` seconds old, so a redeployed service is seen soon."""
        now = time.monotonic()
        cached = self._metadata.get(name)
        if cached is None or now - cached[0] > self.metadata_ttl:
            cached = (now, self.client.call(name, "GET", "/metadata"))
            self._metadata[name] = cached   # one dict store: safe between threads
        return cached[1]

    def read_input(self, content_type: str | None, raw: bytes, service: str,
                   metadata: Mapping[str, Any]) -> tuple[Any, list[str]]:
        """The body as the service's input, by its Content-Type (see :mod:`.wire`),
        and the names of the JSON fields left out because the service does not take
        them (:func:`.wire.known_fields`)."""
        kind = wire.mimetype(content_type)
        schema = metadata.get("input_schema") or {}
        if kind == "application/json" or kind.endswith("+json"):
            return wire.known_fields(parse_json_body(content_type, raw), schema)
        if kind == "text/plain":
            return wire.text_input(raw, service, schema), []
        if kind == "application/octet-stream":
            return wire.binary_input(raw, service, schema), []
        raise wire.unsupported(content_type)

    def pipe(self, algo: Algo, document: Any, timeout: float | None) -> PipeResponse:
        """One call, within ``timeout`` seconds (and the request's own deadline)."""
        with deadline(timeout):
            return algo.pipe(document)

    def pipe_void(self, algo: Algo, document: Any, timeout: float | None) -> None:
        """Start the call and return at once (``output=void``); at most ``max_void``
        run at a time, so a flood of them cannot take every thread."""
        if not self._void_slots.acquire(blocking=False):
            raise _void_busy(self.max_void)

        def run() -> None:
            try:
                self.pipe(algo, document, timeout)
            except ServiceError as error:   # nobody waits for it: the log says so
                log.warning("output=void call to %s failed: %s", algo.name, error)
            finally:
                self._void_slots.release()
        threading.Thread(target=ctx.bind_context(run), daemon=True,
                         name=f"void-{algo.name}").start()


@contextlib.contextmanager
def deadline(timeout: float | None) -> Iterator[None]:
    """The current request's context with its deadline brought in to ``timeout``
    seconds from now (never later than it already was)."""
    current = ctx.current()
    if timeout is None or current is None:
        yield
        return
    end = time.monotonic() + timeout
    if current.deadline is not None:
        end = min(end, current.deadline)
    token = ctx.activate(ctx.RequestContext(current.request_id, current.trace_id,
                                            current.span_id, current.trace_flags, end))
    try:
        yield
    finally:
        ctx.deactivate(token)


class Busy(ServiceError):
    """Too many calls of one kind at once: try again shortly."""

    status, code, default_message = 503, "busy", "The gateway is busy."


def _void_busy(limit: int) -> Busy:
    return Busy(f"The gateway already runs {limit} output=void calls; try again "
                "shortly.", {"max_void": limit})
