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
