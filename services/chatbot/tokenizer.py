"""Deterministic regex tokenizer for desk-assistant questions and contexts.

Entity-like strings stay single tokens so that copying one source token reproduces
the exact string: emails ("help@desk.org"), prices ("$12.50"), times ("9:30",
"5:30 pm"), phone numbers ("555-0199", "(020) 7946-0958", "+44 20 7946 0958"),
web addresses ("www.desk.org"), codes ("B12", "2nd", "G.14", "LG.3", "C1.05"), words of
any script ("Renée", "Łukasz", "Владимир"; text in decomposed Unicode form is not
recomposed, since spans index the original), decimals, titles
("Prof.", "Dr.", "Mrs.") and UK phone numbers with spaces ("020 7946 0018"). Possessive "'s" is a
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
# "8.30am", "9am", "17:00", "10.00" (UK style; the dotted form only as a valid h.mm)
_TIME = (r"\d{1,2}(?:[:.]\d{2})?\s?(?:[ap]\.m\.|[ap]m\b)|\d{1,2}:\d{2}\b"
         r"|(?:[01]?\d|2[0-4])\.[0-5]\d\b(?![.,]\d)|(?:noon|midnight)\b")
# spaces inside a number only within one line ("020 7946 0018", "(312) 555 0142")
_PHONE = (r"\+\d{1,3}(?:[ -]?\(?\d{1,4}\)?)(?:[ .-]?\d{2,5}){1,4}"
          r"|\(\d{2,5}\) ?\d{2,5}(?:[ .-]\d{3,5})*"
          r"|0\d{2,4}(?: \d{3,4}){1,2}\b"
          r"|\d{2,5}(?:[.-]\d{2,5}){1,3}\b")
# room codes "G.14", "LG.3", "C1.05", "B2.7"
_CODE = r"[A-Z]{1,3}\.\d{1,3}\b(?!\.\d)|[A-Z]{1,2}\d{1,2}\.\d{1,3}\b(?!\.\d)"
_TITLE = r"(?:Prof|Dr|Mr|Mrs|Ms|Mx|Rev)\.(?=\s+[A-Z])"  # "Prof. Ada Moreau": one token
_NUMBER = r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?\b"
# [^\W_]: any letter or digit, so "Renée" and "Müller" stay whole
_WORD = r"[^\W_]+(?:'(?!s\b)[^\W\d_]+)*(?:-[^\W_]+)*"
_POSSESSIVE = r"'s\b"
TOKEN_RE = re.compile("|".join(
    f"(?:{p})" for p in (_EMAIL, _URL, _PRICE, _TIME, _PHONE, _CODE, _TITLE, _NUMBER, _WORD,
                         _POSSESSIVE)
) + r"|[^\sA-Za-z0-9]", re.IGNORECASE)

# Shape classes: the model sees these for every token, which is what lets it pick the
# right unknown token (an unseen name, price or phone number) by its kind.
SHAPES: tuple[str, ...] = (
    "lower", "capital", "upper", "number", "ordinal", "code", "time", "phone",
    "price", "email", "url", "punct", "title", "other",
)
_SHAPE_TESTS: tuple[tuple[str, re.Pattern], ...] = (
    ("email", re.compile(_EMAIL + "$")),
    ("url", re.compile(_URL + "$")),
    ("price", re.compile(f"(?:{_PRICE})$", re.IGNORECASE)),
    ("time", re.compile(f"(?:{_TIME})$", re.IGNORECASE)),
    ("phone", re.compile(f"(?:{_PHONE})$")),
    ("ordinal", re.compile(r"\d+(?:st|nd|rd|th)$", re.IGNORECASE)),
    ("number", re.compile(r"\d+(?:[.,]\d+)*$")),
    ("code", re.compile(rf"(?=.*\d)[A-Za-z0-9-]+$|(?:{_CODE})$", re.IGNORECASE)),
    ("title", re.compile(r"[A-Za-z]{2,4}\.$")),
)
# letters of any script, with inner apostrophes and hyphens ("O'Neill", "Łódź", "Владимир")
_LETTERS = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*$")
_PUNCT = re.compile(r"(?:[^\w\s]|_)+$")


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
    if _LETTERS.match(token):
        return _letter_case(token)
    return "punct" if _PUNCT.match(token) else "other"


def _letter_case(word: str) -> str:
    """upper / capital / lower by the letters' own case (str methods know every script's
    cases); a word of a script without case ("李明") is "other"."""
    letters = [c for c in word if c.isalpha()]
    if not letters:  # "³", "½", "Ⅻ": numeric signs that regex \w counts as letters
        return "other"
    if len(letters) >= 2 and word.isalpha() and word.isupper():
        return "upper"
    if letters[0].isupper():
        return "capital"
    return "lower" if all(c.islower() for c in letters) else "other"


def match_key(token: str) -> str:
    """Form used to decide whether a context token also occurs in the question.

    Lower case and a light plural strip, so "Mondays" matches "Monday" and "Rooms"
    matches "room".
    """
    key = token.lower()
    if len(key) > 3 and key.endswith("s") and key[-2] != "s" and key.isalpha():
        key = key[:-1]
    return DAY_ABBREVIATIONS.get(key, key)


DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# "Tue" and "Tues" match "Tuesday" (match keys are lower case, plural-stripped)
DAY_ABBREVIATIONS = {a: d for d in DAY_NAMES for a in {d[:3], d[:4], d[:5]} if a != d}
DAY_ABBREVIATIONS["thur"] = "thursday"
_DAY_GROUPS = {"weekday": DAY_NAMES[:5], "weekend": DAY_NAMES[5:], "daily": DAY_NAMES,
               "everyday": DAY_NAMES}
_RANGE_WORDS = {"to", "through", "thru", "till", "until", "-", "–", "—", "&", "and"}


def day_set(token: str) -> set[str]:
    """The days one token names: "Mon" -> {monday}, "weekends" -> {saturday, sunday},
    "Tue-Sat" -> Tuesday to Saturday; empty for other tokens."""
    parts = [match_key(p) for p in token.replace("–", "-").split("-")]
    if len(parts) == 2 and all(p in DAY_NAMES for p in parts):
        return day_range(parts[0], parts[1])
    key = match_key(token)
    if key in DAY_NAMES:
        return {key}
    return set(_DAY_GROUPS.get(key, ()))


def day_range(first: str, last: str) -> set[str]:
    """Days from `first` to `last` inclusive, wrapping over the week's end."""
    i, j = DAY_NAMES.index(first), DAY_NAMES.index(last)
    return {DAY_NAMES[k % 7] for k in range(i, j + 1 if j >= i else j + 8)}


def day_cover(tokens: list[str]) -> list[set[str]]:
    """Per token, the days it stands for, spreading "Monday to Friday" (or "Mon - Fri",
    "Tuesday through Saturday") over its three tokens, so that a question about
    Wednesday matches a range that holds it. "and"/"&" join two days only."""
    days = [day_set(t) for t in tokens]
    cover = [set(d) for d in days]
    for i in range(1, len(tokens) - 1):
        a, b, link = days[i - 1], days[i + 1], tokens[i].lower()
        if len(a) == 1 and len(b) == 1 and link in _RANGE_WORDS:
            span = a | b if link in ("&", "and") else day_range(min(a), min(b))
            for k in (i - 1, i, i + 1):
                cover[k] |= span
    return cover


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
