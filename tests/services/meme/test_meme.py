"""The meme service: the overlay itself, then the whole service under gunicorn with the
real object_detection and sentiment (or its stand-in until sentiment's model exists)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import requests
from PIL import Image, ImageFont

from common.client import Client
from services.meme import create_app
from services.meme.app import fill_captions
from services.meme.overlay import choose_band, draw_caption, layout, shrink, wrap
from tests.conftest import free_port
from tests.helpers.image_server import scene_bytes
from tests.helpers.bad_images import b64, bad_images
from tests.helpers.vision_stack import vision_stack

CAPTIONS = ["I hate this {object}, it is awful", "Here is a {object}",
            "I love this wonderful {object}!"]


def picture(width=300, height=200) -> Image.Image:
    return Image.new("RGB", (width, height), (90, 140, 200))


def test_wrap_keeps_lines_within_the_width():
    font = ImageFont.load_default(size=20)
    lines = wrap("the quick brown fox jumps over the lazy dog " * 3, font, 150)
    assert len(lines) > 3 and all(font.getlength(line) <= 150 for line in lines
                                  if " " in line)


def test_the_caption_is_drawn_in_its_band_only():
    image = picture()
    for place in ("top", "bottom"):
        meme, plan = draw_caption(image, "Hello there", place)
        changed = np.argwhere(np.any(np.asarray(meme) != np.asarray(image), axis=2))
        top, bottom = plan.band
        assert changed.size and changed[:, 0].min() >= top and changed[:, 0].max() < bottom
        assert (top == 0) == (place == "top")


def test_a_long_caption_gets_a_smaller_font_and_fits():
    short = layout("Hi", 300, 200, "top")
    long = layout("a very long caption that goes on " * 6, 300, 200, "top")
    assert long.font_size < short.font_size
    assert long.band[1] - long.band[0] <= 0.4 * 200 + 1 or long.font_size == 10


def test_the_band_avoids_the_objects():
    upper_object = [(10, 5, 100, 60)]
    assert choose_band(200, 50, upper_object) == "bottom"
    assert choose_band(200, 50, [(10, 150, 100, 195)]) == "top"
    assert choose_band(200, 50, []) == "top"
    assert choose_band(200, 50, upper_object, "top") == "top"


def test_shrink_bounds_the_longer_side():
    assert shrink(picture(3000, 1500), 1024).size == (1024, 512)
    assert shrink(picture(), 1024).size == (300, 200)


def test_the_placeholder_takes_the_best_label():
    assert fill_captions(["a {object}!"], [{"label": "circle"}]) == ["a circle!"]
    assert fill_captions(["a {object}!"], []) == ["a thing!"]


def test_a_peer_that_is_down_is_a_502_naming_it():
    app = create_app({"LOAD_MODEL": "sync"})
    closed = f"http://127.0.0.1:{free_port()}"
    app.extensions["modelchain"].model.client = Client(
        urls={"object_detection": closed, "sentiment": closed}, retries=0)
    response = app.test_client().post("/predict", json={"image": b64(scene_bytes(0)),
                                                        "captions": ["hi"]})
    assert response.status_code == 502
    assert response.get_json()["error"]["details"]["stage"] == "object_detection"


@pytest.mark.parametrize("body,field", [
    ({"captions": []}, "captions"), ({"captions": [""]}, "captions"),
    ({"captions": ["x" * 201]}, "captions"), ({"captions": ["a"], "mood": "angry"}, "mood"),
    ({"captions": ["a"], "position": "middle"}, "position"),
])
def test_bad_options_are_refused(body, field):
    client = create_app({"LOAD_MODEL": "sync"}).test_client()
    response = client.post("/predict", json={"image": b64(scene_bytes(0)), **body})
    assert response.status_code == 400 and field in response.get_json()["error"]["details"]


@pytest.mark.parametrize("case", ["truncated", "huge_header", "one_pixel", "wrong_base64"])
def test_bad_images_are_refused_before_any_call(case):
    client = create_app({"LOAD_MODEL": "sync"}).test_client()
    image, status = bad_images()[case]
    response = client.post("/predict", json={"image": image, "captions": ["a"]})
    assert response.status_code == status


@pytest.fixture(scope="module")
def meme_url(service_pool):
    return vision_stack(service_pool)["meme"]


@pytest.mark.integration
@pytest.mark.parametrize("mood,expected", [("positive", 2), ("negative", 0)])
def test_makes_a_meme_with_the_caption_that_fits_the_mood(meme_url, mood, expected):
    response = requests.post(f"{meme_url}/predict", timeout=60, json={
        "image": b64(scene_bytes(600)), "captions": CAPTIONS, "mood": mood})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    label = result["detections"][0]["label"] if result["detections"] else "thing"
    assert result["caption"] == CAPTIONS[expected].replace("{object}", label)
    assert [r["text"] for r in result["ranking"]][0] == result["caption"]
    meme = Image.open(io.BytesIO(base64.b64decode(result["image"])))
    assert meme.format == "PNG" and meme.size == (result["width"], result["height"])
    original = Image.open(io.BytesIO(scene_bytes(600))).convert("RGB")
    assert meme.size == original.size
    assert not np.array_equal(np.asarray(meme.convert("RGB")), np.asarray(original))


@pytest.mark.integration
def test_a_meme_batch_and_a_forced_position(meme_url):
    body = {"image": b64(scene_bytes(601)), "captions": ["Nice {object}"], "position": "bottom"}
    result = requests.post(f"{meme_url}/predict", json=[body, body], timeout=60).json()["result"]
    assert [r["placement"] for r in result] == ["bottom", "bottom"]
    assert result[0]["image"] == result[1]["image"]


def test_an_image_a_called_service_refuses_fails_alone():
    """A batch of two: object_detection refuses the first image; the second is a meme."""
    from marshmallow import Schema, fields

    from common import Failed, Function, InvalidInput, create_service_app
    from tests.helpers.vader_sentiment import create_app as vader_app

    class PickyDetector(Function):
        name = "object_detection"
        input_schema = Schema.from_dict({"image": fields.String(required=True),
                                         "min_score": fields.Float()})
        output_schema = Schema.from_dict({"detections": fields.List(fields.Dict())})
        sample_input = {"image": "x"}

        def predict(self, inputs):
            if any(i.get("min_score", 0) > 0.9 for i in inputs):
                raise InvalidInput("Too strict.", {"min_score": ["Too strict."]})
            return [{"detections": []} for _ in inputs]

    meme = create_app({"LOAD_MODEL": "sync"}).extensions["modelchain"].model
    meme.client = Client(urls={}, local={
        "object_detection": create_service_app(PickyDetector, config={
            "LOAD_MODEL": "sync", "MAX_TEXT_LENGTH": 10_000_000}),
        "sentiment": vader_app({"LOAD_MODEL": "sync"})})
    png = scene_bytes(1)
    refused, made = meme.predict([
        {"image": png, "captions": ["A {object}"], "mood": "positive", "position": "auto",
         "min_score": 0.95},
        {"image": png, "captions": ["A lovely {object}"], "mood": "positive",
         "position": "auto", "min_score": 0.5}])
    assert isinstance(refused, Failed) and refused.error.service == "object_detection"
    assert made["caption"] == "A lovely thing" and made["detections"] == []
