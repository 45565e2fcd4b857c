"""Both committed sentiment artifacts: 2.0.0 is the default, 1.0.0 stays servable."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.sentiment import create_app, extra_data
from services.sentiment.classifier import ARTIFACTS, DEFAULT_ARTIFACT, SentimentClassifier
from services.sentiment.features import FEATURE_SETS, feature_set, lexicon_features

OLD = ARTIFACTS / "1.0.0"


@pytest.fixture(scope="module")
def old() -> SentimentClassifier:
    return SentimentClassifier.load(OLD)


def test_default_artifact_is_2_0_0_with_the_v2_features():
    meta = json.loads((DEFAULT_ARTIFACT / "meta.json").read_text())
    assert DEFAULT_ARTIFACT.name == "2.0.0" and meta["version"] == "2.0.0"
    assert feature_set(meta["feature_names"]) == "v2"
    assert meta["calibration"]["method"] == "held-out"


def test_the_old_artifact_still_loads_and_answers_as_before(old):
    assert old.version == "1.0.0" and feature_set(old.feature_names) == "v1"
    results = old.predict(["I love it", "I hate it"])
    assert [r["label"] for r in results] == ["positive", "negative"]
    # Its features are the 17 it was trained on, whatever the default set is now.
    assert lexicon_features(["x"], old.feature_names).shape == (1, 17)


@pytest.mark.parametrize("artifact, version", [(None, "2.0.0"), (OLD, "1.0.0")])
def test_the_service_states_the_version_of_the_artifact_it_serves(artifact, version):
    config = {"LOAD_MODEL": "off"} | ({"ARTIFACT_DIR": str(artifact)} if artifact else {})
    client = create_app(config).test_client()
    assert client.get("/metadata").get_json()["version"] == version


def test_an_artifact_with_unknown_features_is_refused(tmp_path):
    meta = json.loads((DEFAULT_ARTIFACT / "meta.json").read_text())
    meta["feature_names"] = meta["feature_names"][:-1]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="unknown lexicon features"):
        SentimentClassifier.load(tmp_path)


def test_feature_sets_extend_one_another():
    assert FEATURE_SETS["v2"][: len(FEATURE_SETS["v1"])] == FEATURE_SETS["v1"]
    assert lexicon_features(["Great!", ""]).shape == (2, len(FEATURE_SETS["v2"]))


def test_lexicon_items_have_a_word_each_and_all_three_classes():
    items = extra_data.lexicon_items()
    assert len(items) > 8000
    assert all(item.text.strip(":;()[]<>=-^*'\"!?.,/\\|~") for item in items)
    labels = {item.label for item in items}
    assert labels == {0, 1, 2}


@pytest.mark.parametrize("path, n", [(extra_data.EVERYDAY_DEV, 100),
                                     (extra_data.EVERYDAY_TEST, 119)])
def test_everyday_sets_are_labelled_and_disjoint(path, n):
    items = extra_data.read_labelled(path)
    assert len(items) == n and {i.label for i in items} == {0, 1, 2}
    dev = {i.text for i in extra_data.read_labelled(extra_data.EVERYDAY_DEV)}
    if path == extra_data.EVERYDAY_TEST:
        assert not dev & {i.text for i in items}
