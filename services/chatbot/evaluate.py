"""Exact match, token F1 and abstention of the exported chatbot model.

    python -m services.chatbot.evaluate [--model services/chatbot/artifacts/model]
        [--examples N] [--seed S] [--errors K]
    python -m services.chatbot.evaluate --tune [--dev-examples N]   # writes meta.json

Sets:

* generated splits (data.py): ``test_values`` (unseen entity values, training question
  templates), ``test_templates`` (unseen templates), ``test_both`` (both unseen; the
  dev set the abstention thresholds are tuned on, with its own seed), a fresh sample of
  ``train`` for reference; a quarter of each are questions the context cannot answer;
* ``shifted``: eval/shifted.json, six desk contexts written by hand in a style unlike
  the generator's, 54 answerable and 12 unanswerable questions, never used to train or tune;
* ``blind_dev``, ``blind_test``: eval/blind_*.json, six contexts each (30 answerable,
  12 unanswerable questions) written by writers who saw neither the code nor the data,
  with the alternative spans they accept; blind_dev's misses were studied to extend
  the generator, blind_test's were read (after models were chosen, for the known
  failures; an --errors run printed them again on 2026-12-03, before they were sealed);
* ``written_dev``: eval/written_dev.json, 15 notices (150 answerable, 60 unanswerable
  questions, one span each, no alternatives) by the six writers of the third round of
  training notices, held out from that round; its misses were studied (a dev set);
* ``blind_fresh``: eval/blind_fresh.json, six more contexts of the same six kinds by a
  third blind writer (2026-12-03), sealed from the start: scored, never read;
* the question set about the default context (context.txt, data.DEFAULT_CONTEXT_QA).

Per set: exact match and token F1 on the answerable questions (an abstention scores 0),
the share of unanswerable questions abstained on, and "kept": right answers with
abstention / right answers of the raw span without it. Answers are compared as
lower-cased tokens without edge punctuation (tokenizer.normalize_answer), SQuAD-style.
The model is measured through :class:`Answerer`, i.e. exactly as the service runs it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from services.chatbot import data
from services.chatbot.tokenizer import normalize_answer

EVAL_SPLITS: tuple[str, ...] = ("test_values", "test_templates", "test_both", "train")
SHIFTED_FILE = Path(__file__).resolve().parent / "eval" / "shifted.json"
# hand-written sets, each by writers without access to this repository
BLIND_FILES = {"blind_dev": SHIFTED_FILE.with_name("blind_dev.json"),
               "blind_test": SHIFTED_FILE.with_name("blind_test.json"),
               "blind_fresh": SHIFTED_FILE.with_name("blind_fresh.json"),
               "written_dev": SHIFTED_FILE.with_name("written_dev.json")}
#: Sets whose misses are never printed (--errors skips them), so they stay blind.
SEALED = frozenset({"blind_test", "blind_fresh"})
DEV_SEED_OFFSET = 3  # the dev set (test_both, seed + 3) is disjoint from the reported one
MIN_KEPT = 0.95  # tuning keeps at least this share of the raw span's right answers


@dataclass(frozen=True)
class Item:
    """One question to score: gold is None when the context does not hold the answer."""

    question: str
    context: str | None
    gold: str | None
    group: str = ""
    alternatives: tuple[str, ...] = ()  # other spans that count as right

    def best(self, predicted: str | None) -> tuple[float, float]:
        """(exact match, token F1) against the gold span or its best alternative."""
        return max(scores(predicted, g) for g in (self.gold, *self.alternatives))


def scores(predicted: str | None, gold: str) -> tuple[float, float]:
    """(exact match, token F1) of one answer (None: abstained, scores 0)."""
    pred, want = normalize_answer(predicted or ""), normalize_answer(gold)
    if not pred or not want:
        return float(pred == want), float(pred == want)
    common = sum((Counter(pred) & Counter(want)).values())
    if not common:
        return 0.0, 0.0
    precision, recall = common / len(pred), common / len(want)
    return float(pred == want), 2 * precision * recall / (precision + recall)


def run_raw(answerer, items: list[Item], batch: int = 64) -> list[dict]:
    """The model's raw outputs (span, confidence, no_answer), `batch` per compiled call."""
    out: list[dict] = []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        out += answerer.raw([it.question for it in chunk], [it.context for it in chunk])
    return out


