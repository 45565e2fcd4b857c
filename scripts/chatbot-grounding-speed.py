"""Serving time of the chatbot answerer with and without the grounding check, in one
process, alternating the two (5 rounds of 40 calls each; medians).

    PYTHONPATH=$PWD .venv/bin/python scripts/chatbot-grounding-speed.py
"""
import statistics
import time

from services.chatbot import answerer as answerer_module
from services.chatbot.evaluate import shifted_items

ROUNDS, CALLS, BATCH = 5, 40, 25


def median_ms(answerer, check, questions, contexts) -> float:
    """Median time of CALLS answer() calls with `check` standing in for the grounding."""
    answerer_module.unsupported_names = check  # answerer.raw looks the name up per call
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        answerer.answer(questions, contexts)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    answerer = answerer_module.Answerer.load()
    items = shifted_items()[:BATCH]
    questions, contexts = [it.question for it in items], [it.context for it in items]
    real = answerer_module.unsupported_names
    for label, n in (("one question", 1), (f"batch of {BATCH}", BATCH)):
        base, new = [], []
        for _ in range(ROUNDS):  # alternate, so load changes hit both alike
            base.append(median_ms(answerer, lambda q, c: [], questions[:n], contexts[:n]))
            new.append(median_ms(answerer, real, questions[:n], contexts[:n]))
        b, w = statistics.median(base), statistics.median(new)
        print(f"{label}: without {b:.2f} ms, with {w:.2f} ms, ratio {w / b:.3f}")


if __name__ == "__main__":
    main()
