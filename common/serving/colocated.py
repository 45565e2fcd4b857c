"""A service app as its co-located callers see it: ``/predict`` in-process.

:class:`ColocatedEndpoint` is what :mod:`common.client.local` hands the pipe client for
a service living in the caller's process. It runs the same path as the HTTP route
(:func:`~common.serving.app.predict_answer`): API keys and the calls policy (the
caller is the co-located service acting on the calling thread, known without a
signature), the forwarding header,
readiness, batch and text limits, the schema, the deadline, the model and the next
stages; it counts the request in the callee's metrics and renders errors through the
same envelope. What it skips: sockets, HTTP parsing, Flask's request machinery and the
JSON round trip of the input and the answer. The body-size limit has no meaning
without a body; every other limit holds.
"""
from __future__ import annotations

import copy
import logging
import time
from typing import Any, Mapping

from flask import Flask
from werkzeug.test import Client as WsgiClient

from common.client import calls
from common.client.client import decode_json, encode_json
from common.core import context as ctx
from common.core import identity
from common.core.errors import InternalError, ServiceError

from .app import ServiceState, predict_answer
from .hooks import EXTENSION, as_seen_by
from .permissions import COLOCATED_CALLER, enter, leave

log = logging.getLogger(__name__)

PREDICT_ROUTE = "/predict"


class ColocatedEndpoint:
    """``/predict`` of one service app, called from its own process."""

    def __init__(self, app: Flask):
        self.app = app
        self.state: ServiceState = app.extensions[EXTENSION]

    def call(self, method: str, path: str, body: Any, headers: Mapping[str, str],
             budget: float) -> tuple[int, Any, str | None]:
        """One call: status, answer document, request id (as the HTTP route's)."""
        if method == "POST" and path == PREDICT_ROUTE:
            return self.predict(body, headers)
        return self._through_wsgi(method, path, body, headers)

    def predict(self, body: Any, headers: Mapping[str, str]) -> tuple[int, Any, str]:
        """``POST /predict`` with ``body`` as the decoded JSON it would have carried."""
        started = time.perf_counter()
        service_state = self.state
        service_state.ensure_started()
        context = ctx.from_headers(headers, service_state.config["DEFAULT_TIMEOUT_S"])
        caller = identity.acting()   # the co-located service making the call, if any
        context_token, extras_token = ctx.activate(context), ctx.open_response_extras()
        acting_token = identity.act_as(service_state.model.name)
        recorder_token = calls.attribute_to(service_state.recorder)  # its onward calls
        try:
            status, document = 200, self._answer(body, headers, context, started, caller)
        except ServiceError as error:
            status, document = self._render(error)
        except Exception:  # noqa: BLE001  as the HTTP route: a 500 in our envelope
            log.exception("unexpected error on in-process POST /predict")
            status, document = self._render(InternalError(
                "Internal server error; see the service log with request id "
                f"{context.request_id}."))
        finally:
            calls.release(recorder_token)
            identity.stop_acting(acting_token)
            ctx.close_response_extras(extras_token)
            ctx.deactivate(context_token)
        seconds = time.perf_counter() - started
        service_state.metrics.observe_request(PREDICT_ROUTE, "POST", status, seconds)
        service_state.metrics.count_colocated(status)
        return status, document, context.request_id

    def _answer(self, body: Any, headers: Mapping[str, str], context: ctx.RequestContext,
                started: float, caller: str | None) -> dict[str, Any]:
        service_state = self.state
        admitted = service_state.permissions.admit("POST", PREDICT_ROUTE, headers,
                                                   in_process=caller)
        caller_token = enter(admitted)
        try:
            document = predict_answer(service_state, lambda: body, headers, context, started)
        finally:
            leave(caller_token)
        if service_state.runner.cache is not None:
            # Cached outputs are shared objects; an in-process caller must not be able
            # to change what the next caller gets. Without a cache they are fresh.
            document = copy.deepcopy(document)
        return document

    def _render(self, error: ServiceError) -> tuple[int, Any]:
        """The error as the HTTP route renders it, and as a caller would decode it
        (through JSON, so details compare equal whichever way the call went)."""
        error = as_seen_by(error, self.state.model.name)
        return error.status, decode_json(encode_json(error.to_dict()))

    def _through_wsgi(self, method: str, path: str, body: Any,
                      headers: Mapping[str, str]) -> tuple[int, Any, str | None]:
        """Any other route (``/metadata``, ``/readyz``): through the app's WSGI stack,
        rare enough that HTTP's semantics are worth more than the time."""
        caller = identity.acting()
        response = WsgiClient(self.app).open(
            path, method=method, json=body, headers=dict(headers),
            environ_overrides={COLOCATED_CALLER: caller} if caller else None)
        return response.status_code, decode_json(response.get_data()), \
            response.headers.get(ctx.REQUEST_ID_HEADER)
