"""The generated everyday sentences: reproducible, balanced, distinct, apart from the
hand-written everyday sets, and grammatical where the label depends on a negation."""
from __future__ import annotations

import pytest

from services.sentiment import data, everyday_gen, extra_data, train


def test_same_seed_same_sentences_other_seed_others():
    first, again = everyday_gen.generate(300, 7), everyday_gen.generate(300, 7)
    assert [i.text for i in first] == [i.text for i in again]
    assert [i.text for i in everyday_gen.generate(300, 8)] != [i.text for i in first]


def test_classes_are_balanced_and_sentences_distinct():
    items = everyday_gen.generate(3000)
    assert len(items) == 3000 and len({i.text for i in items}) == 3000
    assert data.class_counts(items) == [1000, 1000, 1000]
    assert {i.domain for i in items} == {everyday_gen.DOMAIN}


@pytest.mark.parametrize("path", [extra_data.EVERYDAY_DEV, extra_data.EVERYDAY_TEST])
def test_no_generated_sentence_is_in_a_hand_written_set(path):
    written = {i.text.lower() for i in extra_data.read_labelled(path)}
    assert not written & {i.text.lower() for i in everyday_gen.generate(train.TrainConfig.generated)}


def test_every_negated_verb_has_a_base_form():
    for group in everyday_gen.GROUPS.values():
        for past, _ in group["bad_events"] + group["good_events"]:
            assert everyday_gen._base(past).split()[0].isalpha()


@pytest.mark.parametrize("word", ["never", "didn't", "but", "charged", "leak"])
def test_cue_words_occur_in_praise_and_in_complaints(word):
    # A negation, "but" or a word such as "charged" must not give the label away: the
    # sentences that hold it are positive and negative, so the model learns the context.
    labels = {i.label for i in everyday_gen.generate(6000) if word in i.text.lower().split()
              or f"{word}," in i.text.lower()}
    assert {0, 2} <= labels
