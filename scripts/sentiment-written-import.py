"""Check and import written training sentences for the sentiment model.

    python scripts/sentiment-written-import.py SRC.tsv [SRC.tsv ...] \
        --out services/sentiment/trainsets [--drop-word WORD ...]

Each SRC is ``label<TAB>topic<TAB>text`` with a header line; it becomes
``<out>/written_<stem>.tsv``. A sentence is dropped when its label is unknown, when it
repeats one already kept (from any SRC of the run, or from a written file already in
--out that this run does not rewrite, so files can be added later), when
it contains a --drop-word (for words that a writer's brief quoted from a test
sentence), or when it is close to a sentence of either
hand-written everyday set: half or more of its distinct words shared (Jaccard >= 0.5)
or a run of four words in common (services/sentiment/overlap.py says why). Prints
what it kept and dropped per file.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from services.sentiment import extra_data
from services.sentiment.overlap import close_to, everyday_sentences, words

LABELS = ("negative", "neutral", "positive")


def verdict(row: list[str], seen: set[str], everyday, drop: set[str]) -> str:
    """"kept" or why the row is dropped."""
    if len(row) != 3 or row[0] not in LABELS or not row[2].strip():
        return "malformed"
    tokens = words(row[2])
    if " ".join(tokens) in seen:
        return "duplicate"
    if drop & set(tokens):
        return "drop-word"
    return "near-everyday" if close_to(tokens, everyday) else "kept"


def import_file(src: Path, out: Path, everyday, drop: set[str],
                seen: set[str]) -> dict[str, int]:
    """Write the kept rows of src to out/written_<stem>.tsv; count each verdict.
    `seen` (the kept sentences' words, of every file so far) grows."""
    with src.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    kept, counts = [], {}
    for row in rows:
        why = verdict(row, seen, everyday, drop)
        counts[why] = counts.get(why, 0) + 1
        if why == "kept":
            seen.add(" ".join(words(row[2])))
            kept.append("\t".join((row[0], row[1], row[2].strip())))
        elif why == "near-everyday":
            print(f"  dropped near an everyday sentence: {row[2]!r}")
    target = out / f"written_{src.stem}.tsv"
    target.write_text("label\ttopic\ttext\n" + "\n".join(kept) + "\n", encoding="utf-8")
    return counts


def committed_sentences(out: Path, sources: list[Path]) -> set[str]:
    """The words of every sentence in out's written files that this run leaves as they
    are: a new file must not repeat them."""
    rewritten = {f"written_{src.stem}.tsv" for src in sources}
    seen = set()
    for path in sorted(out.glob("written_*.tsv")):
        if path.name not in rewritten:
            seen |= {" ".join(words(item.text)) for item in extra_data.read_labelled(path)}
    return seen


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=extra_data.TRAINSETS)
    parser.add_argument("--drop-word", action="append", default=[])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    everyday, seen = everyday_sentences(), committed_sentences(args.out, args.sources)
    for src in args.sources:
        counts = import_file(src, args.out, everyday, {w.lower() for w in args.drop_word}, seen)
        print(f"{src.name}: {counts}")


if __name__ == "__main__":
    main()
