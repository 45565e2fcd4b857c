"""The Open Inference Protocol (KServe v2, REST) on every service, beside its JSON.

``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
``GET /v2/models/<name>[/versions/<version>]`` and ``/ready``, and
``POST /v2/models/<name>[/versions/<version>]/infer``, with Triton's binary tensor
extension (``Inference-Header-Content-Length``, ``binary_data_size``,
``binary_data_output``). Tensors map to the service's schemas by one rule
(``tensors.py``); an infer runs the same validation, limits, runner and model as
``/predict``, under the same hooks (auth, deadline, request id, metrics). Errors are the
protocol's: ``{"error": "<message>"}`` with the status.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from common.client import version_matches
from common.core.errors import (InvalidInput, NotFound, NotReady, ServiceError,
                                UnsupportedMediaType)

import common.serving.tensors as tensors
from .hooks import state
from .model import Failed
from .validation import as_batch, read_body, string_problems

HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSIONS = ["binary_tensor_data", "modelchain_schemas"]


class _Lenient(Schema):
    """Fields the protocol does not define (kserve's client sends ``model_name``) are
    ignored, as other servers ignore them."""

    class Meta:
        unknown = EXCLUDE


class TensorSchema(_Lenient):
    """One input tensor of an inference request."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    shape = fields.List(fields.Integer(strict=True, validate=validate.Range(min=0)),
                        required=True, validate=validate.Length(max=8))
    datatype = fields.String(required=True, validate=validate.OneOf(tensors.DATATYPES))
    parameters = fields.Dict(keys=fields.String(), load_default=dict)
    data = fields.Raw(metadata={"description": "Row-major elements (absent with "
                                               "binary_data_size)."})


class RequestedOutputSchema(_Lenient):
    """An output the caller asks for."""

    name = fields.String(required=True)
    parameters = fields.Dict(keys=fields.String(), load_default=dict)


class InferRequestSchema(_Lenient):
    """An Open Inference Protocol inference request."""

    id = fields.String(validate=validate.Length(max=200))
    parameters = fields.Dict(keys=fields.String(), load_default=dict)
    inputs = fields.List(fields.Nested(TensorSchema), required=True,
                         validate=validate.Length(min=1, max=64))
    outputs = fields.List(fields.Nested(RequestedOutputSchema), validate=validate.Length(max=64))


class OutputTensorSchema(Schema):
    """One output tensor of an inference response."""

    name = fields.String(required=True)
    shape = fields.List(fields.Integer(), required=True)
    datatype = fields.String(required=True)
    parameters = fields.Dict()
    data = fields.List(fields.Raw())


class InferResponseSchema(Schema):
    """An Open Inference Protocol inference response."""

    model_name = fields.String(required=True)
    model_version = fields.String()
    id = fields.String()
    parameters = fields.Dict()
    outputs = fields.List(fields.Nested(OutputTensorSchema), required=True)


class OipErrorSchema(Schema):
    """The protocol's error form."""

    error = fields.String(required=True)


def oip_blueprint() -> Blueprint:
    """The protocol's routes, with its own error form."""
    bp = Blueprint("oip", __name__)
    bp.add_url_rule("/v2", view_func=_server, methods=["GET"])
    bp.add_url_rule("/v2/health/live", view_func=_live, methods=["GET"])
    bp.add_url_rule("/v2/health/ready", view_func=_ready, methods=["GET"])
    for base in ("/v2/models/<name>", "/v2/models/<name>/versions/<version>"):
        bp.add_url_rule(base, view_func=_model, methods=["GET"])
        bp.add_url_rule(f"{base}/ready", view_func=_model_ready, methods=["GET"])
        bp.add_url_rule(f"{base}/infer", view_func=_infer, methods=["POST"])
    return bp


def _server() -> Response:
    model = state().model
    return jsonify(name="modelchain", version=model.version, extensions=EXTENSIONS)


def _live() -> Response:
    return jsonify(live=True)


def _ready() -> tuple[Response, int]:
    """Server ready: as ``/readyz`` (the model, and the services it calls)."""
    try:
        state().check_ready_for_traffic()
    except NotReady:
        return jsonify(ready=False), 503
    return jsonify(ready=True), 200


def _served(name: str, version: str | None) -> None:
    """404 unless ``name`` (and ``version``: exact or a prefix) is this service."""
    model = state().model
    if name != model.name:
        raise NotFound(f"No model named {name!r} here; this is {model.name}.")
    if version and version != model.version and not _prefix(model.version, version):
        raise NotFound(f"{name} is version {model.version}, not {version}.")


