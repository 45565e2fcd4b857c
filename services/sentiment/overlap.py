"""Whether a sentence is close to one of the hand-written everyday sets' sentences.

Why: the everyday sets are the figures' shifted test set and the calibration set, so a
near copy of one of their sentences in training data would inflate both. Close means
half or more of the distinct words shared (Jaccard >= 0.5), or a run of four words in
common. Used by scripts/sentiment-written-import.py and by the tests of the training sets.
"""

from __future__ import annotations

import re

from services.sentiment import extra_data

CLOSE_JACCARD = 0.5
RUN = 4  # words in a row shared with an everyday sentence


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped ("don't" -> "dont")."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", "").replace("\u2019", ""))


def runs(tokens: list[str]) -> set[tuple[str, ...]]:
    """Every run of RUN words."""
    return {tuple(tokens[i:i + RUN]) for i in range(len(tokens) - RUN + 1)}


def everyday_sentences() -> list[list[str]]:
    """The words of every sentence of both hand-written everyday sets."""
    return [words(i.text) for path in (extra_data.EVERYDAY_DEV, extra_data.EVERYDAY_TEST)
            for i in extra_data.read_labelled(path)]


def close_to(tokens: list[str], everyday: list[list[str]]) -> bool:
    """Whether a sentence's words are near one of `everyday`'s."""
    mine, my_runs = set(tokens), runs(tokens)
    for other in everyday:
        union = mine | set(other)
        if union and len(mine & set(other)) / len(union) >= CLOSE_JACCARD:
            return True
        if my_runs & runs(other):
            return True
    return False
