"""Loading and splitting the human-rated sentiment sentences (Hutto & Gilbert, ICWSM 2014).

Each domain is a TSV file ``ID<TAB>MEAN-RATING<TAB>TEXT``; ratings run from -4 to +4.
Labels: rating > 0.5 positive, rating < -0.5 negative, otherwise neutral.
The split is per domain, seeded and independent of file order beyond the IDs' order,
so the same folder always gives the same train/val/test items.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
THRESHOLD = 0.5
DOMAIN_FILES: dict[str, str] = {
    "tweets": "tweets_GroundTruth.tsv",
    "movie": "movieReviewSnippets_GroundTruth.tsv",
    "nyt": "nytEditorialSnippets_GroundTruth.tsv",
}
DOMAINS: tuple[str, ...] = tuple(DOMAIN_FILES)
DEFAULT_SEED = 1234
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, val, test


@dataclass(frozen=True)
class Item:
    """One rated sentence."""

    id: str
    rating: float
    text: str
    domain: str

    @property
    def label(self) -> int:
        """Index into LABELS."""
        return label_of(self.rating)


def label_of(rating: float) -> int:
    """Map a mean rating to a class index (0 negative, 1 neutral, 2 positive)."""
    if rating > THRESHOLD:
        return 2
    if rating < -THRESHOLD:
        return 0
    return 1


def read_domain(folder: str | Path, domain: str) -> list[Item]:
    """Read one domain's TSV file, in file order."""
    path = Path(folder) / DOMAIN_FILES[domain]
    with path.open(encoding="utf-8", newline="") as handle:
        # QUOTE_NONE: the texts contain bare double quotes that are not CSV quoting.
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Item(r[0], float(r[1]), r[2], domain) for r in rows if len(r) == 3]


def split_items(items: list[Item], seed: int = DEFAULT_SEED) -> dict[str, list[Item]]:
    """Shuffle with a private seeded RNG and cut 80/10/10 into train/val/test."""
    order = list(items)
    random.Random(seed).shuffle(order)
    n_train = int(len(order) * SPLIT_FRACTIONS[0])
    n_val = int(len(order) * SPLIT_FRACTIONS[1])
    return {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }


def load_splits(
    folder: str | Path, domains: list[str] | tuple[str, ...] = DOMAINS, seed: int = DEFAULT_SEED
) -> dict[str, dict[str, list[Item]]]:
    """Return {domain: {"train"|"val"|"test": [Item, ...]}} for the given domains."""
    unknown = set(domains) - set(DOMAIN_FILES)
    if unknown:
        raise ValueError(f"unknown domains: {sorted(unknown)}; known: {list(DOMAINS)}")
    return {d: split_items(read_domain(folder, d), seed) for d in domains}


def pool(splits: dict[str, dict[str, list[Item]]], part: str, domains=None) -> list[Item]:
    """Concatenate one part (train/val/test) over the given domains (default: all loaded)."""
    chosen = domains if domains is not None else list(splits)
    return [item for d in chosen for item in splits[d][part]]


def class_counts(items: list[Item]) -> list[int]:
    """Number of items per class, in LABELS order."""
    counts = [0] * len(LABELS)
    for item in items:
        counts[item.label] += 1
    return counts
