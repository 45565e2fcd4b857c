"""The object_detection service with the real shipped model: what it finds in generated
scenes, its answer's format, URLs, bad images, and any OD API SavedModel dropped in."""
from __future__ import annotations

import pytest
import requests

from services.object_detection import create_app
from services.object_detection.shapes import iou, scene
from tests.conftest import free_port
from tests.helpers.image_server import image_server, scene_bytes
from tests.helpers.bad_images import b64, bad_images
from tests.helpers.vision_stack import vision_stack

#: Test scenes beyond the 500 that evaluate.py scores (8: the service's batch limit).
SCENES = range(600, 608)
#: The domain-randomised test scenes are hard (overlap, outlines, many small shapes,
#: any colour; held-out mAP@0.5 0.80): the floor below sits well under what the shipped
#: model finds at min_score 0.3, so a retrained model need not match it object by object.
FOUND_AT_0_3 = 0.6


@pytest.fixture(scope="module")
def client():
    app = create_app({"LOAD_MODEL": "sync", "ALLOW_LIST": image_server().allow_rule})
    return app.test_client()


def found_objects(answer: dict, index: int) -> tuple[int, int]:
    """(objects of scene ``index`` found with the right label and IoU >= 0.5, objects)."""
    truth = scene("test", index).shapes
    boxes = [(d["label"], (d["box_pixels"]["left"], d["box_pixels"]["top"],
                           d["box_pixels"]["right"], d["box_pixels"]["bottom"]))
             for d in answer["detections"]]
    hits = sum(any(label == s.label and iou(box, s.box) >= 0.5 for label, box in boxes)
               for s in truth)
    return hits, len(truth)


def test_finds_the_objects_of_generated_scenes(client):
    batch = [{"image": b64(scene_bytes(i)), "min_score": 0.3} for i in SCENES]
    answer = client.post("/predict", json=batch).get_json()
    counts = [found_objects(a, i) for a, i in zip(answer["result"], SCENES)]
    hits, total = sum(c[0] for c in counts), sum(c[1] for c in counts)
    assert hits >= FOUND_AT_0_3 * total, counts


def test_the_answer_format(client):
    image = scene("test", 600).image
    result = client.post("/predict", json={"image": b64(scene_bytes(600)),
                                           "min_score": 0.3}).get_json()["result"]
    assert (result["width"], result["height"]) == image.size
    scores = [d["score"] for d in result["detections"]]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.3
    for d in result["detections"]:
        box, pixels = d["box"], d["box_pixels"]
        assert 0 <= box["xmin"] < box["xmax"] <= 1 and 0 <= box["ymin"] < box["ymax"] <= 1
        assert pixels["left"] == round(box["xmin"] * image.width)
        assert pixels["bottom"] == round(box["ymax"] * image.height)
        assert d["label"] in ("circle", "square", "triangle") and 1 <= d["class_id"] <= 3


def test_min_score_and_max_detections_filter(client):
    body = {"image": b64(scene_bytes(601))}
    everything = client.post("/predict", json={**body, "min_score": 0.0}).get_json()["result"]
    strict = client.post("/predict", json={**body, "min_score": 0.9}).get_json()["result"]
    one = client.post("/predict", json={**body, "min_score": 0.0,
                                        "max_detections": 1}).get_json()["result"]
    assert len(everything["detections"]) >= len(strict["detections"])
    assert one["detections"] == everything["detections"][:1]


def test_jpeg_gif_and_a_data_url_are_read(client):
    for extension in ("png", "jpg", "gif"):
        answer = client.post("/predict", json={"image": b64(scene_bytes(611, extension))})
        assert found_objects(answer.get_json()["result"], 611) == (1, 1), extension
    png = client.post("/predict", json={"image": b64(scene_bytes(611))}).get_json()["result"]
    data_url = "data:image/png;base64," + b64(scene_bytes(611))
    assert client.post("/predict", json={"image": data_url}).get_json()["result"] == png


