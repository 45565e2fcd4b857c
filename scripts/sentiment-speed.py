"""Serving speed of two sentiment artifacts, measured in one process, side by side.

    PYTHONPATH=$PWD python scripts/sentiment-speed.py \
        [--old services/sentiment/artifacts/1.0.0] [--new services/sentiment/artifacts/2.0.0] \
        [--rounds 30] [--repeat 20]

`SentimentClassifier.predict` (lexicon features in Python + one call of the compiled
`serve` function) on a batch of 1 and of 32 sentences. The two artifacts alternate
round by round, so a busy machine slows both alike; each figure is the median over the
rounds of the mean time of `repeat` calls. Prints milliseconds and new/old ratios.
"""
from __future__ import annotations

import argparse
import statistics
import time

from services.sentiment.classifier import ARTIFACTS, SentimentClassifier

SENTENCES = [
    "The concert was absolutely magical.", "The battery lasts all day and charges quickly.",
    "The food was cold and the waiter was rude.", "The train leaves from platform 4.",
    "I can't say I enjoyed it, but the music was good!", "Worst purchase ever :(",
    "The hotel room was clean, quiet and cheap.", "Delivery took three weeks.",
]


def batch_of(n: int) -> list[str]:
    """n sentences cycled from SENTENCES."""
    return [SENTENCES[i % len(SENTENCES)] for i in range(n)]


def timed(clf: SentimentClassifier, texts: list[str], repeat: int) -> float:
    """Mean milliseconds of one predict call over `repeat` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        clf.predict(texts)
    return (time.perf_counter() - start) * 1000 / repeat


def main() -> None:
    """Load both artifacts, warm them, time them alternately, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=str(ARTIFACTS / "1.0.0"))
    parser.add_argument("--new", default=str(ARTIFACTS / "2.0.0"))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    models = {"old": SentimentClassifier.load(args.old), "new": SentimentClassifier.load(args.new)}
    times = {(name, n): [] for name in models for n in (1, 32)}
    for clf in models.values():
        clf.predict(batch_of(32))  # first calls trace and allocate
    for _ in range(args.rounds):
        for n in (1, 32):
            for name, clf in models.items():
                times[name, n].append(timed(clf, batch_of(n), args.repeat))
    for n in (1, 32):
        old, new = (statistics.median(times[name, n]) for name in ("old", "new"))
        print(f"batch {n:>2}: {models['old'].version} {old:7.3f} ms   "
              f"{models['new'].version} {new:7.3f} ms   new/old {new / old:.2f}")


if __name__ == "__main__":
    main()
