"""The catalog's HTML pages (test client): content, escaping, down services, headers."""
from __future__ import annotations

import re

import pytest
from markupsafe import escape

from tests.services.catalog.conftest import XSS


def page(catalog, path: str) -> str:
    response = catalog.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_the_home_page_lists_every_service_with_its_health(catalog):
    text = page(catalog, "/")
    for name in ("text_cleaner", "evil", "pipe", "odd", "down"):
        assert f'href="/services/{name}"' in text
    assert 'class="health health--ready">ready<' in text
    assert 'class="health health--down">down<' in text
    assert "5 of 5 services" in text


def card_tag(text: str, name: str) -> str:
    return re.search(rf'<li class="card" data-name="{name}"[^>]*>', text).group(0)


def test_the_home_page_filters_without_javascript(catalog):
    text = page(catalog, "/?q=lemmas")
    assert "1 of 5 services" in text
    assert card_tag(text, "evil").endswith(" hidden>")
    assert not card_tag(text, "text_cleaner").endswith(" hidden>")


@pytest.mark.parametrize("path", ["/", "/services/evil", "/services/pipe", "/?q=%3Cscript%3E"])
def test_untrusted_metadata_is_escaped(catalog, path):
    text = page(catalog, path)
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text
    assert "<script" not in text.replace('<script src="/static/catalog.js"></script>', "")


def test_the_service_page_shows_the_escaped_text(catalog):
    text = page(catalog, "/services/evil")
    assert str(escape(XSS)) in text
    assert "&lt;/textarea&gt;" in text     # the sample cannot close the try-it textarea


def test_a_service_page_has_schemas_limits_samples_and_the_try_form(catalog):
    text = page(catalog, "/services/text_cleaner")
    assert "Input fields" in text and "<code>text</code>" in text
    assert "one of: remove, keep, token" in text
    assert "Largest batch" in text and ">64<" in text
    assert 'id="try-form" data-action="/api/services/text_cleaner/try"' in text
    assert "Sooo happy with @acme&#39;s support" in text   # the sample, prefilled
    for sample in ("sample-curl", "sample-python", "sample-javascript"):
        assert f'id="{sample}"' in text
    assert "Client().algo(&#39;text_cleaner&#39;).pipe(sample)" in text
    assert "await fetch(" in text and "curl -s -X POST" in text


def test_a_pipeline_page_draws_its_steps(catalog):
    text = page(catalog, "/services/pipe")
    graph = text.split('id="graph"')[1].split("</ol>")[0]
    assert graph.count('class="graph__node"') == 4
    assert '<a href="/services/text_cleaner">text_cleaner</a>' in graph
    assert "in parallel" in graph and "mood" in graph and "takes text" in graph
    assert "for each of items → scores" in graph
    assert "<span>not_registered</span>" in graph          # no link to an unknown name
    assert 'id="graph"' not in page(catalog, "/services/text_cleaner")


@pytest.mark.parametrize("name", ["down", "odd"])
def test_a_down_or_odd_service_still_gets_a_page(catalog, name):
    text = page(catalog, f"/services/{name}")
    assert "not known (the service has not answered)" in text or name == "odd"
    assert 'id="try-form"' in text


def test_a_down_service_says_why(catalog):
    assert "down could not be reached." in page(catalog, "/services/down")


def test_pages_forbid_inline_and_foreign_scripts(catalog):
    response = catalog.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("filename,mimetype", [("catalog.js", "text/javascript"),
                                               ("catalog.css", "text/css")])
def test_static_files_are_served_by_the_service(catalog, filename, mimetype):
    response = catalog.get(f"/static/{filename}")
    assert response.status_code == 200 and response.mimetype == mimetype
    response.close()


def test_scripts_never_write_html(catalog):
    script = catalog.get("/static/catalog.js").get_data(as_text=True)
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "textContent" in script


def test_a_service_page_shows_its_oip_tensors_and_the_rule(catalog):
    page = catalog.get("/services/text_cleaner").get_data(as_text=True)
    assert "Open Inference Protocol" in page and "/v2/models/text_cleaner/infer" in page
    assert "<code>text</code></td><td>input</td><td>BYTES" in page
    assert "a batch is the first dimension" in page.lower() or "first dimension" in page
