"""Labelled text beyond the 20,000 rated sentences: lexicon entries and the everyday sets.

Lexicon entries as one-word training items. Why: the rated sentences come from three
domains only, so the word head never sees most of the words that product, service,
food or travel text uses. Both lexicons ship inside packages and were rated by people:
- VADER's lexicon (vaderSentiment 3.3.2, MIT): about 7,500 tokens, each the mean of
  10 raters on the same -4..+4 scale as the sentences, so the same 0.5 threshold labels it;
- Pattern's adjective lexicon (textblob 0.20.1, PDDL; lexicons/pattern_en.tsv): polarity
  -1..+1, hand-tagged; scaled by 4 onto the rating scale. Its words with polarity 0 and
  low subjectivity ("wooden", "annual") are the only neutral one-word items.

The everyday sets (evalsets/everyday_{dev,test}.tsv) are sentences written by hand for
this project about products, service, food, travel and events, ``label<TAB>topic<TAB>text``:
dev for calibration, test for reporting only.

The written sets (trainsets/written_*.tsv, same columns) are training sentences written
for this project about electronics, household goods, services and everyday life, each
with the label its writer meant (see the README's model card for who wrote them and how
they were checked against the everyday sets).
"""

from __future__ import annotations

import csv
import string
from pathlib import Path

from services.sentiment import data, features

LEXICON_DOMAIN = "lexicon"
EVALSETS = Path(__file__).resolve().parent / "evalsets"
EVERYDAY_DEV = EVALSETS / "everyday_dev.tsv"
EVERYDAY_TEST = EVALSETS / "everyday_test.tsv"
TRAINSETS = Path(__file__).resolve().parent / "trainsets"
WRITTEN_DOMAIN = "written"
NEUTRAL_SUBJECTIVITY = 0.3  # a Pattern word with polarity 0 is neutral below this
RATING_OF_LABEL = {"negative": -2.0, "neutral": 0.0, "positive": 2.0}


def vader_items() -> list[data.Item]:
    """VADER's lexicon, one item a token, rated by its mean human rating."""
    lexicon = features.analyzer().lexicon
    return [data.Item(f"vader:{w}", float(r), w, LEXICON_DOMAIN) for w, r in sorted(lexicon.items())]


def pattern_items(skip: set[str]) -> list[data.Item]:
    """Pattern's words not in `skip`; polar ones scaled onto the rating scale, plus the
    clearly objective ones as neutral (subjective words with polarity 0 are left out)."""
    items = []
    for word, (polarity, subjectivity, _) in sorted(features.pattern_lexicon().items()):
        if word in skip or " " in word or (polarity == 0 and subjectivity >= NEUTRAL_SUBJECTIVITY):
            continue
        items.append(data.Item(f"pattern:{word}", 4.0 * polarity, word, LEXICON_DOMAIN))
    return items


def lexicon_items() -> list[data.Item]:
    """Both lexicons as training items (a word in both keeps VADER's rating).

    Entries that are only punctuation (emoticons such as ":)") are left out: the word
    head strips punctuation, and a text with no token gives its masked mean pooling a
    0/0 whose NaN gradient would poison the embedding table. The lexical features
    still see emoticons."""
    vader = vader_items()
    items = vader + pattern_items({i.text for i in vader})
    return [i for i in items if i.text.translate(_STRIP).strip()]


_STRIP = str.maketrans("", "", string.punctuation)


def read_labelled(path: str | Path, domain: str = "everyday") -> list[data.Item]:
    """A ``label<TAB>topic<TAB>text`` file (header line first) as items."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [data.Item(f"{domain}:{n}", RATING_OF_LABEL[r[0]], r[2], domain)
            for n, r in enumerate(rows) if len(r) == 3]


def written_files() -> list[Path]:
    """The committed written training sets, in name order."""
    return sorted(TRAINSETS.glob("written_*.tsv"))


def written_items() -> list[data.Item]:
    """Every written training sentence, as items of the written domain."""
    items = []
    for path in written_files():
        items += [data.Item(f"{path.stem}:{i.id}", i.rating, i.text, WRITTEN_DOMAIN)
                  for i in read_labelled(path, WRITTEN_DOMAIN)]
    return items
