"""The catalog's call graph in real headless Chromium: after chain calls on real
gunicorn (tests/integration/test_warm_dependents.py's chain, each service on its
own), the home page draws each edge from its caller to its callee, labelled with the
count and the mean latency. Screenshot: test-artifacts/catalog-calls.png."""
from __future__ import annotations

import math
import re

import pytest
import requests

from services.catalog.callmap import NODE_RADIUS
from tests.integration.test_warm_dependents import CHAIN, CHAIN_ENV

pytestmark = pytest.mark.integration

EDGE = 'g.callgraph__edge[data-caller="{}"][data-callee="{}"]'


@pytest.fixture(scope="module")
def urls(live_services):
    urls = live_services(*CHAIN, env=CHAIN_ENV)
    for text in ("I love it", "I hate waiting"):
        answer = requests.post(f"{urls['tweet_sentiment']}/predict", json={"text": text},
                               timeout=60)
        assert answer.status_code == 200, answer.text
    return urls


def end_of(page, selector: str) -> tuple[float, float]:
    """Where an edge's curve ends (its arrowhead), in the SVG's coordinates."""
    return tuple(page.evaluate(
        "(s) => { const p = document.querySelector(s + ' path');"
        " const e = p.getPointAtLength(p.getTotalLength()); return [e.x, e.y]; }", selector))


def centre_of(page, name: str) -> tuple[float, float]:
    circle = page.locator(f'g.callgraph__node[data-name="{name}"] circle')
    return float(circle.get_attribute("cx")), float(circle.get_attribute("cy"))


@pytest.mark.parametrize("callee", ["text_cleaner", "sentiment"])
def test_the_home_page_draws_each_call_from_caller_to_callee(browser, urls, callee,
                                                            artifacts_dir):
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.goto(urls["catalog"] + "/")
    edge = page.locator(EDGE.format("tweet_sentiment", callee))
    assert edge.count() == 1 and edge.is_visible()
    calls = int(re.match(r"(\d+) calls? · \d+\.\d ms", edge.locator("text").text_content())
                .group(1))
    assert calls >= 2
    ex, ey = end_of(page, EDGE.format("tweet_sentiment", callee))
    cx, cy = centre_of(page, callee)
    assert abs(math.hypot(ex - cx, ey - cy) - (NODE_RADIUS + 4)) < 2   # at the callee
    box = page.locator("#callgraph").bounding_box()
    assert box and box["width"] > 200 and box["x"] + box["width"] <= 1100
    row = page.locator(f'#calls-table tr[data-caller="tweet_sentiment"][data-callee="{callee}"]')
    assert row.locator("td").nth(2).inner_text() == str(calls)
    page.locator("#calls").screenshot(path=str(artifacts_dir / "catalog-calls.png"))
