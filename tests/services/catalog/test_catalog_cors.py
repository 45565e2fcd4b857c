"""The catalog's JavaScript sample, run in headless Chromium from a page on another
origin: refused by the browser unless the service allows that origin (CORS_ORIGINS)."""
from __future__ import annotations

import http.server
import threading

import pytest

from services.catalog.samples import javascript
from tests.conftest import free_port

pytestmark = pytest.mark.integration

SAMPLE = {"text": "Hello from another page #Fun"}


@pytest.fixture(scope="module")
def page_origin():
    """An empty page served on its own port: an origin other than the service's."""
    port = free_port()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>another page</title>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def run_sample(browser, origin: str, url: str):
    """The sample's code in a page of ``origin``; its result, or the browser's error."""
    code = javascript(url, SAMPLE, auth=False).replace("console.log(answer.result);",
                                                       "return answer.result;")
    page = browser.new_page()
    try:
        page.goto(origin)
        return page.evaluate(f"async () => {{ try {{ {code} }} catch (e) "
                             "{ return 'refused: ' + e.message; } }")
    finally:
        page.close()


def test_the_sample_works_from_an_allowed_origin_only(browser, live_services, page_origin):
    allowed = live_services("text_cleaner", env={"MODELCHAIN_CORS_ORIGINS": page_origin})
    result = run_sample(browser, page_origin, allowed["text_cleaner"])
    assert isinstance(result, dict) and result["text"] == "Hello from another page Fun"
    closed = live_services("text_cleaner")  # the default: no origin allowed
    refused = run_sample(browser, page_origin, closed["text_cleaner"])
    assert isinstance(refused, str) and refused.startswith("refused:")