def _prefix(actual: str, wanted: str) -> bool:
    try:
        return version_matches(actual, wanted)
    except ServiceError:
        return False


def _model(name: str, version: str | None = None) -> Response:
    _served(name, version)
    model = state().model
    return jsonify(name=model.name, versions=[model.version], platform="modelchain",
                   inputs=state().contract["oip"]["inputs"],
                   outputs=state().contract["oip"]["outputs"],
                   parameters={"tensor_rule": tensors.RULE})


def _model_ready(name: str, version: str | None = None) -> tuple[Response, int]:
    _served(name, version)
    ready = state().model.ready
    return jsonify(name=name, ready=ready), 200 if ready else 503


def _infer(name: str, version: str | None = None) -> Response:
    _served(name, version)
    if request.headers.get("X-Pipe-Next", "").strip():
        raise InvalidInput("X-Pipe-Next is not taken on the Open Inference Protocol "
                           "routes; chain with POST /predict, or call a pipeline.")
    service_state = state()
    service_state.check_ready()
    with service_state.runner.request_scope():  # counted until the model is done
        document, binary = _request_document()
        items = _items(document, binary, service_state.input_schema.fields)
        as_batch(items, current_app.config["MAX_BATCH_SIZE"])
        _, outputs = service_state.score(items, True, g.context)
    failed = next(((i, o) for i, o in enumerate(outputs) if isinstance(o, Failed)), None)
    if failed is not None:
        raise InvalidInput(f"Item {failed[0]}: {failed[1].error.message}")
    return _response(document, outputs)


def _flag(parameters: dict, name: str, default: bool) -> bool:
    """A boolean parameter; anything but ``true`` or ``false`` is a 400."""
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"The parameter {name} must be true or false.")
    return value


def _request_document() -> tuple[dict[str, Any], bytes]:
    """The request's JSON header, validated, and the binary data after it (if any)."""
    body = read_body(request.environ, request.content_length,
                     current_app.config["MAX_CONTENT_LENGTH"])
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not supported; send "
                                   "the request uncompressed.")
    length = request.headers.get(HEADER_LENGTH)
    header, binary = body, b""
    if length is not None:
        if not (length.isascii() and length.isdigit()) or int(length) > len(body):
            raise InvalidInput(f"{HEADER_LENGTH} must be the length of the JSON header.")
        header, binary = body[:int(length)], body[int(length):]
    try:
        document = json.loads(header)
    except (ValueError, RecursionError) as e:
        raise InvalidInput("The inference request is not valid JSON.") from e
    # every string of it (ids, parameters, keys, data) is held to the same rules as
    # /predict's: length, valid Unicode, nesting
    problems = string_problems(document, current_app.config["MAX_TEXT_LENGTH"])
    if problems:
        path, messages = next(iter(problems.items()))
        raise InvalidInput(f"The inference request's {path}: {messages[0]}")
    try:
        return InferRequestSchema().load(document), binary
    except ValidationError as e:
        raise InvalidInput(f"Malformed inference request: {e.normalized_messages()}") from e


def _items(document: dict[str, Any], binary: bytes, schema_fields: dict) -> list[dict]:
    """The batch items the input tensors hold, one element of each per item."""
    columns, offset, batch = {}, 0, None
    names = [t["name"] for t in document["inputs"]]
    if len(set(names)) != len(names):
        raise InvalidInput("Each input tensor may be given once.")
    for tensor in document["inputs"]:
        field = schema_fields.get(tensor["name"])
        if field is None:
            raise InvalidInput(f"Unknown input tensor {tensor['name']!r}; this model takes "
                               f"{', '.join(schema_fields)}.")
        elements, offset = _elements(tensor, field, binary, offset)
        size = len(elements) if not tensor["shape"] else tensor["shape"][0]
        if batch is not None and size != batch:
            raise InvalidInput(f"Input {tensor['name']!r} has a batch of {size}, the others "
                               f"{batch}.")
        batch = size
        columns[tensor["name"]] = [tensors.item_value(field, e) for e in elements]
    if offset != len(binary):
        raise InvalidInput("The binary data is longer than the inputs' binary_data_size.")
    # A request parameter named like an input field sets it for every item (a score
    # cut-off, a language), unless a tensor gives it item by item.
    shared = {k: v for k, v in document["parameters"].items()
              if k in schema_fields and k not in columns}
    return [{**shared, **{name: values[i] for name, values in columns.items()}}
            for i in range(batch or 0)]


