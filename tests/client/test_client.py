"""The pipe client over its in-process transport, and its parsing helpers."""
from __future__ import annotations

import pytest

from common.client import Client, Stage, parse_stages, version_matches
from common.core.errors import InvalidInput, NotFound, ServiceError, VersionMismatch
from tests.helpers.words import make_app


@pytest.fixture
def client():
    return Client(urls={}, local={"words": make_app(MAX_BATCH_SIZE=4)})


def test_pipe_one_input_and_a_batch_in_process(client):
    algo = client.algo("words")
    single = algo.pipe({"text": "a b"})
    assert single.result == {"words": 2, "shout": "A B"}
    assert single.metadata["service"] == "words"
    batch = algo.pipe([{"text": "a"}, {"text": "a b c"}])
    assert [r["words"] for r in batch.result] == [1, 3]


def test_remote_errors_come_back_typed(client):
    with pytest.raises(InvalidInput) as caught:
        client.algo("words").pipe({"text": 3})
    error = caught.value
    assert error.service == "words" and error.request_id
    assert error.details == {"text": ["Not a valid string."]}


def test_an_unknown_service_is_refused_before_any_call(client):
    with pytest.raises(NotFound, match="nope"):
        client.algo("nope")


@pytest.mark.parametrize("version,requirement,ok", [
    ("2.1.0", "2", True), ("2.1.0", "2.1", True), ("2.1.0", "1", False),
    ("2.1.0", "2.2", False), ("2.1.0", ">=2,<3", True), ("2.1.0", "<2", False),
    ("2.1.0", "~=2.0", True)])
def test_version_requirements(version, requirement, ok):
    assert version_matches(version, requirement) is ok


def test_an_unmet_version_requirement_fails_before_predict(client):
    app = client.local["words"]
    with pytest.raises(VersionMismatch, match="2.1.0"):
        client.algo("words@1").pipe({"text": "a"})
    assert app.extensions["modelchain"].model.batch_sizes == [1]  # the warm-up call only
    assert client.algo("words@2").pipe({"text": "a"}).result["words"] == 1


@pytest.mark.parametrize("value,expected", [
    ("sentiment", [Stage("sentiment")]),
    ("text_cleaner, sentiment[text]", [Stage("text_cleaner"), Stage("sentiment", None,
                                                                    ("text",))]),
    ("sentiment@1[text, label]", [Stage("sentiment", "1", ("text", "label"))]),
])
def test_stage_lists_parse(value, expected):
    assert parse_stages(value) == expected


@pytest.mark.parametrize("value", ["http://evil.example", "a b", "Sentiment", "x[", "a,,b"])
def test_malformed_stage_lists_are_refused(value):
    with pytest.raises(InvalidInput):
        parse_stages(value)


@pytest.mark.parametrize("mode", ["serial", "parallel", "chunked"])
def test_pipe_many_keeps_order_and_reports_errors_per_item(client, mode):
    inputs = [{"text": "w " * (i % 3 + 1)} for i in range(10)]
    inputs[3], inputs[7] = {"text": ""}, {"nope": 1}
    outcomes = client.algo("words").pipe_many(inputs, mode=mode, workers=3, chunk_size=4)
    assert [o.index for o in outcomes] == list(range(10))
    assert [o.ok for o in outcomes] == [i not in (3, 7) for i in range(10)]
    assert all(isinstance(outcomes[i].error, InvalidInput) for i in (3, 7))
    assert [o.result["words"] for o in outcomes if o.ok] == \
        [i % 3 + 1 for i in range(10) if i not in (3, 7)]


def test_chunked_mode_respects_the_service_batch_limit(client):
    app = client.local["words"]
    outcomes = client.algo("words").pipe_many([{"text": "a"}] * 10, chunk_size=100)
    assert all(o.ok for o in outcomes)
    assert max(app.extensions["modelchain"].model.batch_sizes) == 4


def test_a_failure_of_the_whole_service_is_reported_on_each_item(client):
    outcomes = client.algo("words").pipe_many([{"text": "boom"}, {"text": "a"}],
                                              mode="chunked")
    assert all(isinstance(o.error, ServiceError) and o.error.status == 500 for o in outcomes)


def test_a_client_from_registry_entries_knows_their_urls_and_versions():
    from common.core.registry import load_registry
    entries = load_registry()
    client = Client.from_registry(entries, timeout=2.0, retries=0)
    assert client.urls["sentiment_v1_0_0"] == entries["sentiment_v1_0_0"].url
    assert client.algo("sentiment@1").name == "sentiment_v1_0_0"
    assert client.algo("sentiment").name == "sentiment"
    assert (client.timeout, client.retries) == (2.0, 0)
    with pytest.raises(VersionMismatch):
        client.algo("sentiment@3")
