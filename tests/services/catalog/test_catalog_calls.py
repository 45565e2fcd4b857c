"""The catalog's call graph (services/catalog/calls.py, callmap.py): every service's
/calls gathered into /api/calls and drawn on the home page, what a service reports
checked, edges remembered across a restart. Flask's test client over in-process
services; test_catalog_calls_browser.py draws it in Chromium."""
from __future__ import annotations

import re

import pytest
from flask import Flask, jsonify

from services.catalog.callmap import NODE_RADIUS, label, layout
from tests.helpers.chain import leaf_app, relay_app

XSS = '<script>alert("x")</script>'


def liar_app(document):
    """A service whose /calls says whatever the test wants."""
    app = Flask("liar")
    app.get("/calls")(lambda: jsonify(document))
    return app


@pytest.fixture
def chain_apps():
    apps = {"back": leaf_app("back")}
    apps["front"] = relay_app("front", ["back"], apps, WAIT_FOR_DEPENDENTS=False)
    return apps


def catalog_over(make_catalog, apps):
    catalog = make_catalog(apps=apps)
    catalog.extensions["catalog"].client.local = apps   # a restarted app is seen
    for app in apps.values():    # the callee labels: the catalog's test registry
        if "modelchain" in app.extensions:
            app.extensions["modelchain"].recorder.known = frozenset(apps)
    return catalog.test_client()


def test_the_graph_gathers_every_services_calls(make_catalog, chain_apps):
    catalog = catalog_over(make_catalog, chain_apps)
    for _ in range(2):
        chain_apps["front"].test_client().post("/predict", json={"text": "hi"})
    graph = catalog.get("/api/calls").get_json()
    edge, = graph["edges"]
    assert (edge["caller"], edge["callee"], edge["calls"], edge["outcomes"]) == \
        ("front", "back", 2, {"ok": 2})
    assert edge["mean_ms"] >= 0 and edge["current"] is True
    assert graph["services"] == ["back", "front"]
    assert graph["unanswered"] == ["down"]    # registered where nothing listens


@pytest.mark.parametrize("document, expected", [
    ({"calls": [{"caller": "back", "callee": "front", "outcomes": {"ok": 3},
                 "mean_ms": 1.5}]}, [("liar", "front", 3, 1.5)]),      # caller: who we asked
    ({"calls": [{"callee": XSS, "outcomes": {"ok": 1}, "mean_ms": "fast"}]},
     [("liar", "other", 1, None)]),                                    # unknown callee
    ({"calls": [{"callee": "back", "outcomes": {"ok": -4}, "calls": True}]}, []),
    ({"calls": [{"callee": "back", "calls": 2, "mean_ms": float("inf")}]},
     [("liar", "back", 2, None)]),
    ({"calls": "many"}, []), ([1, 2], []), ({"calls": [None, 7, "x"]}, []),
], ids=["caller-claimed", "markup-callee", "negative", "infinite-mean", "not-a-list",
        "not-an-object", "not-edges"])
def test_what_a_service_reports_is_checked(make_catalog, document, expected):
    catalog = catalog_over(make_catalog, {"liar": liar_app(document), "back": leaf_app(),
                                          "front": leaf_app("front")})
    edges = catalog.get("/api/calls").get_json()["edges"]
    assert [(e["caller"], e["callee"], e["calls"], e["mean_ms"]) for e in edges] == expected


def test_edges_are_remembered_across_a_restart(make_catalog, chain_apps):
    catalog = catalog_over(make_catalog, chain_apps)
    chain_apps["front"].test_client().post("/predict", json={"text": "hi"})
    assert catalog.get("/api/calls").get_json()["edges"][0]["current"] is True
    chain_apps["front"] = relay_app("front", ["back"], chain_apps, WAIT_FOR_DEPENDENTS=False)
    chain_apps["front"].extensions["modelchain"].recorder.known = frozenset(chain_apps)
    remembered, = catalog.get("/api/calls").get_json()["edges"]
    assert (remembered["calls"], remembered["current"]) == (1, False)
    for _ in range(3):
        chain_apps["front"].test_client().post("/predict", json={"text": "hi"})
    fresh, = catalog.get("/api/calls").get_json()["edges"]
    assert (fresh["calls"], fresh["current"]) == (3, True)


def test_the_home_page_draws_the_graph(make_catalog, chain_apps):
    catalog = catalog_over(make_catalog, chain_apps)
    chain_apps["front"].test_client().post("/predict", json={"text": "hi"})
    page = catalog.get("/").get_data(as_text=True)
    edge = re.search(r'<g class="callgraph__edge"\s+data-caller="front" data-callee="back">'
                     r'.*?<path d="([^"]+)".*?<text[^>]*>([^<]+)</text>', page, re.S)
    assert edge, page[page.find('id="calls"'):][:2000]
    assert edge.group(1).startswith("M ") and " Q " in edge.group(1)
    assert re.fullmatch(r"1 call · \d+\.\d ms", edge.group(2))
    assert page.count('class="callgraph__node"') == 2
    assert '<tr data-caller="front" data-callee="back">' in page


def test_the_home_page_says_when_no_call_was_recorded(make_catalog):
    page = catalog_over(make_catalog, {"back": leaf_app()}).get("/").get_data(as_text=True)
    assert 'id="calls-empty"' in page and "<svg" not in page


def test_a_reported_name_never_reaches_the_page(make_catalog):
    apps = {"liar": liar_app({"calls": [{"callee": XSS, "outcomes": {"ok": 1}}]})}
    page = catalog_over(make_catalog, apps).get("/").get_data(as_text=True)
    assert 'data-caller="liar" data-callee="other"' in page
    assert "alert" not in page


@pytest.mark.parametrize("edge, text", [
    ({"calls": 1, "mean_ms": 2.345, "outcomes": {"ok": 1}}, "1 call · 2.3 ms"),
    ({"calls": 5, "mean_ms": None, "outcomes": {"ok": 5}}, "5 calls"),
    ({"calls": 4, "mean_ms": 10.0, "outcomes": {"ok": 1, "error": 2, "unreached": 1}},
     "4 calls · 10.0 ms · 3 failed"),
])
def test_edge_labels(edge, text):
    assert label(edge) == text


def _graph(*pairs):
    names = sorted({n for pair in pairs for n in pair})
    return {"services": names, "edges": [
        {"caller": a, "callee": b, "calls": 1, "mean_ms": 1.0, "outcomes": {"ok": 1}}
        for a, b in pairs]}


def _start(path: str) -> tuple[float, float]:
    x, y = path.split()[1:3]
    return float(x), float(y)


def test_the_layout_puts_nodes_inside_and_edges_between_them():
    drawn = layout(_graph(("a", "b"), ("b", "a"), ("b", "c"), ("video", "video")))
    nodes = {n["name"]: (n["x"], n["y"]) for n in drawn["nodes"]}
    for x, y in nodes.values():
        assert NODE_RADIUS <= x <= drawn["width"] - NODE_RADIUS
        assert NODE_RADIUS <= y <= drawn["height"] - NODE_RADIUS
    edges = {(e["caller"], e["callee"]): e for e in drawn["edges"]}
    ab, ba = edges[("a", "b")], edges[("b", "a")]
    assert (ab["label_x"], ab["label_y"]) != (ba["label_x"], ba["label_y"])  # not stacked
    sx, sy = _start(ab["path"])
    ax, ay = nodes["a"]
    assert abs(((sx - ax) ** 2 + (sy - ay) ** 2) ** 0.5 - NODE_RADIUS) < 0.5  # on a's rim
    assert " C " in edges[("video", "video")]["path"]    # a self-call is a loop
