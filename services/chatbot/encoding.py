"""Turning (question, context) pairs into model inputs, and decoded steps back into text.

NumPy only (no TensorFlow), shared by training and serving so both encode identically.
The source is ``question <sep> context``: at most ``max_question`` question tokens, then
the context cut to fit ``max_source`` tokens in all. Every source token gets a word id
(lower-cased; unknown words are <unk>) and a feature vector: its shape class, its
segment, whether it is <unk>, and whether its match key also occurs on the other side
(the question for a context token and vice versa). The features are what let the
pointer pick unseen names, phone numbers or prices: the model learns "the capitalised
<unk> tokens after the context words that match the question", not particular names.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np

from services.chatbot.tokenizer import (SHAPES, Token, day_cover, detokenize, match_key, shape,
                                        span_text, tokenize)

SPECIALS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>", "<sep>")
PAD, UNK, BOS, EOS, SEP = range(len(SPECIALS))
_SHAPE_INDEX = {name: i for i, name in enumerate(SHAPES)}
# feature columns: shapes..., is_question, is_context, is_unk, matches_other_side
N_FEATURES = len(SHAPES) + 4
COL_QUESTION = len(SHAPES)
COL_UNK = len(SHAPES) + 2


class Vocab:
    """Word <-> id mapping; ids below len(SPECIALS) are the special tokens."""

    def __init__(self, words: list[str]):
        self.words = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def id(self, token: str) -> int:
        """Id of a token (looked up lower-cased), <unk> if unknown."""
        return self.index.get(token.lower(), UNK)

    def to_json(self) -> str:
        """The vocabulary as a JSON list (no pickle)."""
        return json.dumps(self.words[len(SPECIALS):])

    @classmethod
    def from_list(cls, words: list[str]) -> "Vocab":
        """Rebuild from the non-special words, as stored in meta.json."""
        return cls(words)


@dataclass
class Source:
    """One encoded source: model inputs plus what is needed to turn copies into text."""

    ids: np.ndarray  # (S,) int32
    feats: np.ndarray  # (S, N_FEATURES) float32
    copy_mask: np.ndarray  # (S,) float32, 1 on context tokens (the only copyable ones)
    tokens: list[Token]  # source tokens (question, a placeholder for <sep>, context)
    offset: int  # source position of the first context token
    context: str


@dataclass(frozen=True, eq=False)  # hashed by identity: cached per context
class Segment:
    """What encoding needs of one text, independent of the other side: its tokens,
    shape and segment feature rows, match keys and the days each token stands for."""

    tokens: tuple[Token, ...]
    base: np.ndarray  # (n, N_FEATURES): shape one-hot and segment column
    keys: tuple[str, ...]
    days: tuple[frozenset[str], ...]


def segment(tokens: list[Token], col: int) -> Segment:
    """The Segment of some tokens (col: COL_QUESTION or COL_QUESTION + 1)."""
    base = np.zeros((len(tokens), N_FEATURES), np.float32)
    for row, tok in enumerate(tokens):
        base[row, _SHAPE_INDEX[shape(tok.text)]] = 1.0
        base[row, col] = 1.0
    days = tuple(frozenset(d) for d in day_cover([t.text for t in tokens]))
    return Segment(tuple(tokens), base, tuple(match_key(t.text) for t in tokens), days)


@functools.lru_cache(maxsize=64)
def context_segment(context: str) -> Segment:
    """The context's Segment, cached: a desk asks many questions of one context, and
    tokenising it is most of the encoding time."""
    return segment(tokenize(context), COL_QUESTION + 1)


@functools.lru_cache(maxsize=64)
def segment_ids(vocab: Vocab, seg: Segment) -> tuple[int, ...]:
    """Word ids of a (cached) context segment, cached per vocabulary."""
    return tuple(vocab.id(t.text) for t in seg.tokens)


def token_features(seg: Segment, n: int, ids: list[int], other_keys: set[str],
                   other_days: set[str]) -> np.ndarray:
    """Feature rows of the first `n` tokens of a segment.

    A token "matches the other side" when its match key occurs there, or when the days
    it stands for (a day, "Mon", "weekends", a range "Monday to Friday") meet the other
    side's days."""
    feats = seg.base[:n].copy()
    feats[:, COL_UNK] = np.asarray(ids, np.float32) == UNK
    feats[:, COL_UNK + 1] = [key in other_keys or not days.isdisjoint(other_days)
                             for key, days in zip(seg.keys[:n], seg.days[:n])]
    return feats


def encode(question: str, context: str, vocab: Vocab, max_question: int,
           max_source: int) -> Source:
    """Encode one pair; the context is truncated to what fits in `max_source` tokens."""
    q = segment(tokenize(question)[:max_question], COL_QUESTION)
    c = context_segment(context)
    nq = len(q.tokens)
    nc = min(len(c.tokens), max(0, max_source - nq - 1))
    q_ids = [vocab.id(t.text) for t in q.tokens]
    c_ids = list(segment_ids(vocab, c)[:nc])
    q_all, c_all = set().union(*q.days), set().union(*c.days[:nc])
    sep = np.zeros((1, N_FEATURES), np.float32)
    feats = np.concatenate([token_features(q, nq, q_ids, set(c.keys[:nc]), c_all), sep,
                            token_features(c, nc, c_ids, set(q.keys), q_all)])
    ids = np.array(q_ids + [SEP] + c_ids, np.int32)
    copy_mask = np.zeros(len(ids), np.float32)
    copy_mask[nq + 1:] = 1.0
    tokens = list(q.tokens) + [Token("<sep>", -1, -1)] + list(c.tokens[:nc])
    return Source(ids, feats, copy_mask, tokens, nq + 1, context)


def pad_batch(sources: list[Source]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, feats, copy_mask) padded to the longest source of the batch."""
    width = max(1, max(len(s.ids) for s in sources))
    ids = np.zeros((len(sources), width), np.int32)
    feats = np.zeros((len(sources), width, N_FEATURES), np.float32)
    mask = np.zeros((len(sources), width), np.float32)
    for row, src in enumerate(sources):
        n = len(src.ids)
        ids[row, :n], feats[row, :n], mask[row, :n] = src.ids, src.feats, src.copy_mask
    return ids, feats, mask


def decode_steps(source: Source, classes: np.ndarray, vocab: Vocab) -> str:
    """Text of one decoded answer: output classes are vocab ids or len(vocab) + position."""
    pieces: list[Token | str] = []
    for cls in classes.tolist():
        if cls < 0 or cls in (EOS, PAD):
            break
        if cls >= len(vocab):
            pos = cls - len(vocab)
            if pos < len(source.tokens) and source.tokens[pos].start >= 0:
                pieces.append(source.tokens[pos])
        elif cls >= len(SPECIALS):
            pieces.append(vocab.words[cls])
    if all(isinstance(p, Token) for p in pieces):
        return span_text(source.context, pieces)  # the usual case: a copied span
    return detokenize([p.text if isinstance(p, Token) else p for p in pieces])
