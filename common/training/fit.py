"""The training loop the example trainers share: uint8 scenes batched into floats on
the fly, fitted under a :func:`~common.training.schedule.TimeBudget`, and a summary of
the run for ``meta.json``. TensorFlow and Keras are imported only when called."""
from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .schedule import TimeBudget


def uint8_batches(images: np.ndarray, labels: np.ndarray, batch_size: int,
                  shuffle: bool = False, augment: Callable | None = None):
    """A ``tf.data`` set of batches scaled to 0..1 as they are drawn: the images stay
    uint8 in memory (a quarter of the size), which matters on a machine that other jobs
    share. ``shuffle`` reshuffles every epoch; ``augment`` maps each batch."""
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        data = data.shuffle(len(images), seed=0, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
    if augment is not None:
        data = data.map(augment)
    return data.prefetch(2)


def fit_within(network, train: tuple[np.ndarray, np.ndarray],
               validation: tuple[np.ndarray, np.ndarray], *, augment: Callable | None,
               config: Any, started: float, reserve_s: float, floor: float) -> dict[str, Any]:
    """Fit a compiled ``network`` on uint8 ``(images, labels)`` for ``config.epochs``
    epochs at most (shuffled, each batch through ``augment``), its rate annealed to the
    deadline ``config.max_minutes`` after ``started`` less ``reserve_s`` (kept for export
    and evaluation); the run's summary. Everything before the call since ``started``
    counts as making the data."""
    data_seconds = time.monotonic() - started
    steps = config.epochs * math.ceil(len(train[0]) / config.batch_size)
    budget = TimeBudget(config.learning_rate, steps,
                        started + config.max_minutes * 60 - reserve_s, floor=floor)
    history = network.fit(
        uint8_batches(*train, config.batch_size, shuffle=True, augment=augment),
        epochs=config.epochs, verbose=2, callbacks=[budget],
        shuffle=False,  # the data set shuffles itself, every epoch
        validation_data=uint8_batches(*validation, config.batch_size))
    last = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    return {"data_seconds": round(data_seconds, 1),
            "train_seconds": round(time.monotonic() - started - data_seconds, 1),
            "epochs_run": len(history.history["loss"]), "steps_run": budget.step, **last}


def empty_dir(path: Path) -> Path:
    """``path`` as a new empty folder (what was there is removed), its parents made."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
