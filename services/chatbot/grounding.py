"""Names in a question that the context never mentions.

    unsupported_names("What does Rahul Ahmed do?", "Rahul Shah is the manager.")
    # ["Ahmed"]

A question that names someone or something ("Dr. McLeish", "the Spruce Suite", "DVDs")
which appears nowhere in the notice cannot be answered from it, however sure the span
model is: it tends to copy the nearest fact of the right kind (another person's role,
another room's floor). The answerer abstains on such a question.

A name is a capitalised word after the question's first word. Titles, greetings,
question words, months and days (the tokenizer's ``day_set``) are not names here, since a notice may give hours for
"Mon-Fri" and be asked about "Thursdays". A word counts as mentioned when its letters,
without a plural or possessive "s", occur in the context's letters (so "WiFi" matches
"Wi-Fi" and "Suite" matches "suites"). Questions in title case or capitals are not
checked at all: there, capitals say nothing about names.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from services.chatbot.tokenizer import day_set

NOT_NAMES = frozenset("""
i dr mr mrs ms miss mx prof st sir madam hey hi hello excuse sorry please thanks thank ok
okay could can would will what when where who whom whose which why how is are was do
does did the a an jan feb mar apr jun jul aug sep sept oct nov dec january february
march april may june july august september october november december
""".split())
# letters of any script, with inner apostrophes, dots and hyphens ("Wi-Fi", "O'Neill")
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.\-](?=[^\W\d_]))*")
# letters NFKD does not take apart
_FOLD = str.maketrans({"ø": "o", "ł": "l", "æ": "ae", "ß": "ss", "đ": "d", "œ": "oe",
                       "þ": "th", "ı": "i"})
# "I'm ringing from France": where the visitor is, not something the notice must name
ORIGIN = re.compile(r"\b(?i:calling|ringing|phoning|dialling|dialing|texting) (?i:in )?"
                    r"(?i:from) (?i:a |an |the )?(?P<place>[^\W\d_][\w'’.]*"
                    r"(?:[ -](?:on|upon|de|la|le|[A-ZÀ-ÞĀ-Ž][\w'’.]*))*)")
MIN_SUBSTRING = 3  # shorter words must match a whole context word, not part of one
TITLE_WORD = 3  # words longer than this are capitalised in a title-case question


def _letters(text: str) -> str:
    """The text's letters only, case and accents folded ("Müller" -> "muller", "Søren" ->
    "soren"); letters of other scripts are kept ("Ольга" -> "ольга")."""
    plain = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in plain if c.isalpha() and not unicodedata.combining(c))


def _stem(word: str) -> str:
    word = _letters(re.sub(r"['’][a-z]*$", "", word))  # Stephen's, I'm, I'll
    return word[:-1] if len(word) > MIN_SUBSTRING and word.endswith("s") else word


def _mentioned(stem: str, context_letters: str, context_words: frozenset[str]) -> bool:
    if len(stem) < MIN_SUBSTRING:
        return stem in context_words
    return stem in context_letters


@lru_cache(maxsize=64)  # a batch, and a deployment's default context, repeat one context
def _context_index(context: str) -> tuple[str, frozenset[str]]:
    return _letters(context), frozenset(_stem(w) for w in WORD.findall(context))


def _title_case(words: list[str]) -> bool:
    """Every longer word capitalised ("What Time Do You Open"): capitals mark no names."""
    longer = [w for w in words[1:] if len(w) > TITLE_WORD]
    return len(longer) >= 2 and all(w[0].isupper() for w in longer)


def unsupported_names(question: str, context: str) -> list[str]:
    """The question's names (capitalised words after the first) absent from `context`."""
    found = list(WORD.finditer(question))
    words = [m.group() for m in found]
    if question.upper() == question or _title_case(words):
        return []
    context_letters, context_words = _context_index(context)
    origin = _origin_positions(question)
    capitalised = [(m.group(), _stem(m.group())) for m in found[1:]  # each stemmed once
                   if m.group()[0].isupper() and m.start() not in origin]
    return [w for w, stem in capitalised if _is_name(stem)
            and not _mentioned(stem, context_letters, context_words)]


def _origin_positions(question: str) -> set[int]:
    """Character positions of the place a caller rings from ("from the UK", "from a
    French mobile", "from New Zealand"): only those words are let pass."""
    spans = [m.span("place") for m in ORIGIN.finditer(question)]
    return {i for start, end in spans for i in range(start, end)}


def _is_name(stem: str) -> bool:
    """Not a title, greeting, question word, month or day ("Thursdays", "Tue", "weekends":
    the tokenizer's day_set, which the span model's day features use too)."""
    return stem not in NOT_NAMES and not day_set(stem)
