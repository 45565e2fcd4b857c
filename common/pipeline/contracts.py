"""Services' published contracts, and marshmallow schemas rebuilt from them.

A contract is what a service's ``/metadata`` says about its interface: name, version,
input and output JSON Schemas, sample input and limits. ``python -m deploy.generate``
writes one per registered service to ``deploy/contracts/<name>.json`` (and ``--check``
fails while one is out of date), so a pipeline knows its steps without importing their
code, and without their being up when it starts.
"""
from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from marshmallow import Schema, fields, validate

from common.core.registry import ROOT
from common.serving.validation import BLANK_ERROR, Flag, Search, Whole

DEFAULT_CONTRACTS = ROOT / "deploy" / "contracts"
CONTRACT_KEYS = ("name", "version", "kind", "calls", "description", "input_schema",
                 "output_schema", "sample_input", "limits")

#: Gives the contract of a service by name (raises LookupError when it has none).
ContractSource = Callable[[str], Mapping[str, Any]]


def contract_of(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The contract part of a service's ``/metadata`` document."""
    return {key: metadata[key] for key in CONTRACT_KEYS if key in metadata}


def contracts_in(folder: str | Path | None = None) -> ContractSource:
    """A contract source reading ``<folder>/<name>.json``; the folder defaults to
    ``MODELCHAIN_CONTRACTS``, else ``deploy/contracts``."""
    folder = Path(folder or os.environ.get("MODELCHAIN_CONTRACTS") or DEFAULT_CONTRACTS)

    @functools.cache  # a pipeline asks for a step's contract several times while built
    def read(name: str) -> Mapping[str, Any]:
        path = folder / f"{name}.json"
        if not path.exists():
            raise LookupError(f"No contract for {name!r} in {folder}; register the service "
                              "and run `python -m deploy.generate`.")
        return json.loads(path.read_text())
    return read


def schema_from_json(name: str, document: Mapping[str, Any]) -> type[Schema]:
    """A marshmallow schema validating (and documenting) what a JSON Schema object
    describes: types, required fields, defaults, enums, lengths, ranges and patterns."""
    required = set(document.get("required") or ())
    properties = document.get("properties") or {}
    return Schema.from_dict({key: _field(f"{name}{key.title()}", spec, key in required)
                             for key, spec in properties.items()}, name=name)


def _field(name: str, spec: Mapping[str, Any], required: bool) -> fields.Field:
    options: dict[str, Any] = {"metadata": {k: spec[k] for k in ("description", "example")
                                            if k in spec}}
    if required:
        options["required"] = True
    elif "default" in spec:
        options["load_default"] = spec["default"]
    validators = _validators(spec)
    if validators:
        options["validate"] = validators
    return _typed(name, spec, options)


def _typed(name: str, spec: Mapping[str, Any], options: dict[str, Any]) -> fields.Field:
    kind = spec.get("type")
    if kind == "array":
        return fields.List(_field(f"{name}Item", spec.get("items") or {}, False), **options)
    if kind == "object" and "properties" in spec:
        return fields.Nested(schema_from_json(name, spec), **options)
    simple = {"string": fields.String, "integer": Whole, "number": fields.Float,
              "boolean": Flag, "object": fields.Dict}
    return simple.get(kind, fields.Raw)(**options)


def _validators(spec: Mapping[str, Any]) -> list[Callable]:
    found: list[Callable] = []
    if "enum" in spec:
        found.append(validate.OneOf(spec["enum"]))
    low, high = spec.get("minLength", spec.get("minItems")), \
        spec.get("maxLength", spec.get("maxItems"))
    if low is not None or high is not None:
        found.append(validate.Length(min=low, max=high))
    if "minimum" in spec or "maximum" in spec:
        found.append(validate.Range(min=spec.get("minimum"), max=spec.get("maximum")))
    if "pattern" in spec:
        error = BLANK_ERROR if spec["pattern"] == r"\S" else "Does not match {regex}."
        found.append(Search(re.compile(spec["pattern"]), error=error))
    return found
