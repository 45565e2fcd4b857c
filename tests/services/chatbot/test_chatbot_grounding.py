"""The grounding check: a question's names that the context never mentions."""
from __future__ import annotations

import pytest

from services.chatbot.grounding import unsupported_names

CONTEXT = ("Welcome to Joe's Cafe. We open at 8am on weekdays. Free Wi-Fi: network JoeGuest. "
           "Ask Dr. Ana Silva or Dr. Jonas Muller about allergies. Our two meeting suites are on Level 2.")


@pytest.mark.parametrize("question, names", [
    ("Who is Dr. Smith?", ["Smith"]),
    ("What does Rahul Ahmed do?", ["Rahul", "Ahmed"]),
    ("When do you open at Christmas?", ["Christmas"]),
    ("Can I pay with PayPal?", ["PayPal"]),
    ("Is there WiFi in the UK office?", ["UK"]),
    ("Hi. Is Dr Okafor in today?", ["Okafor"]),
    ("I'm calling from France, is Dr Okafor in?", ["Okafor"]),  # only the origin is let pass
    ("Calling from Patel Ltd, is Dr Patel in today?", ["Patel"]),  # by position, not spelling
    ("I'm calling from France which number is Dr Okafor on", ["Okafor"]),
    ("Is the coach coming from York late?", ["York"]),  # a place asked about
    ("What does Zoë do?", ["Zoë"]),  # a name's accents kept whole
])
def test_names_the_context_never_mentions_are_found(question, names):
    assert unsupported_names(question, CONTEXT) == names


@pytest.mark.parametrize("question", [
    "Who is Dr. Silva?",                  # a title is not a name; Silva is mentioned
    "When does Joe's Cafe open?",         # possessive and case
    "When does Joes open on Thursdays?",  # a plural day is not a name
    "What are Tuesday's hours, and Sat?",  # nor a possessive or short one
    "What is the WiFi network?",          # "Wi-Fi": letters compared, not spelling
    "Where are the meeting Suites?",      # plural against singular, capitals
    "How much is a coffee if I'm not a member?",  # I and its contractions
    "When does the Café open?",           # an accent
    "Is Dr. Müller in?",                  # accents taken off to compare ("Muller" in the context)
    "What Time Do You Open?",             # title case: capitals mark no names
    "WHEN DO YOU OPEN",                   # all capitals
    "Priya, when do you open?",           # the first word is never checked
    "I'm calling from France, which number do I dial?",  # where the caller is
    "Hi, I'm ringing from a French mobile - which number?",
    "I'm ringing from New Zealand, which number?",  # a place of several words
    "calling from Stoke-on-Trent, which number?",
    "",
])
def test_mentioned_words_titles_days_and_title_case_are_not_flagged(question):
    assert unsupported_names(question, CONTEXT) == []


@pytest.mark.parametrize("question, context, names", [
    ("Which Wi-Fi network do I use?", "Guest WiFi: JoeGuest.", []),  # hyphen either way
    ("Is Ms O'Neill in?", "Ask Ms ONeill.", []),
    ("Is Dr. Muller in?", "Ask Dr. Müller.", []),
    ("Is Soren in?", "Ask Søren.", []), ("Is Lukasz in?", "Ask Łukasz.", []),
    ("Is Ольга in?", "Ask Ольга or Владимир.", []),
    ("Is Ольга in?", "Ask Владимир.", ["Ольга"]),  # other scripts are compared, not dropped
])
def test_names_are_compared_with_hyphens_apostrophes_and_accents_folded(question, context,
                                                                        names):
    assert unsupported_names(question, context) == names


def test_short_words_must_match_a_whole_context_word():
    assert unsupported_names("Is Block B open?", "Block B opens at 9.") == []
    assert unsupported_names("How much is the hepatitis B jab?", "Flu jabs cost £12.") == ["B"]