def _elements(tensor: dict, field, binary: bytes, offset: int) -> tuple[list, int]:
    """A tensor's elements (from JSON ``data`` or the binary section), checked against
    its datatype, its shape and the rule's one element per item."""
    name, kind, shape = tensor["name"], tensor["datatype"], tensor["shape"]
    dims = tensors.tensor_shape(field)
    if dims is not None:
        return _tensor_elements(tensor, dims, binary, offset)
    if kind not in tensors.accepted(field):
        raise InvalidInput(f"Input {name!r} must be {' or '.join(tensors.accepted(field))}, "
                           f"not {kind}.")
    count = 1
    for dim in shape:
        count *= dim
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise InvalidInput(f"Input {name!r} has shape {shape}; the shape is [batch] or "
                           "[batch, 1]: one element per item.")
    if count > current_app.config["MAX_BATCH_SIZE"]:
        raise InvalidInput(f"Input {name!r} holds {count} elements; the batch limit is "
                           f"{current_app.config['MAX_BATCH_SIZE']}.")
    size = tensor["parameters"].get("binary_data_size")
    if size is not None:
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise InvalidInput(f"Input {name!r}: binary_data_size does not fit the body.")
        elements = tensors.decode_binary(kind, binary[offset:offset + size], count)
        offset += size
    else:
        elements = tensors.flatten(tensor.get("data"), count, name)
        for element in elements:
            tensors.check_element(kind, element)
    if len(elements) != count:
        raise InvalidInput(f"Input {name!r} has shape {shape} but {len(elements)} elements.")
    return elements, offset


def _tensor_elements(tensor: dict, dims: list[int], binary: bytes,
                     offset: int) -> tuple[list, int]:
    """The per-item slices of an input tensor that is a real FP32 tensor ``[N, *dims]``."""
    name, kind, shape = tensor["name"], tensor["datatype"], tensor["shape"]
    if kind != "FP32":
        raise InvalidInput(f"Input {name!r} must be FP32, not {kind}.")
    if not shape or not 1 <= shape[0] <= current_app.config["MAX_BATCH_SIZE"]:
        raise InvalidInput(f"Input {name!r} has shape {shape}; its batch (first "
                           f"dimension) must be 1 to {current_app.config['MAX_BATCH_SIZE']}.")
    size = tensor["parameters"].get("binary_data_size")
    raw = None
    if size is not None:
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise InvalidInput(f"Input {name!r}: binary_data_size does not fit the body.")
        raw, offset = binary[offset:offset + size], offset + size
    return tensors.tensor_slices(name, shape, dims, tensor.get("data"), raw), offset


def _response(document: dict[str, Any], outputs: list[Any]) -> Response:
    """The inference response, with binary outputs where the request asks for them."""
    model, schema_fields = state().model, state().output_schema.fields
    wanted = document.get("outputs") or [{"name": n, "parameters": {}} for n in schema_fields]
    unknown = [o["name"] for o in wanted if o["name"] not in schema_fields]
    if unknown:
        raise InvalidInput(f"Unknown output {unknown[0]!r}; this model gives "
                           f"{', '.join(schema_fields)}.")
    if len({o["name"] for o in wanted}) != len(wanted):
        raise InvalidInput("Each output may be asked for once.")
    binary_default = _flag(document["parameters"], "binary_data_output", False)
    tensors_out, chunks = [], []
    for output in wanted:
        field = schema_fields[output["name"]]
        binary = _flag(output.get("parameters") or {}, "binary_data", binary_default)
        values = [tensors.output_element(field, o.get(output["name"]), binary)
                  for o in outputs]
        tensor = {"name": output["name"], "datatype": tensors.output_datatype(field),
                  "shape": [len(values)]}
        if binary:
            chunk = tensors.encode_binary(tensor["datatype"], values)
            tensor["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            tensor["data"] = values
        tensors_out.append(tensor)
    header = json.dumps({"model_name": model.name, "model_version": model.version,
                         "id": document["id"] if "id" in document else g.context.request_id,
                         "parameters": {}, "outputs": tensors_out}).encode()
    if not chunks:
        return Response(header, content_type="application/json")
    response = Response(header + b"".join(chunks), content_type="application/octet-stream")
    response.headers[HEADER_LENGTH] = str(len(header))
    return response
