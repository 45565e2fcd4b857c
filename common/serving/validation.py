"""Turning a request body into validated model inputs, with errors that name the field."""
from __future__ import annotations

import json
import re
from collections import abc
from typing import Any, Mapping

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from common.core.errors import (InvalidInput, PayloadTooLarge, RequestTimeout,
                                UnsupportedMediaType)


def read_body(environ: Mapping[str, Any], content_length: int | None, limit: int) -> bytes:
    """The request body, never cut: over ``limit`` bytes it is a 413, whether the body
    is framed by Content-Length (refused before reading) or chunked (refused at the
    first byte past the limit); a body whose framing is broken (a bad chunk size) is a
    400."""
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.",
                              {"max_body_bytes": limit, "content_length": content_length})
    stream = environ.get("wsgi.input")
    if stream is None or (content_length is None and not environ.get("wsgi.input_terminated")):
        return b""
    try:
        data = stream.read(content_length if content_length is not None else limit + 1)
    except TimeoutError as e:  # the socket's read timeout (deploy/worker.py)
        raise RequestTimeout("The body stopped arriving part-way.") from e
    except Exception as e:  # the server's reader: a malformed chunk, a broken frame
        raise InvalidInput("The body could not be read: its framing is malformed.",
                           {"body": [type(e).__name__]}) from e
    if len(data) > limit:
        raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.",
                              {"max_body_bytes": limit})
    return data


def parse_json_body(content_type: str | None, raw: bytes) -> Any:
    """The JSON document of a body declared as JSON; 415 or 400 otherwise."""
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(details={"content_type": content_type or ""})
    if not raw.strip():
        raise InvalidInput("The body is empty; send a JSON object or a list of objects.")
    try:
        return json.loads(raw)
    except RecursionError as e:
        raise InvalidInput("The body is not valid JSON.",
                           {"body": ["Nested too deeply."]}) from e
    except ValueError as e:
        reason = "A number has too many digits." if "digits" in str(e) else str(e)[:200]
        raise InvalidInput("The body is not valid JSON.", {"body": [reason]}) from e


def as_batch(document: Any, max_batch_size: int) -> tuple[list[Any], bool]:
    """The list of items a body holds, and whether it was sent as a batch."""
    if isinstance(document, dict):
        return [document], False
    if not isinstance(document, list):
        raise InvalidInput("The body must be a JSON object or a list of objects, not "
                           f"{type(document).__name__}.", {"body": ["Not an object or list."]})
    if not document:
        raise InvalidInput("The batch is empty; send at least one item.",
                           {"body": ["Empty list."]})
    if len(document) > max_batch_size:
        raise PayloadTooLarge(f"The batch has {len(document)} items; at most "
                              f"{max_batch_size} are allowed.",
                              {"batch_size": len(document), "max_batch_size": max_batch_size})
    return document, True


def validate_items(schema: Schema, items: list[Any], is_batch: bool,
                   max_text_length: int) -> list[dict]:
    """Load every item through the schema; one error lists every bad item and field."""
    loaded, problems = [], {}
    for index, item in enumerate(items):
        try:
            loaded.append(_load_item(schema, item, max_text_length))
        except ValidationError as e:
            problems[str(index)] = e.normalized_messages()
    if not problems:
        return loaded
    details = problems if is_batch else problems["0"]
    raise InvalidInput(_summary(problems, is_batch), details)


#: How deeply an input may nest lists and objects; deeper is refused, never recursed.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def _load_item(schema: Schema, item: Any, max_text_length: int) -> dict:
    """One item through the configured limits, then through the schema."""
    if not isinstance(item, Mapping):
        raise ValidationError({"_schema": ["Not an object."]})
    problems = string_problems(item, max_text_length)
    if problems:
        raise ValidationError(problems)
    return schema.load(item)


#: collections.abc's, not typing's: typing's isinstance costs a hop several microseconds.
_CONTAINERS = (abc.Mapping, list)


