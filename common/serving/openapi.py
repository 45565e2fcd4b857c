"""OpenAPI 3 and JSON Schema documents generated from a model's marshmallow schemas.

The schemas that validate ``/predict`` are the ones documented here: nothing about the
request or answer shapes is written by hand.
"""
from __future__ import annotations

from typing import Any, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from .callgraph import CallsSchema
from .dependents import ReadinessSchema
from .model import Model
from .oip import InferRequestSchema, InferResponseSchema, OipErrorSchema
from .validation import MAX_DEPTH, MetadataSchema

#: The limits of a service on the base defaults (for a spec built without a config).
DEFAULT_LIMITS = {"max_body_bytes": 10 * 1024 * 1024, "max_batch_size": 64,
                  "max_text_length": 5000, "default_timeout_s": 30.0}

OPENAPI_VERSION = "3.0.3"


class ErrorBodySchema(Schema):
    """The inside of every error envelope."""

    code = fields.String(required=True, metadata={"example": "invalid_input"})
    message = fields.String(required=True)
    details = fields.Raw(metadata={"description": "Per-field (and per-index) messages."})


class ErrorSchema(Schema):
    """``{"error": {...}}``, the answer to every failed request."""

    error = fields.Nested(ErrorBodySchema, required=True)


def _schema_name(model: Model, part: str) -> str:
    base = "".join(word.capitalize() for word in model.name.replace("-", "_").split("_"))
    return f"{base}{part}"


def _answer_schemas(model: Model) -> tuple[type[Schema], type[Schema]]:
    """The single and batch answer schemas wrapping the model's output schema."""
    single = Schema.from_dict({"result": fields.Nested(model.output_schema, required=True),
                               "metadata": fields.Nested(MetadataSchema, required=True)},
                              name=_schema_name(model, "Response"))
    batch = Schema.from_dict({"result": fields.List(fields.Nested(model.output_schema,
                                                                  allow_none=True),
                                                    required=True),
                              "metadata": fields.Nested(MetadataSchema, required=True)},
                             name=_schema_name(model, "BatchResponse"))
    return single, batch


def _error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {400: "Invalid input", 401: "Missing or wrong API key", 413: "Too large",
               415: "Not JSON", 502: "Upstream failure", 503: "Not ready",
               504: "Deadline exceeded"}
    return {str(s): {"description": reasons[s], "content": {
        "application/json": {"schema": "Error"}}} for s in statuses}


def _predict_operation(model: Model, input_name: str, single: str, batch: str,
                       limits: Mapping[str, Any]) -> dict:
    item = {"$ref": f"#/components/schemas/{input_name}"}
    own = model.extra_limits() if isinstance(model, Model) else {}
    return {
        "summary": f"Run {model.name} on one input or a batch",
        "description": "Send one object, or a list of objects (a batch) for a list of "
                       "results in the same order. " + describe_limits(limits) +
                       (" Its own limits: " + ", ".join(f"{k} {v}" for k, v in own.items())
                        + "." if own else ""),
        "x-modelchain-limits": dict(limits),
        **({"x-modelchain-own-limits": own} if own else {}),
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [item, {"type": "array", "items": item, "minItems": 1,
                                        "maxItems": limits["max_batch_size"]}]},
            "example": model.sample_input}}},
        "responses": {"200": {"description": "The result (a list for a batch)", "content": {
            "application/json": {"schema": {"oneOf": [
                {"$ref": f"#/components/schemas/{single}"},
                {"$ref": f"#/components/schemas/{batch}"}]}}}},
            **_error_responses(400, 401, 413, 415, 502, 503, 504)},
    }


def _plain_operation(summary: str, content_type: str = "application/json") -> dict:
    return {"get": {"summary": summary, "responses": {"200": {
        "description": "OK", "content": {content_type: {"schema": {"type": "object"}
                                                        if "json" in content_type
                                                        else {"type": "string"}}}}}}}


