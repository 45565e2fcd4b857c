"""Alexa request parsing, the response builder and its limits, and the dispatcher."""
from __future__ import annotations

import json
import logging

import pytest

from common.alexa import (
    MAX_RESPONSE_BYTES,
    MAX_SPEECH_CHARS,
    AlexaRequest,
    ResponseBuilder,
    Skill,
    ask,
    empty_response,
    parse_request,
    response_size,
    ssml_escape,
    tell,
    truncate_words,
)
from common.alexa.skill import DEFAULT_APOLOGY, ELLIPSIS
from common.core.errors import InvalidInput

WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit "


# --- parsing ---------------------------------------------------------------------------

def test_parse_launch_request(alexa_bodies, test_pki):
    request = parse_request(alexa_bodies.launch(attributes={"turn": 2}))
    assert request.type == "LaunchRequest" and request.intent is None
    assert request.locale == "en-US" and request.new_session is True
    assert request.request_id.startswith("amzn1.echo-api.request.")
    assert request.user_id == "amzn1.ask.account.TESTUSER"
    assert request.application_id == test_pki.skill_id
    assert request.session_attributes == {"turn": 2}


def test_parse_intent_request_with_slots(alexa_bodies):
    body = alexa_bodies.intent("AskIntent", {"query": "is this movie any good", "city": None})
    body["request"]["intent"]["slots"]["query"]["resolutions"] = {"resolutionsPerAuthority": []}
    request = parse_request(body)
    assert request.type == "IntentRequest" and request.intent == "AskIntent"
    assert request.slots == {"query": "is this movie any good", "city": None}
    assert request.dialog_state == "COMPLETED"


def test_parse_multi_value_slot_and_missing_slots(alexa_bodies):
    body = alexa_bodies.intent("ListIntent")
    body["request"]["intent"]["slots"] = {
        "items": {"name": "items", "slotValue": {"type": "Simple", "value": "apples"}}}
    assert parse_request(body).slots == {"items": "apples"}
    del body["request"]["intent"]["slots"]
    assert parse_request(body).slots == {}


def test_parse_session_ended_request(alexa_bodies):
    body = alexa_bodies.session_ended(
        "ERROR", {"type": "INVALID_RESPONSE", "message": "bad ssml"})
    request = parse_request(body)
    assert request.type == "SessionEndedRequest" and request.reason == "ERROR"
    assert request.error.type == "INVALID_RESPONSE" and request.error.message == "bad ssml"
    assert request.new_session is False


@pytest.mark.parametrize("document", [{}, {"request": {}}, {"request": "x"}, [], None])
def test_parse_refuses_a_non_envelope(document):
    with pytest.raises(InvalidInput):
        parse_request(document)


# --- text and SSML ---------------------------------------------------------------------

def test_ssml_escaping():
    assert ssml_escape("""Tom & Jerry <3 "quotes" it's""") == \
        "Tom &amp; Jerry &lt;3 &quot;quotes&quot; it&apos;s"
    assert ssml_escape("bell\x07 and nul\x00") == "bell and nul"


def test_ssml_speech_is_escaped_and_wrapped():
    response = tell("Fish & <chips>", ssml=True).build()
    speech = response["response"]["outputSpeech"]
    assert speech == {"type": "SSML", "ssml": "<speak>Fish &amp; &lt;chips&gt;</speak>"}


def test_plain_text_speech_is_not_escaped():
    speech = tell("Fish & <chips>").build()["response"]["outputSpeech"]
    assert speech == {"type": "PlainText", "text": "Fish & <chips>"}


@pytest.mark.parametrize("text, limit, expected", [
    ("short", 10, "short"),
    ("hello wonderful world", 12, "hello" + ELLIPSIS),
    ("hello wonderful world", 16, "hello wonderful" + ELLIPSIS),
    ("hello, world again", 10, "hello" + ELLIPSIS),
    ("x" * 20, 10, "x" * 9 + ELLIPSIS),
])
def test_truncate_at_word_boundary(text, limit, expected):
    assert truncate_words(text, limit) == expected
    assert len(truncate_words(text, limit)) <= limit


def test_long_plain_speech_is_truncated_to_8000_chars():
    text = WORDS * 400  # ~22,000 characters
    speech = tell(text).build()["response"]["outputSpeech"]["text"]
    assert len(speech) <= MAX_SPEECH_CHARS and speech.endswith(ELLIPSIS)
    assert text.startswith(speech[:-1]) and speech[-2] != " "
    assert text[len(speech) - 1] == " "  # cut where a word ended


