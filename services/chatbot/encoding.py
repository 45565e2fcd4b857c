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


def token_features(tokens: list[Token], ids: list[int], other_keys: set[str],
                   col: int, days: list[set[str]], other_days: set[str]) -> np.ndarray:
    """Feature rows for one segment (col: COL_QUESTION or COL_QUESTION + 1).

    A token also "matches the other side" when the days it stands for (a day, "Mon",
    "weekends", a range "Monday to Friday") meet the other side's days."""
    feats = np.zeros((len(tokens), N_FEATURES), np.float32)
    for row, (tok, tid) in enumerate(zip(tokens, ids)):
        feats[row, _SHAPE_INDEX[shape(tok.text)]] = 1.0
        feats[row, col] = 1.0
        feats[row, COL_UNK] = float(tid == UNK)
        feats[row, COL_UNK + 1] = float(match_key(tok.text) in other_keys
                                        or bool(days[row] & other_days))
    return feats


def encode(question: str, context: str, vocab: Vocab, max_question: int,
           max_source: int) -> Source:
    """Encode one pair; the context is truncated to what fits in `max_source` tokens."""
    q_toks = tokenize(question)[:max_question]
    c_toks = tokenize(context)[: max(0, max_source - len(q_toks) - 1)]
    q_ids = [vocab.id(t.text) for t in q_toks]
    c_ids = [vocab.id(t.text) for t in c_toks]
    q_keys = {match_key(t.text) for t in q_toks}
    c_keys = {match_key(t.text) for t in c_toks}
    q_days, c_days = day_cover([t.text for t in q_toks]), day_cover([t.text for t in c_toks])
    q_all, c_all = set().union(*q_days), set().union(*c_days)
    sep = np.zeros((1, N_FEATURES), np.float32)
    feats = np.concatenate([
        token_features(q_toks, q_ids, c_keys, COL_QUESTION, q_days, c_all), sep,
        token_features(c_toks, c_ids, q_keys, COL_QUESTION + 1, c_days, q_all)])
    ids = np.array(q_ids + [SEP] + c_ids, np.int32)
    copy_mask = np.zeros(len(ids), np.float32)
    copy_mask[len(q_ids) + 1:] = 1.0
    tokens = q_toks + [Token("<sep>", -1, -1)] + c_toks
    return Source(ids, feats, copy_mask, tokens, len(q_ids) + 1, context)


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
