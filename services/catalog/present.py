"""A service's info shaped for its page and for ``/api/services/<name>``."""
from __future__ import annotations

from typing import Any, Collection, Mapping

from .directory import ServiceInfo, as_mapping, as_text
from .graph import graph
from .samples import samples


def detail(info: ServiceInfo, known: Collection[str], auth: bool) -> dict[str, Any]:
    """Everything the service page shows: summary, schemas, limits, steps, samples."""
    metadata = info.metadata
    return {**info.summary(), "url": info.url,
            "input_schema": as_mapping(metadata.get("input_schema")),
            "output_schema": as_mapping(metadata.get("output_schema")),
            "limits": as_mapping(metadata.get("limits")),
            "tensors": oip_rows(as_mapping(metadata.get("oip"))),
            "sample_input": info.sample_input,
            "steps": info.steps, "graph": graph(info.steps, known),
            "samples": samples(info.name, info.url, info.sample_input, auth)}


def oip_rows(oip: Mapping[str, Any]) -> dict[str, Any]:
    """The service's Open Inference Protocol tensors and the rule that maps them."""
    def rows(key: str) -> list[dict[str, str]]:
        return [{"name": as_text(as_mapping(t).get("name"), 100),
                 "datatype": as_text(as_mapping(t).get("datatype"), 20)}
                for t in (oip.get(key) if isinstance(oip.get(key), list) else [])[:100]]
    return {"rule": as_text(oip.get("tensor_rule"), 2000), "inputs": rows("inputs"),
            "outputs": rows("outputs")}


def schema_rows(schema: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per top-level field of a JSON schema: name, type, required, notes."""
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    return [{"name": as_text(name, 100), "type": type_name(as_mapping(spec)),
             "required": "yes" if name in required else "no",
             "notes": field_notes(as_mapping(spec))}
            for name, spec in list(as_mapping(schema.get("properties")).items())[:100]]


def type_name(spec: Mapping[str, Any]) -> str:
    """``string``, ``array of string``, ``one of: a, b`` …"""
    if isinstance(spec.get("enum"), list):
        return "one of: " + ", ".join(as_text(v, 50) for v in spec["enum"][:20])
    kind = as_text(spec.get("type") or "any", 50)
    if kind == "array":
        return "array of " + type_name(as_mapping(spec.get("items")))
    return kind


def field_notes(spec: Mapping[str, Any]) -> str:
    """The description, default and bounds of a field, in one line."""
    parts = [as_text(spec.get("description"), 500)] if spec.get("description") else []
    for key, label in (("default", "default"), ("minLength", "min length"),
                       ("maxLength", "max length"), ("minimum", "min"), ("maximum", "max"),
                       ("maxItems", "max items")):
        if key in spec:
            parts.append(f"{label} {as_text(spec[key], 100)}")
    return "; ".join(parts)


def limit_rows(limits: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The service's limits as (label, value) pairs."""
    labels = {"max_body_bytes": "Largest body (bytes)", "max_batch_size": "Largest batch",
              "max_text_length": "Longest text (characters)",
              "default_timeout_s": "Default timeout (s)"}
    return [(labels.get(key, as_text(key, 100)), as_text(value, 100))
            for key, value in list(limits.items())[:20]]
