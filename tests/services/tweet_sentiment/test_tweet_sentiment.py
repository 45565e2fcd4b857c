"""The tweet_sentiment pipeline: built from its YAML, then served with its steps.

The three sequencing patterns and the fault cases on this chain are in
tests/integration/test_sequencing.py.
"""
from __future__ import annotations

import pytest
import requests

from services.tweet_sentiment import MODEL, create_app


def test_the_pipeline_takes_its_schemas_from_its_first_and_last_steps():
    from services.sentiment import MODEL as sentiment
    from services.text_cleaner import MODEL as text_cleaner
    assert MODEL.input_schema is text_cleaner.input_schema
    assert MODEL.output_schema is sentiment.output_schema
    assert (MODEL.name, MODEL.version) == ("tweet_sentiment", "1.0.0")


def test_its_metadata_and_openapi_describe_the_steps_before_it_is_ready():
    client = create_app({"LOAD_MODEL": "off"}).test_client()
    meta = client.get("/metadata").get_json()
    assert meta["pipeline"]["steps"] == [{"service": "text_cleaner"},
                                         {"service": "sentiment", "take": ["text"]}]
    assert "/predict" in client.get("/openapi.json").get_json()["paths"]
    assert client.post("/predict", json={"text": "hi"}).status_code == 503


@pytest.mark.integration
def test_served_it_cleans_then_labels(live_services):
    urls = live_services("text_cleaner", "sentiment", "tweet_sentiment")
    answer = requests.post(f"{urls['tweet_sentiment']}/predict", timeout=10, json=[
        {"text": "Sooo happy with @acme!! #BestDayEver https://t.co/x"},
        {"text": "@bob worst. service. ever. #fail"}]).json()
    assert [r["label"] for r in answer["result"]] == ["positive", "negative"]
    assert [s["service"] for s in answer["metadata"]["steps"]] == ["text_cleaner", "sentiment"]
