"""Cheap lexicon features, computed per text in Python.

They are the second input of the sentiment network: rule-based lexicon scores carry
over well between domains, and the network learns how to weigh them. Raw values go in;
the network normalises them in-graph, so serving only has to call `lexicon_features`.

Two feature sets exist, because every committed artifact must stay servable:
- ``v1`` (model 1.0.0): 17 features from VADER (vaderSentiment, MIT);
- ``v2`` (model 2.0.0): ``v1`` plus 7 features from Pattern's adjective lexicon
  (lexicons/pattern_en.tsv, from textblob 0.20.1, PDDL), whose subjectivity scores
  tell opinion from plain statement better than VADER's valences alone.
An artifact's meta.json names its features; `feature_set` maps the names to the set.
"""

from __future__ import annotations

import math
import string
import threading
from pathlib import Path

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
PATTERN_FEATURE_NAMES: tuple[str, ...] = (
    "pattern_polarity",  # mean polarity of the Pattern words found (negation-flipped)
    "pattern_subjectivity",  # mean subjectivity of those words
    "pattern_n_pos",  # log1p counts of positive / negative Pattern words
    "pattern_n_neg",
    "pattern_max",  # extremes of their polarities
    "pattern_min",
    "pattern_n_subjective",  # log1p count of words with subjectivity >= 0.5
)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "v1": FEATURE_NAMES,
    "v2": FEATURE_NAMES + PATTERN_FEATURE_NAMES,
}
PATTERN_FILE = Path(__file__).resolve().parent / "lexicons" / "pattern_en.tsv"
NEGATION_WINDOW = 3  # a negation flips a Pattern word up to this many tokens later

_lock = threading.Lock()
_analyzer = None
_negations: frozenset[str] = frozenset()
_pattern: dict[str, tuple[float, float, float]] | None = None


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


def pattern_lexicon() -> dict[str, tuple[float, float, float]]:
    """{word: (polarity, subjectivity, intensity)} from the vendored Pattern lexicon."""
    global _pattern
    if _pattern is None:
        table = {}
        for line in PATTERN_FILE.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                form, pol, subj, inten = line.split("\t")
                table[form] = (float(pol), float(subj), float(inten))
        _pattern = table
    return _pattern


def _adjective_of(word: str) -> str:
    """The adjective an -ly adverb comes from ("quickly" -> "quick", "easily" -> "easy"):
    the lexicon lists adjectives, and adverbs carry the same polarity."""
    if word.endswith("ily"):
        return word[:-3] + "y"
    return word[:-2] if word.endswith("ly") else ""


def _pattern_hits(words: list[str]) -> list[tuple[float, float]]:
    """(polarity, subjectivity) of each Pattern word, scaled by a preceding intensifier
    and flipped (halved, as Pattern does) after a nearby negation."""
    lexicon, hits, since_negation, boost = pattern_lexicon(), [], NEGATION_WINDOW + 1, 1.0
    for word in words:
        since_negation += 1
        if word in _negations or word.endswith("n't"):
            since_negation = 0
            continue
        entry = lexicon.get(word) or lexicon.get(_adjective_of(word))
        if entry is None:
            boost = 1.0
            continue
        polarity, subjectivity, intensity = entry
        if polarity == 0.0 and intensity != 1.0:
            boost = intensity  # "very", "really": strengthen the next word only
            continue
        polarity = max(-1.0, min(1.0, polarity * boost))
        if since_negation <= NEGATION_WINDOW:
            polarity *= -0.5
        hits.append((polarity, subjectivity))
        boost = 1.0
    return hits


def pattern_features(text: str) -> list[float]:
    """The PATTERN_FEATURE_NAMES values for one text."""
    analyzer()  # fills the negation list
    words = [t.lower().strip(string.punctuation) for t in text.split()]
    hits = _pattern_hits([w for w in words if w])
    pols = [p for p, _ in hits]
    subjs = [s for _, s in hits]
    return [
        sum(pols) / len(pols) if pols else 0.0,
        sum(subjs) / len(subjs) if subjs else 0.0,
        math.log1p(sum(p > 0.05 for p in pols)),
        math.log1p(sum(p < -0.05 for p in pols)),
        max(pols, default=0.0),
        min(pols, default=0.0),
        math.log1p(sum(s >= 0.5 for s in subjs)),
    ]


def feature_set(names) -> str:
    """The name of the feature set whose names are exactly `names` (ValueError if none)."""
    for key, known in FEATURE_SETS.items():
        if tuple(names) == known:
            return key
    raise ValueError("the model was trained on unknown lexicon features; retrain it")


def lexicon_features(texts: list[str], names: tuple[str, ...] = FEATURE_SETS["v2"]) -> np.ndarray:
    """Features for a batch of texts: float32 array of shape (len(texts), len(names)).

    `names` is one of FEATURE_SETS (an artifact's meta.json says which)."""
    with_pattern = feature_set(names) == "v2"
    rows = [text_features(t) + (pattern_features(t) if with_pattern else []) for t in texts]
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(names))
