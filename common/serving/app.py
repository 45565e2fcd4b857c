"""The service factory: one :class:`~common.serving.model.Model` in, one Flask app with
every route of the modelchain contract out.

Routes: ``POST /predict``, ``GET /healthz``, ``/readyz``, ``/metadata``,
``/openapi.json``, ``/docs``, ``/metrics``, ``/calls``. Errors are JSON everywhere (``hooks.py``).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

import orjson
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider

from common.client import Client, Stage, default_client
from common.core import context as ctx
from common.core.config import load_config
from common.core.errors import DeadlineExceeded, NotReady, ServiceError

from .callgraph import CallRecorder, calls_blueprint, install_recording, registry_names
from .dependents import DEFAULTS as DEPENDENTS_DEFAULTS
from .dependents import Dependents
from .docs import docs_blueprint
from .forwarding import answer, forward, requested_stages
from .hooks import EXTENSION, install_cors, install_hooks, render_error, state
from .metrics import ServiceMetrics
from .model import Model
from .oip import oip_blueprint
from .openapi import build_spec, json_schema, with_rules
from .permissions import Permissions
from .runner import ModelRunner
from .tensors import RULE as TENSOR_RULE
from .tensors import describe as tensor_metadata
from .validation import as_batch, parse_json_body, read_body, validate_items

__all__ = ["EXTENSION", "ServiceState", "answer_metadata", "create_service_app",
           "predict_answer", "render_error", "request_body", "start_model", "state"]


class ServiceState:
    """What a service app keeps between requests: its model, runner, spec and metrics."""

    def __init__(self, model: Model, config: Mapping[str, Any]):
        self.model = model
        self.config = config
        self.metrics = ServiceMetrics(model.name, str(model.version))
        self.recorder = CallRecorder(self.metrics, registry_names(config["REGISTRY"]))
        self.dependents = Dependents(model, config, self.recorder, lambda: model.ready)
        self.runner = ModelRunner(model, config, self.metrics)
        self.limits = {"max_body_bytes": config["MAX_CONTENT_LENGTH"],
                       "max_batch_size": config["MAX_BATCH_SIZE"],
                       "max_text_length": config["MAX_TEXT_LENGTH"],
                       "default_timeout_s": config["DEFAULT_TIMEOUT_S"]}
        self.spec = build_spec(model, self.limits)
        self.openapi = self.spec.to_dict()
        # Built once: marshmallow 4 schemas keep no per-load state, so threads share them.
        self.input_schema = model.input_schema()
        self.output_schema = model.output_schema()
        # Who may call it: API keys and, once public keys are configured, the policy.
        self.permissions = Permissions(model.name, config)
        self.api_keys = self.permissions.keys
        # The contract /metadata publishes does not change while the app lives.
        self.contract = {
            "input_schema": with_rules(json_schema(self.spec, model.input_schema),
                                       model.input_schema, self.limits["max_text_length"]),
            "output_schema": json_schema(self.spec, model.output_schema),
            "limits": dict(self.limits),
            "oip": {"tensor_rule": TENSOR_RULE, "inputs": tensor_metadata(model.input_schema),
                    "outputs": tensor_metadata(model.output_schema, outputs=True)}}

    @property
    def client(self) -> Client:
        """The process's pipe client; touched only when a request forwards, so a service
        that forwards nothing never needs the registry."""
        return default_client()

    def ensure_started(self) -> None:
        """Start loading the model in the background unless configured otherwise, and
        the checks of the services it calls."""
        if self.config["LOAD_MODEL"] == "background":
            self.runner.start_in_background()
        if self.dependents.enabled:
            self.dependents.start()

    def check_ready(self) -> None:
        """A 503 saying why, unless the model is loaded and warmed (what ``/predict``
        needs)."""
        if not self.model.ready:
            raise NotReady(details=_load_problem(self.model))

    def check_ready_for_traffic(self) -> None:
        """A 503 saying why, unless the model is loaded and warmed and so are the
        services it calls (what ``/readyz`` tells a load balancer; see
        :mod:`common.serving.dependents`)."""
        if not self.model.ready:
            waiting = self.dependents.waiting_details() if self.dependents.enabled else {}
            raise NotReady(details={**_load_problem(self.model), **waiting})
        self.dependents.check()

    def score(self, items: list[Any], is_batch: bool,
              context: ctx.RequestContext) -> tuple[list[dict], list[Any]]:
        """A request's items through the schema and limits, then the model (within the
        request's deadline): the validated inputs and their outputs. Every route that
        runs the model (``/predict``, the Open Inference Protocol's infer) comes here."""
        inputs = validate_items(self.input_schema, items, is_batch,
                                self.config["MAX_TEXT_LENGTH"])
        if context.expired():
            raise DeadlineExceeded("The deadline passed before the model ran.")
        return inputs, self.runner.predict(inputs, context.remaining())


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON answers, encoded by orjson: 0.5 us for a sentiment answer where
    Flask's own encoder takes 29 (same keys, same order). What orjson refuses (an
    integer past 64 bits, an object only Flask knows) goes to Flask's encoder."""

    _options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """``obj`` as JSON text."""
        try:
            return orjson.dumps(obj, option=self._options).decode()
        except TypeError:
            return super().dumps(obj, **kwargs)


