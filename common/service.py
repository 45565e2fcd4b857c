"""The service factory: one :class:`~common.model.Model` in, one Flask app with every
route of the modelchain contract out.

Routes: ``POST /predict``, ``GET /healthz``, ``/readyz``, ``/metadata``,
``/openapi.json``, ``/docs``, ``/metrics``. Errors are JSON everywhere.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable, Mapping

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import context as ctx
from .auth import check_authorization, parse_keys
from .config import load_config
from .docs import docs_blueprint
from .client import Client
from .errors import (DeadlineExceeded, InternalError, MethodNotAllowed, NotFound, NotReady,
                     PayloadTooLarge, ServiceError, UnsupportedMediaType, UpstreamError,
                     error_class_for)
from .forwarding import forward, next_stages
from .metrics import ServiceMetrics
from .model import Model
from .openapi import build_spec, json_schema
from .runner import ModelRunner
from .validation import as_batch, parse_json_body, validate_items

log = logging.getLogger(__name__)

EXTENSION = "modelchain"
OPEN_ROUTES = ("/healthz", "/readyz", "/metrics")


class ServiceState:
    """What a service app keeps between requests: its model, runner, spec and metrics."""

    def __init__(self, model: Model, config: Mapping[str, Any]):
        self.model = model
        self.config = config
        self.metrics = ServiceMetrics(model.name)
        self.runner = ModelRunner(model, config, self.metrics)
        self.spec = build_spec(model)
        self.openapi = self.spec.to_dict()
        # Built once: marshmallow 4 schemas keep no per-load state, so threads share it.
        self.input_schema = model.input_schema()
        self._client: Client | None = None
        self.api_keys = parse_keys(config["API_KEYS"])

    @property
    def client(self) -> Client:
        """This service's pipe client (built on first use, from the registry)."""
        if self._client is None:
            self._client = Client(timeout=self.config["DEFAULT_TIMEOUT_S"])
        return self._client

    def ensure_started(self) -> None:
        """Start loading the model in the background unless configured otherwise."""
        if self.config["LOAD_MODEL"] == "background":
            self.runner.start_in_background()


def state() -> ServiceState:
    """The :class:`ServiceState` of the app serving the current request."""
    return current_app.extensions[EXTENSION]


def create_service_app(model_cls: type[Model], *, prefix: str,
                       defaults: Mapping[str, Any] | None = None,
                       config: Mapping[str, Any] | None = None,
                       blueprints: Iterable[Blueprint] = ()) -> Flask:
    """Build the Flask app serving ``model_cls``.

    Configuration comes from the base defaults, ``defaults``, the environment
    (``MODELCHAIN_*`` then ``<prefix>*``) and finally ``config``. No model is loaded
    here: loading starts after the fork (gunicorn's ``post_worker_init``), on the first
    request, or at once when ``LOAD_MODEL`` is ``sync``.
    """
    settings = load_config(prefix, defaults, config)
    model = model_cls(settings)
    # static_folder=None: no implicit /static route serving files from the cwd
    app = Flask(model.name, static_folder=None)
    app.config.update(settings)
    service_state = ServiceState(model, settings)
    app.extensions[EXTENSION] = service_state
    app.register_blueprint(_routes())
    app.register_blueprint(docs_blueprint())
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    _install_hooks(app)
    if settings["LOAD_MODEL"] == "sync":
        service_state.runner.start()
    return app


def start_model(app: Flask) -> None:
    """Begin loading the app's model; gunicorn's post_worker_init hook calls this."""
    if EXTENSION in getattr(app, "extensions", {}):
        app.extensions[EXTENSION].ensure_started()


def _install_hooks(app: Flask) -> None:
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
    g.context = ctx.from_headers(request.headers, service_state.config["DEFAULT_TIMEOUT_S"])
    g.context_token = ctx.activate(g.context)
    g.extras_token = ctx.open_response_extras()
    if service_state.api_keys and request.path not in OPEN_ROUTES:
        check_authorization(request.headers.get("Authorization"), service_state.api_keys)


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


def render_error(error: ServiceError) -> tuple[Response, int]:
    """The one renderer of every error: the JSON envelope with the class's status."""
    error = _as_seen_here(error)
    response = jsonify(error.to_dict())
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="modelchain"'
    return response, error.status


