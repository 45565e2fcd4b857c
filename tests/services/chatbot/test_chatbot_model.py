"""The committed chatbot artifact: loads, answers held-out and default-context questions."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.chatbot import data, evaluate
from services.chatbot.answerer import (DEFAULT_ARTIFACT, MAX_CONTEXT_CHARS, MAX_QUESTION_CHARS,
                                       Answerer)

ROOT = Path(__file__).resolve().parents[3]
# Floors a little under the shipped model's measured figures (MODEL.md), so a retrain that
# loses the shifted-set accuracy fails here.
SHIFTED_EXACT_MATCH_FLOOR = 0.94  # measured 0.982 (53 of 54)
SHIFTED_ABSTAINED_FLOOR = 11  # measured 12 of 12
BLIND_EXACT_MATCH_FLOOR = {"blind_dev": 0.86, "blind_test": 0.86, "blind_fresh": 0.73,
                           "written_dev": 0.55}  # measured 0.900, 0.900, 0.767, 0.580
# 10 of 12 is the issue's target; the shipped model abstains on exactly 10 of the sealed two.
BLIND_ABSTAINED_FLOOR = {"blind_dev": 10, "blind_test": 10, "blind_fresh": 10,
                         "written_dev": 50}  # measured 11, 10, 10 of 12 and 52 of 60
BLIND_SIZES = {"written_dev": (150, 60)}  # the others: 30 answerable, 12 unanswerable

# Entity values found in no generator pool: names, room, phone, price, email, times.
UNSEEN_CONTEXT = (
    "Welcome to the Harbour View Library help desk.\n"
    "Monday: 7:45 - 19:15\nTuesday: 7:45 - 19:15\nSaturday: closed\n"
    "The manager is Bartholomew Quist. Our receptionist is Ingeborg Aalto.\n"
    "You can call the front desk at 555-7321. The billing email address is "
    "accounts@harbourview.example.net.\n"
    "The Lighthouse Room is in room 742 on the fourth floor.\n"
    "A guest pass costs £13.40. Parking: $1.85 per hour."
)
UNSEEN_QA = (
    ("Who is the manager?", "Bartholomew Quist"),
    ("Who's the receptionist?", "Ingeborg Aalto"),
    ("What time do you open on Tuesday?", "7:45"),
    ("When do you close on Monday?", "19:15"),
    ("Are you open on Saturday?", "closed"),
    ("What's the phone number of the front desk?", "555-7321"),
    ("What is the email address for billing?", "accounts@harbourview.example.net"),
    ("Where is the Lighthouse Room?", "room 742"),
    ("How much does a guest pass cost?", "£13.40"),
    ("How much is parking?", ("$1.85", "$1.85 per hour")),
)


def is_right(span, want) -> bool:
    """A span is right when it is the answer or one of its alternatives (a tuple): the
    written notices answer prices with their unit, as the evaluation sets accept."""
    return span in (want if isinstance(want, tuple) else (want,))


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    if not (DEFAULT_ARTIFACT / "saved_model.pb").is_file():
        pytest.fail(f"no committed artifact at {DEFAULT_ARTIFACT}; run services.chatbot.train")
    return Answerer.load()


def test_importing_the_answerer_loads_no_tensorflow():
    code = ("import sys, services.chatbot.answerer, services.chatbot.train, "
            "services.chatbot.evaluate; assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_limits_are_exported():
    assert 0 < MAX_QUESTION_CHARS < MAX_CONTEXT_CHARS


def test_answers_questions_about_unseen_entity_values(answerer):
    questions = [q for q, _ in UNSEEN_QA]
    raw = answerer.raw(questions, [UNSEEN_CONTEXT] * len(UNSEEN_QA))
    assert all(is_right(r["span"], a) for r, (_, a) in zip(raw, UNSEEN_QA)), raw
    results = answerer.answer(questions, [UNSEEN_CONTEXT] * len(UNSEEN_QA))
    answered = [(r, a) for r, (_, a) in zip(results, UNSEEN_QA) if r["answerable"]]
    # abstention may cost a right answer (MODEL.md: an earlier model abstained on "Who
    # is the manager?" here, at P(no answer) 0.2006), but only one of these ten
    assert len(answered) >= 9
    assert all(is_right(r["answer"], a) and r["answer"] in r["reply"] for r, a in answered)


UNANSWERABLE = ("What is the wifi password?", "Who is the head chef?",
                "How much is a week pass?")


def test_questions_the_context_cannot_answer_are_abstained(answerer):
    results = answerer.answer(list(UNANSWERABLE), [UNSEEN_CONTEXT] * len(UNANSWERABLE))
    for result in results:
        assert result["answer"] is None and result["answerable"] is False
        assert result["reply"].startswith("Sorry") and 0 <= result["confidence"] <= 1


@pytest.mark.parametrize("question", ["What does Rahul Ahmed do?", "Where is Dr. Okafor's office?",
                                      "Which floor is the Spruce Suite on?"])
def test_a_question_naming_what_the_context_never_mentions_is_abstained(answerer, question):
    raw = answerer.raw([question], [UNSEEN_CONTEXT])[0]
    result = answerer.decide(question, raw)
    assert raw["unsupported"] and result["answer"] is None and result["answerable"] is False


def test_a_question_naming_what_the_context_mentions_is_answered(answerer):
    questions = ["Where's the Lighthouse Room?", "Who is the manager, Ingeborg Aalto?"]
    raws = answerer.raw(questions, [UNSEEN_CONTEXT] * 2)
    assert [r["unsupported"] for r in raws] == [[], []]
    assert answerer.decide(questions[0], raws[0])["answer"] == "room 742"


@pytest.mark.xfail(strict=True, reason="known failure (MODEL.md): since the written notices, "
                   "a department with an email but no phone gets the only phone number there is")
def test_a_department_with_no_phone_number_is_abstained(answerer):
    result = answerer.answer(["What is the phone number of billing?"], [UNSEEN_CONTEXT])[0]
    assert result["answer"] is None


def test_the_shifted_hand_written_set_meets_its_measured_figures(answerer):
    figures, _ = evaluate.evaluate_items(answerer, evaluate.shifted_items())
    assert figures["n"] >= 40 and figures["n_unanswerable"] >= 12
    assert figures["exact_match"] >= SHIFTED_EXACT_MATCH_FLOOR
    assert figures["abstained"] >= SHIFTED_ABSTAINED_FLOOR


@pytest.mark.parametrize("name", ["blind_dev", "blind_test", "blind_fresh", "written_dev"])
def test_the_blind_sets_meet_their_measured_figures(answerer, name):
    figures, _ = evaluate.evaluate_items(answerer, evaluate.shifted_items(evaluate.BLIND_FILES[name]))
    assert (figures["n"], figures["n_unanswerable"]) == BLIND_SIZES.get(name, (30, 12))
    assert figures["exact_match"] >= BLIND_EXACT_MATCH_FLOOR[name]
    assert figures["abstained"] >= BLIND_ABSTAINED_FLOOR[name]


def test_answers_the_default_context_question_set(answerer):
    qa = evaluate.default_context_qa()
    results = answerer.answer([q for q, _ in qa], None)  # no context: context.txt
    assert [r["answer"] for r in results] == [a for _, a in qa]


def test_held_out_split_accuracy(answerer):
    examples = data.generate(160, "test_values", seed=99)
    figures, _ = evaluate.evaluate_split(answerer, examples)
    assert figures["exact_match"] >= 0.85 and figures["kept"] >= 0.9
    assert figures["abstained"] >= 0.8 * figures["n_unanswerable"]


def test_batch_order_is_preserved_and_confidence_is_a_probability(answerer):
    questions = [q for q, _ in UNSEEN_QA[:6]]
    contexts = [UNSEEN_CONTEXT if i % 2 else None for i in range(6)]
    batch = answerer.answer(questions, contexts)
    single = [answerer.answer([q], [c])[0] for q, c in zip(questions, contexts)]
    assert [r["answer"] for r in batch] == [r["answer"] for r in single]
    for b, s in zip(batch, single):
        assert 0.0 <= b["confidence"] <= 1.0
        assert b["confidence"] == pytest.approx(s["confidence"], abs=1e-3)
    reversed_batch = answerer.answer(questions[::-1], contexts[::-1])
    assert [r["answer"] for r in reversed_batch] == [r["answer"] for r in batch][::-1]


def test_long_contexts_are_truncated_not_refused(answerer):
    filler = "Please keep noise to a minimum. " * 200
    result = answerer.answer(["Who is the manager?"], ["The manager is Maria Lopez. " + filler])
    assert result[0]["answer"] == "Maria Lopez"
    empty = answerer.answer([""], [""])[0]  # nothing asked: an abstention, not an error
    assert empty["answer"] is None and empty["reply"]


# The failures issue 19 reported, on a dentist notice written for this check.
DENTIST_CONTEXT = (
    "Riverside Dental Practice. Opening hours: Monday to Friday 8.30am - 5pm, Saturday "
    "9am - 1pm. To book or move an appointment, ring 020 7946 0018. Our hygienist works "
    "in room G.14 on the ground floor. The clinical director is Prof. Lena Ruiz. A "
    "check-up costs £45.")


@pytest.mark.parametrize(("question", "want"), [
    ("What number do I ring to move my appointment?", "020 7946 0018"),  # was "Closed"
    ("Where is the hygienist?", "room G.14"),  # was "room G"
    ("What time do you open on Tuesday?", "8.30am"),  # was "8"
    ("Who is the clinical director?", "Prof. Lena Ruiz"),
    ("Is there a discount for students?", None),  # was "$15" at 0.87
])
def test_the_issues_failure_examples_are_answered_or_abstained(answerer, question, want):
    [result] = answerer.answer([question], [DENTIST_CONTEXT])
    assert result["answer"] == want
    assert result["answerable"] is (want is not None)
    assert (want or "Sorry") in result["reply"]


def test_errors_never_prints_a_sealed_sets_misses(capsys):
    item = evaluate.Item("Where is the spa?", "Spa: level 2.", "level 2", "hotel")
    missed = [(item, {"answer": None, "confidence": 0.4})]
    evaluate.print_misses({name: missed for name in ("blind_dev", *evaluate.SEALED)}, 5)
    shown = capsys.readouterr().out
    assert "[blind_dev]" in shown and not any(f"[{n}]" in shown for n in evaluate.SEALED)
    assert evaluate.SEALED == {"blind_test", "blind_fresh"}
