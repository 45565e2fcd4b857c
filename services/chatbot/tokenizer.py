"""Deterministic regex tokenizer for desk-assistant questions and contexts.

Entity-like strings stay single tokens so that copying one source token reproduces
the exact string: emails ("help@desk.org"), prices ("$12.50"), times ("9:30",
"5:30 pm"), phone numbers ("555-0199", "(020) 7946-0958", "+44 20 7946 0958"),
web addresses ("www.desk.org"), codes ("B12", "2nd"), decimals. Possessive "'s" is a
token of its own so that "Maria Lopez's" still matches "Maria Lopez". Every token
keeps its character span, so an answer copied from a context is cut out of the
original text (original spacing and case) rather than re-joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_URL = r"(?:https?://|www\.)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[^\s]*[^\s.,;:!?)])?"
_PRICE = r"[$€£]\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s?(?:€|(?:EUR|USD|GBP)\b)"
_TIME = (r"\d{1,2}(?::\d{2})?\s?(?:[ap]\.m\.|[ap]m\b)|\d{1,2}:\d{2}\b"
         r"|(?:noon|midnight)\b")
_PHONE = (r"\+\d{1,3}(?:[\s-]?\(?\d{1,4}\)?)(?:[\s.-]?\d{2,5}){1,4}"
          r"|\(\d{2,5}\)\s?\d{2,5}(?:[.-]\d{2,5})*"
          r"|\d{2,5}(?:[.-]\d{2,5}){1,3}\b")
_NUMBER = r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?\b"
_WORD = r"[A-Za-z0-9]+(?:'(?!s\b)[A-Za-z]+)*(?:-[A-Za-z0-9]+)*"
_POSSESSIVE = r"'s\b"
TOKEN_RE = re.compile("|".join(
    f"(?:{p})" for p in (_EMAIL, _URL, _PRICE, _TIME, _PHONE, _NUMBER, _WORD, _POSSESSIVE)
) + r"|[^\sA-Za-z0-9]", re.IGNORECASE)

# Shape classes: the model sees these for every token, which is what lets it pick the
# right unknown token (an unseen name, price or phone number) by its kind.
SHAPES: tuple[str, ...] = (
    "lower", "capital", "upper", "number", "ordinal", "code", "time", "phone",
    "price", "email", "url", "punct", "other",
)
_SHAPE_TESTS: tuple[tuple[str, re.Pattern], ...] = (
    ("email", re.compile(_EMAIL + "$")),
    ("url", re.compile(_URL + "$")),
    ("price", re.compile(f"(?:{_PRICE})$", re.IGNORECASE)),
    ("time", re.compile(f"(?:{_TIME})$", re.IGNORECASE)),
    ("phone", re.compile(f"(?:{_PHONE})$")),
    ("ordinal", re.compile(r"\d+(?:st|nd|rd|th)$", re.IGNORECASE)),
    ("number", re.compile(r"\d+(?:[.,]\d+)*$")),
    ("code", re.compile(r"(?=.*\d)[A-Za-z0-9-]+$")),
    ("upper", re.compile(r"[A-Z]{2,}$")),
    ("capital", re.compile(r"[A-Z][A-Za-z'-]*$")),
    ("lower", re.compile(r"[a-z][a-z'-]*$")),
    ("punct", re.compile(r"[^\sA-Za-z0-9]+$")),
)


@dataclass(frozen=True)
class Token:
    """One token: its text and its [start, end) character span in the source string."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens with character spans (deterministic, no state)."""
    return [Token(m.group(0), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def words(text: str) -> list[str]:
    """Token texts only."""
    return [t.text for t in tokenize(text)]


def shape(token: str) -> str:
    """The shape class of a token (one of SHAPES)."""
    for name, pattern in _SHAPE_TESTS:
        if pattern.match(token):
            return name
    return "other"


def match_key(token: str) -> str:
    """Form used to decide whether a context token also occurs in the question.

    Lower case and a light plural strip, so "Mondays" matches "Monday" and "Rooms"
    matches "room".
    """
    key = token.lower()
    if len(key) > 3 and key.endswith("s") and key[-2] != "s" and key.isalpha():
        key = key[:-1]
    return key


_NO_SPACE_BEFORE = set(".,;:!?)]}%'") | {"'s"}
_NO_SPACE_AFTER = set("([{$€£")


def detokenize(tokens: list[str]) -> str:
    """Join tokens with the usual spacing (no space before punctuation and "'s")."""
    out = ""
    for tok in tokens:
        glue = not out or tok in _NO_SPACE_BEFORE or out[-1] in _NO_SPACE_AFTER
        out += tok if glue else " " + tok
    return out


def span_text(source: str, tokens: list[Token]) -> str:
    """The answer for copied tokens: the original substring when they are contiguous.

    Tokens that follow each other in `source` are cut out of it, so spacing and case
    are exactly the context's; anything else is joined with :func:`detokenize`.
    """
    if not tokens:
        return ""
    ordered = all(b.start >= a.end and not source[a.end:b.start].strip()
                  for a, b in zip(tokens, tokens[1:]))
    if ordered:
        return source[tokens[0].start:tokens[-1].end]
    return detokenize([t.text for t in tokens])


def normalize_answer(text: str) -> list[str]:
    """Tokens compared by exact match and token F1: lower case, no edge punctuation."""
    toks = [t.lower() for t in words(text)]
    while toks and shape(toks[-1]) == "punct":
        toks.pop()
    while toks and shape(toks[0]) == "punct":
        toks.pop(0)
    return toks
