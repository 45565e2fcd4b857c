"""The texts the benchmarks send: real tweets from the sentiment data when it is there.

Feature extraction (VADER) costs more for longer texts, so realistic lengths matter;
the fallback sentences have tweet-like lengths for machines without the data folder.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from common.core.registry import ROOT

DATA_DIR = ROOT.parent / "shared" / "data" / "sentiment"
COUNT = 256

FALLBACK = (
    "What a lovely day!",
    "Sooo happy with @acme's support!! #BestDayEver https://t.co/x",
    "@bob this is the worst service ever, I hate waiting #fail",
    "The meeting is at 3pm in room 4 http://example.com/agenda",
    "Not bad at all, though the ending dragged on a bit too long.",
    "I can't believe how rude the staff was today. Never again.",
    "Just finished my coffee. Time to get some work done.",
    "This movie is a masterpiece: funny, moving and beautifully shot :)",
)


@lru_cache(maxsize=1)
def load_texts(count: int = COUNT) -> tuple[str, ...]:
    """``count`` tweets from the shared data (file order), or the fallback sentences."""
    path = DATA_DIR / "tweets_GroundTruth.tsv"
    if not path.exists():
        return FALLBACK
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].strip():
            texts.append(parts[2].strip()[:280])
        if len(texts) == count:
            break
    return tuple(texts) or FALLBACK


def single_bodies(count: int = 64) -> list[str]:
    """JSON bodies with one input each, ``{"text": ...}``."""
    texts = load_texts()
    return [json.dumps({"text": texts[i % len(texts)]}) for i in range(count)]


def oip_bodies(count: int = 64) -> list[str]:
    """Open Inference Protocol infer bodies with the same single texts as
    :func:`single_bodies`: one BYTES tensor ``text`` of shape [1]."""
    texts = load_texts()
    return [json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                    "data": [texts[i % len(texts)]]}]}) for i in range(count)]


def batch_bodies(size: int, count: int = 16) -> list[str]:
    """JSON bodies holding a batch of ``size`` inputs each."""
    texts = load_texts()
    return [json.dumps([{"text": texts[(i * size + j) % len(texts)]} for j in range(size)])
            for i in range(count)]
