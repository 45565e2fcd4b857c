"""Who may use the catalog: public unless CATALOG_API_KEYS; MODELCHAIN_API_KEYS (meant
for the model services) does not lock it, since a browser cannot send a key."""
from __future__ import annotations

import pytest

LOCKED = ["/", "/services/text_cleaner", "/api/services", "/api/services/evil",
          "/static/catalog.js", "/metadata", "/openapi.json"]


@pytest.mark.parametrize("path", LOCKED)
def test_the_shared_service_keys_leave_the_catalog_public(make_catalog, monkeypatch, path):
    monkeypatch.setenv("MODELCHAIN_API_KEYS", "k1")
    assert make_catalog().test_client().get(path).status_code == 200


@pytest.mark.parametrize("path", LOCKED)
def test_catalog_api_keys_lock_every_route_but_health(make_catalog, monkeypatch, path):
    monkeypatch.setenv("MODELCHAIN_API_KEYS", "k1")
    monkeypatch.setenv("CATALOG_API_KEYS", "ck1, ck2")
    client = make_catalog().test_client()
    refused = client.get(path)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert client.get(path, headers={"Authorization": "Bearer ck2"}).status_code == 200
    assert client.get(path, headers={"Authorization": "Bearer k1"}).status_code == 401
    assert client.get("/healthz").status_code == 200


def test_a_test_config_can_set_the_catalogs_keys(make_catalog):
    client = make_catalog(API_KEYS="ck").test_client()
    assert client.post("/api/services/evil/try", json={"input": {"text": "a"}}).status_code \
        == 401
