"""Train the shipped shape classifier on domain-randomised one-shape scenes and export
it as a SavedModel that takes image_preprocessor's VGG-recipe tensor.

    python -m services.image_classifier.train [--out services/image_classifier/artifacts]
        [--scenes 12000] [--epochs 16] [--max-minutes 18] [--batch-size 64]

Writes ``<out>/model/`` (the SavedModel) and ``<out>/meta.json`` (settings, timings,
losses and evaluate.py's figures, measured through the exported artifact). Training
stops early when ``--max-minutes`` is reached, with the learning rate annealed to the
deadline, so a run on a busy two-core machine stays bounded. Fixed seed.

TensorFlow is imported inside functions only: tests import this module.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.training import config_main, empty_dir, fit_within

from common.media.scenes import LABELS

from . import data
from .network import INPUT, block_average, build_network, export

DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"
#: Seconds kept for export and evaluation at the end of ``--max-minutes``.
EXPORT_RESERVE_S = 120.0


@dataclass
class TrainConfig:
    """Everything that determines a trained classifier."""

    scenes: int = 12000
    validation_scenes: int = 500
    epochs: int = 16
    batch_size: int = 64
    learning_rate: float = 2e-3
    max_minutes: float = 18.0
    eval_scenes: int = 500


def encode(split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, 56, 56, 3] block averages of the stretched scenes, and their labels."""
    images = np.zeros((count, INPUT, INPUT, 3), np.uint8)
    labels = np.zeros(count, np.int32)
    for index in range(count):
        drawn = data.scene(split, index)
        images[index] = np.round(block_average(data.stretched(drawn.image))).astype(np.uint8)
        labels[index] = data.label_of(drawn)
    return images, labels


def train(config: TrainConfig) -> tuple[object, dict]:
    """Train a network; returns it and the training history summary."""
    import keras
    keras.utils.set_random_seed(0)
    started = time.monotonic()
    x, y = encode("train", config.scenes)
    xv, yv = encode("validation", config.validation_scenes)
    network = build_network()
    network.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # flips and quarter turns, none of which changes a label (_augment)
    summary = fit_within(network, (x, y), (xv, yv), augment=_augment, config=config,
                         started=started, reserve_s=EXPORT_RESERVE_S, floor=0.02)
    return network, summary


def _augment(x, y):
    import tensorflow as tf
    x = tf.image.random_flip_left_right(tf.image.random_flip_up_down(x, seed=1), seed=2)
    turns = tf.random.uniform([], 0, 4, dtype=tf.int32, seed=3)
    return tf.image.rot90(x, turns), y


def save(network, out: Path, config: TrainConfig, summary: dict) -> dict:
    """Export the SavedModel, evaluate the export, write meta.json."""
    from .evaluate import evaluate
    model_dir = empty_dir(out / "model")
    export(network, str(model_dir))
    report = evaluate(model_dir, config.eval_scenes)
    meta = {"config": asdict(config), "labels": list(LABELS), **summary,
            "evaluation": report, "params": int(network.count_params())}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    """Train, export and evaluate (see the module docstring)."""
    config_main(TrainConfig, train, save, DEFAULT_OUT, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    main()
