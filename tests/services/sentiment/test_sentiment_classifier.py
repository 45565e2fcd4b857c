"""The committed sentiment artifact: loads, labels clear sentences, well-formed output."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.sentiment import extra_data
from services.sentiment.classifier import DEFAULT_ARTIFACT, LABELS, SentimentClassifier
from services.sentiment.features import FEATURE_SETS

POSITIVE = [
    "I love this movie, it is absolutely wonderful!",
    "What a fantastic, brilliant performance. Highly recommended.",
    "This is the best day of my life :)",
    "Great service and friendly staff, I am very happy.",
]
NEGATIVE = [
    "This was a terrible, awful waste of time.",
    "I hate this stupid phone, it is broken and useless.",
    "The food was disgusting and the waiter was rude.",
    "Worst experience ever. I am so angry and disappointed.",
]
NEUTRAL = [
    "The meeting is scheduled for Tuesday at 3 pm.",
    "The train leaves from platform 4.",
    "The committee will publish its findings next month.",
    "The store opens at nine.",
]


@pytest.fixture(scope="module")
def classifier() -> SentimentClassifier:
    return SentimentClassifier.load()


def test_artifact_is_committed_small_and_described():
    size = sum(f.stat().st_size for f in DEFAULT_ARTIFACT.rglob("*") if f.is_file())
    assert (DEFAULT_ARTIFACT / "saved_model.pb").is_file() and size < 10 * 2**20
    meta = json.loads((DEFAULT_ARTIFACT / "meta.json").read_text())
    assert tuple(meta["labels"]) == LABELS and tuple(meta["feature_names"]) == FEATURE_SETS["v2"]


# Calibration sanity: plain everyday sentences (the first is the example that
# 1.0.0 called neutral); none of them is in the everyday dev file. The other
# example, "The battery lasts all day and charges quickly.", 2.0.0 still calls negative
# (README, known failures).
EVERYDAY = [
    ("positive", "The concert was absolutely magical."),
    ("positive", "The waiter was lovely and the food was great."),
    ("negative", "My suitcase was lost and nobody helped."),
    ("negative", "The hotel room was filthy."),
]


@pytest.mark.parametrize("expected, text", EVERYDAY)
def test_plain_everyday_sentences(classifier, expected, text):
    assert classifier.predict([text])[0]["label"] == expected


def test_neutral_is_not_over_predicted_on_the_everyday_dev_set(classifier):
    items = extra_data.read_labelled(extra_data.EVERYDAY_DEV)
    predicted = [r["label"] for r in classifier.predict([i.text for i in items])]
    share, rated = predicted.count("neutral") / len(items), sum(i.label == 1 for i in items) / len(items)
    assert 0.5 * rated <= share <= 1.5 * rated


@pytest.mark.parametrize("expected, texts", [
    ("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL),
])
def test_clear_sentences_get_the_expected_label(classifier, expected, texts):
    assert [r["label"] for r in classifier.predict(texts)] == [expected] * len(texts)


def test_scores_are_probabilities_and_label_is_the_argmax(classifier):
    for result in classifier.predict(POSITIVE + NEGATIVE + NEUTRAL + ["", "ok"]):
        scores = result["scores"]
        assert set(scores) == set(LABELS)
        assert all(0.0 <= p <= 1.0 for p in scores.values())
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert result["label"] == max(scores, key=scores.get)


def test_batch_order_is_preserved(classifier):
    texts = POSITIVE + NEGATIVE + NEUTRAL
    batch = classifier.predict(texts)
    singles = [classifier.predict([t])[0] for t in texts]
    for together, alone in zip(batch, singles):
        assert together["label"] == alone["label"]
        for label in LABELS:
            assert together["scores"][label] == pytest.approx(alone["scores"][label], abs=1e-5)
    reversed_labels = [r["label"] for r in classifier.predict(texts[::-1])]
    assert reversed_labels == [r["label"] for r in batch][::-1]


def test_empty_list_gives_empty_list(classifier):
    assert classifier.predict([]) == []
    assert classifier.probabilities([]).shape == (0, 3)


def test_a_bare_string_is_rejected(classifier):
    with pytest.raises(TypeError):
        classifier.predict("I love it")


def test_concurrent_calls_agree(classifier):
    from concurrent.futures import ThreadPoolExecutor

    texts = POSITIVE + NEGATIVE + NEUTRAL
    expected = classifier.probabilities(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: classifier.probabilities(texts), range(8)))
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-6)


#: Texts without a word the graph's tokenizer keeps: its word head once pooled over
#: nothing and answered NaN scores (found by schemathesis through tweet_sentiment).
WORDLESS = ["$", "%", "...", "--- !!!", "?!", ":)", ":(", "$ $", "#", "@"]


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_a_text_with_no_words_gets_finite_scores_from_every_version(version):
    from services.sentiment.classifier import ARTIFACTS
    classifier = SentimentClassifier.load(ARTIFACTS / version)
    scores = classifier.probabilities(WORDLESS + ["a plain sentence"])
    assert np.isfinite(scores).all()
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)
    labels = {t: r["label"] for t, r in zip(WORDLESS, classifier.predict(WORDLESS))}
    assert (labels[":)"], labels[":("]) == ("positive", "negative")   # the lexicon's say
