"""Cheap lexicon features from VADER (vaderSentiment), computed per text in Python.

They are the second input of the sentiment network: the rule-based VADER scores carry
over well between domains, and the network learns how to weigh them. Raw values go in;
the network normalises them in-graph, so serving only has to call `lexicon_features`.
"""

from __future__ import annotations

import math
import string
import threading

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "vader_neg",  # VADER proportions and normalised compound score
    "vader_neu",
    "vader_pos",
    "vader_compound",
    "vader_abs_compound",
    "vader_raw_sum",  # compound mapped back to VADER's summed valence (rating scale), / 4
    "n_pos_words",  # log1p counts of lexicon words by polarity
    "n_neg_words",
    "sum_pos_valence",  # summed lexicon valences / 4 (a word is worth -1..1)
    "sum_neg_valence",
    "max_valence",
    "min_valence",
    "n_negations",  # log1p count of VADER negation words
    "n_tokens",  # log1p token count
    "n_exclamations",  # log1p count of '!'
    "n_questions",  # log1p count of '?'
    "caps_ratio",  # share of all-caps words (shouting)
)
N_FEATURES = len(FEATURE_NAMES)

_lock = threading.Lock()
_analyzer = None
_negations: frozenset[str] = frozenset()


def analyzer():
    """The one shared SentimentIntensityAnalyzer (built on first use: loading it is slow)."""
    global _analyzer, _negations
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                from vaderSentiment import vaderSentiment as vader

                _negations = frozenset(vader.NEGATE)
                _analyzer = vader.SentimentIntensityAnalyzer()
    return _analyzer


def raw_sum(compound: float, alpha: float = 15.0, limit: float = 12.0) -> float:
    """Invert VADER's normalize(): compound = x / sqrt(x*x + alpha), so x is on the rating scale."""
    c = max(min(compound, 0.9999), -0.9999)
    x = c * math.sqrt(alpha / (1.0 - c * c))
    return max(min(x, limit), -limit) / 4.0


def _valences(tokens: list[str], lexicon: dict[str, float]) -> list[float]:
    """Lexicon valence of each token that is in the lexicon (raw token first: emoticons)."""
    found = []
    for token in tokens:
        low = token.lower()
        value = lexicon.get(low)
        if value is None:
            value = lexicon.get(low.strip(string.punctuation))
        if value is not None:
            found.append(value)
    return found


def _lexicon_stats(tokens: list[str], lexicon: dict[str, float]) -> list[float]:
    """Counts, sums and extremes of the lexicon valences in the text."""
    values = _valences(tokens, lexicon)
    pos = [v for v in values if v > 0]
    neg = [v for v in values if v < 0]
    return [
        math.log1p(len(pos)),
        math.log1p(len(neg)),
        sum(pos) / 4.0,
        sum(neg) / 4.0,
        max(values, default=0.0) / 4.0,
        min(values, default=0.0) / 4.0,
    ]


def _surface_stats(text: str, tokens: list[str]) -> list[float]:
    """Negations, length, punctuation and shouting."""
    stripped = [t.lower().strip(string.punctuation) for t in tokens]
    caps = [t for t in tokens if len(t) > 1 and t.isupper()]
    return [
        math.log1p(sum(t in _negations or t.endswith("n't") for t in stripped)),
        math.log1p(len(tokens)),
        math.log1p(text.count("!")),
        math.log1p(text.count("?")),
        len(caps) / max(len(tokens), 1),
    ]


def text_features(text: str) -> list[float]:
    """The FEATURE_NAMES values for one text."""
    sia = analyzer()
    scores = sia.polarity_scores(text)
    tokens = text.split()
    compound = scores["compound"]
    vader = [scores["neg"], scores["neu"], scores["pos"]]
    vader += [compound, abs(compound), raw_sum(compound)]
    return vader + _lexicon_stats(tokens, sia.lexicon) + _surface_stats(text, tokens)


def lexicon_features(texts: list[str]) -> np.ndarray:
    """Features for a batch of texts: float32 array of shape (len(texts), N_FEATURES)."""
    rows = [text_features(t) for t in texts]
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), N_FEATURES)
