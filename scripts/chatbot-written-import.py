"""Check and import written training notices for the chatbot.

    python scripts/chatbot-written-import.py SRC.json [SRC.json ...] \
        --out services/chatbot/trainsets [--eval services/chatbot/eval/*.json ...] \
        [--brief trainsets/brief-NAME.txt] [--first N]

Each SRC is ``{"contexts": [{"name", "context", "questions": [[q, answer|null, start]]}]}``
(what a writer hands in); it becomes ``<out>/written_<NN>.json``, numbered in the order
given after the highest number already in --out (``--first N`` starts at N instead;
``--first 1`` rewrites from the start), with an "about" line. A notice is dropped when it shares a run of six words with
any context of the evaluation sets (default: every file in services/chatbot/eval/). Why:
the writers' briefs gave examples, and writers of one kind converge on the same phrases;
a notice that repeats an evaluation notice's wording would inflate that set's figures.
Prints what it kept and dropped per file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from services.chatbot import data

ABOUT = ("Written by a helper agent (an AI assistant session given only a task text, {brief}, "
         "no access to this repository's code, generator or test sets): invented desk "
         "notices, {answerable} answerable questions (answer span and its character offset) "
         "and {unanswerable} unanswerable (null, -1) in all. Notices sharing a six-word run "
         "with an evaluation set were dropped by scripts/chatbot-written-import.py. "
         "Training data only.")


def about(notices: list[dict], brief: str) -> str:
    """The file's "about" line: the brief it was written from and its question counts."""
    questions = [q for n in notices for q in n["questions"]]
    unanswerable = sum(1 for q in questions if q[1] is None)
    return ABOUT.format(brief=brief, answerable=len(questions) - unanswerable,
                        unanswerable=unanswerable)


def next_number(out: Path) -> int:
    """One more than the highest NN of out/written_NN.json (1 when there is none)."""
    numbers = [int(p.stem.split("_")[1]) for p in out.glob("written_[0-9]*.json")]
    return max(numbers, default=0) + 1


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=data.TRAINSETS)
    parser.add_argument("--eval", nargs="*", type=Path, default=None)
    parser.add_argument("--brief", default="trainsets/brief.txt",
                        help="the brief the writers were given, named in the about line")
    parser.add_argument("--first", type=int, default=None,
                        help="number of the first file written (default: after the last)")
    args = parser.parse_args()
    runs = data.evaluation_runs(args.eval)
    args.out.mkdir(parents=True, exist_ok=True)
    first = args.first if args.first is not None else next_number(args.out)
    for number, src in enumerate(args.sources, start=first):
        notices = json.loads(src.read_text(encoding="utf-8"))["contexts"]
        kept = [n for n in notices if not data.word_runs(n["context"]) & runs]
        target = args.out / f"written_{number:02d}.json"
        document = {"about": about(kept, args.brief), "contexts": kept}
        target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        print(f"{src.name} -> {target.name}: kept {len(kept)}, dropped {len(notices) - len(kept)}")


if __name__ == "__main__":
    main()
