"""The catalog's JSON API, its try-it proxy and its own service contract (test client)."""
from __future__ import annotations

import pytest

from tests.services.catalog.conftest import KEY

NAMES = ["text_cleaner", "evil", "pipe", "odd", "down"]


def test_lists_every_service_but_itself_in_registry_order(catalog):
    body = catalog.get("/api/services").get_json()
    assert [s["name"] for s in body["services"]] == NAMES and body["count"] == 5
    by_name = {s["name"]: s for s in body["services"]}
    assert by_name["text_cleaner"]["status"] == "ready" and by_name["text_cleaner"]["healthy"]
    assert by_name["pipe"]["kind"] == "pipeline" and by_name["evil"]["kind"] == "model"
    assert by_name["text_cleaner"]["version"] == "1.0.0"
    assert "nlp" in by_name["text_cleaner"]["tags"]


@pytest.mark.parametrize("query,expected", [
    ("", NAMES),
    ("lemmas", ["text_cleaner"]),
    ("TEXT CLEANER", ["text_cleaner", "pipe"]),   # any case; a pipeline's steps count
    ("pipeline", ["pipe"]),
    ("demo fakes", ["pipe"]),             # every word must occur
    ("demo nothing", []),
    ("utility", ["text_cleaner"]),        # tags
    ("down", ["down"]),
])
def test_search_by_name_description_tags_and_kind(catalog, query, expected):
    body = catalog.get("/api/services", query_string={"q": query}).get_json()
    assert [s["name"] for s in body["services"]] == expected


def test_the_catalog_model_searches_through_predict(catalog):
    body = catalog.post("/predict", json=[{"query": "lemmas"}, {"query": ""}]).get_json()
    assert [s["name"] for s in body["result"][0]["services"]] == ["text_cleaner"]
    assert body["result"][1]["count"] == 5


@pytest.mark.parametrize("path", ["/predict", "/healthz", "/readyz", "/metadata",
                                  "/openapi.json", "/metrics"])
def test_the_catalog_keeps_the_service_contract(catalog, path):
    response = catalog.post(path, json={"query": "x"}) if path == "/predict" \
        else catalog.get(path)
    assert response.status_code == 200


def test_one_service_in_detail_with_schemas_limits_steps_and_samples(catalog):
    body = catalog.get("/api/services/text_cleaner").get_json()
    assert body["input_schema"]["required"] == ["text"]
    assert "tokens" in body["output_schema"]["properties"]
    assert body["limits"]["max_batch_size"] == 64
    assert body["sample_input"]["text"].startswith("Sooo happy")
    assert set(body["samples"]) == {"curl", "python", "javascript"}
    assert 'Client().algo(\'text_cleaner\').pipe(sample)' in body["samples"]["python"]
    steps = catalog.get("/api/services/pipe").get_json()["graph"]
    assert [s["kind"] for s in steps] == ["service", "parallel", "map", "service"]
    assert steps[3] == {"kind": "service", "service": "not_registered", "known": False,
                        "notes": []}


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/services/nope"), ("GET", "/services/nope"),
    ("POST", "/api/services/nope/try"), ("GET", "/api/services/catalog"),
    ("GET", "/services/%3Cscript%3E"), ("GET", "/services/..%2F..%2Fetc")])
def test_unknown_names_are_a_json_404(catalog, method, path):
    response = catalog.open(path, method=method, json={"input": {}})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.mimetype == "application/json"   # never an HTML page echoing the name


def test_try_runs_the_service_with_the_catalogs_key(catalog):
    response = catalog.post("/api/services/text_cleaner/try",
                            json={"input": {"text": "Hi @bob #GoodDay"}})
    body = response.get_json()
    assert response.status_code == 200 and body["service"] == "text_cleaner"
    assert body["answer"]["result"]["text"] == "Hi Good Day"
    assert body["duration_ms"] > 0 and response.headers["Cache-Control"] == "no-store"


def test_try_passes_on_the_services_own_validation_error(catalog):
    response = catalog.post("/api/services/text_cleaner/try",
                            json={"input": {"text": "x", "urls": "shred"}})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"]["code"] == "invalid_input" and "urls" in body["error"]["details"]
    assert body["service"] == "text_cleaner"


@pytest.mark.parametrize("body,status", [
    ({"input": "text"}, 400), ({"input": [{"text": "a"}]}, 400), ({}, 400),
    ({"input": {"text": "a"}, "extra": 1}, 400), ([], 400)])
def test_try_validates_its_own_body(catalog, body, status):
    response = catalog.post("/api/services/text_cleaner/try", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == "invalid_input"


def test_try_refuses_a_body_that_is_not_json(catalog):
    response = catalog.post("/api/services/text_cleaner/try", data="input=x",
                            content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_try_a_service_that_is_down_is_a_502_without_internal_urls(catalog):
    response = catalog.post("/api/services/down/try", json={"input": {"text": "a"}})
    body = response.get_json()
    assert response.status_code == 502 and body["error"]["code"] == "upstream_error"
    assert body["error"]["message"] == "down could not be reached."
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_a_refused_catalog_key_is_the_catalogs_problem_not_the_visitors(make_catalog):
    client = make_catalog(API_KEY="wrong").test_client()
    response = client.post("/api/services/text_cleaner/try", json={"input": {"text": "a"}})
    assert response.status_code == 502
    assert "CATALOG_API_KEY" in response.get_json()["error"]["message"]
    listed = client.get("/api/services", query_string={"q": "text_cleaner"}).get_json()
    assert listed["services"][0]["status"] == "down"


def test_try_can_be_turned_off(make_catalog):
    client = make_catalog(TRY_IT=False).test_client()
    response = client.post("/api/services/text_cleaner/try", json={"input": {"text": "a"}})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert 'id="try-form"' not in client.get("/services/text_cleaner").get_data(as_text=True)


def test_the_api_key_never_reaches_a_response(catalog):
    paths = ["/", "/?q=text", "/services/text_cleaner", "/services/pipe", "/services/down",
             "/api/services", "/api/services/text_cleaner", "/static/catalog.js",
             "/static/catalog.css", "/metadata", "/openapi.json", "/docs"]
    bodies = [catalog.get(p).get_data(as_text=True) for p in paths]
    bodies.append(catalog.post("/api/services/text_cleaner/try",
                               json={"input": {"text": "a"}}).get_data(as_text=True))
    assert all(KEY not in body for body in bodies)
    assert "$MODELCHAIN_API_KEY" in bodies[2]   # samples say where a key goes instead


def test_try_keeps_a_services_own_400_that_names_a_url(make_catalog, fake_apps):
    """A downloader's refusal carries the URL it refused: still the service's own 400."""
    from common import Function, InvalidInput, create_service_app
    from tests.services.catalog.conftest import TextInput, TextOutput

    class Fetcher(Function):
        name, input_schema, output_schema = "fetcher", TextInput, TextOutput
        sample_input = {"text": "x"}

        def predict(self, inputs):
            if inputs[0]["text"] == "https://nowhere.example/a.png":
                raise InvalidInput("Refused it: unresolvable.",
                                   {"url": inputs[0]["text"], "reason": "unresolvable"})
            return [{"text": "ok"} for _ in inputs]

    apps = {**fake_apps, "fetcher": create_service_app(Fetcher, config={"LOAD_MODEL": "sync"})}
    client = make_catalog(apps).test_client()
    response = client.post("/api/services/fetcher/try",
                           json={"input": {"text": "https://nowhere.example/a.png"}})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["details"]["reason"] == "unresolvable"
