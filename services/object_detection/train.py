"""Train the shipped shape detector on generated scenes and export it as a SavedModel
with the TF Object Detection API's signature.

    python -m services.object_detection.train [--out services/object_detection/artifacts]
        [--scenes 15000] [--epochs 100] [--max-minutes 28] [--batch-size 32]

Writes ``<out>/model/`` (the SavedModel), ``<out>/label_map.pbtxt`` and
``<out>/meta.json`` (settings, timings, losses and the mAP@0.5 of evaluate.py on a
held-out set, measured through the exported artifact). Training stops early when
``--max-minutes`` is reached, so a run on a busy two-core machine stays bounded.

TensorFlow is imported inside functions only: tests import this module.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.training import config_main, empty_dir, fit_within

from . import shapes
from .label_map import format_label_map
from .network import (INPUT_SIZE, NUM_CLASSES, build_network, detection_loss, export,
                      targets)

DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"


@dataclass
class TrainConfig:
    """Everything that determines a trained detector."""

    scenes: int = 15000
    validation_scenes: int = 300
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 3e-3
    max_minutes: float = 28.0
    eval_scenes: int = 300


def encode_scenes(split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Letterboxed uint8 images [N, 128, 128, 3] and targets of a split's first scenes."""
    import tensorflow as tf
    boxer = tf.function(_letterbox_uint8, input_signature=[
        tf.TensorSpec([None, None, 3], tf.uint8)])
    images = np.zeros((count, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    labels = []
    for index in range(count):
        scene = shapes.scene(split, index)
        image, new_h, new_w = boxer(np.asarray(scene.image))
        images[index] = image.numpy()
        labels.append(targets(scene, int(new_h), int(new_w)))
    return images, np.stack(labels)


def _letterbox_uint8(image):
    import tensorflow as tf

    from .network import letterbox
    boxed, new_h, new_w = letterbox(image)
    return tf.cast(tf.round(boxed * 255.0), tf.uint8), new_h, new_w


def train(config: TrainConfig) -> tuple[object, dict]:
    """Train a network; returns it and the training history summary."""
    import keras
    keras.utils.set_random_seed(0)
    started = time.monotonic()
    x, y = encode_scenes("train", config.scenes)
    xv, yv = encode_scenes("validation", config.validation_scenes)
    network = build_network()
    network.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=detection_loss)
    # each batch is turned by one of the square's eight symmetries (dihedral)
    summary = fit_within(network, (x, y), (xv, yv), augment=dihedral, config=config,
                         started=started, reserve_s=EXPORT_RESERVE_S, floor=0.05)
    return network, summary


#: Target channels after the heat maps: width, height, offset x, offset y, mask.
_W, _H, _OX, _OY, _MASK = (NUM_CLASSES + k for k in range(5))


def dihedral(images, targets):
    """A random flip of rows, of columns, and transposition of a batch of letterboxed
    images [B, 128, 128, 3] and their targets [B, GRID, GRID, C], applied to both alike
    (a flip mirrors a centre's offset in its cell; a transposition swaps width and
    height, and the offsets). Eight times the scenes, for nothing."""
    import tensorflow as tf
    draws = tf.random.uniform([3], seed=7) < 0.5
    images, targets = _maybe(draws[0], _flip, images, targets, 1, _OY)
    images, targets = _maybe(draws[1], _flip, images, targets, 2, _OX)
    return _maybe(draws[2], _transpose, images, targets)


def _maybe(draw, function, images, targets, *args):
    import tensorflow as tf
    return tf.cond(draw, lambda: function(images, targets, *args), lambda: (images, targets))


def _flip(images, targets, axis: int, offset: int):
    import tensorflow as tf
    images, targets = tf.reverse(images, [axis]), tf.reverse(targets, [axis])
    mirrored = targets[..., _MASK] * (1.0 - targets[..., offset])
    channels = tf.unstack(targets, axis=-1)
    channels[offset] = mirrored
    return images, tf.stack(channels, axis=-1)


def _transpose(images, targets):
    import tensorflow as tf
    images = tf.transpose(images, [0, 2, 1, 3])
    channels = tf.unstack(tf.transpose(targets, [0, 2, 1, 3]), axis=-1)
    channels[_W], channels[_H] = channels[_H], channels[_W]
    channels[_OX], channels[_OY] = channels[_OY], channels[_OX]
    return images, tf.stack(channels, axis=-1)


#: Seconds kept for export and evaluation at the end of ``--max-minutes``.
EXPORT_RESERVE_S = 150.0


def save(network, out: Path, config: TrainConfig, summary: dict) -> dict:
    """Export the SavedModel and label map, evaluate the export, write meta.json."""
    from .evaluate import evaluate
    model_dir = empty_dir(out / "model")
    export(network, str(model_dir))
    (out / "label_map.pbtxt").write_text(format_label_map(
        {i + 1: name for i, name in enumerate(shapes.LABELS)}))
    report = evaluate(model_dir, out / "label_map.pbtxt", config.eval_scenes)
    meta = {"config": asdict(config), **summary, "evaluation": report,
            "params": int(network.count_params())}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    """Train, export and evaluate (see the module docstring)."""
    config_main(TrainConfig, train, save, DEFAULT_OUT, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    main()
