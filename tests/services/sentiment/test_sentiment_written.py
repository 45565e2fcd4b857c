"""The written training sentences (services/sentiment/trainsets/written_*.tsv)."""

from collections import Counter

import pytest

from services.sentiment import data, extra_data, overlap, train

FILES = extra_data.written_files()
LEAKED_WORDS = {"burnt", "burned", "magical", "snapped"}  # quoted from the test set in a brief


def test_the_eight_written_sets_are_committed_and_parse():
    assert [p.stem for p in FILES] == [
        "written_electronics", "written_everyday", "written_gadgets", "written_home",
        "written_media", "written_news", "written_places", "written_services"]
    items = extra_data.written_items()
    assert len(items) > 4500
    assert {i.domain for i in items} == {extra_data.WRITTEN_DOMAIN}


def test_every_class_is_well_represented_in_each_file():
    for path in FILES:
        counts = Counter(i.label for i in extra_data.read_labelled(path))
        assert min(counts[c] for c in range(3)) >= 150, (path.name, counts)


def test_no_written_sentence_is_close_to_an_everyday_sentence():
    everyday = overlap.everyday_sentences()
    close = [i.text for i in extra_data.written_items()
             if overlap.close_to(overlap.words(i.text), everyday)]
    assert close == []


def test_no_written_sentence_repeats_or_holds_a_leaked_word():
    texts = [" ".join(overlap.words(i.text)) for i in extra_data.written_items()]
    assert len(texts) == len(set(texts))
    assert not [t for t in texts if LEAKED_WORDS & set(t.split())]


@pytest.mark.parametrize("tokens,expected", [
    (overlap.words("The coffee tasted burnt."), True),  # an everyday test sentence itself
    (overlap.words("the handle snapped off the first time"), True),  # four words in a row
    (overlap.words("Penguins waddle across frozen lakes in spring."), False),
])
def test_closeness_catches_copies_and_runs_of_words(tokens, expected):
    assert overlap.close_to(tokens, overlap.everyday_sentences()) is expected


def test_training_splits_the_written_sentences_80_10_10_without_overlap():
    parts = train.written_splits(train.TrainConfig())
    sizes = {k: len(v) for k, v in parts.items()}
    total = sum(sizes.values())
    assert sizes["train"] == int(total * 0.8)
    ids = [i.id for part in parts.values() for i in part]
    assert len(ids) == len(set(ids)) == len(extra_data.written_items())
    assert train.written_splits(train.TrainConfig(written=False)) == {
        "train": [], "val": [], "test": []}


def test_written_items_weigh_as_one_domain_times_their_share():
    written = extra_data.written_items()
    items = [i for c in range(3) for i in [w for w in written if w.label == c][:10]] + [
        data.Item(f"x{i}", r, "t", "tweets") for i, r in enumerate((-2.0, 0.0, 2.0) * 10)]
    weights = train.balanced_weights(items, written_share=2.0)
    written = weights[:30].sum()
    assert written == pytest.approx(2.0 * weights[30:].sum(), rel=1e-5)
