"""The observed call graph (common/serving/callgraph.py, common/client/calls.py): every
pipe call a service makes while serving is counted in its /metrics and /calls, by
callee and outcome, with bounded labels; calls outside a request are not."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask, jsonify
from prometheus_client.parser import text_string_to_metric_families

from common.client import Client, calls
from common.core.context import bind_context
from common.serving.callgraph import CallRecorder, collect_edges
from common.serving.colocated import ColocatedEndpoint
from common.serving.metrics import ServiceMetrics
from tests.conftest import free_port
from tests.helpers.chain import leaf_app, registry_file, relay_app


def sample(app, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` in the app's /metrics that have ``labels``."""
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples
               if s.name == name and labels.items() <= s.labels.items())


def call_count(app, caller: str, callee: str, outcome: str) -> float:
    return sample(app, "modelchain_pipe_calls_total", caller=caller, callee=callee,
                  outcome=outcome)


@pytest.fixture
def registry(tmp_path):
    return registry_file(tmp_path, ["front", "back", "side"])


def refusing_app():
    app = Flask("refusing")
    app.post("/predict")(lambda: (jsonify(error={"code": "invalid_input", "message": "no",
                                                 "details": {}}), 400))
    return app


@pytest.mark.parametrize("callee, outcome", [
    (lambda: leaf_app("back"), "ok"),
    (refusing_app, "error"),
    (None, "unreached"),
], ids=["ok", "error", "unreached"])
def test_a_pipe_call_is_counted_with_its_outcome(registry, callee, outcome):
    front = relay_app("front", ["back"], {}, REGISTRY=registry, WAIT_FOR_DEPENDENTS=False)
    model = front.extensions["modelchain"].model
    if callee is None:
        model.client = Client(urls={"back": f"http://127.0.0.1:{free_port()}"}, retries=0)
    else:
        model.client.local["back"] = callee()
    front.test_client().post("/predict", json={"text": "hi"})
    assert call_count(front, "front", "back", outcome) == 1
    assert sample(front, "modelchain_pipe_call_seconds_count", caller="front",
                  callee="back", version="1.0.0") == 1   # the caller's version
    edge, = front.test_client().get("/calls").get_json()["calls"]
    assert (edge["caller"], edge["callee"], edge["calls"], edge["outcomes"]) == \
        ("front", "back", 1, {outcome: 1})
    assert edge["mean_ms"] >= 0 and edge["seconds_total"] >= 0


def test_a_batch_is_one_call_per_callee_and_each_call_is_counted(registry):
    apps = {"back": leaf_app("back"), "side": leaf_app("side")}
    front = relay_app("front", ["back", "side"], apps, REGISTRY=registry)
    client = front.test_client()
    for _ in range(3):
        assert client.post("/predict", json={"text": "hi"}).status_code == 200
    documented = {e["callee"]: e["calls"] for e in client.get("/calls").get_json()["calls"]}
    assert documented == {"back": 3, "side": 3}


def test_a_callee_outside_the_registry_is_counted_as_other(registry):
    front = relay_app("front", ["elsewhere"], {"elsewhere": leaf_app("elsewhere")},
                      REGISTRY=registry)
    front.test_client().post("/predict", json={"text": "hi"})
    assert call_count(front, "front", "other", "ok") == 1
    assert front.extensions["modelchain"].recorder.callees() == []


def test_without_a_registry_the_labels_are_capped():
    recorder = CallRecorder(ServiceMetrics("front"), None)
    for i in range(100):
        recorder.record(f"s{i}", calls.OK, 0.001)
    edges = {e["callee"]: e["calls"]
             for e in collect_edges(recorder.metrics.registry.collect(), "front")}
    assert len(edges) == 65 and edges["other"] == 36 and edges["s63"] == 1


def test_the_warm_up_and_other_routes_are_not_traffic(registry):
    apps = {"back": leaf_app("back")}
    front = relay_app("front", ["back"], apps, REGISTRY=registry)
    model = front.extensions["modelchain"].model
    Relay = type(model)
    Relay.predict(model, [{"text": "called from the loading thread: no request"}])
    model.client.call("back", "GET", "/metadata")   # not a pipe call
    assert front.test_client().get("/calls").get_json()["calls"] == []


def test_calls_on_threads_given_the_request_context_are_counted(registry):
    """A pipeline's parallel branches and map steps run on pool threads that carry the
    request's context (bind_context): their calls are the service's too."""
    apps = {"back": leaf_app("back")}
    front = relay_app("front", ["back"], apps, REGISTRY=registry)
    model = front.extensions["modelchain"].model
    original = type(model).predict

    def fan_out(inputs):
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(bind_context(lambda i: original(model, [i])[0]),
                                    inputs * 4))
        return results[:len(inputs)]
    model.predict = fan_out
    front.test_client().post("/predict", json={"text": "hi"})
    assert call_count(front, "front", "back", "ok") == 4


def test_an_in_process_call_counts_for_the_caller_and_the_callees_own_calls_for_it(
        registry):
    """Co-located: front calls mid in-process; mid's own call to back is mid's."""
    from common.client import local
    apps = {"back": leaf_app("back", REGISTRY=registry)}
    mid = relay_app("side", ["back"], apps, REGISTRY=registry)
    front = relay_app("front", ["side"], {}, REGISTRY=registry)
    front.extensions["modelchain"].model.client = Client(urls={}, retries=0)
    local.register("side", ColocatedEndpoint(mid))
    try:
        assert front.test_client().post("/predict", json={"text": "hi"}).status_code == 200
    finally:
        local.unregister("side")
    assert call_count(front, "front", "side", "ok") == 1
    assert call_count(mid, "side", "back", "ok") == 1
    assert call_count(front, "front", "back", "ok") == 0


def test_concurrent_calls_are_all_counted(registry):
    apps = {"back": leaf_app("back")}
    front = relay_app("front", ["back"], apps, REGISTRY=registry)
    barrier = threading.Barrier(8)

    def call():
        barrier.wait()
        for _ in range(10):
            front.test_client().post("/predict", json={"text": "hi"})
    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert call_count(front, "front", "back", "ok") == 80


def test_calls_is_documented_by_its_schema(registry):
    front = relay_app("front", ["back"], {"back": leaf_app("back")}, REGISTRY=registry)
    spec = front.test_client().get("/openapi.json").get_json()
    answer = spec["paths"]["/calls"]["get"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/PipeCalls"}
    edge = spec["components"]["schemas"]["CallEdge"]
    assert set(edge["required"]) >= {"caller", "callee", "calls", "outcomes", "mean_ms"}
    ready = spec["paths"]["/readyz"]["get"]["responses"]
    assert ready["200"]["content"]["application/json"]["schema"]["$ref"].endswith("Readiness")
    assert "503" in ready


def test_calls_is_open_like_the_metrics(registry):
    """The same figures as /metrics, which needs no key: the catalog gathers both from
    services whatever keys they require."""
    front = relay_app("front", ["back"], {"back": leaf_app("back")}, REGISTRY=registry,
                      API_KEYS="k-secret")
    client = front.test_client()
    assert client.post("/predict", json={"text": "hi"}).status_code == 401
    assert client.get("/calls").status_code == 200
    assert client.get("/metadata").status_code == 401