def env_prefix(model_cls: type[Model]) -> str:
    """The environment prefix of a service's own settings: ``TEXT_CLEANER_``."""
    return model_cls.name.upper() + "_"


def create_service_app(model_cls: type[Model], *, prefix: str | None = None,
                       defaults: Mapping[str, Any] | None = None,
                       config: Mapping[str, Any] | None = None,
                       blueprints: Iterable[Blueprint] = ()) -> Flask:
    """Build the Flask app serving ``model_cls``.

    Configuration comes from the base defaults, ``defaults``, the environment
    (``MODELCHAIN_*`` then ``<NAME>_*``, or ``prefix``) and finally ``config``. No model
    is loaded here: loading starts after the fork (gunicorn's ``post_worker_init``), on
    the first request, or at once when ``LOAD_MODEL`` is ``sync``.
    """
    settings = load_config(prefix or env_prefix(model_cls),
                           {**DEPENDENTS_DEFAULTS, **(defaults or {})}, config)
    model = model_cls(settings)
    # static_folder=None: no implicit /static route serving files from the cwd
    app = Flask(model.name, static_folder=None)
    app.json = FastJSONProvider(app)
    app.config.update(settings)
    service_state = ServiceState(model, settings)
    app.extensions[EXTENSION] = service_state
    app.register_blueprint(_routes())
    app.register_blueprint(docs_blueprint())
    app.register_blueprint(oip_blueprint())
    app.register_blueprint(calls_blueprint())
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    install_hooks(app)
    install_recording(app)
    install_cors(app, settings["CORS_ORIGINS"])
    if settings["LOAD_MODEL"] == "sync":
        service_state.runner.start()
    return app


def start_model(app: Flask) -> None:
    """Begin loading the app's model; gunicorn's post_worker_init hook calls this (with
    the app itself, or a wrapper of it that names it in ``__wrapped__``)."""
    app = getattr(app, "__wrapped__", app)
    for member in getattr(app, "members", None) or [app]:  # a process group: each one
        if EXTENSION in getattr(member, "extensions", {}):
            member.extensions[EXTENSION].ensure_started()


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
    """``POST /predict`` over HTTP."""
    service_state = state()
    return jsonify(predict_answer(
        service_state, lambda: parse_json_body(request.content_type, request_body()),
        request.headers, g.context, g.started))


def predict_answer(service_state: ServiceState, read_document: Callable[[], Any],
                   headers: Mapping[str, str], context: ctx.RequestContext,
                   started: float) -> dict[str, Any]:
    """The ``/predict`` answer, over HTTP or in-process (a co-located caller): the
    forwarding header first, then readiness, the body (``read_document``, read only
    once the model is ready), the limits, the schema, the model and the next stages."""
    stages = requested_stages(headers, lambda: service_state.client,
                              service_state.model.name)
    with service_state.runner.request_scope():  # counted until the model is done
        service_state.check_ready()
        items, is_batch = as_batch(read_document(), service_state.config["MAX_BATCH_SIZE"])
        inputs, outputs = service_state.score(items, is_batch, context)
    metadata = answer_metadata(service_state.model, len(inputs), context, started)
    if stages:
        return forward(service_state.client, stages, outputs, is_batch, metadata)
    return answer(outputs, is_batch, metadata)


def request_body() -> bytes:
    """The current request's body, never cut: over ``MAX_CONTENT_LENGTH`` a 413 (also
    when chunked), malformed framing a 400. Routes of a service's own read it here."""
    return read_body(request.environ, request.content_length,
                     current_app.config["MAX_CONTENT_LENGTH"])


def answer_metadata(model: Model, batch_size: int, context: ctx.RequestContext,
                    started: float) -> dict[str, Any]:
    """An answer's ``metadata``: who answered, for which request, how many, how fast."""
    return {"service": model.name, "version": model.version,
            "request_id": context.request_id, "batch_size": batch_size,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
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
    service_state = state()
    service_state.check_ready_for_traffic()
    model = service_state.model
    return jsonify(ready=True, service=model.name, version=model.version,
                   **service_state.dependents.describe())


def metadata_document(service_state: ServiceState) -> dict[str, Any]:
    """The service's ``/metadata``: its contract (schemas, sample, limits) and state."""
    model = service_state.model
    return {
        "name": model.name, "version": model.version, "description": model.description,
        "tags": list(model.tags), "ready": model.ready, "kind": model.kind,
        "calls": list(model.calls), "sample_input": model.sample_input,
        "batching": service_state.runner.describe(),
        "permissions": service_state.permissions.describe(),
        **service_state.contract, **model.metadata()}


def _metadata() -> Response:
    return jsonify(metadata_document(state()))


def _openapi() -> Response:
    return jsonify(state().openapi)


def _metrics() -> Response:
    body, content_type = state().metrics.exposition()
    return Response(body, content_type=content_type)