def test_long_ssml_speech_counts_the_escaped_markup():
    text = "fish & chips " * 1000  # escaping makes it far longer
    ssml = tell(text, ssml=True).build()["response"]["outputSpeech"]["ssml"]
    assert len(ssml) <= MAX_SPEECH_CHARS
    assert ssml.startswith("<speak>fish &amp; chips") and ssml.endswith(ELLIPSIS + "</speak>")
    assert "&amp" in ssml[-30:] or "chips" in ssml[-30:]  # no half-cut entity


def test_reprompt_is_truncated_too():
    response = ask("Hi", WORDS * 400).build()
    assert len(response["response"]["reprompt"]["outputSpeech"]["text"]) <= MAX_SPEECH_CHARS


# --- response shape --------------------------------------------------------------------

def test_full_response_shape():
    response = (ResponseBuilder().speak("Hello").reprompt("Still there?", ssml=True)
                .card("Title", "Content").attributes({"step": 1}).build())
    assert response == {
        "version": "1.0",
        "sessionAttributes": {"step": 1},
        "response": {
            "outputSpeech": {"type": "PlainText", "text": "Hello"},
            "reprompt": {"outputSpeech": {"type": "SSML",
                                          "ssml": "<speak>Still there?</speak>"}},
            "card": {"type": "Simple", "title": "Title", "content": "Content"},
            "shouldEndSession": False,
        },
    }


def test_end_session_defaults_and_overrides():
    assert tell("Bye").build()["response"]["shouldEndSession"] is True
    assert ResponseBuilder().speak("x").build()["response"]["shouldEndSession"] is True
    assert ask("Q?", "Q?").build()["response"]["shouldEndSession"] is False
    assert ResponseBuilder().speak("x").end_session(False).build()["response"][
        "shouldEndSession"] is False
    assert "shouldEndSession" not in ResponseBuilder().speak("x").end_session(None).build()[
        "response"]


def test_card_title_and_content_fit_8000_chars_together():
    card = tell("x").card("T" * 100, WORDS * 400).build()["response"]["card"]
    assert len(card["title"]) + len(card["content"]) <= 8000


def test_empty_response():
    assert empty_response() == {"version": "1.0", "response": {}}


# --- the 24 KB bound -------------------------------------------------------------------

def test_oversized_response_sheds_card_first():
    builder = (ResponseBuilder().speak("Hello").card("Title", "é" * 7000)
               .attributes({"k": "v"}))  # 7000 x \u00e9 = 42,000 bytes escaped
    response = builder.build()
    assert response_size(response) <= MAX_RESPONSE_BYTES
    assert response["response"]["outputSpeech"]["text"] == "Hello"
    assert response["sessionAttributes"] == {"k": "v"}
    assert len(response["response"]["card"]["content"]) < 7000


def test_oversized_response_drops_attributes_before_speech():
    response = (ResponseBuilder().speak("Hello").card("T", "c")
                .attributes({"blob": "z" * 30_000}).build())
    assert response_size(response) <= MAX_RESPONSE_BYTES
    assert "sessionAttributes" not in response and "card" not in response["response"]
    assert response["response"]["outputSpeech"]["text"] == "Hello"


def test_oversized_speech_is_cut_last():
    text = "ü " * 4000  # 8,000 characters, 28,000 bytes as escaped JSON
    response = ResponseBuilder().speak(text).reprompt(text).build()
    assert response_size(response) <= MAX_RESPONSE_BYTES
    assert "reprompt" not in response["response"]
    assert response["response"]["outputSpeech"]["text"].endswith(ELLIPSIS)


def test_size_bound_holds_for_ssml_and_everything_at_once():
    text = "<&> ü " * 3000
    response = (ResponseBuilder().speak(text, ssml=True).reprompt(text, ssml=True)
                .card(text, text).attributes({"a": text}).build())
    assert response_size(response) <= MAX_RESPONSE_BYTES
    assert json.loads(json.dumps(response)) == response
    assert response["response"]["outputSpeech"]["ssml"].startswith("<speak>&lt;&amp;&gt;")


# --- the dispatcher --------------------------------------------------------------------

