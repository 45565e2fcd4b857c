"""The gateway: one front URL for every registered service, speaking the Algorithmia
wire API (``POST /v1/algo/<owner>/<name>[/<version>]``) to the unmodified
``algorithmia`` client, and the modelchain contract like any service
(``POST /predict`` tells which service and version a name resolves to).

Keys: the gateway's own, ``GATEWAY_API_KEYS`` (else ``MODELCHAIN_API_KEYS``), sent as
``Authorization: Simple <key>``, ``Bearer <key>`` or the bare key (the client's way).
It calls the services with ``GATEWAY_API_KEY`` (else ``MODELCHAIN_API_KEY``).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

import orjson
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from marshmallow import Schema, fields, validate

from common import ANY_SERVICE, Function, create_service_app
from common.client import Client
from common.core.errors import InvalidInput
from common.core.registry import load_registry
from common.serving.app import EXTENSION, request_body
from common.serving.permissions import require_reach, routes_to_others

from . import wire
from .router import Router

NAME = "gateway"
PREFIX = "GATEWAY_"
DEFAULTS: dict[str, Any] = {
    "NAMESPACE": "modelchain",   # the one owner of /v1/algo/<owner>/<name>
    "API_KEY": "",               # the key the gateway sends to services (a secret)
    # Algorithmia's own default timeout; a call's ?timeout= can only shorten it.
    "DEFAULT_TIMEOUT_S": 300.0,
    "MAX_VOID_CALLS": 8,         # output=void calls running at once
    "METADATA_TTL_S": 5.0,       # how long a service's /metadata (version, schema) is reused
}
ALGO_PREFIX = "/v1/algo/"


class ResolveInput(Schema):
    """An Algorithmia name: ``owner/name[/version]``."""

    algo = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "owner/name[/version]; the version exact, a prefix or absent.",
        "example": "modelchain/sentiment/2"})


class ResolveOutput(Schema):
    """Which service and version the name reaches, and the route to call it on."""

    service = fields.String(required=True)
    version = fields.String(required=True)
    route = fields.String(required=True)


class Gateway(Function):
    """No model: routes calls to the registered services through the pipe client."""

    name = NAME
    version = "1.0.0"
    description = ("One front URL for every service, with the Algorithmia API: "
                   "POST /v1/algo/<owner>/<name>[/<version>]. POST /predict resolves a "
                   "name to its service and version.")
    tags = ("gateway", "algorithmia", "utility")
    input_schema = ResolveInput
    output_schema = ResolveOutput
    sample_input = {"algo": "modelchain/sentiment/2"}
    deterministic = False     # services are redeployed under the gateway
    calls = (ANY_SERVICE,)
    router: Router

    def warmup(self) -> None:
        """Nothing to warm: readiness must not wait on other services."""

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each name resolved against the live services."""
        return [self._resolve(item["algo"]) for item in inputs]

    def _resolve(self, name: str) -> dict[str, Any]:
        parts = name.strip().strip("/").split("/")
        if len(parts) not in (2, 3):
            raise InvalidInput(f"algo: {name!r} is not owner/name[/version].")
        ref = wire.parse_ref(parts[0], parts[1], parts[2] if len(parts) == 3 else None,
                             self.router.namespace)
        _algo, metadata = self.router.resolve(ref)
        version = str(metadata.get("version", ""))
        return {"service": ref.name, "version": version,
                "route": f"{ALGO_PREFIX}{ref.owner}/{ref.name}/{version}"}


def algorithmia_blueprint() -> Blueprint:
    """``POST /v1/algo/<owner>/<name>[/<version>]``, and every error under ``/v1/`` in
    the client's form with HTTP 200 (see :mod:`.wire` for why)."""
    bp = Blueprint("algorithmia", __name__)
    bp.add_url_rule(ALGO_PREFIX + "<owner>/<name>", view_func=_call, methods=["POST"])
    bp.add_url_rule(ALGO_PREFIX + "<owner>/<name>/<version>", view_func=_call,
                    methods=["POST"])
    # Registered before the service hooks, so it runs after them: the request metrics
    # still count the true status.
    bp.after_app_request(_in_client_form)
    return bp


@routes_to_others
def _call(owner: str, name: str, version: str | None = None) -> Response:
    """One Algorithmia call: parse, resolve, read the body, pipe, answer. An API key
    limited to some services reaches only those (a 403 naming its scope)."""
    started = time.perf_counter()
    router: Router = current_app.extensions[NAME]
    ref = wire.parse_ref(owner, name, version, router.namespace)
    require_reach(ref.name, current_app.extensions[EXTENSION].permissions)
    options = wire.parse_options(request.args,
                                 current_app.config["DEFAULT_TIMEOUT_S"])
    algo, metadata = router.resolve(ref)
    document, ignored = router.read_input(request.content_type, request_body(), ref.name,
                                          metadata)
    if options.output == "void":
        router.pipe_void(algo, document, options.timeout)
        return jsonify({"async": "void", "request_id": g.context.request_id})
    answer = router.pipe(algo, document, options.timeout)
    if options.output == "raw":
        return _raw(answer.result)
    return jsonify(wire.envelope(answer.result, answer.metadata,
                                 time.perf_counter() - started, options, ignored))


def _raw(result: Any) -> Response:
    """``output=raw``: the result alone, a text as itself, anything else as JSON."""
    if isinstance(result, str):
        return Response(result, content_type="text/plain; charset=utf-8")
    return Response(orjson.dumps(result), content_type="application/json")


def _in_client_form(response: Response) -> Response:
    """An error answer under ``/v1/`` rewritten for the client: HTTP 200 (any other
    status makes it drop the message), our status in ``X-Modelchain-Status``."""
    if not request.path.startswith("/v1/") or response.status_code < 400:
        return response
    document = response.get_json(silent=True)
    if not isinstance(document, dict) or not isinstance(document.get("error"), dict):
        return response
    status = response.status_code
    response.set_data(orjson.dumps(wire.error_envelope(document["error"], status)))
    response.headers[wire.STATUS_HEADER] = str(status)
    response.status_code = 200
    return response


class BareKey:
    """WSGI wrapper: a scheme-less ``Authorization`` (the client sends its key bare)
    is read as ``Simple <key>``, so the services' key check accepts it."""

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        value = environ.get("HTTP_AUTHORIZATION", "").strip()
        if value and " " not in value:
            environ["HTTP_AUTHORIZATION"] = "Simple " + value
        return self.wsgi_app(environ, start_response)


def build_router(config: Mapping[str, Any],
                 local: Mapping[str, Any] | None = None) -> Router:
    """The router over every registered service, with the gateway's own pipe client."""
    entries = load_registry(config["REGISTRY"] or None)
    client = Client.from_registry(entries, api_key=config["API_KEY"] or None,
                                  timeout=config["DEFAULT_TIMEOUT_S"], local=local)
    return Router(client, config["NAMESPACE"].strip() or "modelchain",
                  max(1, int(config["MAX_VOID_CALLS"])), float(config["METADATA_TTL_S"]))


def create_app(config: Mapping[str, Any] | None = None, *,
               local: Mapping[str, Any] | None = None) -> Flask:
    """The gateway app (environment prefix ``GATEWAY_``).

    ``local`` maps service names to apps called in-process instead of over HTTP (tests).
    """
    app = create_service_app(Gateway, prefix=PREFIX, defaults=DEFAULTS, config=config,
                             blueprints=[algorithmia_blueprint()])
    router = build_router(app.config, local)
    app.extensions[NAME] = router
    app.extensions[EXTENSION].model.router = router
    app.wsgi_app = BareKey(app.wsgi_app)
    return app
