"""The Open Inference Protocol routes of every service, on the words model."""
from __future__ import annotations

import json
import struct

import pytest

from common.serving.tensors import decode_binary, encode_binary
from tests.helpers.words import make_app

INFER = "/v2/models/words/infer"


@pytest.fixture(scope="module")
def client():
    return make_app(MAX_BATCH_SIZE=4).test_client()


def tensor(name, data, datatype="BYTES", shape=None):
    return {"name": name, "datatype": datatype, "data": data,
            "shape": shape if shape is not None else [len(data)]}


def test_server_and_health_routes(client):
    assert client.get("/v2").get_json()["extensions"][0] == "binary_tensor_data"
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    assert client.get("/v2/models/words/ready").get_json() == {"name": "words", "ready": True}
    loading = make_app(LOAD_MODEL="off").test_client()
    assert loading.get("/v2/health/ready").status_code == 503


def test_model_metadata_follows_the_one_rule(client):
    meta = client.get("/v2/models/words").get_json()
    assert meta["name"] == "words" and meta["versions"] == ["2.1.0"]
    assert {t["name"]: t["datatype"] for t in meta["inputs"]} == {
        "text": "BYTES", "repeat": "INT64", "tags": "BYTES"}
    assert {t["name"]: t["datatype"] for t in meta["outputs"]} == {
        "words": "INT64", "shout": "BYTES"}
    assert "first dimension" in meta["parameters"]["tensor_rule"]


@pytest.mark.parametrize("path,status", [
    ("/v2/models/nope", 404), ("/v2/models/words/versions/2.1.0", 200),
    ("/v2/models/words/versions/2", 200), ("/v2/models/words/versions/3.0", 404)])
def test_names_and_versions(client, path, status):
    answer = client.get(path)
    assert answer.status_code == status
    if status == 404:
        assert set(answer.get_json()) == {"error"}


def test_infer_a_batch_matches_predict(client):
    texts = ["one two", "a b c"]
    answer = client.post(INFER, json={"id": "r1", "inputs": [
        tensor("text", texts), tensor("repeat", [2, 1], "INT64"),
        tensor("tags", [json.dumps(["x"]), "[]"])]}).get_json()
    assert answer["id"] == "r1" and answer["model_name"] == "words"
    by_name = {o["name"]: o for o in answer["outputs"]}
    assert by_name["words"] == {"name": "words", "datatype": "INT64", "shape": [2],
                                "data": [2, 3]}
    predicted = client.post("/predict", json=[{"text": t, "repeat": r}
                                              for t, r in zip(texts, [2, 1])]).get_json()
    assert by_name["shout"]["data"] == [r["shout"] for r in predicted["result"]]


def test_a_column_shape_and_requested_outputs(client):
    answer = client.post(INFER, json={"inputs": [tensor("text", [["hi there"]], shape=[1, 1])],
                                      "outputs": [{"name": "words"}]}).get_json()
    assert [o["name"] for o in answer["outputs"]] == ["words"]
    assert answer["outputs"][0]["data"] == [2]


def test_the_binary_extension_both_ways(client):
    texts = encode_binary("BYTES", ["one", "two three"])
    repeat = encode_binary("INT64", [1, 1])
    header = json.dumps({"inputs": [
        {"name": "text", "shape": [2], "datatype": "BYTES",
         "parameters": {"binary_data_size": len(texts)}},
        {"name": "repeat", "shape": [2], "datatype": "INT64",
         "parameters": {"binary_data_size": len(repeat)}}],
        "parameters": {"binary_data_output": True}}).encode()
    answer = client.post(INFER, data=header + texts + repeat,
                         content_type="application/octet-stream",
                         headers={"Inference-Header-Content-Length": str(len(header))})
    assert answer.status_code == 200, answer.data[:300]
    length = int(answer.headers["Inference-Header-Content-Length"])
    document, binary = json.loads(answer.data[:length]), answer.data[length:]
    first = document["outputs"][0]
    size = first["parameters"]["binary_data_size"]
    assert first["name"] == "words" and decode_binary("INT64", binary[:size], 2) == [1, 2]
    shouts = decode_binary("BYTES", binary[size:], 2)
    assert shouts == [b"ONE", b"TWO THREE"]


