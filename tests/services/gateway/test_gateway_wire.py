"""The gateway's Algorithmia API through Flask's test client: paths, options, bodies,
keys and the answer and error forms the algorithmia client reads."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from marshmallow import Schema, fields

from common import Failed, Function, InvalidInput, create_service_app
from common.core import context as ctx
from common.media.images import Base64Image
from services.gateway import create_app, wire
from tests.helpers.words import make_app

from common.core.registry import ROOT

KEY = "k-unit"
CONTRACTS = ROOT / "deploy" / "contracts"


class ImageInput(Schema):
    image = Base64Image(required=True)
    limit = fields.Integer(load_default=1)


class ImageOutput(Schema):
    size = fields.Integer(required=True)
    remaining_s = fields.Float(required=True)


class ImageSize(Function):
    """Says how many bytes its image has and how much of the deadline it was given."""

    name = "image_size"
    version = "0.3.1"
    input_schema = ImageInput
    output_schema = ImageOutput

    def warmup(self) -> None:
        """No sample to warm with."""

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        left = ctx.current().remaining()
        return [{"size": len(item["image"]), "remaining_s": left} for item in inputs]


class CountInput(Schema):
    count = fields.Integer(required=True)


class CountOutput(Schema):
    count = fields.Integer(required=True)


class Counter(Function):
    """No text or image field at all."""

    name = "counter"
    version = "1.0.0"
    input_schema = CountInput
    output_schema = CountOutput
    sample_input = {"count": 1}

    def predict(self, inputs: list[dict[str, Any]]) -> list[Any]:
        # a negative count fails alone, as an item a later stage refused would
        return [Failed(InvalidInput("count: negative.", {"count": ["negative"]}))
                if item["count"] < 0 else item for item in inputs]


@pytest.fixture(scope="module")
def client():
    local = {"words": make_app(),
             "image_size": create_service_app(ImageSize, config={"LOAD_MODEL": "sync"}),
             "counter": create_service_app(Counter, config={"LOAD_MODEL": "sync"})}
    app = create_app({"LOAD_MODEL": "sync", "API_KEYS": KEY}, local=local)
    return app.test_client()


def call(client, path: str = "/v1/algo/modelchain/words", key: str | None = KEY,
         headers: dict | None = None, **kwargs):
    sent = {"Authorization": key} if key is not None else {}
    return client.post(path, headers={**sent, **(headers or {})}, **kwargs)


def error_of(response, status: int) -> dict:
    """The error in the client's form: HTTP 200, our status beside it."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers[wire.STATUS_HEADER] == str(status)
    error = response.get_json()["error"]
    assert error["status"] == status and error["message"] and error["error_type"]
    return error


# ----------------------------------------------------------------- answers
def test_a_json_input_answers_in_the_envelope_the_client_reads(client):
    answer = call(client, json={"text": "one two"}).get_json()
    assert answer["result"] == {"words": 2, "shout": "ONE TWO"}
    metadata = answer["metadata"]
    assert metadata["content_type"] == "json" and metadata["duration"] > 0
    assert metadata["service"] == "words" and metadata["version"] == "2.1.0"


@pytest.mark.parametrize("version", [None, "2", "2.1", "2.1.0"])
def test_no_version_a_prefix_or_the_exact_one_reach_the_service(client, version):
    path = "/v1/algo/modelchain/words" + (f"/{version}" if version else "")
    assert call(client, path, json={"text": "a"}).get_json()["metadata"]["version"] == "2.1.0"


@pytest.mark.parametrize("version", ["3", "2.0", "2.1.1", "1"])
def test_a_version_the_service_does_not_serve_names_the_one_it_does(client, version):
    error = error_of(call(client, f"/v1/algo/modelchain/words/{version}", json={"text": "a"}),
                     404)
    assert f"no version {version}" in error["message"] and "2.1.0" in error["message"]


def test_a_text_input_goes_to_the_single_text_field(client):
    answer = call(client, data="three little words".encode(),
                  content_type="text/plain; charset=utf-8").get_json()
    assert answer["result"]["words"] == 3


def test_a_binary_input_goes_base64_to_the_image_field(client):
    answer = call(client, "/v1/algo/modelchain/image_size", data=b"\x89PNG\r\n12345",
                  content_type="application/octet-stream").get_json()
    assert answer["result"]["size"] == 11


def test_json_fields_the_callee_does_not_take_are_left_out_and_reported(client):
    answer = call(client, json={"text": "a b", "tokens": ["a", "b"], "lemmas": []}).get_json()
    assert answer["result"]["words"] == 2
    assert answer["metadata"]["ignored_fields"] == ["lemmas", "tokens"]