def _as_seen_here(error: ServiceError) -> ServiceError:
    """An error from a service this one called is an upstream failure here (502, or 504
    for a deadline), naming the deepest stage that failed."""
    if not error.service or error.service == state().model.name:
        return error
    details = error.details if isinstance(error.details, dict) else {}
    stage = details.get("stage") or error.service
    cls = DeadlineExceeded if isinstance(error, DeadlineExceeded) else UpstreamError
    message = error.message if stage != error.service or error.message.startswith(
        stage) else f"Stage {stage} failed: {error.message}"
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


def _routes() -> Blueprint:
    bp = Blueprint("modelchain", __name__)
    bp.add_url_rule("/predict", view_func=_predict, methods=["POST"])
    bp.add_url_rule("/healthz", view_func=_healthz, methods=["GET"])
    bp.add_url_rule("/readyz", view_func=_readyz, methods=["GET"])
    bp.add_url_rule("/metadata", view_func=_metadata, methods=["GET"])
    bp.add_url_rule("/openapi.json", view_func=_openapi, methods=["GET"])
    bp.add_url_rule("/metrics", view_func=_metrics, methods=["GET"])
    return bp


def _predict() -> Response:
    service_state = state()
    with service_state.runner.request_scope():  # counted until the model is done
        inputs, outputs, is_batch, stages = _run_model(service_state)
    metadata = _answer_metadata(service_state.model, len(inputs))
    if stages:
        return jsonify(forward(service_state.client, stages, outputs, is_batch, metadata))
    return jsonify(result=outputs if is_batch else outputs[0], metadata=metadata)


def _run_model(service_state: ServiceState) -> tuple[list, list, bool, list]:
    """Validate the request and run the model: inputs, outputs, batch flag, next stages."""
    config = current_app.config
    if not service_state.model.ready:
        raise NotReady(details=_load_problem(service_state.model))
    stages = next_stages(request.headers, service_state.client)
    document = parse_json_body(request.content_type, request.get_data(cache=False))
    items, is_batch = as_batch(document, config["MAX_BATCH_SIZE"])
    inputs = validate_items(service_state.input_schema, items, is_batch,
                            config["MAX_TEXT_LENGTH"])
    if g.context.expired():
        raise DeadlineExceeded("The deadline passed before the model ran.")
    outputs = service_state.runner.predict(inputs, g.context.remaining())
    return inputs, outputs, is_batch, stages


def _answer_metadata(model: Model, batch_size: int) -> dict[str, Any]:
    return {"service": model.name, "version": model.version,
            "request_id": g.context.request_id, "batch_size": batch_size,
            "duration_ms": round((time.perf_counter() - g.started) * 1000, 3),
            **ctx.response_extras()}


def _load_problem(model: Model) -> dict[str, Any]:
    if model.load_error is None:
        return {"loading": True}
    problem = {"loading": False, "load_error": type(model.load_error).__name__}
    if isinstance(model.load_error, ServiceError):  # our own messages are safe to show
        problem["message"] = model.load_error.message
    return problem


def _healthz() -> Response:
    return jsonify(status="ok", service=state().model.name)


def _readyz() -> Response:
    model = state().model
    if not model.ready:
        raise NotReady(details=_load_problem(model))
    return jsonify(ready=True, service=model.name, version=model.version)


def _metadata() -> Response:
    service_state = state()
    model, config = service_state.model, service_state.config
    return jsonify({
        "name": model.name, "version": model.version, "description": model.description,
        "tags": list(model.tags), "ready": model.ready,
        "input_schema": json_schema(service_state.spec, model.input_schema),
        "output_schema": json_schema(service_state.spec, model.output_schema),
        "sample_input": model.sample_input,
        "limits": {"max_body_bytes": config["MAX_CONTENT_LENGTH"],
                   "max_batch_size": config["MAX_BATCH_SIZE"],
                   "max_text_length": config["MAX_TEXT_LENGTH"],
                   "default_timeout_s": config["DEFAULT_TIMEOUT_S"]},
        "batching": service_state.runner.describe(),
        **model.metadata()})


def _openapi() -> Response:
    return jsonify(state().openapi)


def _metrics() -> Response:
    body, content_type = state().metrics.exposition()
    return Response(body, content_type=content_type)
