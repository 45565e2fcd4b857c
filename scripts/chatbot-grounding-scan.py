"""How often the chatbot's grounding check fires on the hand-written questions.

    PYTHONPATH=$PWD .venv/bin/python scripts/chatbot-grounding-scan.py [--show]

Runs ``grounding.unsupported_names`` over every question of
``services/chatbot/trainsets/written_*.json`` and ``services/chatbot/eval/*.json`` and
prints, for answerable and unanswerable questions apart, how many it flags: flagging an
answerable question is a false abstention. ``--show`` lists the flagged answerable ones,
except those of the sealed evaluation sets (``evaluate.SEALED``), which stay unread.
Reads only those files; no model is loaded.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from services.chatbot.evaluate import SEALED
from services.chatbot.grounding import unsupported_names

CHATBOT = Path(__file__).resolve().parent.parent / "services" / "chatbot"


def question_files() -> list[Path]:
    """The written training files and the evaluation files, in a fixed order."""
    return sorted(CHATBOT.glob("trainsets/written_*.json")) + sorted(CHATBOT.glob("eval/*.json"))


def scan(paths: list[Path]) -> dict[str, list]:
    """{"answerable": [(flagged names, question, shown)...], "unanswerable": [...]}, all
    questions; `shown` is False for a sealed set's question."""
    found: dict[str, list] = {"answerable": [], "unanswerable": []}
    for path in paths:
        shown = path.stem not in SEALED
        for context in json.loads(path.read_text(encoding="utf-8"))["contexts"]:
            for question, answer, *_ in context["questions"]:
                kind = "unanswerable" if answer is None else "answerable"
                found[kind].append((unsupported_names(question, context["context"]), question,
                                    shown))
    return found


def main() -> None:
    """Print the counts (and with --show the flagged answerable questions)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    paths = question_files()
    found = scan(paths)
    print(f"{len(paths)} files")
    for kind, rows in found.items():
        flagged = [row for row in rows if row[0]]
        print(f"{kind}: flagged {len(flagged)} of {len(rows)}")
        if args.show and kind == "answerable":
            for names, q, shown in flagged:
                print(f"  {q!r}: {names}" if shown else "  (a question of a sealed set)")


if __name__ == "__main__":
    main()
