"""The tweet_sentiment pipeline: built from its YAML, then served with its steps.

The three sequencing patterns and the fault cases on this chain are in
tests/integration/test_sequencing.py.
"""
from __future__ import annotations

import pytest
import requests

from services.tweet_sentiment import MODEL, create_app


def metadata(app) -> dict:
    return app.test_client().get("/metadata").get_json()


def test_the_pipeline_takes_its_schemas_from_its_first_and_last_steps_contracts():
    from services.sentiment import create_app as sentiment_app
    from services.text_cleaner import create_app as cleaner_app
    own = metadata(create_app({"LOAD_MODEL": "off"}))
    cleaner = metadata(cleaner_app({"LOAD_MODEL": "off"}))["input_schema"]
    # the same fields and rules, every string capped at the pipeline's tightest limit
    assert own["input_schema"]["properties"]["text"]["maxLength"] == 2000
    assert cleaner["properties"]["text"]["maxLength"] == 5000
    for schema in (own["input_schema"], cleaner):
        for prop in schema["properties"].values():
            prop.pop("maxLength", None)
    assert own["input_schema"] == cleaner
    sentiment = metadata(sentiment_app({"LOAD_MODEL": "off"}))
    assert own["output_schema"] == sentiment["output_schema"]
    assert own["limits"]["max_text_length"] == sentiment["limits"]["max_text_length"]
    assert (MODEL.name, MODEL.version, MODEL.calls) == ("tweet_sentiment", "1.0.0",
                                                        ("text_cleaner", "sentiment"))
    import services.tweet_sentiment as package
    assert package.MODEL is package.MODEL  # one class, not a new one on every access


def test_building_it_imports_neither_step():
    import subprocess
    import sys
    code = ("import sys; from services.tweet_sentiment import create_app; "
            "create_app({'LOAD_MODEL': 'off'}); "
            "assert not [m for m in sys.modules if m.startswith(('services.text_cleaner', "
            "'services.sentiment', 'emoji'))], 'a step was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


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