def summarise(items: list[Item], raws: list[dict], answerer) -> dict:
    """Figures of one set with the answerer's current abstention thresholds."""
    decided = [answerer.decide(it.question, r) for it, r in zip(items, raws)]
    answerable = [(it, r, d) for it, r, d in zip(items, raws, decided) if it.gold is not None]
    unanswerable = [d for it, d in zip(items, decided) if it.gold is None]
    em = [it.best(d["answer"]) for it, _, d in answerable]
    raw_em = sum(it.best(r["span"])[0] for it, r, _ in answerable)
    n = max(1, len(answerable))
    return {"n": len(answerable), "exact_match": round(sum(e for e, _ in em) / n, 4),
            "f1": round(sum(f for _, f in em) / n, 4),
            "exact_match_no_abstention": round(raw_em / n, 4),
            "kept": round(sum(e for e, _ in em) / raw_em, 4) if raw_em else 0.0,
            "n_unanswerable": len(unanswerable),
            "abstained": sum(not d["answerable"] for d in unanswerable)}


def generated_items(n: int, split: str, seed: int) -> list[Item]:
    """Items from the generator (intent kept as the group)."""
    return [Item(e.question, e.context, e.answer if e.answerable else None, e.intent)
            for e in data.generate(n, split, seed)]


def shifted_items(path: Path = SHIFTED_FILE) -> list[Item]:
    """A hand-written set: eval/shifted.json by default, or a blind set (BLIND_FILES),
    whose questions carry their alternative spans as a third element."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return [Item(q[0], c["context"], q[1], c["name"], tuple(q[2] if len(q) > 2 else ()))
            for c in document["contexts"] for q in c["questions"]]


def default_context_qa() -> list[tuple[str, str]]:
    """The default-context questions whose expected answer is still in context.txt."""
    context = data.default_context()
    return [(q, a) for q, a in data.DEFAULT_CONTEXT_QA if a in context]


def evaluate_items(answerer, items: list[Item]) -> tuple[dict, list[tuple]]:
    """Figures (overall and exact match per group) and the misses of a set."""
    raws = run_raw(answerer, items)
    figures = summarise(items, raws, answerer)
    groups: dict[str, list] = defaultdict(list)
    misses = []
    for it, r in zip(items, raws):
        d = answerer.decide(it.question, r)
        right = (not d["answerable"]) if it.gold is None else it.best(d["answer"])[0] == 1
        groups[it.group].append(right)
        if not right:
            misses.append((it, d))
    figures["by_group"] = {k: round(sum(v) / len(v), 4) for k, v in sorted(groups.items())}
    return figures, misses


def evaluate_split(answerer, examples: list[data.Example]) -> tuple[dict, list[tuple]]:
    """Figures for a list of generated examples."""
    return evaluate_items(answerer, [Item(e.question, e.context,
                                          e.answer if e.answerable else None, e.intent)
                                     for e in examples])


def evaluate_all(answerer, n: int = 1000, seed: int = data.DEFAULT_SEED,
                 misses: dict | None = None) -> dict:
    """Figures for every split (n examples each), the shifted set and the default context."""
    sets = {split: generated_items(n, split, seed + 2 if split == "train" else seed)
            for split in EVAL_SPLITS}  # seed + 2 for "train": not the examples trained on
    sets["shifted"] = shifted_items()
    sets.update({name: shifted_items(path) for name, path in BLIND_FILES.items()})
    sets["default_context"] = [Item(q, None, a, "default") for q, a in default_context_qa()]
    figures = {}
    for name, items in sets.items():
        figures[name], set_misses = evaluate_items(answerer, items)
        if misses is not None:
            misses[name] = set_misses
    return figures


def right_answers(figures: dict) -> int:
    """Answerable questions answered exactly (exact match is a share of ``n``)."""
    return round(figures["exact_match"] * figures["n"])


def right_decisions(figures: dict) -> int:
    """Right answers plus abstentions on unanswerable questions: what choices maximise."""
    return right_answers(figures) + figures["abstained"]


def tune(answerer, n: int, seed: int) -> dict:
    """Abstention thresholds maximising right decisions (right answers + abstentions on
    unanswerable questions) while keeping MIN_KEPT of the right answers, on the dev set:
    test_both with seed + DEV_SEED_OFFSET."""
    items = generated_items(n, "test_both", seed + DEV_SEED_OFFSET)
    raws = run_raw(answerer, items)
    answerer.no_answer_at, answerer.min_confidence = 1.0, 0.0  # only the empty span
    best = (-1.0, 1.0, 0.0, summarise(items, raws, answerer))
    for no_answer in [x / 100 for x in range(5, 101, 5)]:
        for min_conf in [x / 100 for x in range(0, 95, 5)]:
            answerer.no_answer_at, answerer.min_confidence = no_answer, min_conf
            f = summarise(items, raws, answerer)
            right = right_decisions(f)
            if f["kept"] < MIN_KEPT:  # the target keeps >= 90 % of right answers: margin
                continue
            if best is None or right > best[0]:
                best = (right, no_answer, min_conf, f)
    _, answerer.no_answer_at, answerer.min_confidence, figures = best
    return {"no_answer": answerer.no_answer_at, "min_confidence": answerer.min_confidence,
            "tuned_on": f"test_both, {n} examples, seed {seed + DEV_SEED_OFFSET}",
            "dev_figures": figures}


NAMES = {"test_values": "unseen entity values (seen templates)",
         "test_templates": "unseen question templates (seen values)",
         "test_both": "unseen templates and unseen values",
         "train": "training distribution (fresh examples)",
         "shifted": "shifted: hand-written contexts (eval/)",
         "blind_dev": "blind writer, dev (misses studied)",
         "blind_test": "blind writer, test (misses read)",
         "blind_fresh": "blind writer, fresh (sealed)",
         "written_dev": "third-round writers, dev (held out)",
         "default_context": "default context.txt question set"}


def report(figures: dict) -> str:
    """The figures as a small table."""
    lines = [f"{'set':<40} {'n':>5} {'exact':>6} {'f1':>6} {'raw em':>6} {'kept':>6} "
             f"{'abstained':>11}"]
    for key, label in NAMES.items():
        f = figures[key]
        abstained = f"{f['abstained']}/{f['n_unanswerable']}"
        lines.append(f"{label:<40} {f['n']:>5} {f['exact_match']:>6.3f} {f['f1']:>6.3f} "
                     f"{f['exact_match_no_abstention']:>6.3f} {f['kept']:>6.3f} "
                     f"{abstained:>11}")
    lines.append("right decisions by intent, unseen entity values: " +
                 json.dumps(figures["test_values"]["by_group"]))
    for name in ("shifted", "blind_dev"):  # blind_test's misses stay unread: no breakdown
        lines.append(f"right decisions by context, {name} set: " +
                     json.dumps(figures[name]["by_group"]))
    return "\n".join(lines)


def print_misses(misses: dict, k: int) -> None:
    """Show up to k wrong decisions per set, none of a SEALED set's."""
    for name, rows in misses.items():
        if name in SEALED:
            continue
        for item, decided in rows[:k]:
            print(f"[{name}] Q: {item.question!r} want {item.gold!r} got "
                  f"{decided['answer']!r} ({decided['confidence']}) [{item.group}]")


def write_thresholds(model_dir: Path, abstain: dict) -> None:
    """Store the tuned thresholds in meta.json (read by Answerer.load)."""
    meta_file = model_dir / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["abstain"] = abstain
    meta_file.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    from services.chatbot.answerer import DEFAULT_ARTIFACT, Answerer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_ARTIFACT), help="SavedModel folder")
    parser.add_argument("--examples", type=int, default=1000, help="examples per split")
    parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    parser.add_argument("--errors", type=int, default=0, help="show K misses per set")
    parser.add_argument("--tune", action="store_true",
                        help="tune the abstention thresholds on the dev set, write meta.json")
    parser.add_argument("--dev-examples", type=int, default=1500)
    args = parser.parse_args(argv)
    answerer = Answerer.load(args.model)
    if args.tune:
        abstain = tune(answerer, args.dev_examples, args.seed)
        write_thresholds(Path(args.model), abstain)
        print("abstention thresholds:", json.dumps(abstain))
    misses: dict = {}
    figures = evaluate_all(answerer, args.examples, args.seed, misses)
    print(report(figures))
    print_misses(misses, args.errors)


if __name__ == "__main__":
    main()
