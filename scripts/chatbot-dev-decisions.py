"""Right decisions of chatbot models on the hand-written dev sets: the rule that chose
the shipped model (MODEL.md, "How the recipe was chosen").

    PYTHONPATH=$PWD .venv/bin/python scripts/chatbot-dev-decisions.py MODEL_DIR [MODEL_DIR ...]

For each model (a folder with the SavedModel and its meta.json, thresholds included),
scores blind_dev, written_dev and the shifted set through ``Answerer`` at the model's
own thresholds and prints, per set, (right answers, abstentions on unanswerable
questions, token F1) and the total of right decisions. The sealed sets are not scored.
"""
from __future__ import annotations

import sys

from services.chatbot import evaluate
from services.chatbot.answerer import Answerer

DEV_SETS = ("blind_dev", "written_dev", "shifted")


def dev_items() -> dict[str, list]:
    """The dev sets' items, by name."""
    items = {name: evaluate.shifted_items(evaluate.BLIND_FILES[name]) for name in DEV_SETS[:2]}
    items["shifted"] = evaluate.shifted_items()
    return items


def decisions(answerer, items: dict[str, list]) -> dict[str, tuple[int, int, float]]:
    """{set: (right answers, abstentions on unanswerable questions, token F1)}."""
    out = {}
    for name, its in items.items():
        f = evaluate.summarise(its, evaluate.run_raw(answerer, its), answerer)
        out[name] = (evaluate.right_answers(f), f["abstained"], round(f["f1"], 3))
    return out


def main(models: list[str]) -> None:
    """Print one line per model."""
    items = dev_items()
    for model in models:
        answerer = Answerer.load(model)
        found = decisions(answerer, items)
        total = sum(right + abstained for right, abstained, _ in found.values())
        print(f"{model} thresholds {answerer.no_answer_at}/{answerer.min_confidence} "
              f"total {total} {found}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
