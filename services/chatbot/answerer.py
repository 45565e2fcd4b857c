"""Serving side of the desk-assistant chatbot: load the SavedModel, answer batches.

    answerer = Answerer.load()              # services/chatbot/artifacts/model
    answerer.answer(["Who is the manager?", "Is there a discount for students?"], [None, None])
    # [{"answer": "Maria Lopez", "answerable": True, "confidence": 0.99,
    #   "reply": "Maria Lopez is the manager."},
    #  {"answer": None, "answerable": False, "confidence": 0.97,
    #   "reply": "Sorry, I can't find that in the information I have. ..."}]

The model either copies a span of the context or says at once that the context does
not hold the answer (<eos> first). It abstains when it says so, when its probability
of "no answer" reaches ``abstain.no_answer`` or when the span's confidence is below
``abstain.min_confidence`` (both in meta.json, tuned on a generated dev split by
``python -m services.chatbot.evaluate --tune``). It also abstains when the question
names someone or something the context never mentions (:mod:`services.chatbot.grounding`).
The reply sentence comes from :mod:`services.chatbot.reply`.

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
from services.chatbot.grounding import unsupported_names
from services.chatbot.reply import reply

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
        abstain = meta.get("abstain") or {}
        self.no_answer_at = float(abstain.get("no_answer", 1.0))  # 1.0: only an empty span
        self.min_confidence = float(abstain.get("min_confidence", 0.0))

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

    def raw(self, questions: Sequence[str],
            contexts: Sequence[str | None] | None = None) -> list[dict]:
        """The model's own outputs, before abstention: span text ("" when it decoded
        <eos> first), span confidence and P(no answer), in one compiled call; and the
        question's names that the context never mentions (:mod:`.grounding`)."""
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
        null = out["no_answer"].numpy() if "no_answer" in out else [0.0] * len(sources)
        return [{"span": decode_steps(src, row, self.vocab), "confidence": float(conf),
                 "no_answer": float(p),
                 "unsupported": unsupported_names(q, c or self.default_context)}
                for q, c, src, row, conf, p
                in zip(questions, contexts, sources, classes, confidence, null)]

    def answer(self, questions: Sequence[str],
               contexts: Sequence[str | None] | None = None) -> list[dict]:
        """One answer per question, in order:
        ``{"answer": str | None, "answerable": bool, "confidence": float, "reply": str}``.

        `contexts` is parallel to `questions` (None: the default context for all).
        ``answer`` is the exact span of the context, None when the model abstains.
        ``confidence`` is in [0, 1]: for an answer, the geometric mean of the decoder's
        step probabilities; for an abstention, the probability of "no answer".
        ``reply`` is a sentence to show or speak.
        """
        return [self.decide(q, r) for q, r in zip(questions, self.raw(questions, contexts))]

    def decide(self, question: str, raw: dict) -> dict:
        """Answer or abstain, from one :meth:`raw` output and the tuned thresholds.

        A question naming what the context never mentions is abstained on whatever
        the model's confidence (the nearest fact of its kind would be wrong)."""
        span = raw["span"].strip()
        answerable = bool(span) and raw["no_answer"] < self.no_answer_at \
            and raw["confidence"] >= self.min_confidence and not raw.get("unsupported")
        confidence = raw["confidence"] if answerable else (
            raw["no_answer"] if not span else max(raw["no_answer"], 1 - raw["confidence"]))
        answer = raw["span"] if answerable else None
        return {"answer": answer, "answerable": answerable,
                "confidence": round(min(1.0, max(0.0, confidence)), 4),
                "reply": reply(question, answer)}
