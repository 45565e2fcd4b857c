"""Accuracy figures shared by train.py (for meta.json) and evaluate.py (the printed table).

Two figures per system and split:
- three-class accuracy (negative / neutral / positive);
- positive-vs-negative accuracy on the items whose gold label is positive or negative:
  the model picks the larger of p(positive), p(negative); VADER picks by compound sign.
"""

from __future__ import annotations

import numpy as np

from services.sentiment.features import FEATURE_NAMES

NEG, NEU, POS = 0, 1, 2
VADER_THRESHOLD = 0.05  # VADER's documented compound thresholds
COMPOUND_COLUMN = FEATURE_NAMES.index("vader_compound")


def vader_three_class(compound: np.ndarray) -> np.ndarray:
    """VADER's standard labels: compound >= 0.05 positive, <= -0.05 negative, else neutral."""
    negative_or_neutral = np.where(compound <= -VADER_THRESHOLD, NEG, NEU)
    return np.where(compound >= VADER_THRESHOLD, POS, negative_or_neutral)


def vader_polarity(compound: np.ndarray) -> np.ndarray:
    """VADER's forced choice by compound sign: > 0 positive, otherwise negative.

    A compound of exactly 0 (no lexicon word) counts as negative: of the two fixed
    tie rules this is the stronger baseline on movie and nyt (see README).
    """
    return np.where(compound > 0, POS, NEG)


def model_polarity(probs: np.ndarray) -> np.ndarray:
    """The model's forced choice: the larger of p(positive) and p(negative)."""
    return np.where(probs[:, POS] > probs[:, NEG], POS, NEG)


def accuracy(gold: np.ndarray, predicted: np.ndarray) -> float | None:
    """Share of equal entries; None for no items (JSON has no NaN)."""
    return float((predicted == gold).mean()) if len(gold) else None


def accuracies(gold: np.ndarray, three: np.ndarray, polar: np.ndarray) -> dict:
    """{"acc3", "acc_pn" (pos-vs-neg), "n" (items), "n_pn" (positive or negative items),
    "neutral_pred" / "neutral_true" (share of items predicted / rated neutral)}."""
    gold = np.asarray(gold)
    mask = gold != NEU
    return {
        "acc3": accuracy(gold, three),
        "acc_pn": accuracy(gold[mask], polar[mask]),
        "n": int(len(gold)),
        "n_pn": int(mask.sum()),
        "neutral_pred": float((np.asarray(three) == NEU).mean()) if len(gold) else None,
        "neutral_true": float((gold == NEU).mean()) if len(gold) else None,
    }


def model_scores(gold: np.ndarray, probs: np.ndarray) -> dict:
    """Both figures for a model's probability matrix (N, 3)."""
    return accuracies(gold, probs.argmax(axis=1), model_polarity(probs))


def vader_scores(gold: np.ndarray, features: np.ndarray) -> dict:
    """Both figures for the VADER baseline, from the lexicon feature matrix."""
    compound = features[:, COMPOUND_COLUMN]
    return accuracies(gold, vader_three_class(compound), vader_polarity(compound))
