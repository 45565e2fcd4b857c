"""The text_cleaner service: its schema through the test client, then under gunicorn."""
from __future__ import annotations

import pytest
import requests

from services.text_cleaner import create_app


@pytest.fixture(scope="module")
def client():
    return create_app({"LOAD_MODEL": "sync"}).test_client()


def test_cleans_a_tweet_with_default_options(client):
    body = client.post("/predict", json={
        "text": "Sooo happy with @acme!! #BestDayEver https://t.co/x &amp; more"}).get_json()
    result = body["result"]
    assert result["text"] == "Soo happy with!! Best Day Ever & more"
    assert result["mentions"] == ["acme"] and result["urls"] == ["https://t.co/x"]
    assert len(result["tokens"]) == len(result["lemmas"])


def test_options_change_the_cleaning(client):
    result = client.post("/predict", json={
        "text": "I ❤️ @acme http://x.co", "urls": "token", "mentions": "token",
        "emoji": "text", "lowercase": True}).get_json()["result"]
    assert "<url>" in result["tokens"] and "<user>" in result["tokens"]
    assert "heart" in result["text"] and result["text"] == result["text"].lower()


@pytest.mark.parametrize("body,field", [
    ({"text": "x", "urls": "shred"}, "urls"),
    ({"text": "x", "language": "tlh"}, "language"),
    ({"text": "x", "lowercase": "very"}, "lowercase"),
    ({"text": ""}, "text"),
    ({"text": ["a"]}, "text"),
])
def test_bad_options_are_refused_naming_the_field(client, body, field):
    response = client.post("/predict", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]


@pytest.mark.integration
def test_served_by_gunicorn(live_services):
    url = live_services("text_cleaner")["text_cleaner"]
    assert requests.get(f"{url}/readyz", timeout=5).json()["ready"] is True
    answer = requests.post(f"{url}/predict", json=[{"text": "a #b"}, {"text": "@c d"}],
                           timeout=5).json()
    assert [r["text"] for r in answer["result"]] == ["a b", "d"]
    wrong = requests.post(f"{url}/predict", data="text=x", timeout=5,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert wrong.status_code == 415 and wrong.json()["error"]["code"] == "unsupported_media_type"
