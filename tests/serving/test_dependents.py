"""Warm dependents (common/serving/dependents.py): a service that calls others reports
ready only once they are ready and warmed; cycles and self-calls do not deadlock;
readiness, once reached, stays. In-process services (Flask's test client and the pipe
client's in-process apps); tests/integration/test_warm_dependents.py does the same on
real gunicorn."""
from __future__ import annotations

import threading

import pytest
from flask import Flask, jsonify

from common import ANY_SERVICE
from common.client import Client
from common.serving.dependents import (LOADING, READY, WAITING, Probe, declared,
                                       remembered_callees, walk)
from services.catalog import create_app as create_catalog
from tests.helpers.chain import FAST, leaf_app, registry_file, relay_app, until


def readiness(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def waiting_for(app) -> dict:
    status, body = readiness(app)
    return body["error"]["details"]["waiting_for"] if status == 503 else {}


def is_ready(app) -> bool:
    return readiness(app)[0] == 200


def test_a_caller_is_not_ready_until_its_dependent_is_ready_and_warmed():
    back = leaf_app("back", LOAD_MODEL="off")
    front = relay_app("front", ["back"], {"back": back})
    until(lambda: waiting_for(front) == {"back": LOADING}, what="front waits for back")
    status, body = readiness(front)
    assert status == 503 and body["error"]["code"] == "not_ready"
    assert body["error"]["details"]["model_ready"] is True   # its own model is fine
    assert body["error"]["details"]["dependents"] == ["back"]
    back.extensions["modelchain"].runner.start()
    until(lambda: is_ready(front), what="front ready once back is")
    assert readiness(front)[1]["dependents"] == {"back": READY}
    assert back.extensions["modelchain"].model.predictions == 1   # back's warm-up ran


def test_a_dependent_reports_ready_only_after_its_warm_up():
    hold = threading.Event()
    back = leaf_app("back", LOAD_MODEL="background", HOLD_WARMUP=hold)
    front = relay_app("front", ["back"], {"back": back})
    back.extensions["modelchain"].ensure_started()
    until(lambda: waiting_for(front) == {"back": LOADING}, what="front waits")
    assert back.extensions["modelchain"].model.predictions == 0   # loaded, not warmed
    assert readiness(back)[0] == 503
    hold.set()
    until(lambda: is_ready(front), what="front ready after back's warm-up")
    assert back.extensions["modelchain"].model.predictions == 1


def failing_app(status: int):
    app = Flask("failing")
    app.get("/readyz")(lambda: (jsonify(error={"code": "x", "message": "no"}), status))
    return app


@pytest.mark.parametrize("dependent, state, ready", [
    (lambda: leaf_app("back", LOAD_MODEL="off"), "loading", False),
    (lambda: leaf_app("back", FAIL_LOAD=True), "failed", False),
    (lambda: failing_app(500), "error", False),
    (lambda: Flask("no-readyz"), "no_readiness", True),   # answers, says nothing: go on
    (lambda: leaf_app("back"), "ready", True),
], ids=["loading", "failed", "error", "no-readyz", "ready"])
def test_each_dependent_state_holds_or_releases_the_caller(dependent, state, ready):
    front = relay_app("front", ["back"], {"back": dependent()})
    if ready:
        until(lambda: is_ready(front), what=f"ready with back {state}")
        assert readiness(front)[1]["dependents"] == {"back": state}
    else:
        until(lambda: waiting_for(front) == {"back": state}, what=f"waits on {state}")


def test_an_unreachable_dependent_holds_the_caller(monkeypatch):
    from tests.conftest import free_port
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MODELCHAIN_URL_BACK", url)   # served here, nothing listens yet
    front = relay_app("front", ["back"])
    front.extensions["modelchain"].model.client = Client(urls={"back": url}, retries=0)
    until(lambda: waiting_for(front) == {"back": "unreachable"}, what="unreachable")


@pytest.mark.parametrize("length", [1, 2, 3], ids=["self-call", "A-B-A", "A-B-C-A"])
def test_a_cycle_of_callers_turns_ready(length):
    names = [f"s{i}" for i in range(length)]
    apps: dict = {}
    for i, name in enumerate(names):
        apps[name] = relay_app(name, [names[(i + 1) % length]], apps)
    for name in names:
        until(lambda: is_ready(apps[name]), what=f"{name} of a cycle of {length}")


def test_a_caller_waits_for_its_dependents_dependents():
    apps: dict = {}
    apps["back"] = leaf_app("back", LOAD_MODEL="off")
    apps["mid"] = relay_app("mid", ["back"], apps)
    front = relay_app("front", ["mid"], apps)
    until(lambda: waiting_for(front) == {"back": LOADING}, what="front sees back")
    assert "mid" not in waiting_for(front)     # mid's own model is ready: it only waits
    apps["back"].extensions["modelchain"].runner.start()
    until(lambda: is_ready(front), what="front ready")
    # front may latch a poll before mid does: front saw mid waiting and probed back
    # itself, while mid's own check runs every DEPENDENTS_POLL_S.
    until(lambda: is_ready(apps["mid"]), what="mid ready")


def test_readiness_stays_once_reached_and_the_body_says_what_changed():
    apps = {"back": leaf_app("back")}
    front = relay_app("front", ["back"], apps)
    until(lambda: is_ready(front))
    apps["back"] = leaf_app("back", LOAD_MODEL="off")   # the dependent went away
    until(lambda: readiness(front)[1]["dependents"] == {"back": LOADING},
          what="the recheck notices")
    assert readiness(front)[0] == 200      # no flapping: a caller stays ready


@pytest.mark.parametrize("config, ready", [
    ({"WAIT_FOR_DEPENDENTS": False}, True),
    ({"DEPENDENTS_MAX_WAIT_S": 0.2}, True),
    ({}, False),
], ids=["wait-off", "max-wait", "default"])
def test_the_wait_can_be_turned_off_or_bounded(config, ready):
    front = relay_app("front", ["back"], {"back": leaf_app("back", LOAD_MODEL="off")},
                      **config)
    if ready:
        until(lambda: is_ready(front), what="ready without back")
    else:
        until(lambda: waiting_for(front) == {"back": LOADING})
    if "DEPENDENTS_MAX_WAIT_S" in config:
        assert readiness(front)[1]["gave_up_on"] == ["back"]


def test_the_wait_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELCHAIN_WAIT_FOR_DEPENDENTS", "0")
    front = relay_app("front", ["back"], {"back": leaf_app("back", LOAD_MODEL="off")})
    assert front.config["WAIT_FOR_DEPENDENTS"] is False
    until(lambda: is_ready(front))


def test_a_dependent_this_deployment_does_not_serve_is_not_waited_for():
    front = relay_app("front", ["elsewhere"], {})   # no in-process app, no URL set
    until(lambda: is_ready(front))
    assert readiness(front)[1]["dependents"] == {}


@pytest.mark.parametrize("calls, policy, expected", [
    (("back", "side"), None, ["back", "side"]),
    (("back", "side"), ("side",), ["side"]),
    (("back",), (), []),
    ((ANY_SERVICE,), None, []),
    ((ANY_SERVICE,), ("back",), []),
    (("front", "back"), None, ["back"]),       # itself: never
], ids=["no-policy", "narrowed", "forbidden", "any", "any-with-policy", "self"])
def test_declared_dependents(calls, policy, expected):
    model = type("M", (), {"name": "front", "calls": calls})()
    assert declared(model, policy) == expected


def test_the_registry_policy_narrows_what_is_waited_for(tmp_path):
    path = registry_file(tmp_path, ["front", "back"], calls={"front": []})
    front = relay_app("front", ["back"], {"back": leaf_app("back", LOAD_MODEL="off")},
                      REGISTRY=path)
    until(lambda: is_ready(front), what="nothing to wait for: front may call no one")


def test_walking_stops_at_the_caller_and_each_service_is_probed_once():
    probed = []
    answers = {"a": Probe(WAITING, ("b", "front")), "b": Probe(WAITING, ("a",)),
               "c": Probe(LOADING)}

    def check(name):
        probed.append(name)
        return answers[name]
    states = walk("front", ["a", "c", "a"], check, lambda n: True)
    assert states == {"a": WAITING, "c": LOADING, "b": WAITING}
    assert sorted(probed) == ["a", "b", "c"]


@pytest.mark.parametrize("graph, expected", [
    ({"edges": [{"caller": "gw", "callee": "back"}, {"caller": "x", "callee": "y"},
                {"caller": "gw", "callee": "back"}, {"caller": "gw", "callee": "side"}]},
     ["back", "side"]),
    ({"edges": "nope"}, []), ([1, 2], []), ({"edges": [1, {"caller": "gw"}]}, []),
], ids=["edges", "not-a-list", "not-an-object", "broken-edges"])
def test_remembered_callees_from_a_gathered_graph(graph, expected):
    assert remembered_callees(graph, "gw") == expected


def test_after_a_restart_a_service_waits_for_what_the_catalog_saw_it_call(tmp_path):
    """A "*" service (like the gateway) declares no one; it calls back, the catalog
    gathers that; restarted, it asks the catalog and waits for back."""
    path = registry_file(tmp_path, ["catalog", "gw", "back"])
    apps: dict = {"back": leaf_app("back", REGISTRY=path)}
    gateway = relay_app("gw", [ANY_SERVICE], apps, REGISTRY=path, TARGETS=["back"])
    apps["gw"] = gateway
    catalog = create_catalog({"REGISTRY": path, "LOAD_MODEL": "sync", "CACHE_TTL_S": 0,
                              **FAST}, local=apps)
    catalog.extensions["catalog"].client.local = apps   # sees the restarted ones too
    apps["catalog"] = catalog
    until(lambda: is_ready(gateway))
    assert gateway.test_client().post("/predict", json={"text": "hi"}).status_code == 200
    graph = catalog.test_client().get("/api/calls").get_json()
    assert [(e["caller"], e["callee"]) for e in graph["edges"]] == [("gw", "back")]

    apps["back"] = leaf_app("back", LOAD_MODEL="off", REGISTRY=path)   # both restart
    restarted = relay_app("gw", [ANY_SERVICE], apps, REGISTRY=path, TARGETS=["back"])
    apps["gw"] = restarted
    until(lambda: waiting_for(restarted) == {"back": LOADING}, what="asked the catalog")
    apps["back"].extensions["modelchain"].runner.start()
    until(lambda: is_ready(restarted))
    edges = catalog.test_client().get("/api/calls").get_json()["edges"]
    assert edges[0]["current"] is False   # remembered from before the restart
