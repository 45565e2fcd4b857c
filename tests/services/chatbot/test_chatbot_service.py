"""The chatbot service's routes with the committed model, through Flask's test client."""
from __future__ import annotations

import pytest

from services.chatbot import create_app
from services.chatbot.answerer import MAX_CONTEXT_CHARS, MAX_QUESTION_CHARS


@pytest.fixture(scope="module")
def client():
    return create_app({"LOAD_MODEL": "sync"}).test_client()


def test_answers_from_the_default_context(client):
    body = client.post("/predict", json={"question": "What is the help desk phone number?"})
    assert body.status_code == 200
    result = body.get_json()["result"]
    assert result["answer"] == "555-0142" and 0 <= result["confidence"] <= 1
    assert result["answerable"] is True
    assert result["reply"] == "You can call the help desk on 555-0142."


def test_a_question_the_context_cannot_answer_is_an_abstention(client):
    body = client.post("/predict", json={"question": "Is there a discount for students?",
                                         "context": "A day pass costs $15. Parking is $2 "
                                                    "per hour. We open at 9:00 on Mondays."})
    result = body.get_json()["result"]
    assert result["answer"] is None and result["answerable"] is False
    assert result["reply"].startswith("Sorry") and 0 <= result["confidence"] <= 1


def test_answers_from_a_given_context_in_a_batch(client):
    context = "The front desk opens at 7:45 on Mondays. The manager is Ada Quist."
    answers = client.post("/predict", json=[
        {"question": "Who is the manager?", "context": context},
        {"question": "Who is the manager?"},
    ]).get_json()["result"]
    assert [a["answer"] for a in answers] == ["Ada Quist", "Maria Lopez"]


BAD = [
    ("empty question", {"question": ""}, "question"),
    ("blank question", {"question": "   "}, "question"),
    ("question too long", {"question": "why " * MAX_QUESTION_CHARS}, "question"),
    ("context too long", {"question": "Who?", "context": "x" * (MAX_CONTEXT_CHARS + 1)},
     "context"),
    ("empty context", {"question": "Who?", "context": ""}, "context"),
    ("question not a string", {"question": ["who"]}, "question"),
    ("context not a string", {"question": "Who?", "context": {"a": 1}}, "context"),
    ("session id not a string", {"question": "Who?", "session_id": 5}, "session_id"),
    ("missing question", {"context": "The manager is Ada."}, "question"),
    ("unknown field", {"question": "Who?", "mood": "happy"}, "mood"),
]


@pytest.mark.parametrize("body,field", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs_get_clear_400s(client, body, field):
    response = client.post("/predict", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert field in error["details"] and field in error["message"]


def test_the_chat_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b'id="composer"' in page.data
    assert client.get("/static/chat.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