def test_a_url_is_fetched_with_the_downloaders_checks(client):
    server = image_server()
    by_url = client.post("/predict", json={"url": server.url("/scene/603.png")}).get_json()
    by_image = client.post("/predict", json={"image": b64(scene_bytes(603))}).get_json()
    assert by_url["result"] == by_image["result"]
    refused = client.post("/predict", json={"url": f"http://127.0.0.1:{free_port()}/a.png"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["details"]["reason"] == "loopback"
    metadata = client.post("/predict", json={"url": "http://169.254.169.254/latest/"})
    assert metadata.get_json()["error"]["details"]["reason"] == "metadata"


@pytest.mark.parametrize("body", [{}, {"image": b64(b"x"), "url": "http://a.b/c.png"},
                                  {"url": "ftp://a.b/c.png"}, {"image": 42},
                                  {"image": "aGk=", "min_score": 2}])
def test_bad_requests_are_400_naming_the_field(client, body):
    response = client.post("/predict", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]


@pytest.mark.parametrize("case", sorted(bad_images()))
def test_bad_images_are_refused_cleanly(client, case):
    image, status = bad_images()[case]
    response = client.post("/predict", json={"image": image})
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["message"]


def test_a_bad_image_in_a_batch_is_named(client):
    response = client.post("/predict", json=[{"image": b64(scene_bytes(0))},
                                             {"image": bad_images()["truncated"][0]}])
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("items[1].image")


def test_any_od_api_saved_model_can_be_served(tmp_path):
    """A model zoo style detector (more outputs, a label map with display names) is
    served unchanged: the service reads only the API's signature and label map."""
    import tensorflow as tf

    class ZooLike(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                                    name="input_tensor")])
        def serve(self, input_tensor):
            boxes = tf.constant([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0],
                                  [0.0, 0.0, 0.0, 0.0]]])
            return {"detection_boxes": boxes,
                    "detection_scores": tf.constant([[0.9, 0.4, 0.0]]),
                    "detection_classes": tf.constant([[18.0, 1.0, 0.0]]),
                    "num_detections": tf.constant([2.0]),
                    "raw_detection_scores": tf.zeros([1, 3, 90])}

    module = ZooLike()
    tf.saved_model.save(module, str(tmp_path / "saved_model"),
                        signatures={"serving_default": module.serve})
    (tmp_path / "labels.pbtxt").write_text(
        'item { name: "/m/01g317" id: 1 display_name: "person" }\n'
        'item { name: "/m/0bt9lr" id: 18 display_name: "dog" }\n')
    app = create_app({"LOAD_MODEL": "sync", "MODEL_DIR": str(tmp_path / "saved_model"),
                      "LABEL_MAP": str(tmp_path / "labels.pbtxt")})
    result = app.test_client().post("/predict", json={
        "image": b64(scene_bytes(0)), "min_score": 0.3}).get_json()["result"]
    assert [(d["label"], d["class_id"]) for d in result["detections"]] == [("dog", 18),
                                                                          ("person", 1)]
    width, height = result["width"], result["height"]
    assert result["detections"][0]["box_pixels"] == {
        "left": round(0.2 * width), "top": round(0.1 * height),
        "right": round(0.6 * width), "bottom": round(0.5 * height)}


def test_a_saved_model_without_the_signature_does_not_load(tmp_path):
    import tensorflow as tf

    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x}

    module = Other()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    app = create_app({"LOAD_MODEL": "sync", "MODEL_DIR": str(tmp_path)})
    response = app.test_client().post("/predict", json={"image": b64(scene_bytes(0))})
    assert response.status_code == 503
    assert response.get_json()["error"]["details"]["load_error"] in ("ValueError",
                                                                     "FileNotFoundError")


@pytest.mark.integration
def test_served_by_gunicorn(service_pool):
    url = vision_stack(service_pool)["object_detection"]
    meta = requests.get(f"{url}/metadata", timeout=5).json()
    assert meta["limits"]["max_text_length"] >= 16 * 1024 * 1024
    assert set(meta["input_schema"]["properties"]) >= {"image", "url", "min_score"}
    answer = requests.post(f"{url}/predict", timeout=30,
                           json=[{"image": b64(scene_bytes(i)), "min_score": 0.3}
                                 for i in SCENES]).json()
    counts = [found_objects(a, i) for a, i in zip(answer["result"], SCENES)]
    assert sum(c[0] for c in counts) >= FOUND_AT_0_3 * sum(c[1] for c in counts), counts
    bomb = requests.post(f"{url}/predict", json={"image": bad_images()["huge_header"][0]},
                         timeout=10)
    assert bomb.status_code == 413 and bomb.json()["error"]["code"] == "payload_too_large"
