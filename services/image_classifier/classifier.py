"""The loaded classifier: the SavedModel's compiled signature, called on whole batches."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SIGNATURE = "serving_default"


class Classifier:
    """A loaded SavedModel whose signature takes ``tensor`` (float32 [N, 224, 224, 3],
    the VGG recipe) and answers ``scores`` [N, classes]."""

    def __init__(self, serve, keep):
        self._serve = serve
        self._keep = keep  # the signature's variables live as long as this object

    @classmethod
    def load(cls, model_dir: str | Path) -> "Classifier":
        """Load ``model_dir`` (imports TensorFlow: call after the fork)."""
        import tensorflow as tf
        loaded = tf.saved_model.load(str(model_dir))
        if SIGNATURE not in loaded.signatures:
            raise ValueError(f"{model_dir} has no {SIGNATURE!r} signature")
        return cls(loaded.signatures[SIGNATURE], loaded)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities [N, classes] of a float32 [N, 224, 224, 3] batch: one call."""
        import tensorflow as tf
        return self._serve(tensor=tf.constant(batch, tf.float32))["scores"].numpy()
