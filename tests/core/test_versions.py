"""Choosing the deployment a version requirement reaches."""
from __future__ import annotations

import pytest

from common.core.errors import InvalidInput, VersionMismatch
from common.core.registry import load_registry
from common.core.versions import deployment_table, pick_deployment, resolve_ref, split_ref

TABLE = {"sentiment": [("2.1.0", "sentiment"), ("2.0.3", "sentiment_v2_0_3"),
                       ("1.4.0", "sentiment_v1_4_0")]}


@pytest.mark.parametrize("requirement, reached", [
    (None, "sentiment"), ("2", "sentiment"), ("2.0", "sentiment_v2_0_3"),
    ("1", "sentiment_v1_4_0"), ("1.4.0", "sentiment_v1_4_0"), ("<2", "sentiment_v1_4_0"),
    (">=2,<2.1", "sentiment_v2_0_3"), ("~=2.0", "sentiment"),
])
def test_the_newest_matching_deployment_is_reached(requirement, reached):
    assert pick_deployment("sentiment", requirement, TABLE) == reached


@pytest.mark.parametrize("requirement", ["3", "2.2", ">=5", "1.3"])
def test_no_match_names_the_versions_served(requirement):
    with pytest.raises(VersionMismatch) as raised:
        pick_deployment("sentiment", requirement, TABLE)
    assert raised.value.status == 409
    assert raised.value.details == {"requirement": requirement,
                                    "versions": ["2.1.0", "2.0.3", "1.4.0"]}


@pytest.mark.parametrize("requirement", ["latest", "v1", "abc123"])
def test_a_requirement_that_is_no_version_is_a_400(requirement):
    with pytest.raises(InvalidInput):
        pick_deployment("sentiment", requirement, TABLE)


def test_a_service_without_stated_versions_is_its_own_deployment():
    assert pick_deployment("text_cleaner", "1", TABLE) == "text_cleaner"


@pytest.mark.parametrize("ref, parts", [("sentiment", ("sentiment", None)),
                                        ("sentiment@1", ("sentiment", "1")),
                                        (" sentiment@ ", ("sentiment", None))])
def test_split_ref(ref, parts):
    assert split_ref(ref) == parts


def test_the_registry_serves_sentiment_two_and_one_side_by_side():
    entries = load_registry()
    assert deployment_table(entries)["sentiment"] == [("2.0.0", "sentiment"),
                                                      ("1.0.0", "sentiment_v1_0_0")]
    assert resolve_ref("sentiment@1", entries) == "sentiment_v1_0_0"
    assert resolve_ref("sentiment", entries) == "sentiment"
