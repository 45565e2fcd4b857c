"""The sentiment data split: deterministic, disjoint, 80/10/10; labels follow the thresholds."""
from __future__ import annotations

import pytest

from services.sentiment import data


def write_domain(folder, domain: str, n: int) -> None:
    """A TSV in the data set's format with ratings spread over -4..4."""
    rows = [f"{i}\t{-4 + 8 * i / (n - 1):.3f}\t{domain} sentence number {i}" for i in range(n)]
    (folder / data.DOMAIN_FILES[domain]).write_text("\n".join(rows), encoding="utf-8")


@pytest.fixture()
def folder(tmp_path):
    for domain in data.DOMAINS:
        write_domain(tmp_path, domain, 50)
    return tmp_path


@pytest.mark.parametrize("rating, label", [
    (4.0, 2), (0.51, 2), (0.5, 1), (0.0, 1), (-0.5, 1), (-0.51, 0), (-3.2, 0),
])
def test_labels_follow_the_thresholds(rating, label):
    assert data.label_of(rating) == label
    assert data.LABELS[label] in ("negative", "neutral", "positive")


def test_read_domain_parses_id_rating_text(folder):
    items = data.read_domain(folder, "nyt")
    assert len(items) == 50
    assert items[0] == data.Item("0", -4.0, "nyt sentence number 0", "nyt")
    assert items[0].label == 0 and items[-1].label == 2


def test_split_is_deterministic_disjoint_and_complete(folder):
    first = data.load_splits(folder)
    second = data.load_splits(folder)
    for domain in data.DOMAINS:
        parts = first[domain]
        assert {p: [i.id for i in v] for p, v in parts.items()} == \
            {p: [i.id for i in v] for p, v in second[domain].items()}
        ids = [set(i.id for i in parts[p]) for p in ("train", "val", "test")]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
        assert set.union(*ids) == {str(i) for i in range(50)}
        assert [len(parts[p]) for p in ("train", "val", "test")] == [40, 5, 5]


def test_split_depends_on_the_seed(folder):
    items = data.read_domain(folder, "tweets")
    assert data.split_items(items, 1)["test"] != data.split_items(items, 2)["test"]


def test_unknown_domain_is_rejected(folder):
    with pytest.raises(ValueError):
        data.load_splits(folder, ["tweets", "reddit"])


def test_pool_and_class_counts(folder):
    splits = data.load_splits(folder, ["tweets", "movie"])
    pooled = data.pool(splits, "train")
    assert len(pooled) == 80 and {i.domain for i in pooled} == {"tweets", "movie"}
    assert sum(data.class_counts(pooled)) == 80