def _schema_operation(summary: str, schema: str,
                      errors: Mapping[str, Any] | None = None) -> dict:
    """A GET whose answer a component schema describes."""
    return {"get": {"summary": summary, "responses": {"200": {
        "description": "OK", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema}"}}}}, **(errors or {})}}}


def describe_limits(limits: Mapping[str, Any]) -> str:
    """The limits as a sentence, for the spec's descriptions."""
    return (f"Limits: a body of at most {limits['max_body_bytes']} bytes, a batch of at "
            f"most {limits['max_batch_size']} items, every string at most "
            f"{limits['max_text_length']} characters of valid Unicode, nesting at most "
            f"{MAX_DEPTH} levels; a request without X-Deadline-Ms gets "
            f"{limits['default_timeout_s']} s.")


def with_rules(schema: dict[str, Any], schema_cls: type[Schema],
               max_text_length: int) -> dict[str, Any]:
    """An input JSON Schema with the rules the service enforces beyond marshmallow's
    fields: every string's length limit, and exactly-one-of field groups."""
    _cap_strings(schema, max_text_length)
    names = getattr(schema_cls, "exactly_one_of", ())
    if names:
        schema["oneOf"] = [{"required": [name]} for name in names]
    return schema


def _cap_strings(node: Any, limit: int) -> None:
    """Set ``maxLength`` on every string schema to at most ``limit`` (walked with a
    stack: schemas nest)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            if current.get("type") == "string":
                current["maxLength"] = min(current.get("maxLength", limit), limit)
            stack.extend(current.values())


def build_spec(model: Model, limits: Mapping[str, Any] | None = None) -> APISpec:
    """The service's OpenAPI document as an :class:`APISpec`; ``limits`` (as
    ``/metadata`` gives them) are stated in it."""
    limits = limits or DEFAULT_LIMITS
    spec = APISpec(title=model.name, version=model.version, openapi_version=OPENAPI_VERSION,
                   plugins=[MarshmallowPlugin()], info={"description": model.description})
    input_name, output_name = _schema_name(model, "Input"), _schema_name(model, "Output")
    spec.components.schema(input_name, schema=model.input_schema)
    spec.components.schema(output_name, schema=model.output_schema)
    spec.components.schema("ResponseMetadata", schema=MetadataSchema)
    spec.components.schema("Error", schema=ErrorSchema)
    single, batch = _answer_schemas(model)
    spec.components.schema(single.__name__, schema=single)
    spec.components.schema(batch.__name__, schema=batch)
    spec.path(path="/predict", operations={"post": _predict_operation(
        model, input_name, single.__name__, batch.__name__, limits)})
    # The input as published: inlined, with the rules marshmallow's fields do not carry.
    spec.components.schemas[input_name] = with_rules(
        json_schema(spec, model.input_schema), model.input_schema, limits["max_text_length"])
    spec.path(path="/healthz", operations=_plain_operation("Liveness: the process answers"))
    spec.components.schema("Readiness", schema=ReadinessSchema)
    spec.path(path="/readyz", operations=_schema_operation(
        "Readiness: the model loaded and warmed, and the services it calls too",
        "Readiness", {**_error_responses(503)}))
    spec.path(path="/metadata", operations=_plain_operation("Name, version, schemas, sample"))
    spec.path(path="/metrics", operations=_plain_operation("Prometheus metrics", "text/plain"))
    spec.components.schema("PipeCalls", schema=CallsSchema)
    spec.path(path="/calls", operations=_schema_operation(
        "The pipe calls this service made: to whom, how often, how fast", "PipeCalls"))
    _oip_paths(spec, model)
    return spec


def _oip(description: str, responses: dict, request: str | None = None) -> dict:
    operation = {"summary": description, "tags": ["Open Inference Protocol"],
                 "responses": {status: {"description": text, "content": {"application/json": {
                     "schema": {"$ref": f"#/components/schemas/{schema}"}}}}
                     for status, (text, schema) in responses.items()}}
    if request:
        binary = {"schema": {"type": "string", "format": "binary"}}
        operation["description"] = (
            "With Triton's binary tensor extension the body is the JSON header, then the "
            "tensors' bytes; the Inference-Header-Content-Length header gives the JSON "
            "header's length, on the request and on an answer that carries binary outputs.")
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}},
            "application/octet-stream": binary}}
        operation["responses"]["200"]["content"]["application/octet-stream"] = binary
    return operation


def _oip_paths(spec: APISpec, model: Model) -> None:
    """The Open Inference Protocol routes (common/serving/oip.py), from its schemas."""
    spec.components.schema("OipInferRequest", schema=InferRequestSchema)
    spec.components.schema("OipInferResponse", schema=InferResponseSchema)
    spec.components.schema("OipError", schema=OipErrorSchema)
    spec.components.schema("OipAny", component={"type": "object"})
    failed = {"500": ("Internal error", "OipError")}
    guarded = {**failed, "401": ("Missing or wrong API key", "OipError")}
    ready = {"200": ("Ready", "OipAny"), "503": ("Not ready ({\"ready\": false})", "OipAny")}
    spec.path(path="/v2", operations={"get": _oip(
        "Server metadata", {"200": ("OK", "OipAny"), **guarded})})
    spec.path(path="/v2/health/live", operations={"get": _oip(
        "Server live", {"200": ("Live", "OipAny"), **failed})})
    spec.path(path="/v2/health/ready", operations={"get": _oip(
        "Server ready", {**ready, **failed})})
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
            "example": model.name}
    version = {"name": "version", "in": "path", "required": True,
               "schema": {"type": "string"}, "example": model.version}
    missing = {"404": ("No such model or version", "OipError")}
    infer = {"200": ("The output tensors", "OipInferResponse"),
             "400": ("Bad tensors", "OipError"), "413": ("Too large", "OipError"),
             "415": ("Compressed body", "OipError"), "503": ("Not ready", "OipError"),
             "504": ("Deadline", "OipError"), **missing, **guarded}
    for base, params in (("/v2/models/{name}", [name]),
                         ("/v2/models/{name}/versions/{version}", [name, version])):
        spec.path(path=base, parameters=params, operations={"get": _oip(
            "Model metadata (tensors by the rule)",
            {"200": ("OK", "OipAny"), **missing, **guarded})})
        spec.path(path=f"{base}/ready", parameters=params, operations={"get": _oip(
            "Model ready", {**ready, **missing, **guarded})})
        spec.path(path=f"{base}/infer", parameters=params, operations={"post": _oip(
            "Infer: input tensors in, output tensors out", infer, "OipInferRequest")})


def json_schema(spec: APISpec, schema: type[Schema] | Schema) -> dict[str, Any]:
    """A standalone JSON Schema for ``schema`` (component references inlined)."""
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    converted = plugin.converter.schema2jsonschema(schema)
    return _inline(converted, spec.to_dict()["components"]["schemas"])


def _inline(node: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """Replace ``$ref`` to components with their bodies (bounded for recursive schemas)."""
    if isinstance(node, list):
        return [_inline(n, components, depth) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/") and depth < 8:
        return _inline(components[ref.rsplit("/", 1)[1]], components, depth + 1)
    return {k: _inline(v, components, depth) for k, v in node.items()}
