"""The one rule that maps a service's schemas to Open Inference Protocol tensors.

- Each input field is an input tensor of the same name, and each output field an output
  tensor. A batch is the first dimension: shape ``[N]`` (``[N, 1]`` is accepted too),
  one element per item.
- A text is ``BYTES``; an integer ``INT64``; a number ``FP64`` (``FP32`` and the integer
  types are accepted for it); a boolean ``BOOL``.
- An image (a field of format ``byte``) is ``BYTES`` holding the encoded file: raw bytes
  with the binary extension, or base64 text in JSON.
- Anything else (a list, an object) is ``BYTES`` holding its JSON.
- A field that declares a tensor shape (metadata ``oip_tensor``, e.g. ``[224, 224, 3]``)
  is an ``FP32`` tensor ``[N, *shape]``, one slice per item (raw little-endian floats
  with the binary extension); the item gets it as base64 of those raw bytes.
- A request parameter named like an input field sets that field for every item (an
  input tensor of the same name wins); ``binary_data_output`` asks for binary outputs.
"""
from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import numpy as np
from marshmallow import Schema, fields

from common.core.errors import InvalidInput

RULE = __doc__.split("\n\n", 1)[1].strip()
INTEGER_TYPES = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
#: Datatype -> (struct format of one element, its size) for the binary extension.
BINARY_FORMATS = {"BOOL": ("?", 1), "INT8": ("b", 1), "INT16": ("h", 2), "INT32": ("i", 4),
                  "INT64": ("q", 8), "UINT8": ("B", 1), "UINT16": ("H", 2),
                  "UINT32": ("I", 4), "UINT64": ("Q", 8), "FP16": ("e", 2), "FP32": ("f", 4),
                  "FP64": ("d", 8)}
DATATYPES = ("BYTES", *BINARY_FORMATS)


def tensor_shape(field: fields.Field) -> list[int] | None:
    """The per-item shape of a field that travels as an FP32 tensor, else None."""
    shape = field.metadata.get("oip_tensor")
    return [int(d) for d in shape] if shape else None


def datatype(field: fields.Field) -> str:
    """The tensor datatype of a schema field."""
    if tensor_shape(field):
        return "FP32"
    if isinstance(field, fields.Boolean):
        return "BOOL"
    if isinstance(field, fields.Integer):
        return "INT64"
    if isinstance(field, (fields.Float, fields.Number)):
        return "FP64"
    return "BYTES"


def accepted(field: fields.Field) -> tuple[str, ...]:
    """The datatypes an input tensor for ``field`` may have."""
    kind = datatype(field)
    if kind == "FP64":
        return ("FP64", "FP32", "FP16", *INTEGER_TYPES)
    return INTEGER_TYPES if kind == "INT64" else (kind,)


def is_json(field: fields.Field) -> bool:
    """Whether a field travels as BYTES holding JSON (lists, objects, anything else)."""
    return datatype(field) == "BYTES" and not isinstance(field, fields.String)


def output_datatype(field: fields.Field) -> str:
    """An output's datatype: as an input's, but an optional number or boolean (which a
    model may leave out) travels as BYTES JSON, where ``null`` can be said."""
    kind = datatype(field)
    return kind if field.required or kind == "BYTES" else "BYTES"


def describe(schema: type[Schema], outputs: bool = False) -> list[dict[str, Any]]:
    """Tensor metadata (name, datatype, shape) of a schema's fields."""
    kind = output_datatype if outputs else datatype
    return [{"name": name, "datatype": kind(field), "shape": [-1, *(tensor_shape(field) or [])]}
            for name, field in schema().fields.items()]


def item_value(field: fields.Field, element: Any) -> Any:
    """The JSON value an item gets from one tensor element."""
    if tensor_shape(field):  # already its item's slice, as base64 (tensor_slices)
        return element
    if isinstance(element, (bytes, bytearray)):
        if field.metadata.get("format") == "byte":  # an image: the encoded file itself
            return base64.b64encode(bytes(element)).decode("ascii")
        try:
            element = bytes(element).decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput("A BYTES element is not UTF-8 text.") from e
    if is_json(field) and isinstance(element, str):
        try:
            return json.loads(element)
        except (ValueError, RecursionError) as e:  # RecursionError: absurdly nested
            raise InvalidInput("A BYTES element of a list or object field is not JSON "
                               "(or nests too deeply).") from e
    return element


