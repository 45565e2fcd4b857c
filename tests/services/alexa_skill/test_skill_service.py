"""The skill service: the dialogue in process, then signed requests to gunicorn."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import requests

from common.client import Client
from services.alexa_skill import create_app
from services.alexa_skill.dialogue import build_skill, load_dialogue
from services.sentiment import create_app as sentiment_app
from tests.helpers.alexa import SKILL_ID, intent_body, launch_body, session_ended_body


@pytest.fixture(scope="module")
def skill_app():
    """The skill app with the real sentiment service in process, and no chatbot."""
    app = create_app({"LOAD_MODEL": "sync", "VERIFY": False})
    model = app.extensions["modelchain"].model
    client = Client(urls={}, local={"sentiment": sentiment_app({"LOAD_MODEL": "sync"})})
    model.client = client
    model.skill = build_skill(model.dialogue, model.algo, 5.0)
    return app


def speak(client, intent, **slots):
    response = client.post("/predict", json={"intent": intent, "slots": slots})
    assert response.status_code == 200
    return response.get_json()["result"]


@pytest.mark.parametrize("intent,fragment,ends", [
    ("AMAZON.HelpIntent", "Ask a question", False),
    ("AMAZON.StopIntent", "Goodbye", True),
    ("AMAZON.CancelIntent", "Goodbye", True),
    ("AMAZON.NavigateHomeIntent", "Welcome", False),
    ("AMAZON.FallbackIntent", "didn't catch", False),
    ("SomethingElseIntent", "didn't catch", False),
])
def test_built_in_intents_answer_sensibly(skill_app, intent, fragment, ends):
    result = speak(skill_app.test_client(), intent)
    assert fragment in result["speech"] and result["end_session"] is ends


def test_the_sentiment_intent_pipes_to_sentiment(skill_app):
    result = speak(skill_app.test_client(), "SentimentIntent", text="I love this place")
    assert result["speech"] == "That sounds positive to me."
    lines = result["card"].splitlines()
    assert lines[0] == "That sounds positive to me." and "Label: positive" in lines
    scores = next(line for line in lines if line.startswith("Scores: "))
    assert "positive 0." in scores and "{" not in result["card"]


def test_a_card_reads_as_text_not_as_a_dict():
    from services.alexa_skill.dialogue import card_text
    card = card_text("The IT technician is Priya Shah.",
                     {"answer": "Priya Shah", "confidence": 0.9934})
    assert card == "The IT technician is Priya Shah.\n\nAnswer: Priya Shah\nConfidence: 0.99"


def test_an_abstention_card_reads_as_text():
    from services.alexa_skill.dialogue import card_text
    spoken = "Sorry, I can't find that in the information I have."
    card = card_text(spoken, {"answer": None, "answerable": False, "confidence": 0.97,
                              "reply": spoken})
    assert card == f"{spoken}\n\nAnswer: none\nAnswerable: no\nConfidence: 0.97"


@pytest.fixture(scope="module")
def skill_with_chatbot():
    """The skill app with the real chatbot (committed model) in process."""
    from services.chatbot import create_app as chatbot_app
    app = create_app({"LOAD_MODEL": "sync", "VERIFY": False})
    model = app.extensions["modelchain"].model
    model.client = Client(urls={}, local={"chatbot": chatbot_app({"LOAD_MODEL": "sync"})})
    model.skill = build_skill(model.dialogue, model.algo, 30.0)
    return app


def test_a_question_is_answered_with_the_chatbots_reply_sentence(skill_with_chatbot):
    result = speak(skill_with_chatbot.test_client(), "AskQuestionIntent",
                   query="who is the manager")
    assert result["speech"] == "Maria Lopez is the manager."
    assert "Answer: Maria Lopez" in result["card"] and result["end_session"] is False


def test_a_question_the_desk_cannot_answer_is_spoken_as_an_abstention(skill_with_chatbot):
    result = speak(skill_with_chatbot.test_client(), "AskQuestionIntent",
                   query="what is the wifi password")
    assert result["speech"].startswith("Sorry, I can't find that")
    assert "Answerable: no" in result["card"] and result["end_session"] is False


def test_an_empty_slot_is_asked_for(skill_app):
    result = speak(skill_app.test_client(), "SentimentIntent")
    assert result["speech"] == load_dialogue()["intents"]["SentimentIntent"].missing


def test_a_missing_backend_is_an_apology_not_an_error(skill_app):
    result = speak(skill_app.test_client(), "AskQuestionIntent", query="when do you open")
    assert result["speech"].startswith("Sorry") and result["end_session"] is False


def test_verification_is_on_by_default_and_needs_skill_ids():
    client = create_app({"LOAD_MODEL": "sync"}).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "SKILL_IDS" in ready.get_json()["error"]["details"]["message"]


def test_unverified_requests_are_refused_in_process(tmp_path, test_pki):
    from cryptography.hazmat.primitives.serialization import Encoding
    roots = tmp_path / "roots.pem"
    roots.write_bytes(test_pki.root.public_bytes(Encoding.PEM))
    client = create_app({"LOAD_MODEL": "sync", "SKILL_IDS": SKILL_ID,
                         "TRUST_ROOTS": str(roots), "CERT_FILES": str(tmp_path)}).test_client()
    response = client.post("/alexa", data=json.dumps(launch_body()),
                           content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == \
        "invalid_input"


@pytest.fixture(scope="module")
def skill_service(service_pool, registry, tmp_path_factory, test_pki):
    """alexa_skill, chatbot and sentiment under gunicorn, verifying with the test PKI."""
    env = test_pki.verifying_env(tmp_path_factory.mktemp("alexa-certs"))
    return service_pool.start([registry["alexa_skill"], registry["chatbot"],
                               registry["sentiment"]], env)


def now() -> datetime:
    """A timestamp for live requests: the PKI's epoch may be minutes old by now, and a
    stale timestamp is refused, which would hide every other check."""
    return datetime.now(timezone.utc)


def post_signed(url, make_signed_request, body, **kwargs):
    headers, raw = make_signed_request(body, **kwargs)
    return requests.post(f"{url}/alexa", data=raw, headers=headers, timeout=10)


@pytest.mark.integration
def test_a_signed_intent_request_gets_the_answer_as_speech(skill_service,
                                                          make_signed_request):
    url = skill_service["alexa_skill"]
    started = time.monotonic()
    response = post_signed(url, make_signed_request,
                           intent_body("SentimentIntent", {"text": "I hate waiting"},
                                       timestamp=now()))
    assert response.status_code == 200 and time.monotonic() - started < 8
    speech = response.json()["response"]["outputSpeech"]
    assert "negative" in (speech.get("text") or speech.get("ssml"))


@pytest.mark.integration
def test_a_signed_question_gets_the_chatbots_answer_as_speech(skill_service,
                                                             make_signed_request):
    response = post_signed(skill_service["alexa_skill"], make_signed_request,
                           intent_body("AskQuestionIntent", {"query": "who is the manager"},
                                       timestamp=now()))
    assert response.status_code == 200
    speech = response.json()["response"]["outputSpeech"]
    assert "Maria Lopez is the manager." in (speech.get("text") or speech.get("ssml"))
    assert response.json()["response"]["shouldEndSession"] is False


@pytest.mark.integration
def test_signed_launch_and_session_end_are_accepted(skill_service, make_signed_request):
    url = skill_service["alexa_skill"]
    launch = post_signed(url, make_signed_request, launch_body(timestamp=now()))
    assert launch.status_code == 200 and "Welcome" in json.dumps(launch.json())
    ended = post_signed(url, make_signed_request, session_ended_body(timestamp=now()))
    assert ended.status_code == 200 and "outputSpeech" not in ended.json()["response"]


@pytest.mark.integration
@pytest.mark.parametrize("case", ["tampered", "untrusted", "wrong skill", "unsigned"])
def test_bad_requests_are_refused_with_400(skill_service, make_signed_request, test_pki,
                                           case):
    url = skill_service["alexa_skill"]
    body = intent_body("SentimentIntent", {"text": "great"}, timestamp=now(),
                       application_id="amzn1.ask.skill.other" if case == "wrong skill"
                       else SKILL_ID)
    headers, raw = make_signed_request(body, url=test_pki.untrusted_url
                                       if case == "untrusted" else test_pki.url)
    if case == "tampered":
        raw = raw.replace(b"great", b"awful")
    if case == "unsigned":
        headers = {"Content-Type": "application/json"}
    response = requests.post(f"{url}/alexa", data=raw, headers=headers, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["reason"] == {
        "tampered": "bad_signature", "untrusted": "untrusted_cert_chain",
        "wrong skill": "wrong_application_id", "unsigned": "missing_header"}[case]
