"""Exact match and token F1 of the exported chatbot model on the held-out splits.

    python -m services.chatbot.evaluate [--model services/chatbot/artifacts/model]
        [--examples N] [--seed S] [--errors K]

Splits (data.py): ``test_values`` (unseen entity values, training question templates),
``test_templates`` (unseen question templates, training values), ``test_both`` (both
unseen), a fresh sample of the ``train`` distribution for reference, and the question set
about the default context (context.txt, data.DEFAULT_CONTEXT_QA). Answers are compared
as lower-cased tokens without edge punctuation (tokenizer.normalize_answer), SQuAD-style.
The model is measured through :class:`Answerer`, i.e. exactly as the service runs it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict

from services.chatbot import data
from services.chatbot.tokenizer import normalize_answer

EVAL_SPLITS: tuple[str, ...] = ("test_values", "test_templates", "test_both", "train")


def scores(predicted: str, gold: str) -> tuple[float, float]:
    """(exact match, token F1) of one answer."""
    pred, want = normalize_answer(predicted), normalize_answer(gold)
    if not pred or not want:
        return float(pred == want), float(pred == want)
    common = sum((Counter(pred) & Counter(want)).values())
    if not common:
        return 0.0, 0.0
    precision, recall = common / len(pred), common / len(want)
    return float(pred == want), 2 * precision * recall / (precision + recall)


def run(answerer, questions: list[str], contexts: list[str | None], batch: int = 64) -> list[str]:
    """Predicted answers, `batch` questions per compiled call."""
    out: list[str] = []
    for i in range(0, len(questions), batch):
        out += [r["answer"] for r in answerer.answer(questions[i:i + batch], contexts[i:i + batch])]
    return out


def summarise(pairs: list[tuple[str, str]]) -> dict:
    """Mean exact match and F1 over (predicted, gold) pairs."""
    if not pairs:
        return {"n": 0, "exact_match": 0.0, "f1": 0.0}
    em, f1 = zip(*(scores(p, g) for p, g in pairs))
    return {"n": len(pairs), "exact_match": round(sum(em) / len(em), 4),
            "f1": round(sum(f1) / len(f1), 4)}


def evaluate_split(answerer, examples: list[data.Example]) -> tuple[dict, list[tuple]]:
    """Figures for a list of examples (overall and per intent) and the misses."""
    predicted = run(answerer, [e.question for e in examples], [e.context for e in examples])
    by_intent: dict[str, list] = defaultdict(list)
    for ex, pred in zip(examples, predicted):
        by_intent[ex.intent].append((pred, ex.answer))
    figures = summarise(list(zip(predicted, (e.answer for e in examples))))
    figures["by_intent"] = {k: summarise(v)["exact_match"] for k, v in sorted(by_intent.items())}
    misses = [(e, p) for e, p in zip(examples, predicted) if scores(p, e.answer)[0] < 1]
    return figures, misses


def default_context_qa() -> list[tuple[str, str]]:
    """The default-context questions whose expected answer is still in context.txt."""
    context = data.default_context()
    return [(q, a) for q, a in data.DEFAULT_CONTEXT_QA if a in context]


def evaluate_default(answerer) -> tuple[dict, list[tuple]]:
    """Figures on the default context's question set (questions asked with no context)."""
    qa = default_context_qa()
    predicted = run(answerer, [q for q, _ in qa], [None] * len(qa))
    figures = summarise(list(zip(predicted, (a for _, a in qa))))
    figures["skipped_stale"] = len(data.DEFAULT_CONTEXT_QA) - len(qa)
    misses = [(q, a, p) for (q, a), p in zip(qa, predicted) if scores(p, a)[0] < 1]
    return figures, misses


def evaluate_all(answerer, n: int = 1000, seed: int = data.DEFAULT_SEED,
                 misses: dict | None = None) -> dict:
    """Figures for every split (n examples each) and the default context."""
    figures = {}
    for split in EVAL_SPLITS:
        # seed + 2 for "train": a fresh sample, not the examples trained on
        examples = data.generate(n, split, seed + 2 if split == "train" else seed)
        figures[split], split_misses = evaluate_split(answerer, examples)
        if misses is not None:
            misses[split] = split_misses
    figures["default_context"], default_misses = evaluate_default(answerer)
    if misses is not None:
        misses["default_context"] = default_misses
    return figures


def report(figures: dict) -> str:
    """The figures as a small table."""
    names = {"test_values": "unseen entity values (seen templates)",
             "test_templates": "unseen question templates (seen values)",
             "test_both": "unseen templates and unseen values",
             "train": "training distribution (fresh examples)",
             "default_context": "default context.txt question set"}
    lines = [f"{'split':<44} {'n':>5} {'exact':>7} {'f1':>7}"]
    for key, label in names.items():
        f = figures[key]
        lines.append(f"{label:<44} {f['n']:>5} {f['exact_match']:>7.4f} {f['f1']:>7.4f}")
    lines.append("exact match by intent, unseen entity values: " +
                 json.dumps(figures["test_values"]["by_intent"]))
    lines.append("exact match by intent, unseen templates:     " +
                 json.dumps(figures["test_templates"]["by_intent"]))
    return "\n".join(lines)


def print_misses(misses: dict, k: int) -> None:
    """Show up to k wrong answers per split."""
    for split, rows in misses.items():
        for row in rows[:k]:
            if split == "default_context":
                print(f"[{split}] Q: {row[0]!r} want {row[1]!r} got {row[2]!r}")
            else:
                ex, pred = row
                print(f"[{split}] Q: {ex.question!r} want {ex.answer!r} got {pred!r} "
                      f"({ex.template})")


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    from services.chatbot.answerer import DEFAULT_ARTIFACT, Answerer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_ARTIFACT), help="SavedModel folder")
    parser.add_argument("--examples", type=int, default=1000, help="examples per split")
    parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    parser.add_argument("--errors", type=int, default=0, help="show K misses per split")
    args = parser.parse_args(argv)
    misses: dict = {}
    figures = evaluate_all(Answerer.load(args.model), args.examples, args.seed, misses)
    print(report(figures))
    print_misses(misses, args.errors)


if __name__ == "__main__":
    main()