def test_a_batch_answers_per_item_in_order(client):
    answer = call(client, json=[{"text": "a"}, {"text": "b c"}]).get_json()
    assert [r["words"] for r in answer["result"]] == [1, 2]
    assert answer["metadata"]["batch_size"] == 2


def test_an_item_failing_alone_keeps_its_error_under_its_index(client):
    answer = call(client, "/v1/algo/modelchain/counter",
                  json=[{"count": 1}, {"count": -1}, {"count": 2}]).get_json()
    assert answer["result"] == [{"count": 1}, None, {"count": 2}]
    assert answer["metadata"]["errors"]["1"]["message"] == "count: negative."


@pytest.mark.parametrize("query, deadline_s", [("", 300.0), ("?timeout=2", 2.0),
                                               ("?Timeout=0.5&STDOUT=false", 0.5)])
def test_timeout_becomes_the_callees_deadline(client, query, deadline_s):
    answer = call(client, "/v1/algo/modelchain/image_size" + query, data=b"x",
                  content_type="application/octet-stream").get_json()
    # the callee caps what it is given by its own default (30 s)
    assert 0 < answer["result"]["remaining_s"] <= min(deadline_s, 30.0)


@pytest.mark.parametrize("stdout", ["True", "true", "1"])
def test_stdout_adds_an_empty_stdout(client, stdout):
    answer = call(client, f"/v1/algo/modelchain/words?stdout={stdout}", json={"text": "a"})
    assert answer.get_json()["metadata"]["stdout"] == ""


@pytest.mark.parametrize("output", ["raw", "RAW", "Raw"])
def test_output_raw_is_the_result_alone(client, output):
    answer = call(client, f"/v1/algo/modelchain/words?output={output}", json={"text": "a"})
    assert json.loads(answer.get_data()) == {"words": 1, "shout": "A"}


def test_output_void_answers_at_once_with_the_request_id(client):
    answer = call(client, "/v1/algo/modelchain/words?output=void", json={"text": "a"},
                  headers={"X-Request-ID": "void-1"}).get_json()
    assert answer == {"async": "void", "request_id": "void-1"}


@pytest.mark.parametrize("header", [KEY, f"Simple {KEY}", f"Bearer {KEY}", f"simple  {KEY} "])
def test_every_key_form_the_client_sends_is_accepted(client, header):
    assert call(client, key=header, json={"text": "a"}).get_json()["result"]["words"] == 1


def test_predict_resolves_a_name(client):
    answer = client.post("/predict", json={"algo": "modelchain/words/2"},
                         headers={"Authorization": f"Bearer {KEY}"}).get_json()
    assert answer["result"] == {"service": "words", "version": "2.1.0",
                                "route": "/v1/algo/modelchain/words/2.1.0"}


# ----------------------------------------------------------------- refusals
@pytest.mark.parametrize("key", [None, "", "wrong", "Bearer wrong", "Basic k-unit",
                                 f"Token {KEY}"])
def test_a_missing_or_wrong_key_is_refused_in_the_clients_form(client, key):
    error = error_of(call(client, key=key, json={"text": "a"}), 401)
    assert error["code"] == "unauthorized" and error["error_type"] == "AuthorizationError"


@pytest.mark.parametrize("path, status, words", [
    ("/v1/algo/nlp/words", 404, "serves the owner 'modelchain'"),
    ("/v1/algo/modelchain/nope", 404, "No service named 'nope'"),
    ("/v1/algo/modelchain/Words", 404, "lower-case"),
    ("/v1/algo/modelchain", 404, "No route"),
    ("/v1/algo/modelchain/words/2/extra", 404, "No route"),
    ("/v1/algo/modelchain/words/latest", 400, "is not a version"),
    ("/v1/algo/modelchain/words/2.1.0.0", 400, "is not a version"),
    ("/v1/algo/modelchain/words/v2", 400, "is not a version"),
])
def test_a_bad_path_is_a_clear_error(client, path, status, words):
    assert words in error_of(call(client, path, json={"text": "a"}), status)["message"]


@pytest.mark.parametrize("query, name", [
    ("timeout=abc", "timeout"), ("timeout=-1", "timeout"), ("timeout=0", "timeout"),
    ("timeout=inf", "timeout"), ("timeout=nan", "timeout"), ("stdout=maybe", "stdout"),
    ("output=json", "output"), ("OUTPUT=stream", "output"),
])
def test_a_bad_option_is_a_400_naming_it(client, query, name):
    error = error_of(call(client, f"/v1/algo/modelchain/words?{query}", json={"text": "a"}),
                     400)
    assert name in error["message"]


