"""The catalog in real headless Chromium (Debian's, driven by Playwright): search, open a
service, run its sample, read the result. Served by gunicorn beside a locked
text_cleaner (see test_catalog_live.py); other registered services show as down.
Screenshots land in test-artifacts/.
"""
from __future__ import annotations

import pytest

from tests.services.catalog.test_catalog_live import LIVE_ENV, LIVE_KEY

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalog_url(live_services):
    return live_services("catalog", "text_cleaner", env=LIVE_ENV)["catalog"]


def test_search_open_a_service_run_its_sample_and_see_the_result(browser, catalog_url,
                                                                  artifacts_dir):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(catalog_url + "/")
    page.screenshot(path=str(artifacts_dir / "catalog-home.png"))
    page.fill("#search", "lemmas")
    assert page.locator(".card:visible").count() == 1
    assert page.locator("#count").inner_text().startswith("1 of ")
    page.screenshot(path=str(artifacts_dir / "catalog-search.png"))

    page.click(".card:visible a")
    page.wait_for_url("**/services/text_cleaner")
    assert page.locator("#health").inner_text() == "ready"
    assert "Sooo happy" in page.input_value("#try-input")   # prefilled with the sample
    page.click("#try-run")
    status = page.locator("#try-status.try__status--ok")
    status.wait_for(timeout=15000)
    assert status.inner_text().startswith("Answered in ")
    assert "Best Day Ever" in page.locator("#try-output").inner_text()
    page.screenshot(path=str(artifacts_dir / "catalog-try-it.png"), full_page=True)

    assert all(url.startswith(catalog_url) for url in requested)  # never the service itself
    assert LIVE_KEY not in page.content()


def test_try_it_reports_bad_input_in_the_page(browser, catalog_url):
    page = browser.new_page()
    page.goto(catalog_url + "/services/text_cleaner")
    page.fill("#try-input", "{not json")
    page.click("#try-run")
    assert "not valid JSON" in page.locator("#try-status.try__status--error").inner_text()
    page.fill("#try-input", '{"text": "x", "urls": "shred"}')
    page.click("#try-run")
    error = page.locator("#try-status.try__status--error", has_text="Error 400")
    error.wait_for(timeout=15000)
    assert "invalid_input" in error.inner_text()
    assert "urls" in page.locator("#try-output").inner_text()
    assert page.locator("#try-run").is_enabled()   # not stuck pending
    page.click("#try-reset")
    assert "Sooo happy" in page.input_value("#try-input")


def test_try_it_shows_an_image_in_the_answer_as_a_picture(browser, live_services,
                                                          artifacts_dir):
    from tests.helpers.image_server import image_server
    urls = live_services("catalog", "downloader",
                         env={"DOWNLOADER_ALLOW_LIST": image_server().allow_rule})
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(urls["catalog"] + "/services/downloader")
    page.fill("#try-input", f'{{"url": "{image_server().url("/scene/3.png")}"}}')
    page.click("#try-run")
    page.locator("#try-status.try__status--ok").wait_for(timeout=15000)
    picture = page.locator("#try-images img")
    assert picture.count() == 1
    assert page.evaluate("document.querySelector('#try-images img').naturalWidth") > 0
    assert "image/png" in page.locator("#try-output").inner_text()
    assert "iVBORw0KGgo" not in page.locator("#try-output").inner_text()  # not raw base64
    page.screenshot(path=str(artifacts_dir / "catalog-try-image.png"), full_page=True)


def _until(page, expression: str, seconds: float = 15.0):
    """Poll ``expression`` in the page until it is truthy (the page's CSP forbids the
    eval that Playwright's wait_for_function needs)."""
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never true: {expression}")


def test_try_it_plays_the_video_pipeline_result(browser, live_services, artifacts_dir):
    urls = live_services("catalog", "video", "video_splitter", "video_combiner",
                         "style_transfer", env={"CATALOG_TRY_TIMEOUT_S": "60"})
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(urls["catalog"] + "/services/video")
    assert page.locator("#health").inner_text() == "ready"
    page.click("#try-run")
    page.locator("#try-status.try__status--ok").wait_for(timeout=60000)
    assert page.locator("#try-images video").count() == 1
    # the browser decoded the H.264 MP4: its size is known and it plays
    video = "document.querySelector('#try-images video')"
    _until(page, f"{video}.readyState >= 2")
    assert page.evaluate(f"{video}.videoWidth") == 64
    assert page.evaluate(f"{video}.src").startswith("blob:")
    _until(page, f"{video}.currentTime > 0")
    assert "video/mp4" in page.locator("#try-output").inner_text()
    assert '"frames": 4' in page.locator("#try-output").inner_text()
    page.screenshot(path=str(artifacts_dir / "catalog-try-video.png"), full_page=True)
