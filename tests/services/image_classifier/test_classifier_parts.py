"""The classifier's parts: its data, its recipe arithmetic against image_preprocessor's,
and the exported signature."""
from __future__ import annotations

import numpy as np
import pytest

from common.media.images import sample_image
from common.media.scenes import LABELS
from services.image_classifier import data, recipe
from services.image_classifier.network import block_average
from services.image_preprocessor.preprocess import Recipe, preprocess


def test_scenes_hold_one_shape_and_are_reproducible():
    for index in range(20):
        drawn = data.scene("train", index)
        assert len(drawn.shapes) == 1 and drawn.shapes[0].label in LABELS
        other = data.other_scene(index)
        assert len(other.shapes) == 1 and other.shapes[0].label in LABELS
    again = data.scene("test", 3)
    assert np.array_equal(np.asarray(again.image), np.asarray(data.scene("test", 3).image))
    assert not np.array_equal(np.asarray(data.scene("train", 3).image),
                              np.asarray(data.scene("test", 3).image))


def test_the_native_tensor_is_what_the_preprocessor_makes_with_the_recipe():
    made = preprocess(sample_image(), Recipe(scale=1.0, mean=recipe.VGG_MEAN_RGB,
                                             channel_order="BGR")).array
    assert np.array_equal(made, recipe.from_image(sample_image()))
    assert made.shape == recipe.SHAPE and made.dtype == np.float32


@pytest.mark.parametrize("other", [
    Recipe(), Recipe(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    Recipe(scale=1 / 127.5, mean=(1.0, 1.0, 1.0), channel_order="BGR"),
    Recipe(layout="CHW", batch_dim=True)])
def test_another_recipe_is_converted_exactly(other):
    tensor = preprocess(sample_image(), other).array
    fields = {"scale": other.scale, "mean": list(other.mean), "std": list(other.std),
              "channel_order": other.channel_order, "layout": other.layout,
              "batch_dim": other.batch_dim}
    converted = recipe.to_native(tensor, fields)
    assert np.allclose(converted, recipe.from_image(sample_image()), atol=1e-3)


def test_block_average_is_the_serving_functions_pooling():
    import tensorflow as tf
    pixels = np.random.default_rng(0).integers(0, 256, (224, 224, 3)).astype(np.uint8)
    pooled = tf.nn.avg_pool2d(tf.constant(pixels[None], tf.float32), 4, 4, "VALID")[0]
    assert np.allclose(block_average(pixels), pooled.numpy(), atol=1e-3)


def test_the_export_takes_a_batch_of_native_tensors(tmp_path):
    from services.image_classifier.classifier import Classifier
    from services.image_classifier.network import build_network, export
    export(build_network(), str(tmp_path))
    scores = Classifier.load(tmp_path).scores(np.zeros((3, 224, 224, 3), np.float32))
    assert scores.shape == (3, len(LABELS))
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