def string_problems(value: Any, limit: int) -> dict[str, list[str]]:
    """Messages by dotted path for what no field may hold: a string over ``limit``
    characters, text that is not valid Unicode (a lone surrogate, from a ``\\ud800``
    escape or from bytes that are not UTF-8), or nesting deeper than :data:`MAX_DEPTH`.
    Walked with an explicit stack, so no input can exhaust the recursion limit."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(path, node, limit, problems)
        elif isinstance(node, _CONTAINERS):
            if depth >= MAX_DEPTH:
                problems[path or "body"] = [f"Nested deeper than {MAX_DEPTH} levels."]
                continue
            is_mapping = isinstance(node, abc.Mapping)
            pairs = list(node.items() if is_mapping else enumerate(node))
            if is_mapping:  # keys are text from the caller too
                stack.extend((f"{path}.<key>".strip("."), str(key), depth + 1)
                             for key, _ in pairs)
            stack.extend((f"{path}.{key}".strip("."), child, depth + 1)
                         for key, child in pairs)
    return dict(sorted(problems.items()))


def _check_text(path: str, text: str, limit: int, problems: dict) -> None:
    if len(text) > limit:
        problems[path] = [f"Longer than the maximum of {limit} characters."]
    elif _SURROGATE.search(text):
        problems[path] = ["Not valid Unicode text (a lone surrogate, or bytes that are "
                          "not UTF-8)."]


def _summary(problems: dict[str, Any], is_batch: bool) -> str:
    """A one-line message naming the first few bad fields, e.g. ``items[2].text: ...``."""
    parts = []
    for index, messages in problems.items():
        for path, message in _flatten(messages):
            where = ".".join(filter(None, [f"items[{index}]" if is_batch else "", path]))
            parts.append(f"{where or 'body'}: {message}")
    shown = "; ".join(parts[:5]) + (f"; and {len(parts) - 5} more" if len(parts) > 5 else "")
    return f"Invalid input: {shown}"


def _flatten(messages: Any, path: str = "") -> list[tuple[str, str]]:
    """(dotted field path, first message) pairs from marshmallow's nested messages."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            child = str(key) if key != "_schema" else ""
            out += _flatten(value, f"{path}.{child}".strip(".") if child else path)
        return out
    if isinstance(messages, list) and messages and isinstance(messages[0], str):
        return [(path, messages[0].rstrip("."))]
    return [(path, str(messages))]


BLANK_ERROR = "Must not be empty or blank."


class Search(validate.Regexp):
    """A pattern that may match anywhere in the text (``re.search``), as JSON Schema's
    ``pattern`` means, where :class:`marshmallow.validate.Regexp` matches at the start
    only. Documented by apispec as ``pattern``, like ``Regexp``."""

    def __call__(self, value: str) -> str:
        if self.regex.search(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def Text(max_length: int | None = None, **kwargs: Any) -> fields.String:
    """A required, non-blank string field. Every string of an input is also held to the
    service's ``MAX_TEXT_LENGTH`` before the schema runs; ``max_length`` is a tighter
    limit for this field alone."""
    validators = [Search(r"\S", error=BLANK_ERROR)]
    if max_length is not None:
        validators.append(validate.Length(
            max=max_length, error="Longer than the maximum of {max} characters."))
    return fields.String(required=True, validate=validators, **kwargs)


class _StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only (Python's ``1 == True`` lets marshmallow's own pass 1)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Flag(**kwargs: Any) -> fields.Boolean:
    """A boolean that is ``true`` or ``false``, not ``0``, ``1`` or ``"yes"``."""
    return _StrictBoolean(**kwargs)


def Whole(**kwargs: Any) -> fields.Integer:
    """An integer that is a JSON integer, not ``2.0`` or ``2.589e-42``."""
    return fields.Integer(strict=True, **kwargs)


class InputSchema(Schema):
    """A service's input schema. ``exactly_one_of`` names fields of which an input must
    have exactly one; it is enforced here and published in the OpenAPI (``oneOf``)."""

    exactly_one_of: tuple[str, ...] = ()

    @validates_schema
    def _exactly_one(self, data: dict, **_: Any) -> None:
        names = type(self).exactly_one_of
        if names and sum(name in data for name in names) != 1:
            raise ValidationError(f"Give exactly one of {', '.join(names)}.", names[0])


class ItemErrorSchema(Schema):
    """Why one item of a batch failed, and at which stage (``metadata.errors``)."""

    code = fields.String(required=True, metadata={"example": "invalid_input"})
    message = fields.String(required=True)
    details = fields.Raw(metadata={"description": "Per-field messages."})
    stage = fields.String(allow_none=True, metadata={
        "description": "The service that refused the item."})


class MetadataSchema(Schema):
    """The ``metadata`` part of every ``/predict`` answer. A service may add keys of its
    own (a pipeline adds ``steps``), so unknown keys are allowed."""

    class Meta:
        unknown = INCLUDE

    service = fields.String(required=True)
    version = fields.String(required=True)
    request_id = fields.String(required=True)
    duration_ms = fields.Float(required=True)
    batch_size = fields.Integer(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.Nested(ItemErrorSchema),
                         metadata={"description": "In a batch answer: the items that "
                                   "failed, by index; their result is null."})
    steps = fields.List(fields.Dict(), metadata={
        "description": "A pipeline's steps, each with its duration_ms."})
    hops = fields.List(fields.Dict(), metadata={
        "description": "With X-Pipe-Next: every stage's own metadata, in order."})
