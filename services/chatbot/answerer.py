"""Serving side of the desk-assistant chatbot: load the SavedModel, answer batches.

    answerer = Answerer.load()              # services/chatbot/artifacts/model
    answerer.answer(["Who is the manager?"], [None])
    # [{"answer": "Maria Lopez", "confidence": 0.99}]

A context of ``None`` or ``""`` means the deployer's default context (context.txt, read
once at load time). The whole batch is one call of the exported compiled decoder, so
serving needs ``tf.saved_model.load`` only (no Keras). TensorFlow is imported inside
:meth:`Answerer.load` only, never at module import (gunicorn may import before forking
and TF is not fork-safe). An :class:`Answerer` holds no mutable state after loading, so
one instance may be used from many threads at once.

Limits: the question is cut to ``max_question_tokens`` (32) tokens and ``question <sep>
context`` to ``max_source_tokens`` (256) tokens, from meta.json; facts beyond that point
of a long context are not seen. :data:`MAX_QUESTION_CHARS` and :data:`MAX_CONTEXT_CHARS`
are the matching request limits a service should enforce (about what fits).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from services.chatbot.encoding import Source, Vocab, decode_steps, encode, pad_batch

HERE = Path(__file__).resolve().parent
DEFAULT_ARTIFACT = HERE / "artifacts" / "model"
DEFAULT_CONTEXT = HERE / "context.txt"
META_FILE = "meta.json"
MAX_QUESTION_CHARS = 200
MAX_CONTEXT_CHARS = 2000


class Answerer:
    """Answers questions about contexts with the exported seq2seq copy model."""

    def __init__(self, loaded: Any, meta: dict, default_context: str):
        self._loaded = loaded  # keeps the restored variables alive
        self._serve = loaded.serve
        self.meta = meta
        self.vocab = Vocab.from_list(meta["vocab"])
        self.default_context = default_context
        self.max_question_tokens = int(meta["max_question_tokens"])
        self.max_source_tokens = int(meta["max_source_tokens"])

    @classmethod
    def load(cls, artifact_dir: str | Path = DEFAULT_ARTIFACT,
             context_file: str | Path = DEFAULT_CONTEXT) -> "Answerer":
        """Load the SavedModel in `artifact_dir` and the default context file."""
        import tensorflow as tf

        artifact = Path(artifact_dir)
        meta = json.loads((artifact / META_FILE).read_text(encoding="utf-8"))
        context = Path(context_file).read_text(encoding="utf-8")
        return cls(tf.saved_model.load(str(artifact)), meta, context)

    def encode(self, question: str, context: str | None) -> Source:
        """Model input for one pair (None or "" context: the default context)."""
        return encode(question, context or self.default_context, self.vocab,
                      self.max_question_tokens, self.max_source_tokens)

    def answer(self, questions: Sequence[str],
               contexts: Sequence[str | None] | None = None) -> list[dict]:
        """One answer per question, in order: ``{"answer": str, "confidence": float}``.

        `contexts` is parallel to `questions` (None: the default context for all).
        Confidence is the geometric mean of the decoder's step probabilities, in [0, 1].
        """
        contexts = [None] * len(questions) if contexts is None else list(contexts)
        if len(contexts) != len(questions):
            raise ValueError("questions and contexts must have the same length")
        if not questions:
            return []
        import tensorflow as tf

        sources = [self.encode(q, c) for q, c in zip(questions, contexts)]
        ids, feats, copy_mask = pad_batch(sources)
        out = self._serve(tf.constant(ids), tf.constant(feats), tf.constant(copy_mask))
        classes, confidence = out["classes"].numpy(), out["confidence"].numpy()
        return [{"answer": decode_steps(src, row, self.vocab),
                 "confidence": round(min(1.0, max(0.0, float(conf))), 4)}
                for src, row, conf in zip(sources, classes, confidence)]
