"""The Classy chain, downloader -> object_detection (or image_preprocessor), on real
gunicorn services: client, server and hybrid sequencing give the same answers.

The images come from a local HTTP server on 127.0.0.1; the downloader is allowed to
fetch from that server's address and port only (``DOWNLOADER_ALLOW_LIST``).
"""
from __future__ import annotations

import pytest
import requests

from common.client import Client
from common.core.errors import InvalidInput
from services.object_detection.shapes import iou, scene
from tests.helpers.image_server import image_server
from tests.helpers.vision_stack import vision_stack

pytestmark = pytest.mark.integration

SCENES = (610, 611, 612)


@pytest.fixture(scope="module")
def stack(service_pool):
    return vision_stack(service_pool)


@pytest.fixture
def client(stack):
    return Client(urls=stack, timeout=30)


def urls(indices=SCENES) -> list[dict]:
    return [{"url": image_server().url(f"/scene/{i}.png")} for i in indices]


def by_client(client, inputs):
    downloaded = client.algo("downloader").pipe(inputs).result
    return client.algo("object_detection").pipe(
        [{"image": d["image"]} for d in downloaded]).result


def test_the_three_sequencing_patterns_give_the_same_detections(client):
    inputs = urls()
    client_side = by_client(client, inputs)
    server_side = client.algo("classy").pipe(inputs).result
    hybrid = client.algo("downloader").pipe(inputs, next=["object_detection[image]"]).result
    assert client_side == server_side == hybrid
    for answer, index in zip(client_side, SCENES):
        truth = scene("test", index).shapes
        found = [(d["label"], tuple(d["box_pixels"][k] for k in ("left", "top", "right",
                                                                   "bottom")))
                 for d in answer["detections"]]
        hits = sum(any(l == s.label and iou(b, s.box) >= 0.5 for l, b in found) for s in truth)
        assert hits >= len(truth) - 1, (index, found, truth)


def test_single_inputs_agree_and_report_their_hops(client):
    one = urls(SCENES[:1])[0]
    hybrid = client.algo("downloader").pipe(one, next=["object_detection[image]"])
    server = client.algo("classy").pipe(one)
    assert hybrid.result == server.result == by_client(client, [one])[0]
    assert [h["service"] for h in hybrid.metadata["hops"]] == ["downloader",
                                                               "object_detection"]
    assert [s["service"] for s in server.metadata["steps"]] == ["downloader",
                                                               "object_detection"]


def test_hybrid_sequencing_over_plain_http(stack):
    response = requests.post(f"{stack['downloader']}/predict", json=urls(SCENES[:1])[0],
                             headers={"X-Pipe-Next": "object_detection[image]"}, timeout=30)
    assert response.status_code == 200
    assert set(response.json()["result"]) == {"width", "height", "detections"}


def test_the_preprocessor_chain_agrees_too(client):
    inputs = urls(SCENES[:2])
    downloaded = client.algo("downloader").pipe(inputs).result
    client_side = client.algo("image_preprocessor").pipe(
        [{"image": d["image"]} for d in downloaded]).result
    hybrid = client.algo("downloader").pipe(inputs, next=["image_preprocessor[image]"]).result
    assert client_side == hybrid
    assert hybrid[0]["shape"] == [224, 224, 3]


def test_object_detection_fetches_a_url_itself_with_the_same_result(client):
    one = urls(SCENES[:1])[0]
    assert client.algo("object_detection").pipe(one).result == by_client(client, [one])[0]


def test_a_refused_url_stops_the_chain_with_the_reason(client):
    server = image_server()
    for target, reason in (("http://127.0.0.1:9/x.png", "loopback"),
                           ("http://169.254.169.254/latest/", "metadata")):
        bad = {"url": server.url(f"/redirect?to={target}")}
        with pytest.raises(InvalidInput) as caught:
            client.algo("downloader").pipe(bad, next=["object_detection[image]"])
        assert caught.value.details["reason"] == reason
