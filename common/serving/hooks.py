"""What runs around every request of a service app: the request context (id, trace,
deadline), API keys, request metrics, and the one renderer of every error."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, jsonify, request
from flask_cors import CORS
from werkzeug.exceptions import HTTPException

from common.core import context as ctx
from common.core import identity
from common.core.errors import (DeadlineExceeded, Forbidden, InternalError, InvalidInput,
                                MethodNotAllowed, NotFound,
                                PayloadTooLarge, ServiceError, UnsupportedMediaType,
                                UpstreamError, VersionMismatch, error_class_for)

from .permissions import COLOCATED_CALLER, ROUTES_TO_OTHERS, enter, leave

if TYPE_CHECKING:  # annotations only: app.py imports this module
    from .app import ServiceState

log = logging.getLogger(__name__)

EXTENSION = "modelchain"
#: Open without a key: probes, and the metrics (``/calls`` is the same figures as JSON).
OPEN_ROUTES = ("/healthz", "/readyz", "/metrics", "/calls", "/v2/health/live",
               "/v2/health/ready")


def state() -> "ServiceState":
    """The :class:`~common.serving.app.ServiceState` of the app serving this request."""
    return current_app.extensions[EXTENSION]


#: What a browser on an allowed origin may send and read (``CORS_ORIGINS``).
CORS_ALLOW_HEADERS = ["Content-Type", "Authorization", "X-Pipe-Next", "X-Request-Id",
                      "X-Deadline-Ms", "traceparent"]
CORS_EXPOSE_HEADERS = ["X-Request-Id", "traceparent"]


def install_cors(app: Flask, origins: str) -> None:
    """Let pages on ``origins`` (comma-separated, or ``*``) call the service from a
    browser; with none configured, no CORS header is ever sent."""
    allowed = [o.strip() for o in origins.split(",") if o.strip()]
    if allowed:
        CORS(app, origins="*" if "*" in allowed else allowed,
             allow_headers=CORS_ALLOW_HEADERS, expose_headers=CORS_EXPOSE_HEADERS,
             methods=["GET", "POST", "OPTIONS"], max_age=600)


def install_hooks(app: Flask) -> None:
    """Register the request hooks and error handlers on ``app``."""
    app.before_request(_open_request)
    app.after_request(_close_request)
    app.teardown_request(_teardown_request)
    app.register_error_handler(ServiceError, render_error)
    app.register_error_handler(HTTPException, _render_http_error)
    app.register_error_handler(Exception, _render_unexpected)


def _open_request() -> None:
    service_state = state()
    service_state.ensure_started()
    g.started = time.perf_counter()
    # Under gunicorn (deploy/worker.py) the budget counts from when the request was
    # queued for a thread, not from when a thread took it.
    g.context = ctx.from_headers(request.headers, service_state.config["DEFAULT_TIMEOUT_S"],
                                 started=request.environ.get("modelchain.queued_at"))
    g.context_token = ctx.activate(g.context)
    g.extras_token = ctx.open_response_extras()
    # The calls this request makes are made for this service (and signed as it).
    g.acting_token = identity.act_as(service_state.model.name)
    # A CORS preflight (OPTIONS) carries no credentials by design; it reveals nothing.
    if request.path not in OPEN_ROUTES and request.method != "OPTIONS":
        _admit(service_state)


def _admit(service_state: "ServiceState") -> None:
    """The caller's key or identity, and the policy (``permissions.py``)."""
    view = current_app.view_functions.get(request.endpoint or "")
    caller = service_state.permissions.admit(
        request.method, request.path, request.headers,
        in_process=request.environ.get(COLOCATED_CALLER),
        routing=bool(getattr(view, ROUTES_TO_OTHERS, False)))
    g.caller_token = enter(caller)


def _close_request(response: Response) -> Response:
    context = g.get("context")
    if context is not None:
        response.headers[ctx.REQUEST_ID_HEADER] = context.request_id
        response.headers[ctx.TRACEPARENT_HEADER] = context.traceparent
    rule = request.url_rule.rule if request.url_rule else "<unmatched>"
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    state().metrics.observe_request(rule, request.method, response.status_code, seconds)
    return response


def _teardown_request(_exc: BaseException | None) -> None:
    token = g.pop("context_token", None)
    if token is not None:
        ctx.deactivate(token)
    extras = g.pop("extras_token", None)
    if extras is not None:
        ctx.close_response_extras(extras)
    caller = g.pop("caller_token", None)
    if caller is not None:
        leave(caller)
    acting = g.pop("acting_token", None)
    if acting is not None:
        identity.stop_acting(acting)


def render_error(error: ServiceError) -> tuple[Response, int]:
    """The one renderer of every error: the JSON envelope with the class's status (on
    the Open Inference Protocol's routes, its own form: ``{"error": "<message>"}``)."""
    error = _as_seen_here(error)
    protocol = request.path == "/v2" or request.path.startswith("/v2/")
    response = jsonify(error=error.message) if protocol else jsonify(error.to_dict())
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="modelchain"'
    return response, error.status


def _as_seen_here(error: ServiceError) -> ServiceError:
    return as_seen_by(error, state().model.name)


def as_seen_by(error: ServiceError, own_name: str) -> ServiceError:
    """An error from a service ``own_name`` called is an upstream failure there (502,
    or 504 for a deadline), naming the deepest stage that failed; a stage that refused
    the input it was sent still says so (400), since the input came from the caller,
    and a call the policy forbids stays a 403 with its own message, which names the
    caller and the callee of the refused hop (``details.caller``, ``details.callee``)."""
    if not error.service or error.service == own_name:
        return error
    details = error.details if isinstance(error.details, dict) else {}
    stage = details.get("stage") or error.service
    # A refused input, a spent deadline, a version nobody serves or a call the policy
    # forbids is the caller's to mend, so it keeps its class; anything else a stage
    # failed with is upstream's. A refused call keeps its own message, which names the
    # caller and the callee of the hop refused.
    cls = next((c for c in (DeadlineExceeded, InvalidInput, VersionMismatch, Forbidden)
                if isinstance(error, c)), UpstreamError)
    message = error.message if stage != error.service or cls is Forbidden or \
        error.message.startswith(stage) else f"Stage {stage} failed: {error.message}"
    return cls(message, {**details, "stage": stage, "remote_code": details.get(
        "remote_code", error.code)}, request_id=error.request_id)


_HTTP_ERRORS = {404: (NotFound, "No route {path}."),
                405: (MethodNotAllowed, "{method} is not allowed on {path}."),
                413: (PayloadTooLarge, "The body is over the limit of {limit} bytes."),
                415: (UnsupportedMediaType, None)}


def _render_http_error(error: HTTPException) -> tuple[Response, int]:
    """Werkzeug's routing and body errors, in our envelope with their own status."""
    status = error.code or 500
    cls, template = _HTTP_ERRORS.get(status, (error_class_for(status=status), None))
    message = template.format(path=request.path, method=request.method,
                              limit=current_app.config["MAX_CONTENT_LENGTH"]) \
        if template else error.description
    response, _ = render_error(cls(message))
    if getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response, status


def _render_unexpected(error: Exception) -> tuple[Response, int]:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return render_error(InternalError("Internal server error; see the service log with "
                                      f"request id {getattr(g.get('context'), 'request_id', '')}."))
