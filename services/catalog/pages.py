"""The catalog's pages and JSON API (the service contract routes come from the factory).

``GET /``                          the searchable list (``?q=`` filters, JavaScript or not)
``GET /services/<name>``           a service: schemas, limits, steps, try it, code samples
``GET /api/services``              the list as JSON (``?q=``)
``GET /api/services/<name>``       one service as JSON, with its code samples
``GET /api/calls``                 the observed call graph (every service's ``/calls``)
``POST /api/services/<name>/try``  ``{"input": {...}}`` run through the catalog
``GET /static/<file>``             the pages' CSS and JavaScript

Names are checked against the registry (404 JSON otherwise). Pages are Jinja templates
with autoescaping; their scripts only set ``textContent``; a Content-Security-Policy
forbids inline and third-party scripts. The catalog's API key is used here, server-side,
and never rendered.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

from flask import (Blueprint, Response, current_app, jsonify, render_template, request,
                   send_from_directory)
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from common.client import unreached
from common.core.errors import DeadlineExceeded, InvalidInput, ServiceError, UpstreamError
from common.serving.app import request_body
from common.serving.validation import parse_json_body

from .calls import CallGraph
from .callmap import layout
from .directory import Directory, ServiceInfo, describe_failure, matches
from .present import detail, limit_rows, schema_rows

STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src blob:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class TryItDisabled(ServiceError):
    """The operator turned "try it" off (``CATALOG_TRY_IT=false``)."""

    status, code, default_message = 403, "forbidden", \
        "Trying services is turned off in this catalog."


class ListQuery(Schema):
    """``?q=``: words that must all occur in a service's name, description or tags."""

    class Meta:
        unknown = EXCLUDE  # other query parameters (tracking, cache busting) are ignored

    q = fields.String(load_default="", validate=validate.Length(max=200))


class TryRequest(Schema):
    """One input for the service's ``/predict``."""

    input = fields.Dict(required=True, metadata={"description": "The service's input."})


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """``data`` through ``schema``; a 400 naming the bad fields otherwise."""
    try:
        return schema.load(data)
    except ValidationError as e:
        messages = e.normalized_messages()
        raise InvalidInput(f"Invalid request: check {', '.join(map(str, messages))}.",
                           messages) from e


def directory() -> Directory:
    """The directory of the app serving this request."""
    return current_app.extensions["catalog"]


def call_graph() -> CallGraph:
    """The call graph of the app serving this request."""
    return current_app.extensions["catalog_calls"]


def uses_key() -> bool:
    """Whether the catalog calls services with a key (so samples show where it goes)."""
    return bool(current_app.config["API_KEY"])


def pages_blueprint() -> Blueprint:
    """The pages, the JSON API and the static files."""
    bp = Blueprint("catalog", __name__, template_folder="templates")
    bp.add_url_rule("/", view_func=home)
    bp.add_url_rule("/services/<name>", view_func=service_page)
    bp.add_url_rule("/api/services", view_func=list_services)
    bp.add_url_rule("/api/services/<name>", view_func=service_detail)
    bp.add_url_rule("/api/services/<name>/try", view_func=try_service, methods=["POST"])
    bp.add_url_rule("/api/calls", view_func=list_calls)
    bp.add_url_rule("/static/<path:filename>", view_func=static_file)
    bp.after_request(secure_headers)
    return bp


def home() -> str:
    """The searchable list of services and pipelines, and the calls between them."""
    query = load(ListQuery(), request.args)["q"]
    infos = directory().snapshot()
    graph = call_graph().gather()
    return render_template("catalog/index.html", query=query,
                           services=[_listed(info, query) for info in infos],
                           callmap=layout(graph), call_edges=graph["edges"])


def list_calls() -> Response:
    """``{"edges": [...], "services": [...], "unanswered": [...]}``: who called whom,
    how often, how fast (see :mod:`.calls`)."""
    return jsonify(call_graph().gather())


def _listed(info: ServiceInfo, query: str) -> dict[str, Any]:
    """A row of the list: its summary, the text the page's script filters on (the
    server's own search text) and whether the server-side query shows it."""
    return {**info.summary(), "haystack": info.haystack(), "shown": matches(info, query)}


def service_page(name: str) -> str:
    """A service's page."""
    info = directory().get(name)
    service = detail(info, directory().names(), uses_key())
    return render_template(
        "catalog/service.html", service=service, limits=limit_rows(service["limits"]),
        input_rows=schema_rows(service["input_schema"]),
        output_rows=schema_rows(service["output_schema"]),
        pretty={"sample": pretty(service["sample_input"]),
                "input": pretty(service["input_schema"]),
                "output": pretty(service["output_schema"])},
        try_it=current_app.config["TRY_IT"])


def pretty(value: Any) -> str:
    """Indented JSON for a page (as text: the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def list_services() -> Response:
    """``{"services": [...], "count": n}``, filtered by ``?q=``."""
    query = load(ListQuery(), request.args)["q"]
    found = [info.summary() for info in directory().search(query)]
    return jsonify(services=found, count=len(found), query=query)


def service_detail(name: str) -> Response:
    """One service, with its schemas, limits, steps and code samples."""
    return jsonify(detail(directory().get(name), directory().names(), uses_key()))


def try_service(name: str) -> tuple[Response, int]:
    """Run a service on one input with the catalog's key; the answer and its timing."""
    directory().entry(name)
    if not current_app.config["TRY_IT"]:
        raise TryItDisabled()
    document = parse_json_body(request.content_type, request_body())
    data = load(TryRequest(), document)["input"]
    started = time.perf_counter()
    try:
        answer = directory().client.call(name, "POST", "/predict", data,
                                         timeout=current_app.config["TRY_TIMEOUT_S"])
    except ServiceError as e:
        return _try_failed(name, e, _ms_since(started))
    return jsonify(service=name, status=200, duration_ms=_ms_since(started),
                   answer=answer), 200


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _try_failed(name: str, error: ServiceError, duration_ms: float) -> tuple[Response, int]:
    """The service's own error (a 400 stays a 400, with its field details), but a refused
    key or an unreachable service is the catalog's problem: a 502/504 saying so."""
    if error.status == 401 or unreached(error):
        cls = DeadlineExceeded if error.status == 504 else UpstreamError
        error = cls(describe_failure(name, error), {"stage": name})
    body = {**error.to_dict(), "service": name, "duration_ms": duration_ms}
    return jsonify(body), error.status


def static_file(filename: str) -> Response:
    """The pages' CSS and JavaScript."""
    return send_from_directory(STATIC, filename, max_age=300)


def secure_headers(response: Response) -> Response:
    """No inline or third-party scripts, no framing, no sniffing, no cached answers."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response