BAD = {
    "unknown input": ({"inputs": [tensor("txt", ["a"])]}, "Unknown input tensor 'txt'"),
    "wrong datatype": ({"inputs": [tensor("text", [1.5], "FP32")]}, "must be BYTES"),
    "shape disagrees with data": ({"inputs": [tensor("text", ["a"], shape=[2])]},
                                  "has shape [2] but 1 elements"),
    "two elements per item": ({"inputs": [tensor("text", ["a", "b"], shape=[1, 2])]},
                              "one element per item"),
    "batches differ": ({"inputs": [tensor("text", ["a", "b"]), tensor("repeat", [1], "INT64")]},
                       "has a batch of 1"),
    "element of another type": ({"inputs": [tensor("repeat", ["2"], "INT64"),
                                            tensor("text", ["a"])]}, "is not a INT64"),
    "over the batch limit": ({"inputs": [tensor("text", ["a"] * 5)]}, "batch limit"),
    "no inputs": ({"inputs": []}, "Malformed inference request"),
    "unknown output": ({"inputs": [tensor("text", ["a"])], "outputs": [{"name": "nope"}]},
                       "Unknown output 'nope'"),
    "invalid text": ({"inputs": [tensor("text", ["   "])]}, "blank"),
    "unknown datatype": ({"inputs": [tensor("text", ["a"], "STRING")]},
                         "Malformed inference request"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tensors_get_the_protocols_400_naming_the_problem(client, case):
    body, fragment = BAD[case]
    answer = client.post(INFER, json=body)
    assert answer.status_code == 400
    assert set(answer.get_json()) == {"error"} and fragment in answer.get_json()["error"]


def test_malformed_binary_framing_is_a_400(client):
    header = json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": 50}}]}).encode()
    answer = client.post(INFER, data=header + struct.pack("<I", 3) + b"abc",
                         headers={"Inference-Header-Content-Length": str(len(header))})
    assert answer.status_code == 400 and "binary_data_size" in answer.get_json()["error"]
    not_json = client.post(INFER, data=b"{nope", content_type="application/json")
    assert not_json.status_code == 400


def test_api_keys_hold_on_these_routes_too():
    locked = make_app(API_KEYS="k1").test_client()
    refused = locked.post(INFER, json={"inputs": [tensor("text", ["a"])]})
    assert refused.status_code == 401 and set(refused.get_json()) == {"error"}
    allowed = locked.post(INFER, json={"inputs": [tensor("text", ["a"])]},
                          headers={"Authorization": "Bearer k1"})
    assert allowed.status_code == 200


def test_a_request_parameter_named_like_a_field_sets_it_for_every_item(client):
    answer = client.post(INFER, json={"parameters": {"repeat": 3, "unrelated": "x"},
                                      "inputs": [tensor("text", ["ab", "c"])],
                                      "outputs": [{"name": "shout"}]}).get_json()
    assert answer["outputs"][0]["data"] == ["ABABAB", "CCC"]


@pytest.mark.parametrize("method,path,body,status", [
    ("post", INFER, {"inputs": [tensor("text", ["boom"])]}, 500),       # the model crashes
    ("get", "/v2/models/words/config", None, 404),                      # no such route
    ("get", INFER, None, 405),
])
def test_every_error_on_the_protocols_routes_is_its_string_form(client, method, path, body,
                                                                  status):
    answer = getattr(client, method)(path, json=body) if body else getattr(client, method)(path)
    assert answer.status_code == status
    assert isinstance(answer.get_json()["error"], str)


@pytest.mark.parametrize("body,fragment", [
    ({"inputs": [tensor("repeat", [int("1" + "0" * 400)], "INT64"), tensor("text", ["a"])]},
     "repeat"),
    ({"inputs": [tensor("text", ["a"]), tensor("text", ["b"])]}, "once"),
    ({"inputs": [tensor("text", ["a"])], "outputs": [{"name": "words"}, {"name": "words"}]},
     "once"),
    ({"inputs": [tensor("text", ["a"])], "parameters": {"binary_data_output": "false"}},
     "true or false"),
])
def test_odd_values_are_400s(client, body, fragment):
    answer = client.post(INFER, json=body)
    assert answer.status_code == 400 and fragment in answer.get_json()["error"]


def test_odd_framing_is_refused_not_crashed(client):
    body = json.dumps({"inputs": [tensor("text", ["a"])]}).encode()
    odd = client.post(INFER, data=body, headers={"Inference-Header-Content-Length": "²"})
    assert odd.status_code == 400
    packed = client.post(INFER, data=body, content_type="application/json",
                         headers={"Content-Encoding": "gzip"})
    assert packed.status_code == 415 and "uncompressed" in packed.get_json()["error"]
    assert client.post(INFER, json={"id": "", "inputs": [tensor("text", ["a"])]}) \
        .get_json()["id"] == ""  # a given id comes back as given


def test_fp16_is_taken_for_a_number():
    from marshmallow import Schema, fields

    from common import Function, create_service_app

    class Half(Function):
        name = "half"
        input_schema = Schema.from_dict({"x": fields.Float(required=True)})
        output_schema = Schema.from_dict({"y": fields.Float(required=True)})
        sample_input = {"x": 1.0}

        def predict(self, inputs):
            return [{"y": i["x"] * 2} for i in inputs]

    half = create_service_app(Half, config={"LOAD_MODEL": "sync"}).test_client()
    data = encode_binary("FP16", [1.5, 2.0])
    header = json.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "FP16",
                                     "parameters": {"binary_data_size": len(data)}}]}).encode()
    answer = half.post("/v2/models/half/infer", data=header + data,
                       headers={"Inference-Header-Content-Length": str(len(header))})
    assert answer.get_json()["outputs"][0]["data"] == [3.0, 4.0]
    huge = half.post("/v2/models/half/infer", json={"inputs": [
        {"name": "x", "shape": [1], "datatype": "FP64", "data": [int("1" + "0" * 400)]}]})
    assert huge.status_code == 400 and "is not a FP64" in huge.get_json()["error"]


