"""The image_classifier service with the real shipped model: it takes exactly what
image_preprocessor emits (either encoding, the VGG recipe or another recipe it is told
of), labels shapes of the other generator, states its recipe, and refuses bad tensors
with a 400 that names the field and the item."""
from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from common.media.images import sample_image
from services.image_classifier import create_app
from services.image_classifier.data import label_of, other_scene
from services.image_classifier.recipe import RECIPE, SHAPE
from services.image_preprocessor.preprocess import Recipe, encode_tensor, preprocess
from common.media.scenes import LABELS

#: One-shape images of the other generator beyond the 500 that evaluate.py scores.
IMAGES = range(700, 716)
VGG = Recipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in RECIPE.items()})


@pytest.fixture(scope="module")
def client():
    return create_app({"LOAD_MODEL": "sync"}).test_client()


def tensor_item(image, recipe: Recipe = VGG, encoding: str = "base64", echo: bool = False):
    """What image_preprocessor answers for ``image`` and ``recipe`` (its fields)."""
    array = preprocess(image, recipe).array
    item = {"tensor": encode_tensor(array) if encoding == "base64" else array.tolist(),
            "encoding": encoding, "dtype": "float32", "shape": list(array.shape)}
    if echo:
        item["recipe"] = {"width": recipe.width, "height": recipe.height,
                          "resize": recipe.resize, "scale": recipe.scale,
                          "mean": list(recipe.mean), "std": list(recipe.std),
                          "channel_order": recipe.channel_order, "layout": recipe.layout,
                          "batch_dim": recipe.batch_dim}
    return item


def test_it_labels_shapes_of_the_other_generator(client):
    drawn = [other_scene(i) for i in IMAGES]
    answers = []
    for start in (0, 8):  # the batch limit is 8
        batch = [tensor_item(s.image) for s in drawn[start:start + 8]]
        answers += client.post("/predict", json=batch).get_json()["result"]
    right = sum(a["label"] == LABELS[label_of(s)] for a, s in zip(answers, drawn))
    assert right >= 13, [(a["label"], LABELS[label_of(s)]) for a, s in zip(answers, drawn)]
    for answer in answers:
        assert set(answer["scores"]) == set(LABELS)
        assert math.isclose(sum(answer["scores"].values()), 1.0, abs_tol=2e-3)
        assert answer["label"] == max(answer["scores"], key=answer["scores"].get)


@pytest.mark.parametrize("recipe", [
    Recipe(),                                                     # the preprocessor's defaults
    Recipe(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),  # torchvision's
    Recipe(scale=1 / 127.5, mean=(1.0, 1.0, 1.0), layout="CHW", batch_dim=True),
], ids=["defaults", "imagenet", "chw-batch"])
def test_another_recipe_it_is_told_of_gives_the_same_answer(client, recipe):
    image = other_scene(720).image
    native = client.post("/predict", json=tensor_item(image)).get_json()["result"]
    other = client.post("/predict", json=tensor_item(image, recipe, echo=True)).get_json()
    assert other["result"]["label"] == native["label"]
    for label in LABELS:
        assert other["result"]["scores"][label] == pytest.approx(native["scores"][label],
                                                                 abs=2e-3)


def test_the_list_encoding_and_a_whole_preprocessor_answer_are_taken(client):
    image = other_scene(721).image
    native = client.post("/predict", json=tensor_item(image)).get_json()["result"]
    listed = tensor_item(image, encoding="list")
    whole = {**tensor_item(image, echo=True), "byte_order": "little", "original_width": 9,
             "original_height": 9, "scale_x": 1.0, "scale_y": 1.0, "offset_x": 0.0,
             "offset_y": 0.0}
    for body in (listed, whole):
        assert client.post("/predict", json=body).get_json()["result"] == native


def test_a_tensor_of_another_size_is_stretched_to_224(client):
    image = other_scene(722).image
    native = client.post("/predict", json=tensor_item(image)).get_json()["result"]
    small = client.post("/predict", json=tensor_item(
        image, Recipe(**{**VGG.__dict__, "width": 160, "height": 120}))).get_json()
    assert small["result"]["label"] == native["label"]


def test_the_published_sample_is_small_and_accepted(client):
    meta = client.get("/metadata").get_json()
    assert len(meta["sample_input"]["tensor"]) < 4000
    answer = client.post("/predict", json=meta["sample_input"])
    assert answer.status_code == 200 and answer.get_json()["result"]["label"] in LABELS


def test_metadata_states_the_preprocessing_recipe(client):
    meta = client.get("/metadata").get_json()
    recipe = meta["preprocessing"]
    assert recipe["service"] == "image_preprocessor"
    assert recipe["request"]["channel_order"] == "BGR" and recipe["request"]["scale"] == 1.0
    assert recipe["request"]["mean"] == [123.68, 116.779, 103.939]
    assert recipe["tensor"] == {"shape": [224, 224, 3], "dtype": "float32",
                                "encodings": ["base64", "list"]}
    assert recipe["labels"] == list(LABELS)


def good() -> dict:
    return tensor_item(sample_image())


def _b64(n_bytes: int) -> str:
    return base64.b64encode(b"\0" * n_bytes).decode()


BAD = {
    "no tensor": ({"shape": [224, 224, 3]}, "tensor"),
    "not base64": ({"tensor": "%%%notbase64", "shape": [224, 224, 3]}, "tensor"),
    "wrong byte count": ({"tensor": _b64(100), "shape": [224, 224, 3]}, "tensor"),
    "four channels": ({"tensor": _b64(4 * 112 * 112 * 4), "shape": [112, 112, 4]}, "shape"),
    "under 8x8": ({"tensor": _b64(4 * 4 * 112 * 3), "shape": [4, 112, 3]}, "shape"),
    "float64": ({**good(), "dtype": "float64"}, "dtype"),
    "big endian": ({**good(), "byte_order": "big"}, "byte_order"),
    "list said, string given": ({**good(), "encoding": "list"}, "tensor"),
    "ragged list": ({"tensor": [[1.0, 2.0], [3.0]]}, "tensor"),
    "words in the list": ({"tensor": [["a"] * 3] * 2}, "tensor"),
    "a small list": ({"tensor": [[[0.0] * 3] * 4] * 4}, "shape"),
    "negative shape": ({"tensor": _b64(12), "shape": [-1, 1, 3]}, "shape"),
    "std of 0": ({**good(), "recipe": {"std": [1.0, 0.0, 1.0]}}, "recipe"),
    "scale of 0": ({**good(), "recipe": {"scale": 0.0}}, "recipe"),
    "bad channel order": ({**good(), "recipe": {"channel_order": "GBR"}}, "recipe"),
    "unknown field": ({**good(), "colour": "red"}, "colour"),
}


@pytest.mark.parametrize("body, field", BAD.values(), ids=BAD.keys())
def test_bad_tensors_are_a_400_naming_the_field(client, body, field):
    response = client.post("/predict", json=body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert field in error["message"] or field in str(error["details"]), error


def test_a_nan_is_refused():
    array = np.zeros(SHAPE, np.float32)
    array[3, 4, 1] = np.nan
    app = create_app({"LOAD_MODEL": "sync"})
    response = app.test_client().post("/predict", json={"tensor": encode_tensor(array)})
    assert response.status_code == 400
    assert "NaN" in response.get_json()["error"]["message"]


def test_a_bad_item_of_a_batch_is_named(client):
    response = client.post("/predict", json=[good(), {"tensor": "%%%", "shape": [224, 224, 3]}])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "items[1]" in error["message"] or "1" in str(error["details"]), error