@pytest.fixture(name="skill")
def _skill() -> Skill:
    skill = Skill("test-skill")
    skill.calls = []

    @skill.launch
    def launch(request: AlexaRequest):
        return ask("Welcome!", "What now?")

    @skill.intent("AMAZON.HelpIntent")
    def help_(request: AlexaRequest):
        return ask("Help text.", "What now?")

    @skill.intent("AMAZON.StopIntent", "AMAZON.CancelIntent")
    def stop(request: AlexaRequest):
        return tell("Goodbye.")

    @skill.intent("SearchIntent")
    def search(request: AlexaRequest):
        return tell(f"You searched for {request.slots['query']}.").build()  # a dict works

    @skill.intent("BrokenIntent")
    def broken(request: AlexaRequest):
        raise RuntimeError("boom")

    @skill.intent("NoneIntent")
    def returns_none(request: AlexaRequest):
        return None

    @skill.session_ended
    def ended(request: AlexaRequest):
        skill.calls.append(request.reason)
        return tell("ignored")
    return skill


def speech_of(response: dict) -> str:
    return response["response"]["outputSpeech"]["text"]


def test_launch_is_routed(skill, alexa_bodies):
    assert speech_of(skill.handle(alexa_bodies.launch())) == "Welcome!"


@pytest.mark.parametrize("intent, expected", [
    ("AMAZON.HelpIntent", "Help text."), ("AMAZON.StopIntent", "Goodbye."),
    ("AMAZON.CancelIntent", "Goodbye.")])
def test_intents_are_routed(skill, alexa_bodies, intent, expected):
    assert speech_of(skill.handle(alexa_bodies.intent(intent))) == expected


def test_search_query_slot_reaches_the_handler(skill, alexa_bodies):
    body = alexa_bodies.intent("SearchIntent", {"query": "red shoes"})
    assert speech_of(skill.handle(body)) == "You searched for red shoes."


def test_unknown_intent_goes_to_the_default_fallback(skill, alexa_bodies):
    response = skill.handle(alexa_bodies.intent("AMAZON.FallbackIntent"))
    assert speech_of(response).startswith("Sorry")
    assert response["response"]["shouldEndSession"] is False


def test_registered_fallback_gets_unknown_intents_and_launch(alexa_bodies):
    skill = Skill()

    @skill.fallback
    def fallback(request: AlexaRequest):
        return tell(f"fallback for {request.intent or request.type}")
    assert speech_of(skill.handle(alexa_bodies.intent("Nope"))) == "fallback for Nope"
    assert speech_of(skill.handle(alexa_bodies.launch())) == "fallback for LaunchRequest"


@pytest.mark.parametrize("intent", ["BrokenIntent", "NoneIntent"])
def test_handler_failure_becomes_an_apology(skill, alexa_bodies, caplog, intent):
    caplog.set_level(logging.ERROR, logger="common.alexa.skill")
    response = skill.handle(alexa_bodies.intent(intent))
    assert speech_of(response) == DEFAULT_APOLOGY
    assert response["response"]["shouldEndSession"] is True
    assert intent in caplog.text


def test_session_ended_runs_the_handler_but_says_nothing(skill, alexa_bodies):
    response = skill.handle(alexa_bodies.session_ended("USER_INITIATED"))
    assert response == {"version": "1.0", "response": {}}
    assert skill.calls == ["USER_INITIATED"]


def test_session_ended_handler_failure_is_swallowed(alexa_bodies, caplog):
    skill = Skill()

    @skill.session_ended
    def ended(request: AlexaRequest):
        raise RuntimeError("boom")
    assert skill.handle(alexa_bodies.session_ended("ERROR", {"type": "X"})) == empty_response()
    assert "session-ended handler failed" in caplog.text


def test_other_request_types(alexa_bodies):
    skill = Skill()
    skill.request("Custom.Event")(lambda request: tell("custom"))
    assert speech_of(skill.handle(alexa_bodies.envelope({"type": "Custom.Event"}))) == "custom"
    unknown = alexa_bodies.envelope({"type": "AudioPlayer.PlaybackStarted"})
    assert skill.handle(unknown) == empty_response()


def test_custom_apology(alexa_bodies):
    skill = Skill(apology="Sorry, the model is napping.")
    skill.intent("X")(lambda request: 1 / 0)
    assert speech_of(skill.handle(alexa_bodies.intent("X"))) == "Sorry, the model is napping."


def test_handle_refuses_a_non_envelope():
    with pytest.raises(InvalidInput):
        Skill().handle({"hello": "world"})


def test_intent_decorator_needs_a_name():
    with pytest.raises(ValueError):
        Skill().intent()
