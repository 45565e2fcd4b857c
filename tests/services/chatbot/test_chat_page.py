"""The chat page in real headless Chromium (Debian's, driven by Playwright).

The test starts its own chatbot under gunicorn (it stops it half-way), asks a question
with the keyboard, reads the reply sentence, asks one the desk cannot answer and sees
the abstention, keeps the conversation over a reload, then stops
the service and checks the page shows an error instead of hanging. Screenshots land in
test-artifacts/.
"""
from __future__ import annotations

import pytest

from tools.launcher import start_services, stop_services, wait_ready
from tests.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def chatbot(registry, tmp_path):
    """A chatbot of this test's own, since the test stops it."""
    processes = start_services([registry["chatbot"]], ports={"chatbot": free_port()},
                               log_dir=tmp_path)
    try:
        wait_ready(processes, 240)
        yield processes[0]
    finally:
        stop_services(processes)


def ask(page, question: str) -> None:
    page.focus("#question")
    page.keyboard.type(question)
    page.keyboard.press("Enter")


def test_ask_read_reload_and_see_the_error_when_the_service_stops(browser, chatbot,
                                                                   artifacts_dir):
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(chatbot.url + "/")
    greeting = page.locator("#greeting")
    greeting.wait_for(timeout=5000)
    page.wait_for_function("document.getElementById('greeting').textContent.length > 0")
    assert "Riverside Library" in greeting.inner_text()
    assert "opening hours" in greeting.inner_text() and "prices" in greeting.inner_text()
    assert page.get_attribute("#question", "maxlength") == "200"  # the server's limit
    ask(page, "Who is the manager?")
    answer = page.locator(".msg--bot").last
    answer.wait_for(timeout=15000)
    assert answer.inner_text().startswith("Maria Lopez is the manager.")  # the reply sentence
    assert "answer: Maria Lopez" in answer.locator(".msg__meta").inner_text()
    assert page.locator(".msg--user").last.inner_text() == "Who is the manager?"
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts_dir / "chat-answer.png"))

    ask(page, "What is the wifi password?")  # context.txt does not say
    abstained = page.locator(".msg--abstain").last
    abstained.wait_for(timeout=15000)
    assert abstained.inner_text().startswith("Sorry, I can't find that")
    assert "not in the desk's information" in abstained.inner_text()
    page.screenshot(path=str(artifacts_dir / "chat-abstain.png"))

    page.reload()
    page.locator(".msg--abstain").last.wait_for(timeout=5000)
    assert page.locator(".msg").count() == 4  # the conversation survived the reload

    chatbot.stop()
    ask(page, "When do you open on Monday?")
    error = page.locator(".msg--error").last
    error.wait_for(timeout=20000)
    assert "Could not reach" in error.inner_text() or "wrong" in error.inner_text()
    assert page.locator("#question").is_enabled()  # not stuck pending
    page.screenshot(path=str(artifacts_dir / "chat-error.png"))


def test_the_page_is_keyboard_accessible(browser, chatbot):
    page = browser.new_page()
    page.goto(chatbot.url + "/")
    assert page.evaluate("document.activeElement.id") == "question"  # autofocus
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    assert page.get_attribute("#question", "aria-label") or \
        page.locator("label[for=question]").count() == 1
    assert page.get_attribute("#messages", "aria-live") == "polite"