def output_element(field: fields.Field, value: Any, binary: bool = False) -> Any:
    """The tensor element of one output value (objects, lists and absent values as JSON
    text; an image as the file's bytes when sent binary, else as its base64 text)."""
    if output_datatype(field) != "BYTES":
        return value
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if binary and field.metadata.get("format") == "byte":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value
    return value


def tensor_slices(name: str, shape: list[int], dims: list[int], data: Any,
                  raw: bytes | None) -> list[str]:
    """The per-item slices of an FP32 tensor ``[N, *dims]`` as base64 of raw little-endian
    float32: from the binary extension's ``raw`` bytes as they are, or from JSON ``data``
    (checked to be finite numbers)."""
    if list(shape[1:]) != dims:
        raise InvalidInput(f"Input {name!r} has shape {shape}; it must be "
                           f"[batch, {', '.join(map(str, dims))}].")
    per_item = int(np.prod(dims))
    if raw is not None:
        if len(raw) != shape[0] * per_item * 4:
            raise InvalidInput(f"{len(raw)} bytes of binary data do not hold a {shape} "
                               "FP32 tensor.")
    else:
        raw = _float_bytes(name, flatten(data, shape[0] * per_item, name), shape[0] * per_item)
    size = per_item * 4
    return [base64.b64encode(raw[i * size:(i + 1) * size]).decode("ascii")
            for i in range(shape[0])]


def _float_bytes(name: str, elements: list[Any], count: int) -> bytes:
    if len(elements) != count or not {type(e) for e in elements} <= {int, float}:
        raise InvalidInput(f"Input {name!r} must hold {count} numbers.")
    array = np.asarray(elements, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(np.abs(array) > 3.4e38):
        raise InvalidInput(f"Input {name!r} holds a number FP32 cannot hold.")
    return array.astype("<f4").tobytes()


def decode_binary(kind: str, raw: bytes, count: int) -> list[Any]:
    """``count`` elements of the binary extension's layout: little-endian numbers, or
    BYTES as a 4-byte length before each element."""
    if kind != "BYTES":
        fmt, size = BINARY_FORMATS[kind]
        if len(raw) != count * size:
            raise InvalidInput(f"{len(raw)} bytes of binary data do not hold {count} "
                               f"{kind} elements.")
        return list(struct.unpack(f"<{count}{fmt}", raw))
    elements, position = [], 0
    while position < len(raw):
        if position + 4 > len(raw):
            raise InvalidInput("Truncated BYTES binary data.")
        (length,) = struct.unpack_from("<I", raw, position)
        elements.append(raw[position + 4:position + 4 + length])
        position += 4 + length
        if position > len(raw):
            raise InvalidInput("Truncated BYTES binary data.")
    if len(elements) != count:
        raise InvalidInput(f"The binary data holds {len(elements)} BYTES elements, not {count}.")
    return elements


def encode_binary(kind: str, elements: list[Any]) -> bytes:
    """Elements in the binary extension's layout (see :func:`decode_binary`)."""
    if kind != "BYTES":
        return struct.pack(f"<{len(elements)}{BINARY_FORMATS[kind][0]}", *elements)
    parts = [e.encode("utf-8") if isinstance(e, str) else bytes(e) for e in elements]
    return b"".join(struct.pack("<I", len(p)) + p for p in parts)


def flatten(data: Any, limit: int, name: str = "") -> list[Any]:
    """The elements of a (possibly nested, row-major) JSON ``data`` list, without
    recursion, at most ``limit`` of them."""
    out: list[Any] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        else:
            out.append(node)
            if len(out) > limit:
                raise InvalidInput(f"Input {name!r} holds more elements than its shape "
                                   f"says ({limit}).")
    return out


def check_element(kind: str, element: Any) -> None:
    """Refuse an element that its datatype cannot hold."""
    if kind == "BYTES":
        ok = isinstance(element, (str, bytes, bytearray))
    elif kind == "BOOL":
        ok = isinstance(element, bool)
    elif kind in INTEGER_TYPES:
        ok = isinstance(element, int) and not isinstance(element, bool)
    else:
        try:
            ok = isinstance(element, (int, float)) and not isinstance(element, bool) \
                and math.isfinite(float(element))
        except OverflowError:  # an integer of hundreds of digits
            ok = False
    if not ok:
        raise InvalidInput(f"{element!r:.40} is not a {kind} element.")
