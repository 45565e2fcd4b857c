"""The catalog under gunicorn beside a locked service: the deployment we recommend.

Every service is started with ``MODELCHAIN_API_KEYS`` (so text_cleaner refuses calls
without the key) and the catalog with ``CATALOG_API_KEY``, the key it calls services
with. The catalog's own pages stay public: the shared key does not lock the catalog.
The browser test (test_catalog_browser.py) runs against the same processes.
"""
from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration

LIVE_KEY = "k1-live-3e8c5f0a"
LIVE_ENV = {"MODELCHAIN_API_KEYS": LIVE_KEY, "CATALOG_API_KEY": LIVE_KEY}


@pytest.fixture(scope="module")
def urls(live_services):
    return live_services("catalog", "text_cleaner", env=LIVE_ENV)


def test_the_service_is_locked_but_the_catalog_is_public(urls):
    refused = requests.post(urls["text_cleaner"] + "/predict", json={"text": "a"}, timeout=5)
    assert refused.status_code == 401
    for path in ("/", "/services/text_cleaner", "/api/services", "/metadata"):
        assert requests.get(urls["catalog"] + path, timeout=10).status_code == 200


def test_the_catalog_reads_the_locked_service_with_its_key(urls):
    body = requests.get(urls["catalog"] + "/api/services/text_cleaner", timeout=10).json()
    assert body["status"] == "ready" and body["input_schema"]["required"] == ["text"]


def test_try_it_calls_the_locked_service_server_side(urls):
    response = requests.post(urls["catalog"] + "/api/services/text_cleaner/try",
                             json={"input": {"text": "So #GoodDay @bob"}}, timeout=10)
    assert response.status_code == 200
    assert response.json()["answer"]["result"]["text"] == "So Good Day"


def test_the_key_is_never_in_a_response(urls):
    paths = ["/", "/?q=text", "/services/text_cleaner", "/services/sentiment",
             "/api/services", "/api/services/text_cleaner", "/static/catalog.js", "/docs",
             "/openapi.json", "/metadata"]
    for path in paths:
        assert LIVE_KEY not in requests.get(urls["catalog"] + path, timeout=10).text, path
