"""Every registered service's OpenAPI states the limits and rules it enforces, and the
examples it publishes pass its own validation."""
from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator

from common.core.registry import load_registry
from deploy.generate import build_app

SERVICES = list(load_registry(environ={}))


@pytest.fixture(scope="module", params=SERVICES)
def service(request):
    app = build_app(load_registry(environ={})[request.param], {"LOAD_MODEL": "off"})
    client = app.test_client()
    return (request.param, app, client.get("/openapi.json").get_json(),
            client.get("/metadata").get_json())


def strings(node):
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if current.get("type") == "string":
                yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def test_the_spec_states_the_batch_and_text_limits(service):
    name, _, spec, metadata = service
    limits = metadata["limits"]
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    batch = next(s for s in body["schema"]["oneOf"] if s.get("type") == "array")
    assert batch["maxItems"] == limits["max_batch_size"]
    assert spec["paths"]["/predict"]["post"]["x-modelchain-limits"] == limits
    inputs = spec["components"]["schemas"][batch["items"]["$ref"].rsplit("/", 1)[1]]
    found = list(strings(inputs))
    assert all(s["maxLength"] <= limits["max_text_length"] for s in found), name
    assert metadata["input_schema"] == inputs  # /metadata publishes the same rules


def test_the_published_examples_pass_the_services_own_validation(service):
    name, app, spec, metadata = service
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    schema = {**body["schema"], "components": spec["components"]}
    OAS30Validator(schema).validate(body["example"])
    state = app.extensions["modelchain"]
    state.input_schema.load(body["example"])  # marshmallow agrees
    for prop, sub in metadata["input_schema"].get("properties", {}).items():
        if "example" in sub:
            OAS30Validator(sub).validate(sub["example"])


def test_exactly_one_of_is_published_and_enforced():
    app = build_app(load_registry(environ={})["object_detection"], {"LOAD_MODEL": "off"})
    schema = app.test_client().get("/metadata").get_json()["input_schema"]
    assert schema["oneOf"] == [{"required": ["image"]}, {"required": ["url"]}]
    state = app.extensions["modelchain"]
    from marshmallow import ValidationError
    for bad in ({}, {"image": "aGk=", "url": "https://x.example/a.png"}):
        with pytest.raises(ValidationError):
            state.input_schema.load(bad)


@pytest.mark.parametrize("value,kind", [(0, "lowercase"), (1, "lowercase"), ("yes", "lowercase")])
def test_booleans_are_true_or_false_only(value, kind):
    app = build_app(load_registry(environ={})["text_cleaner"], {"LOAD_MODEL": "sync"})
    answer = app.test_client().post("/predict", json={"text": "hi", kind: value})
    assert answer.status_code == 400 and kind in answer.get_json()["error"]["details"]


@pytest.mark.parametrize("value", [2.0, 2.589e-42, "3"])
def test_integers_are_json_integers_only(value):
    app = build_app(load_registry(environ={})["object_detection"], {"LOAD_MODEL": "off"})
    from marshmallow import ValidationError
    with pytest.raises(ValidationError) as info:
        app.extensions["modelchain"].input_schema.load(
            {"url": "https://x.example/a.png", "max_detections": value})
    assert "max_detections" in info.value.messages
