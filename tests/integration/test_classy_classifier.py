"""The Classy chain to its last stage, downloader -> image_preprocessor ->
image_classifier, on real gunicorn services: client sequencing, hybrid X-Pipe-Next and
the server-sequenced pipeline (services/image_classifier/classy.yaml) give the same
labels, the Open Inference Protocol takes the FP32 tensor itself, and a bad item stays
that item's failure through every hop.

The images are one-shape scenes of the other generator (the classifier's evaluation
set, never trained on), served by a local HTTP server on 127.0.0.1.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from common.client import Client
from common.media.scenes import LABELS
from services.image_classifier.data import label_of, other_scene
from services.image_classifier.recipe import RECIPE, from_image
from tests.helpers.image_server import image_server
from tests.helpers.vision_stack import vision_stack

pytestmark = pytest.mark.integration

IMAGES = (730, 731, 732, 733, 734, 735)
CHAIN = ["image_preprocessor[image]", "image_classifier"]


@pytest.fixture(scope="module")
def stack(service_pool):
    return vision_stack(service_pool)


@pytest.fixture
def client(stack):
    return Client(urls=stack, timeout=60)


def urls(indices=IMAGES) -> list[dict]:
    return [{"url": image_server().url(f"/single/{i}.png")} for i in indices]


def by_client(client, inputs):
    """The client calls each stage itself, asking the preprocessor for the VGG recipe."""
    downloaded = client.algo("downloader").pipe(inputs).result
    tensors = client.algo("image_preprocessor").pipe(
        [{"image": d["image"], **RECIPE} for d in downloaded]).result
    return client.algo("image_classifier").pipe(tensors).result


def same_answers(first: list[dict], second: list[dict]) -> None:
    for a, b in zip(first, second, strict=True):
        assert a["label"] == b["label"]
        assert all(abs(a["scores"][k] - b["scores"][k]) <= 2e-3 for k in LABELS)


def test_the_three_sequencing_patterns_give_the_same_labels(client):
    inputs = urls()
    client_side = by_client(client, inputs)
    hybrid = client.algo("downloader").pipe(inputs, next=CHAIN).result
    server_side = client.algo("classy_classifier").pipe(inputs).result
    same_answers(client_side, hybrid)
    same_answers(client_side, server_side)
    truth = [LABELS[label_of(other_scene(i))] for i in IMAGES]
    right = sum(a["label"] == t for a, t in zip(client_side, truth))
    assert right >= len(IMAGES) - 1, (truth, client_side)


def test_single_inputs_report_their_hops_and_steps(client):
    one = urls(IMAGES[:1])[0]
    hybrid = client.algo("downloader").pipe(one, next=CHAIN)
    server = client.algo("classy_classifier").pipe(one)
    same_answers([hybrid.result], [server.result])
    names = ["downloader", "image_preprocessor", "image_classifier"]
    assert [h["service"] for h in hybrid.metadata["hops"]] == names
    assert [s["service"] for s in server.metadata["steps"]] == names


def test_the_pipeline_publishes_the_classifier_output(stack):
    meta = requests.get(f"{stack['classy_classifier']}/metadata", timeout=10).json()
    assert [s["service"] for s in meta["pipeline"]["steps"]] == [
        "downloader", "image_preprocessor", "image_classifier"]
    classifier = requests.get(f"{stack['image_classifier']}/metadata", timeout=10).json()
    assert classifier["preprocessing"]["request"]["channel_order"] == "BGR"


def test_a_bad_item_fails_alone_through_every_hop(client, stack):
    # the downloader fetches the tiny PNG; the preprocessor refuses it (under 8 pixels)
    inputs = [urls(IMAGES[:1])[0], {"url": image_server().url("/tiny.png")}]
    for response in (
            requests.post(f"{stack['downloader']}/predict", json=inputs, timeout=60,
                          headers={"X-Pipe-Next": ", ".join(CHAIN)}),
            requests.post(f"{stack['classy_classifier']}/predict", json=inputs, timeout=60)):
        body = response.json()
        assert response.status_code == 200, body
        assert body["result"][0]["label"] in LABELS and body["result"][1] is None
        assert body["metadata"]["errors"]["1"]["stage"] == "image_preprocessor"


def native_batch(indices) -> np.ndarray:
    """The VGG-recipe tensors of the images, made here as the preprocessor makes them."""
    return np.stack([from_image(other_scene(i).image) for i in indices])


def test_the_open_inference_protocol_takes_fp32_tensors(client, stack):
    expected = by_client(client, urls())
    batch = native_batch(IMAGES).astype("<f4")
    raw = batch.tobytes()
    header = json.dumps({"inputs": [{"name": "tensor", "datatype": "FP32",
                                     "shape": list(batch.shape),
                                     "parameters": {"binary_data_size": len(raw)}}]}).encode()
    response = requests.post(
        f"{stack['image_classifier']}/v2/models/image_classifier/infer", data=header + raw,
        headers={"Inference-Header-Content-Length": str(len(header)),
                 "Content-Type": "application/octet-stream"}, timeout=60)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["label"]["data"] == [e["label"] for e in expected]
    scores = [json.loads(s) for s in outputs["scores"]["data"]]
    same_answers(expected, [{"label": l, "scores": s}
                            for l, s in zip(outputs["label"]["data"], scores)])


def test_the_open_inference_protocol_takes_json_data_and_states_the_tensor(stack):
    base = f"{stack['image_classifier']}/v2/models/image_classifier"
    model = requests.get(base, timeout=10).json()
    assert {"name": "tensor", "datatype": "FP32", "shape": [-1, 224, 224, 3]} in model["inputs"]
    one = native_batch(IMAGES[:1])
    body = {"inputs": [{"name": "tensor", "datatype": "FP32", "shape": [1, 224, 224, 3],
                        "data": one.reshape(-1).tolist()}]}
    response = requests.post(f"{base}/infer", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"][0] in LABELS


@pytest.mark.parametrize("tensor, message", [
    ({"datatype": "FP64", "shape": [1, 224, 224, 3], "data": [0.0]}, "FP32"),
    ({"datatype": "FP32", "shape": [1, 112, 112, 3], "data": [0.0] * 37632}, "shape"),
    ({"datatype": "FP32", "shape": [1, 224, 224, 3], "data": [0.0] * 10}, "numbers"),
    ({"datatype": "FP32", "shape": [9, 224, 224, 3], "data": [0.0]}, "batch"),
], ids=["fp64", "wrong-shape", "too-few", "over-the-batch-limit"])
def test_the_open_inference_protocol_refuses_bad_tensors(stack, tensor, message):
    response = requests.post(
        f"{stack['image_classifier']}/v2/models/image_classifier/infer",
        json={"inputs": [{"name": "tensor", **tensor}]}, timeout=30)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
