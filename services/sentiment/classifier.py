"""Serving-side loader of the exported sentiment SavedModel.

Only `tf.saved_model.load` and the exported `serve` function are used: no Keras, no
`model.predict`. TensorFlow is imported lazily inside `load`, never at module import,
because TF is not fork-safe and the app module may be imported before workers fork.
A loaded concrete function may be called from several threads at once, and the
lexicon features are computed by pure Python per call, so `predict` is thread-safe.

Every committed artifact stays servable: the artifact's meta.json names its version
and its lexicon features (features.FEATURE_SETS), and the classifier computes exactly
those. artifacts/2.0.0 is the default; artifacts/1.0.0 is kept for callers who pin it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from services.sentiment.features import FEATURE_SETS, feature_set, lexicon_features

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT_VERSION = "2.0.0"
DEFAULT_ARTIFACT = ARTIFACTS / DEFAULT_VERSION
META_FILE = "meta.json"
LEGACY_VERSION = "1.0.0"  # the version of an artifact whose meta.json names none


#: A word in no vocabulary of ours: it stands in for the words of a text that has none.
UNKNOWN_WORD = "qzxqjvk"


class SentimentClassifier:
    """Three-class sentiment (negative / neutral / positive) with class probabilities."""

    def __init__(self, serve, meta: dict, feature_names: tuple[str, ...]) -> None:
        self._serve = serve
        self.meta = meta
        self.feature_names = feature_names

    @property
    def version(self) -> str:
        """The artifact's model version (meta.json)."""
        return artifact_version(self.meta)

    @classmethod
    def load(
        cls, artifact_dir: str | Path = DEFAULT_ARTIFACT, check_meta: bool = True,
        feature_names: tuple[str, ...] | None = None,
    ) -> "SentimentClassifier":
        """Load the SavedModel in `artifact_dir`; check its meta.json matches this code.

        `check_meta=False` (training, before meta.json exists) needs `feature_names`."""
        import tensorflow as tf

        artifact_dir = Path(artifact_dir)
        meta = read_meta(artifact_dir) if check_meta else {}
        names = tuple(feature_names or meta["feature_names"])
        loaded = tf.saved_model.load(str(artifact_dir))
        instance = cls(loaded.serve, meta, names)
        instance._loaded = loaded  # keep the trackable object (and its variables) alive
        return instance

    def probabilities(self, texts: list[str], feats: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) float32 probabilities in LABELS order; one compiled-function call."""
        if not texts:
            return np.zeros((0, len(LABELS)), np.float32)
        if feats is None:
            feats = lexicon_features(texts, self.feature_names)
        feats = np.asarray(feats, dtype=np.float32)
        out = self._serve(np.asarray(texts, dtype=object), feats).numpy()
        wordless = np.flatnonzero(~np.isfinite(out).all(axis=1))
        if wordless.size:
            # A text with no word the graph's tokenizer keeps (":)", "$", "...") pools
            # over no words, 0/0 in the word head. Its lexicon features still carry its
            # sentiment (":)" is positive to VADER), so it is scored with one word the
            # vocabulary does not know in place of none.
            padded = np.asarray([f"{texts[i]} {UNKNOWN_WORD}" for i in wordless], dtype=object)
            out[wordless] = self._serve(padded, feats[wordless]).numpy()
        return out

    def predict(self, texts: list[str]) -> list[dict]:
        """Label and per-class scores for each text, in input order.

        Returns [{"label": "positive", "scores": {"negative": 0.01, "neutral": 0.09,
        "positive": 0.90}}, ...]; an empty list gives an empty list.
        """
        _check_texts(texts)
        return [_result(row) for row in self.probabilities(list(texts))]


def _result(row: np.ndarray) -> dict:
    """One prediction dict from one probability row."""
    scores = {label: float(p) for label, p in zip(LABELS, row)}
    return {"label": LABELS[int(np.argmax(row))], "scores": scores}


def _check_texts(texts) -> None:
    """Reject a bare string (it would be split into characters) and non-string items."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, not a single string")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of strings")


def artifact_version(meta: dict) -> str:
    """The version a meta.json states (1.0.0 predates the field)."""
    return str(meta.get("version", LEGACY_VERSION))


def read_meta(artifact_dir: str | Path) -> dict:
    """meta.json of the artifact, after checking its labels and feature names.

    Cheap (no TensorFlow): the app reads it before the fork for its version."""
    artifact_dir = Path(artifact_dir)
    meta = json.loads((artifact_dir / META_FILE).read_text(encoding="utf-8"))
    if tuple(meta.get("labels", ())) != LABELS:
        raise ValueError(f"{artifact_dir}: labels {meta.get('labels')} != {list(LABELS)}")
    try:
        feature_set(meta.get("feature_names", ()))
    except ValueError:
        raise ValueError(f"{artifact_dir}: model was trained on unknown lexicon features "
                         f"(known sets: {sorted(FEATURE_SETS)}); retrain it") from None
    return meta
