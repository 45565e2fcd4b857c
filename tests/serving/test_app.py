"""The service factory through Flask's test client."""
from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate as validate_openapi

from tests.helpers.words import make_app


def test_single_input_answers_result_and_metadata(client):
    response = client.post("/predict", json={"text": "hello big world"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == {"words": 3, "shout": "HELLO BIG WORLD"}
    meta = body["metadata"]
    assert meta["service"] == "words" and meta["version"] == "2.1.0"
    assert meta["batch_size"] == 1 and meta["duration_ms"] >= 0
    assert meta["request_id"] == response.headers["X-Request-ID"]


def test_batch_answers_a_list_in_order_with_one_model_call(app, client):
    texts = ["a", "a b", "a b c", "a b c d"]
    response = client.post("/predict", json=[{"text": t} for t in texts])
    assert response.status_code == 200
    assert [r["words"] for r in response.get_json()["result"]] == [1, 2, 3, 4]
    assert app.extensions["modelchain"].model.batch_sizes[-1] == 4


BAD_INPUTS = [
    # (id, request kwargs, status, code, text that the message must contain)
    ("missing field", {"json": {}}, 400, "invalid_input", "text: Missing data"),
    ("wrong type", {"json": {"text": 42}}, 400, "invalid_input", "text: Not a valid string"),
    ("empty text", {"json": {"text": ""}}, 400, "invalid_input", "text: Must not be empty"),
    ("blank text", {"json": {"text": "  \n"}}, 400, "invalid_input", "text: Must not be"),
    ("too long", {"json": {"text": "x" * 51}}, 400, "invalid_input", "text: Longer than"),
    ("not JSON", {"data": "{not json", "content_type": "application/json"}, 400,
     "invalid_input", "not valid JSON"),
    ("empty body", {"data": "", "content_type": "application/json"}, 400, "invalid_input",
     "body is empty"),
    ("wrong content type", {"data": "text=hi", "content_type": "text/plain"}, 415,
     "unsupported_media_type", "must be JSON"),
    ("no content type", {"data": '{"text": "hi"}'}, 415, "unsupported_media_type", "JSON"),
    ("empty list", {"json": []}, 400, "invalid_input", "batch is empty"),
    ("over-long batch", {"json": [{"text": "a"}] * 5}, 413, "payload_too_large",
     "at most 4"),
    ("unknown field", {"json": {"text": "hi", "colour": "red"}}, 400, "invalid_input",
     "colour: Unknown field"),
    ("nested garbage", {"json": {"text": {"a": [1, {"b": None}]}}}, 400, "invalid_input",
     "text: Not a valid string"),
    ("garbage in a list field", {"json": {"text": "hi", "tags": [1, {"x": 2}]}}, 400,
     "invalid_input", "tags"),
    ("out of range", {"json": {"text": "hi", "repeat": 9}}, 400, "invalid_input", "repeat"),
    ("scalar body", {"json": 7}, 400, "invalid_input", "object or a list"),
    ("list of scalars", {"json": ["hi"]}, 400, "invalid_input", "items[0]: Not an object"),
    ("null body", {"data": "null", "content_type": "application/json"}, 400, "invalid_input", "object or a list"),
    ("deep nesting", {"data": "[" * 100000 + "]" * 100000,
                      "content_type": "application/json"}, 413, "payload_too_large", "limit"),
    ("body over limit", {"json": {"text": "x" * 5000}}, 413, "payload_too_large",
     "4096 bytes"),
]


@pytest.mark.parametrize("kwargs,status,code,fragment",
                         [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_clear_json_error(client, kwargs, status, code, fragment):
    response = client.post("/predict", **kwargs)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code
    assert fragment in error["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_batch_error_names_each_bad_index(client):
    response = client.post("/predict", json=[{"text": "ok"}, {"text": 1}, {"txt": "x"}])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert set(error["details"]) == {"1", "2"}
    assert "items[1].text" in error["message"] and "items[2].txt" in error["message"]


def test_deeply_nested_json_under_the_body_limit_is_a_400_not_a_500():
    app = make_app(MAX_CONTENT_LENGTH=10 * 1024 * 1024)
    body = "[" * 50000 + "]" * 50000
    response = app.test_client().post("/predict", data=body,
                                      content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_input"


def test_unexpected_model_failure_is_a_500_without_internals(client):
    response = client.post("/predict", json={"text": "boom"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret internal detail" not in body and "Traceback" not in body


def test_a_service_error_raised_by_the_model_keeps_its_status(client):
    response = client.post("/predict", json={"text": "reject"})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"text": ["Refused."]}


@pytest.mark.parametrize("method,path,status,code", [
    ("get", "/nowhere", 404, "not_found"),
    ("post", "/nowhere", 404, "not_found"),
    ("get", "/predict", 405, "method_not_allowed"),
    ("delete", "/healthz", 405, "method_not_allowed"),
])
def test_routing_errors_are_json(client, method, path, status, code):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]["code"] == code


def test_a_405_names_the_allowed_methods(client):
    response = client.get("/predict")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["ready"] is True


def test_not_ready_until_loaded():
    app = make_app(LOAD_MODEL="off")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    response = client.post("/predict", json={"text": "hi"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "not_ready"
    app.extensions["modelchain"].runner.start()
    assert client.get("/readyz").status_code == 200


def test_a_failed_load_is_reported_not_ready():
    client = make_app(FAIL_LOAD=True).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["error"]["details"]["load_error"] == "RuntimeError"


def test_background_load_happens_on_first_request():
    app = make_app(LOAD_MODEL="background")
    client = app.test_client()
    client.get("/healthz")
    app.extensions["modelchain"].runner._thread.join(10)
    assert client.get("/readyz").status_code == 200


def test_metadata_describes_the_model(client):
    meta = client.get("/metadata").get_json()
    assert (meta["name"], meta["version"], meta["description"]) == \
        ("words", "2.1.0", "Counts words.")
    assert meta["input_schema"]["required"] == ["text"]
    assert meta["input_schema"]["properties"]["repeat"]["type"] == "integer"
    assert set(meta["output_schema"]["properties"]) == {"words", "shout"}
    assert meta["sample_input"] == {"text": "one two"}
    assert meta["limits"]["max_batch_size"] == 4 and meta["limits"]["max_text_length"] == 50


def test_sample_input_is_accepted(client):
    sample = client.get("/metadata").get_json()["sample_input"]
    assert client.post("/predict", json=sample).status_code == 200


def test_openapi_is_valid_and_documents_the_schemas(client):
    spec = client.get("/openapi.json").get_json()
    validate_openapi(spec)
    assert spec["openapi"].startswith("3.")
    schemas = spec["components"]["schemas"]
    assert "WordsInput" in schemas and "WordsOutput" in schemas and "Error" in schemas
    predict = spec["paths"]["/predict"]["post"]
    assert {"200", "400", "413", "415"} <= set(predict["responses"])


def test_docs_page_is_served_with_its_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_metrics_count_requests_by_route_and_status(client):
    client.post("/predict", json={"text": "a"})
    client.post("/predict", json={})
    client.post("/predict", json=[{"text": "a"}, {"text": "b"}])
    text = client.get("/metrics").get_data(as_text=True)
    assert ('modelchain_requests_total{method="POST",route="/predict",service="words",'
            'status="200",version="2.1.0"} 2.0') in text
    assert 'status="400",version="2.1.0"} 1.0' in text
    assert "modelchain_request_duration_seconds_bucket" in text
    assert 'modelchain_request_batch_size_sum{service="words",version="2.1.0"} 3.0' in text


def test_request_id_and_trace_are_carried(client):
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    response = client.post("/predict", json={"text": "a"},
                           headers={"X-Request-ID": "req-123", "traceparent": trace})
    assert response.headers["X-Request-ID"] == "req-123"
    assert response.get_json()["metadata"]["request_id"] == "req-123"
    assert response.headers["traceparent"].split("-")[1] == "ab" * 16


def test_an_expired_deadline_is_a_504_before_the_model_runs(app, client):
    calls = len(app.extensions["modelchain"].model.batch_sizes)
    response = client.post("/predict", json={"text": "a"}, headers={"X-Deadline-Ms": "0"})
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "deadline_exceeded"
    assert len(app.extensions["modelchain"].model.batch_sizes) == calls


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("WORDS_MAX_BATCH_SIZE", "2")
    client = make_app().test_client()
    response = client.post("/predict", json=[{"text": "a"}] * 3)
    assert response.status_code == 413
    assert json.loads(response.data)["error"]["details"]["max_batch_size"] == 2


def test_predict_needs_no_registry_unless_it_forwards(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCHAIN_REGISTRY", str(tmp_path / "missing.yaml"))
    client = make_app().test_client()
    answer = client.post("/predict", json={"text": "a b"})
    assert answer.status_code == 200 and answer.get_json()["result"]["words"] == 2
    assert client.post("/predict", json=[{"text": "a"}, {"text": "b c"}]).status_code == 200
    forwarded = client.post("/predict", json={"text": "a"},
                            headers={"X-Pipe-Next": "sentiment"})
    assert forwarded.status_code == 500
    error = forwarded.get_json()["error"]
    assert error["code"] == "internal_error" and "missing.yaml" in error["message"]


def test_no_cors_header_is_sent_unless_origins_are_configured():
    answer = make_app().test_client().post("/predict", json={"text": "a"},
                                           headers={"Origin": "https://page.example"})
    assert answer.status_code == 200
    assert not any(h.lower().startswith("access-control") for h in answer.headers.keys())


def test_configured_origins_may_call_from_a_browser_and_others_may_not():
    client = make_app(CORS_ORIGINS="https://page.example", API_KEYS="k1").test_client()
    preflight = client.options("/predict", headers={
        "Origin": "https://page.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://page.example"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    called = client.post("/predict", json={"text": "a"}, headers={
        "Origin": "https://page.example", "Authorization": "Bearer k1"})
    assert called.headers["Access-Control-Allow-Origin"] == "https://page.example"
    assert "X-Request-Id" in called.headers["Access-Control-Expose-Headers"]
    stranger = client.post("/predict", json={"text": "a"}, headers={
        "Origin": "https://evil.example", "Authorization": "Bearer k1"})
    assert "Access-Control-Allow-Origin" not in stranger.headers
    assert client.post("/predict", json={"text": "a"}).status_code == 401  # keys still hold
