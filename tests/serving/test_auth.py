"""API keys on every route but health and metrics."""
import pytest

from common.serving.auth import check_authorization, parse_keys
from common.client import Client
from common.core.errors import Unauthorized
from tests.helpers.words import make_app


@pytest.fixture
def client():
    return make_app(API_KEYS="k-one, k-two").test_client()


@pytest.mark.parametrize("header", ["Bearer k-one", "Simple k-two", "bearer   k-one  "])
def test_a_valid_key_is_accepted(client, header):
    response = client.post("/predict", json={"text": "a"}, headers={"Authorization": header})
    assert response.status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer k-three", "Basic k-one",
                                    "Bearer k-on", "k-one"])
def test_a_missing_or_wrong_key_is_a_json_401(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.post("/predict", json={"text": "a"}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/metadata", "/openapi.json", "/docs"])
def test_other_routes_need_the_key_too(client, path):
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_routes_stay_open(client, path):
    assert client.get(path).status_code == 200


def test_no_keys_means_no_authentication():
    assert make_app().test_client().post("/predict", json={"text": "a"}).status_code == 200
    assert parse_keys(" , ") == ()


def test_the_pipe_client_sends_its_key():
    app = make_app(API_KEYS="secret")
    assert Client(urls={}, local={"words": app}, api_key="secret").algo("words").pipe(
        {"text": "a b"}).result["words"] == 2
    with pytest.raises(Unauthorized):
        Client(urls={}, local={"words": app}, api_key="wrong").algo("words").pipe({"text": "a"})


def test_check_authorization_compares_every_key():
    keys = parse_keys("a,b,c")
    check_authorization("Bearer c", keys)
    with pytest.raises(Unauthorized):
        check_authorization("Bearer d", keys)
