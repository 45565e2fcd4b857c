"""The downloader service: its answer, its refusals as JSON errors, under gunicorn too."""
from __future__ import annotations

import base64

import pytest
import requests

from services.downloader import create_app
from tests.conftest import free_port
from tests.helpers.image_server import image_server, scene_bytes
from tests.helpers.vision_stack import vision_stack


@pytest.fixture(scope="module")
def server():
    return image_server()


@pytest.fixture(scope="module")
def client(server):
    """Allowed to fetch from the test server's address and port, nothing else local."""
    return create_app({"LOAD_MODEL": "sync", "ALLOW_LIST": server.allow_rule,
                       "FETCH_MAX_BYTES": 1_000_000}).test_client()


def test_fetches_an_image_for_the_next_stage(client, server):
    result = client.post("/predict", json={"url": server.url("/hops/1")}).get_json()["result"]
    assert base64.b64decode(result["image"]) == scene_bytes(0)
    assert result["content_type"] == "image/png"
    assert result["url"] == server.url("/scene/0.png")
    assert result["bytes"] == len(scene_bytes(0))


def test_a_batch_is_fetched_in_order(client, server):
    urls = [server.url(f"/scene/{i}.{e}") for i, e in ((1, "png"), (2, "jpg"), (3, "gif"))]
    result = client.post("/predict", json=[{"url": u} for u in urls]).get_json()["result"]
    assert [r["url"] for r in result] == urls
    assert [r["content_type"] for r in result] == ["image/png", "image/jpeg", "image/gif"]


@pytest.mark.parametrize("url,reason", [
    ("http://127.0.0.1/x.png", "loopback"),
    ("http://10.0.0.1/x.png", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[::1]/x.png", "loopback"),
    ("http://localhost/x.png", "loopback"),
])
def test_private_destinations_are_a_400_naming_the_reason(client, url, reason):
    response = client.post("/predict", json={"url": url})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["reason"] == reason
    assert reason.split("-")[0] in error["message"]


@pytest.mark.parametrize("target,reason", [
    (f"http://127.0.0.1:{free_port()}/x.png", "loopback"),
    ("http://localhost/x.png", "loopback"),
    ("http://10.0.0.1/x.png", "private"),
    ("http://169.254.169.254/", "metadata"),
    ("http://[::1]/x.png", "loopback"),
])
def test_a_redirect_to_a_private_destination_is_refused(client, server, target, reason):
    response = client.post("/predict", json={"url": server.url(f"/redirect?to={target}")})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"url": target, "reason": reason,
                                                       **_address(response)}


def _address(response) -> dict:
    details = response.get_json()["error"]["details"]
    return {"address": details["address"]} if "address" in details else {}


@pytest.mark.parametrize("path,status,reason", [
    ("/big.png", 413, "too_large"), ("/endless.png", 413, "too_large"),
    ("/text", 400, "content_type"), ("/liar.png", 400, "not_an_image"),
    ("/hops/4", 400, "too_many_redirects"), ("/missing.png", 400, "http_status"),
    ("/server-error.png", 502, "http_status"),
])
def test_limits_and_wrong_content(client, server, path, status, reason):
    response = client.post("/predict", json={"url": server.url(path)})
    assert response.status_code == status
    assert response.get_json()["error"]["details"]["reason"] == reason


def test_too_slow_is_a_504(server):
    client = create_app({"LOAD_MODEL": "sync", "ALLOW_LIST": server.allow_rule,
                         "FETCH_READ_TIMEOUT_S": 0.5, "FETCH_DEADLINE_S": 1.0}).test_client()
    response = client.post("/predict", json={"url": server.url("/slow.png")})
    assert response.status_code == 504
    assert response.get_json()["error"]["details"]["reason"] == "timeout"


def test_the_local_server_is_refused_unless_configured(server):
    closed = create_app({"LOAD_MODEL": "sync"}).test_client()
    assert closed.post("/predict", json={"url": server.url("/scene/0.png")}).status_code == 400
    private = create_app({"LOAD_MODEL": "sync", "ALLOW_PRIVATE": True}).test_client()
    assert private.post("/predict", json={"url": server.url("/scene/0.png")}).status_code == 200


def test_a_failing_item_of_a_batch_is_named(client, server):
    response = client.post("/predict", json=[{"url": server.url("/scene/0.png")},
                                             {"url": "http://10.0.0.1/x.png"}])
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("items[1].url")


@pytest.mark.parametrize("body", [{}, {"url": ""}, {"url": "ftp://x/y.png"},
                                  {"url": "http://x/" + "a" * 3000}, {"url": 5}])
def test_malformed_input_is_refused_by_the_schema(client, body):
    response = client.post("/predict", json=body)
    assert response.status_code == 400 and "url" in response.get_json()["error"]["details"]


@pytest.mark.integration
def test_served_by_gunicorn_with_the_allow_list_from_the_environment(service_pool, server):
    url = vision_stack(service_pool)["downloader"]
    ok = requests.post(f"{url}/predict", json={"url": server.url("/scene/5.png")}, timeout=10)
    assert ok.status_code == 200 and ok.json()["result"]["bytes"] == len(scene_bytes(5))
    other_port = f"http://127.0.0.1:{free_port()}/x.png"
    for target in (other_port, "http://169.254.169.254/", "http://[::1]/x.png"):
        refused = requests.post(f"{url}/predict", timeout=10,
                                json={"url": server.url(f"/redirect?to={target}")})
        assert refused.status_code == 400, target
        assert refused.json()["error"]["details"]["url"] == target
