"""The sentiment SavedModel as the peers serve it (imported by ``bento_services`` and
``ray_app`` in the peers' own environment, where the project is not installed).

The same work per text as our service does: the VADER features of
``services/sentiment/features.py`` (that very file, loaded by path: importing the
``services.sentiment`` package would pull in Flask and the project), then one call of
the SavedModel's ``serve`` signature, as ``services/sentiment/classifier.py`` makes it.
TensorFlow is imported in ``load``, in the serving process, never at import time.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FEATURES_FILE = ROOT / "services" / "sentiment" / "features.py"
DEFAULT_ARTIFACT = ROOT / "services" / "sentiment" / "artifacts" / "2.0.0"   # the served default
LABELS = ("negative", "neutral", "positive")


def _features_module():
    spec = importlib.util.spec_from_file_location("sentiment_features", FEATURES_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sentiment:
    """The loaded SavedModel and the lexicon features: ``predict(text) -> dict``."""

    def __init__(self, artifact: str | os.PathLike | None = None):
        import tensorflow as tf

        self._features = _features_module().lexicon_features
        path = artifact or os.environ.get("PEERS_SENTIMENT_ARTIFACT") or DEFAULT_ARTIFACT
        self._loaded = tf.saved_model.load(str(path))  # keeps the variables alive
        self._serve = self._loaded.serve
        self.predict("warm up the graph")

    def predict(self, text: str) -> dict:
        """Label and class scores of one text (what our service answers per item)."""
        feats = self._features([text])
        row = self._serve(np.asarray([text], dtype=object), feats).numpy()[0]
        return {"label": LABELS[int(np.argmax(row))],
                "scores": {label: float(p) for label, p in zip(LABELS, row)}}
