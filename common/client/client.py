"""The pipe client: call any registered service from any code, in one line.

>>> client = Client()
>>> client.algo("sentiment").pipe({"text": "What a lovely day"}).result
{'label': 'positive', 'scores': {...}}

One pool of kept-alive connections per client (urllib3, which requests is built on,
at less than half of requests' CPU per call); a timeout on every call (the smaller of
the client's
timeout and the current request's remaining deadline); retries with backoff only for
connection failures, which never reached the service; a remote error envelope becomes
the same typed :class:`~common.core.errors.ServiceError` here, carrying the remote code,
message, service name and request id.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import orjson
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import TimeoutError as TransportTimeout
from tenacity import (Retrying, retry_if_exception_type, stop_after_attempt,
                      stop_after_delay, wait_exponential)

from common.core import context as ctx
from common.core import identity
from common.core.errors import (ITEM_ERRORS_KEY, DeadlineExceeded, InternalError, NotFound,
                                ServiceError, UpstreamError, VersionMismatch,
                                error_from_envelope, item_error_from_document)
from common.core.registry import load_registry, registry_path
from common.core.versions import Deployments, deployment_table, pick_deployment, split_ref

from .calls import recorder_for, timed
from .local import find as find_colocated
from .local import names as colocated_names
from .bulk import ItemResult, pipe_many
from .stages import PIPE_NEXT_HEADER, Stage, format_stages, parse_stages, version_matches


@dataclass
class PipeResponse:
    """A service's answer: ``result`` (a list for a batch) and ``metadata``.

    In a batch answer, an item that a later stage refused has ``None`` as its result
    and its error in ``metadata.errors`` under its index (see :attr:`errors`)."""

    result: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> dict[int, ServiceError]:
        """The typed errors of the batch items that failed, by index."""
        found = self.metadata.get(ITEM_ERRORS_KEY) or {}
        if not isinstance(found, dict):
            return {}
        request_id = self.metadata.get("request_id")
        return {int(k): item_error_from_document(v, request_id=request_id)
                for k, v in found.items() if str(k).isdigit()}


class Client:
    """Calls services by name; URLs come from the registry and the environment.

    ``urls`` maps names to base URLs (default: the registry file, with
    ``MODELCHAIN_URL_<NAME>`` overrides). ``local`` maps names to WSGI apps living in
    this process, which are then called through WSGI instead of over HTTP (tests). A
    service co-located in this process (:mod:`common.client.local`) is called
    in-process, without HTTP or JSON, unless ``colocated=False``.

    ``versions`` maps a service to its deployments, ``(version, name)`` newest first
    (default: the registry's ``versions:``), so ``algo("sentiment@1")`` reaches the
    newest deployment of sentiment 1.x.
    """

    def __init__(self, urls: Mapping[str, str] | None = None, *, timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.05, api_key: str | None = None,
                 local: Mapping[str, Callable] | None = None, pool_size: int = 32,
                 colocated: bool = True,
                 versions: Mapping[str, Deployments] | None = None):
        if urls is None:
            urls, found = _deployments(_read_registry())
            versions = found if versions is None else versions
        self.urls = dict(urls)
        self.versions = dict(versions or {})
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.api_key = api_key if api_key is not None else os.environ.get("MODELCHAIN_API_KEY")
        self.local = dict(local or {})
        self.colocated = colocated
        # Service-to-service calls go straight to the registry's URLs: no proxy or
        # .netrc lookups from the environment (12 % of a hop with requests), no
        # redirects, no retries of urllib3's own (ours are below, within the budget).
        self.pool = urllib3.PoolManager(num_pools=16, maxsize=pool_size, block=False,
                                        retries=False)
        self._metadata: dict[str, dict] = {}

    @classmethod
    def from_registry(cls, entries: Mapping[str, Any], **options: Any) -> "Client":
        """A client over registry ``entries`` (:func:`common.core.registry.load_registry`):
        each deployment's URL and the services' versions; ``options`` as for the
        constructor."""
        urls, versions = _deployments(entries)
        return cls(urls=urls, versions=versions, **options)

    def algo(self, ref: str) -> "Algo":
        """A handle on a service: ``"sentiment"`` or ``"sentiment@1"``. Where several
        versions run side by side, the newest deployment meeting the requirement (the
        newest without one); :class:`VersionMismatch` when none does."""
        name, requirement = split_ref(ref)
        if not self.knows(name):
            raise NotFound(f"No service named {name!r} in the registry.",
                           {"known": sorted(set(self.urls) | set(self.local)
                                            | set(colocated_names()))})
        return Algo(self, pick_deployment(name, requirement, self.versions), requirement)

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a registered (or local, or co-located) service."""
        return name in self.urls or name in self.local or name in self.versions \
            or find_colocated(name) is not None

    def close(self) -> None:
        """Close pooled connections."""
        self.pool.clear()

    def call(self, name: str, method: str, path: str, body: Any = None,
             headers: Mapping[str, str] | None = None,
             timeout: float | None = None) -> Any:
        """One call to a service route; returns the decoded JSON or raises typed. A pipe
        call made while a service serves a request is recorded as that service's
        (:mod:`common.client.calls`)."""
        request_headers = self._headers(headers)
        budget = self._budget(timeout, name)
        request_headers[ctx.DEADLINE_HEADER] = str(int(downstream_budget(budget) * 1000))
        send, args = self._transport(name), (name, method, path, body, request_headers, budget)
        recorder = recorder_for(method, path)  # a pipe call made while serving
        status, document, request_id = send(*args) if recorder is None else \
            timed(recorder, name, send, *args)
        if status >= 400:
            raise error_from_envelope(status, document, service=name, request_id=request_id)
        return document

    def _transport(self, name: str) -> Callable:
        """How ``name`` is reached: a test's WSGI app, in-process, or HTTP."""
        if name in self.local:
            return self._local_call
        endpoint = find_colocated(name) if self.colocated else None
        if endpoint is not None:
            return lambda _name, *args: endpoint.call(*args)
        return self._http_call

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        current = ctx.current() or ctx.RequestContext()
        headers = {"Accept": "application/json", **current.outgoing_headers()}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(extra or {})
        return headers

    def _budget(self, timeout: float | None, name: str) -> float:
        """Seconds this call may take: its timeout capped by the request's deadline."""
        budget = timeout or self.timeout
        current = ctx.current()
        remaining = current.remaining() if current else None
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceeded(f"The deadline passed before calling {name}.",
                                       {"stage": name}, service=name)
            budget = min(budget, remaining)
        return budget

    def _http_call(self, name, method, path, body, headers, budget):
        url = self.urls[name] + path
        # Signed as the service this call is made for, afresh for each attempt (a
        # callee refuses a signature it has seen before).
        sign = identity.call_signer(name, method, path)
        try:
            response = self._send_with_retries(method, url, body, headers, budget, sign)
        except NewConnectionError as e:   # a TimeoutError to urllib3, refused to us
            raise _unreached(name, url, e) from e
        except TransportTimeout as e:
            raise DeadlineExceeded(f"{name} did not answer within {budget:.2f}s.",
                                   {"stage": name, "url": url, "reached": False},
                                   service=name) from e
        except TransportError as e:
            raise _unreached(name, url, e) from e
        request_id = response.headers.get(ctx.REQUEST_ID_HEADER)
        return response.status, _decode(response, name, request_id), request_id

    def _send_with_retries(self, method, url, body, headers, budget,
                           sign=None) -> urllib3.BaseHTTPResponse:
        # Only failures that never reached the service are retried (refused, reset, a
        # stale pooled socket): /predict has no side effects, so at worst a service that
        # died mid-request is asked again; a read timeout is never retried. Every
        # attempt gets only the time left, so retries never outlast the budget.
        end = time.monotonic() + budget
        data = None
        if body is not None:
            data = encode_json(body)
            headers["Content-Type"] = "application/json"

        def attempt() -> urllib3.BaseHTTPResponse:
            left = end - time.monotonic()
            if left <= 0:
                raise BudgetSpent("the budget ran out between attempts")
            headers[ctx.DEADLINE_HEADER] = str(int(downstream_budget(left) * 1000))
            if sign is not None:
                headers[identity.IDENTITY_HEADER] = sign(headers.get(ctx.REQUEST_ID_HEADER, ""))
            return self.pool.request(method, url, body=data, headers=headers,
                                     timeout=urllib3.Timeout(connect=min(left, 3.05),
                                                             read=left))
        try:  # the common case, without building a retry loop
            return attempt()
        except _RETRIED:
            if not self.retries:
                raise
        retrying = Retrying(
            retry=retry_if_exception_type(_RETRIED),
            stop=stop_after_attempt(self.retries) | stop_after_delay(budget / 2),
            wait=wait_exponential(multiplier=self.backoff, max=1.0), reraise=True)
        return retrying(attempt)

    def _local_call(self, name, method, path, body, headers, budget):
        from werkzeug.test import Client as WsgiClient
        sign = identity.call_signer(name, method, path)
        if sign is not None:   # a WSGI app in this process is called as over HTTP
            headers[identity.IDENTITY_HEADER] = sign(headers.get(ctx.REQUEST_ID_HEADER, ""))
        response = WsgiClient(self.local[name]).open(path, method=method, json=body,
                                                     headers=headers)
        try:
            document = response.get_json(force=True, silent=False)
        except Exception as e:  # noqa: BLE001  same rule as HTTP: malformed is upstream
            raise UpstreamError(f"{name} answered malformed JSON.",
                                {"stage": name, "status": response.status_code},
                                service=name) from e
        return response.status_code, document, response.headers.get(ctx.REQUEST_ID_HEADER)


_shared: dict[int, "Client"] = {}
_shared_lock = threading.Lock()


def default_client() -> "Client":
    """The process's pipe client, built on first use from the registry and environment.

    One per process (a forked worker builds its own: a pooled socket must not be shared
    across a fork), shared by every service and model of that process.
    """
    pid = os.getpid()
    client = _shared.get(pid)
    if client is None:
        with _shared_lock:
            client = _shared.get(pid) or Client()
            _shared.clear()  # whatever a parent process left is unusable here
            _shared[pid] = client
    return client


def reset_default_client() -> None:
    """Forget the process's client, so the next use reads the registry again (tests)."""
    with _shared_lock:
        for client in _shared.values():
            client.close()
        _shared.clear()


def unreached(error: ServiceError) -> bool:
    """Whether ``error`` says the service never answered (refused, reset, timed out),
    as opposed to an error the service answered with itself."""
    return isinstance(error.details, Mapping) and error.details.get("reached") is False


def downstream_budget(budget: float) -> float:
    """The deadline sent with a call that we wait ``budget`` seconds for.

    Downstream gets a little less than we wait, at every hop, so the stage that runs out
    of time answers first, with a 504 naming itself, before its caller gives up on it.
    """
    return max(0.0, budget * 0.9 - 0.05)


def encode_json(value: Any) -> bytes:
    """``value`` as JSON bytes: orjson (a third of the stdlib's time on our documents,
    ``make bench``), or the stdlib for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value).encode()


def decode_json(raw: bytes) -> Any:
    """JSON bytes decoded: orjson, or the stdlib for what only it reads (``NaN``)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


class BudgetSpent(TransportTimeout):
    """The call's budget ran out between two attempts (a timeout, never retried)."""


#: Failures before the service answered anything: retried within the budget.
_RETRIED = (NewConnectionError, ConnectTimeoutError, ProtocolError)


def _unreached(name: str, url: str, error: TransportError) -> UpstreamError:
    return UpstreamError(f"Could not reach {name} at {url}: {_reason(error)}.",
                         {"stage": name, "url": url, "reached": False}, service=name)


def _reason(error: TransportError) -> str:
    """What went wrong, in a word or two (a refused connection, a reset)."""
    if isinstance(error, NewConnectionError):
        return "connection refused or unresolved"
    if isinstance(error, ProtocolError):
        return "connection closed before an answer"
    return type(error).__name__


def _decode(response: urllib3.BaseHTTPResponse, name: str, request_id: str | None) -> Any:
    try:
        return decode_json(response.data)
    except ValueError as e:
        raise UpstreamError(f"{name} answered HTTP {response.status} with malformed "
                            "JSON.", {"stage": name, "status": response.status},
                            service=name, request_id=request_id) from e


def _read_registry() -> Mapping[str, Any]:
    """The registry's entries; a deployment without its registry says which file."""
    try:
        return load_registry()
    except OSError as e:
        raise InternalError(f"The service registry {registry_path()} cannot be read "
                            f"({type(e).__name__}); set MODELCHAIN_REGISTRY or pass urls.") from e


def _deployments(entries: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Deployments]]:
    """Every deployment's URL, and the services' versions, of registry entries."""
    return {name: entry.url for name, entry in entries.items()}, deployment_table(entries)