@pytest.mark.parametrize("path, kwargs, words", [
    ("words", {"data": b"{not json", "content_type": "application/json"}, "not valid JSON"),
    ("words", {"data": b"", "content_type": "application/json"}, "empty"),
    ("words", {"data": b"\xff\xfe", "content_type": "text/plain"}, "not valid UTF-8"),
    ("words", {"data": b"\x89PNG", "content_type": "application/octet-stream"},
     "no image field"),
    ("counter", {"data": b"hello", "content_type": "text/plain"}, "no single text field"),
    ("image_size", {"data": b"", "content_type": "application/octet-stream"}, "empty"),
    ("words", {"data": b"a", "content_type": "image/png"}, "is not one the gateway reads"),
    ("words", {"data": b"a"}, "is not one the gateway reads"),
    ("words", {"json": {"text": ""}}, "Must not be empty"),
    ("words", {"json": "just a string"}, "must be a JSON object"),
    ("words", {"json": [{"text": "a"}, {"text": ""}]}, "items[1]"),
])
def test_a_bad_body_is_a_clear_400(client, path, kwargs, words):
    error = error_of(call(client, f"/v1/algo/modelchain/{path}", **kwargs), 400)
    assert words in error["message"]


def test_a_get_is_refused_in_the_clients_form(client):
    error = error_of(client.get("/v1/algo/modelchain/words", headers={"Authorization": KEY}),
                     405)
    assert "GET is not allowed" in error["message"]


def test_the_gateways_own_routes_keep_the_usual_statuses(client):
    assert client.post("/predict", json={"algo": "a/b"}).status_code == 401
    response = client.post("/predict", json={"algo": "nope"},
                           headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 400 and wire.STATUS_HEADER not in response.headers


# ----------------------------------------------------------------- the wire, alone
@pytest.mark.parametrize("contract, text, image", [
    ("sentiment", "text", None), ("text_cleaner", "text", None),
    ("tweet_sentiment", "text", None), ("chatbot", "question", None),
    ("object_detection", "url", "image"), ("image_preprocessor", None, "image"),
    ("meme", None, "image"),
])
def test_text_and_image_fields_are_read_from_the_contracts(contract, text, image):
    schema = json.loads((CONTRACTS / f"{contract}.json").read_text())["input_schema"]
    assert wire.text_field(schema) == text
    assert wire.image_field(schema) == image


@pytest.mark.parametrize("args, expected", [
    ({}, wire.Options()),
    ({"timeout": "300", "stdout": "False"}, wire.Options(300.0, False)),
    ({"Timeout": "5", "STDOUT": "True", "Output": "RAW"}, wire.Options(5.0, True, "raw")),
    ({"timeout": "9999", "output": "void"}, wire.Options(600.0, False, "void")),
])
def test_options_in_every_capitalisation(args, expected):
    assert wire.parse_options(args, 600.0) == expected


def test_fields_are_kept_when_the_schema_allows_others():
    open_schema = {"properties": {"text": {}}, "additionalProperties": True}
    assert wire.known_fields({"text": "a", "x": 1}, open_schema) == ({"text": "a", "x": 1}, [])
    assert wire.known_fields({"x": 1}, {}) == ({"x": 1}, [])


def test_binary_input_is_standard_base64():
    document = wire.binary_input(b"\x00\xff", "s", {"properties": {
        "image": {"type": "string", "format": "byte"}}})
    assert base64.b64decode(document["image"]) == b"\x00\xff"


@pytest.mark.parametrize("own_key, reached", [("k-services", True), ("", False)])
def test_the_gateway_calls_locked_services_with_its_own_key(own_key, reached, monkeypatch):
    monkeypatch.delenv("MODELCHAIN_API_KEY", raising=False)
    local = {"words": make_app(API_KEYS="k-services")}
    gateway = create_app({"LOAD_MODEL": "sync", "API_KEYS": KEY, "API_KEY": own_key},
                         local=local).test_client()
    answer = call(gateway, json={"text": "a b"})
    if reached:
        assert answer.get_json()["result"]["words"] == 2
    else:
        assert "words" in error_of(answer, 502)["message"]


def test_a_services_metadata_is_read_again_after_its_ttl():
    words = make_app()
    gateway = create_app({"LOAD_MODEL": "sync", "METADATA_TTL_S": 0.0},
                         local={"words": words})
    assert call(gateway.test_client(), "/v1/algo/modelchain/words/2",
                json={"text": "a"}).get_json()["metadata"]["version"] == "2.1.0"
    words.extensions["modelchain"].model.version = "3.0.0"   # redeployed as 3.0.0
    answer = call(gateway.test_client(), "/v1/algo/modelchain/words/2", json={"text": "a"})
    assert "it serves version 3.0.0" in error_of(answer, 404)["message"]
