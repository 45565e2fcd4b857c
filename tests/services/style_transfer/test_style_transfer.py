"""The style_transfer service under gunicorn (the committed artifact), and its training
code on a tiny run."""
from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from services.style_transfer import train
from tests.helpers.bad_images import b64 as b64_bytes
from tests.helpers.videos import from_png, moving_disc, png_frames


@pytest.fixture(scope="module")
def url(live_services):
    return live_services("style_transfer")["style_transfer"]


def test_a_batch_of_mixed_sizes_comes_back_styled_in_order(url):
    frames = moving_disc(2, 64, 48) + moving_disc(1, 40, 32)
    answer = requests.post(f"{url}/predict", json=[{"image": p} for p in png_frames(frames)],
                           timeout=60)
    assert answer.status_code == 200, answer.text
    results = answer.json()["result"]
    assert [(r["width"], r["height"]) for r in results] == [(64, 48), (64, 48), (40, 32)]
    styled = [from_png(r["image"]) for r in results]
    assert all(s.shape == f.shape for s, f in zip(styled, frames))
    assert all(np.abs(s.astype(int) - f).mean() > 10 for s, f in zip(styled, frames))
    # batched or alone, a frame gets the same output
    alone = requests.post(f"{url}/predict", json={"image": png_frames(frames[1:2])[0]},
                          timeout=60).json()["result"]
    assert np.array_equal(from_png(alone["image"]), styled[1])


@pytest.mark.parametrize("body, field", [({"image": b64_bytes(b"not an image")}, None),
                                         ({}, "image"), ({"image": ""}, "image")])
def test_bad_images_are_400s(url, body, field):
    answer = requests.post(f"{url}/predict", json=body, timeout=30)
    assert answer.status_code == 400
    if field:
        assert field in answer.json()["error"]["details"]


def test_the_generated_images_are_fixed_by_their_seeds():
    assert np.array_equal(np.asarray(train.make_style_image(3, 64)),
                          np.asarray(train.make_style_image(3, 64)))
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert np.array_equal(np.asarray(train.make_content_image(rng_a, 32)),
                          np.asarray(train.make_content_image(rng_b, 32)))


def test_a_tiny_training_run_exports_a_servable_model(tmp_path):
    import tensorflow as tf
    config = train.TrainConfig(steps=2, size=32, batch_size=2, width=4, max_minutes=2)
    meta = train.train(config, tmp_path, None, None)
    assert meta["steps_done"] == 2 and (tmp_path / "style.png").exists()
    serve = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    out = serve(images=tf.constant(np.zeros((1, 21, 30, 3), np.uint8)))["images"]
    assert out.shape == (1, 21, 30, 3) and out.dtype == tf.uint8
    assert json.loads((tmp_path / "meta.json").read_text())["config"]["seed"] == 7
