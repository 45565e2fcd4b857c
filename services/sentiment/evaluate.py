"""Evaluate the shipped sentiment model against the VADER baseline.

    python -m services.sentiment.evaluate --data ../shared/data/sentiment \
        [--model services/sentiment/artifacts/model] [--ood-domain nyt ...] [--no-ood]
        [--seed S] [--json FILE]

Prints two tables of accuracy on the held-out test splits (data.py, seed 1234):
1. in domain: the shipped model beside VADER on each training domain's test split;
2. out of domain: for each held-out domain D, a model trained by train.py (same
   config) on the other two domains only, in a temporary folder, beside VADER on D's
   test split (--seed sets those models' training seed).
Figures: three-class accuracy and positive-vs-negative accuracy (metrics.py).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from services.sentiment import data, metrics, train
from services.sentiment.classifier import DEFAULT_ARTIFACT, SentimentClassifier

HEADER = (
    f"{'test domain':<12}{'trained on':<20}{'n':>6}{'3-class model':>15}{'VADER':>8}"
    f"{'n pos/neg':>11}{'pos-vs-neg model':>18}{'VADER':>8}  beats VADER on both"
)


def score_domain(clf: SentimentClassifier, items: list[data.Item]) -> dict[str, dict]:
    """Model and VADER figures on one list of test items."""
    arrays = train.to_arrays(items)
    probs = clf.probabilities(list(arrays.texts), arrays.feats)
    return {
        "model": metrics.model_scores(arrays.labels, probs),
        "vader": metrics.vader_scores(arrays.labels, arrays.feats),
    }


def table_row(domain: str, trained_on: list[str], figures: dict[str, dict]) -> str:
    """One formatted row of the results table."""
    m, v = figures["model"], figures["vader"]
    both = m["acc3"] > v["acc3"] and m["acc_pn"] > v["acc_pn"]
    return (
        f"{domain:<12}{','.join(trained_on):<20}{m['n']:>6}{m['acc3']:>15.3f}{v['acc3']:>8.3f}"
        f"{m['n_pn']:>11}{m['acc_pn']:>18.3f}{v['acc_pn']:>8.3f}  {'yes' if both else 'no'}"
    )


def in_domain(model_dir: Path, splits: dict) -> tuple[list[str], dict]:
    """Rows and figures of the shipped model on its training domains' test splits."""
    clf = SentimentClassifier.load(model_dir)
    domains = clf.meta.get("training_domains", list(data.DOMAINS))
    figures = {d: score_domain(clf, splits[d]["test"]) for d in domains}
    figures["all"] = score_domain(clf, data.pool(splits, "test", domains))
    rows = [table_row(d, domains, f) for d, f in figures.items()]
    return rows, figures


def out_of_domain(data_dir: str, held_out: str, splits: dict, seed: int) -> tuple[str, dict]:
    """Train on the other domains into a temp folder; row and figures on `held_out`."""
    others = tuple(d for d in data.DOMAINS if d != held_out)
    with tempfile.TemporaryDirectory(prefix=f"sentiment-ood-{held_out}-") as tmp:
        cfg = train.TrainConfig(domains=others, seed=seed)
        train.train(data_dir, Path(tmp) / "model", cfg, "out-of-domain evaluation")
        clf = SentimentClassifier.load(Path(tmp) / "model")
        figures = score_domain(clf, splits[held_out]["test"])
    return table_row(held_out, list(others), figures), figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Evaluate the sentiment model against VADER.")
    parser.add_argument("--data", required=True, help="folder of the *_GroundTruth.tsv files")
    parser.add_argument("--model", default=str(DEFAULT_ARTIFACT), help="SavedModel folder")
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
    """CLI entry point: print both tables (and optionally write them as JSON)."""
    args = parse_args(argv)
    splits = data.load_splits(args.data)
    rows, figures = in_domain(Path(args.model), splits)
    report = {"in_domain": figures, "out_of_domain": {}}
    ood_rows = []
    for held_out in [] if args.no_ood else (args.ood_domain or list(data.DOMAINS)):
        row, report["out_of_domain"][held_out] = out_of_domain(
            args.data, held_out, splits, args.seed
        )
        ood_rows.append(row)
    print_tables(rows, ood_rows, args.seed)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def print_tables(rows: list[str], ood_rows: list[str], seed: int) -> None:
    """Print the in-domain and out-of-domain tables (accuracy on held-out test splits)."""
    print("VADER: compound >= 0.05 positive, <= -0.05 negative, else neutral;"
          " pos-vs-neg by sign (> 0 positive).")
    print("\nIn domain: shipped model, test split of each training domain")
    print(HEADER)
    print("\n".join(rows))
    if ood_rows:
        print(f"\nOut of domain: model trained (seed {seed}) on the two other domains,"
              " test split of the held-out one")
        print(HEADER)
        print("\n".join(ood_rows))


if __name__ == "__main__":
    main()