def test_health_routes_are_open_like_healthz():
    locked = make_app(API_KEYS="k1").test_client()
    assert locked.get("/v2/health/live").status_code == 200
    assert locked.get("/v2/health/ready").status_code == 200
    assert locked.get("/v2/models/words").status_code == 401


def test_an_image_output_is_the_files_bytes_in_binary_and_base64_in_json():
    import base64

    from marshmallow import Schema, fields

    from common import Function, create_service_app

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8

    class Painter(Function):
        name = "painter"
        input_schema = Schema.from_dict({"text": fields.String(required=True)})
        output_schema = Schema.from_dict({"image": fields.String(
            required=True, metadata={"format": "byte"})})
        sample_input = {"text": "x"}

        def predict(self, inputs):
            return [{"image": base64.b64encode(png).decode()} for _ in inputs]

    painter = create_service_app(Painter, config={"LOAD_MODEL": "sync"}).test_client()
    request = {"inputs": [tensor("text", ["a"])]}
    as_json = painter.post("/v2/models/painter/infer", json=request).get_json()
    assert base64.b64decode(as_json["outputs"][0]["data"][0]) == png
    binary = painter.post("/v2/models/painter/infer",
                          json={**request, "parameters": {"binary_data_output": True}})
    length = int(binary.headers["Inference-Header-Content-Length"])
    assert decode_binary("BYTES", binary.data[length:], 1) == [png]


def test_absurdly_nested_json_in_a_bytes_element_is_a_400(client):
    body = {"inputs": [tensor("text", ["a"]), tensor("tags", ["[" * 2400 + "]" * 2400])]}
    answer = client.post(INFER, json=body)
    assert answer.status_code == 400 and "nests too deeply" in answer.get_json()["error"]


@pytest.mark.parametrize("body,fragment", [
    ({"parameters": {"a": "ok \ud800"}, "inputs": [tensor("text", ["a"])]}, "Unicode"),
    ({"id": "x" * 60, "parameters": {"k" * 60: 1}, "inputs": [tensor("text", ["a"])]},
     "maximum of 50"),
])
def test_every_string_of_the_request_is_held_to_the_rules(body, fragment):
    small = make_app(MAX_TEXT_LENGTH=50).test_client()
    answer = small.post(INFER, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 400 and fragment in answer.get_json()["error"]


def test_pipe_next_is_refused_on_infer(client):
    answer = client.post(INFER, json={"inputs": [tensor("text", ["a"])]},
                         headers={"X-Pipe-Next": "sentiment"})
    assert answer.status_code == 400 and "X-Pipe-Next" in answer.get_json()["error"]