class Algo:
    """A service as seen by a caller: ``pipe`` one input or a batch."""

    def __init__(self, client: Client, name: str, requirement: str | None = None):
        self.client = client
        self.name = name
        self.requirement = requirement

    def metadata(self) -> dict[str, Any]:
        """The service's ``/metadata`` (fetched once per client)."""
        if self.name not in self.client._metadata:
            self.client._metadata[self.name] = self.client.call(self.name, "GET", "/metadata")
        return self.client._metadata[self.name]

    def check_version(self) -> None:
        """Raise :class:`VersionMismatch` unless the service meets the requirement."""
        if not self.requirement:
            return
        version = str(self.metadata().get("version", ""))
        if not version_matches(version, self.requirement):
            raise VersionMismatch(f"{self.name} is version {version}, which does not meet "
                                  f"the requirement {self.requirement!r}.",
                                  {"version": version, "requirement": self.requirement},
                                  service=self.name)

    def pipe(self, data: Any, *, next: Iterable[Stage | str] = (),
             timeout: float | None = None) -> PipeResponse:
        """Send one input (a dict) or a batch (a list); ``next`` names hybrid stages."""
        self.check_version()
        stages = [s if isinstance(s, Stage) else parse_stages(s)[0] for s in next]
        headers = {PIPE_NEXT_HEADER: format_stages(stages)} if stages else None
        document = self.client.call(self.name, "POST", "/predict", data, headers, timeout)
        if not isinstance(document, dict) or "result" not in document:
            raise UpstreamError(f"{self.name} answered without a result.",
                                {"stage": self.name}, service=self.name)
        return PipeResponse(document["result"], document.get("metadata") or {})

    def pipe_many(self, inputs: list[Any], *, mode: str = "chunked", workers: int = 4,
                  chunk_size: int = 32, timeout: float | None = None) -> list[ItemResult]:
        """Score many inputs; results in input order, per-item errors, never raised."""
        return pipe_many(self, inputs, mode=mode, workers=workers, chunk_size=chunk_size,
                         timeout=timeout)
