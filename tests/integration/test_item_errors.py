"""Per-item failures stay per item through every hop of a chain, on real gunicorn.

One mention-only tweet cleans to an empty text, which sentiment refuses; the items
around it must still be scored, and the refused one must name stage sentiment.
"""
from __future__ import annotations

import pytest
import requests

from common.client import Client
from common.core.errors import InvalidInput

pytestmark = pytest.mark.integration

GOOD, BAD = "What a lovely day", "@acme https://t.co/x"
BATCH = [{"text": GOOD}, {"text": BAD}, {"text": "I hate waiting in line #fail"}]
TOO_LONG = "word " * 450  # 2,250 characters: within text_cleaner's limit, over sentiment's


@pytest.fixture(scope="module")
def urls(live_services):
    return live_services("text_cleaner", "sentiment", "tweet_sentiment")


def assert_middle_refused_by_sentiment(body: dict) -> None:
    result, errors = body["result"], body["metadata"]["errors"]
    assert [r is None for r in result] == [False, True, False]
    assert result[0]["label"] == "positive" and result[2]["label"] == "negative"
    assert list(errors) == ["1"]
    assert errors["1"]["stage"] == "sentiment" and errors["1"]["code"] == "invalid_input"
    assert "blank" in errors["1"]["message"]


def test_the_pipeline_scores_the_others_and_names_the_refusing_stage(urls):
    answer = requests.post(f"{urls['tweet_sentiment']}/predict", json=BATCH, timeout=30)
    assert answer.status_code == 200, answer.text
    assert_middle_refused_by_sentiment(answer.json())


def test_hybrid_forwarding_scores_the_others_and_names_the_refusing_stage(urls):
    answer = requests.post(f"{urls['text_cleaner']}/predict", json=BATCH, timeout=30,
                           headers={"X-Pipe-Next": "sentiment[text]"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert_middle_refused_by_sentiment(body)
    assert [h["service"] for h in body["metadata"]["hops"]] == ["text_cleaner", "sentiment"]
    assert body["metadata"]["batch_size"] == 3  # the caller's, not the 2 sent on


def test_a_text_over_a_later_stage_limit_fails_alone(urls):
    answer = requests.post(f"{urls['text_cleaner']}/predict", timeout=30,
                           json=[{"text": GOOD}, {"text": TOO_LONG}],
                           headers={"X-Pipe-Next": "sentiment[text]"})
    body = answer.json()
    assert answer.status_code == 200 and body["result"][0]["label"] == "positive"
    assert body["metadata"]["errors"]["1"]["stage"] == "sentiment"


def test_the_pipeline_advertises_its_tightest_limit(urls):
    limits = requests.get(f"{urls['tweet_sentiment']}/metadata", timeout=10).json()["limits"]
    assert limits["max_text_length"] == 2000
    refused = requests.post(f"{urls['tweet_sentiment']}/predict", json={"text": TOO_LONG},
                            timeout=10)
    assert refused.status_code == 400 and "text" in refused.json()["error"]["details"]


def test_a_single_refused_input_is_a_400_naming_the_stage_not_a_502(urls):
    for url, headers in ((urls["tweet_sentiment"], {}),
                         (urls["text_cleaner"], {"X-Pipe-Next": "sentiment[text]"})):
        answer = requests.post(f"{url}/predict", json={"text": BAD}, headers=headers,
                               timeout=10)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_input" and error["details"]["stage"] == "sentiment"


@pytest.mark.parametrize("mode", ["chunked", "parallel", "serial"])
def test_pipe_many_reports_the_refused_item_and_scores_the_rest(urls, mode):
    client = Client(urls=urls, timeout=30)
    outcomes = client.algo("tweet_sentiment").pipe_many(BATCH, mode=mode)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[0].result["label"] == "positive"
    error = outcomes[1].error
    assert isinstance(error, InvalidInput) and error.details["stage"] == "sentiment"


def test_the_client_rebuilds_typed_item_errors(urls):
    answer = Client(urls=urls, timeout=30).algo("text_cleaner").pipe(
        BATCH, next=["sentiment[text]"])
    assert answer.result[1] is None and set(answer.errors) == {1}
    assert isinstance(answer.errors[1], InvalidInput)
    assert answer.errors[1].service == "sentiment"


def response_validator(spec: dict, name: str):
    """A validator of one of the spec's response components (its $refs resolved)."""
    from openapi_schema_validator import OAS30Validator
    # "#/components/..." resolves against the document root: carry the components along
    return OAS30Validator({**spec["components"]["schemas"][name],
                           "components": spec["components"]})


def test_pipeline_answers_match_the_response_schema_it_publishes(urls):
    spec = requests.get(f"{urls['tweet_sentiment']}/openapi.json", timeout=10).json()
    url = f"{urls['tweet_sentiment']}/predict"
    single = requests.post(url, json={"text": GOOD}, timeout=30).json()
    assert single["metadata"]["steps"]
    response_validator(spec, "TweetSentimentResponse").validate(single)
    batch = requests.post(url, json=BATCH, timeout=30).json()
    assert batch["metadata"]["errors"] and batch["result"][1] is None
    response_validator(spec, "TweetSentimentBatchResponse").validate(batch)
