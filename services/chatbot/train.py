"""Train the desk-assistant seq2seq model on generated data and written notices, and
export a SavedModel.

    python -m services.chatbot.train --out services/chatbot/artifacts/model \
        [--examples N] [--epochs E] [--seed S] [--batch-size B] [--written-repeat R]

The shipped artifact: the defaults (30,000 examples, 3 epochs, seed 1234) with
``--eval-examples 0``, then ``python -m services.chatbot.evaluate --tune``, which tunes
the abstention thresholds on the dev split and writes them into meta.json.

Steps: generate ``N`` training examples (data.py, ``train`` split; a quarter are
questions the context cannot answer, whose target is <eos> at once), build the word
vocabulary from them, add the written notices' questions (data.written_examples, ``R``
times each), encode (encoding.py), train with teacher forcing and a masked
cross-entropy over ``[vocabulary ∪ source positions]`` (model.py), export the greedy
decoder as the SavedModel endpoint ``serve`` and write ``meta.json`` (vocabulary,
limits, config, seed, timings and the evaluation figures of evaluate.py, measured
through the exported artifact).

TensorFlow is imported inside functions only: tests import this module, and TF must not
be loaded before a fork.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from services.chatbot import data
from services.chatbot.encoding import (BOS, COL_UNK, EOS, SPECIALS, UNK, Source, Vocab, encode,
                                       pad_batch)
from services.chatbot.model import ModelConfig, build_model, export
from services.chatbot.tokenizer import shape, words

META_FILE = "meta.json"
MAX_QUESTION_TOKENS = 32
MAX_SOURCE_TOKENS = 256
MAX_ANSWER_TOKENS = 15  # longest span trained on; serving decodes one more step for <eos>
WORD_SHAPES = {"lower", "capital", "upper", "punct", "other"}


@dataclass
class TrainConfig:
    """Everything that determines a trained model."""

    examples: int = 30000
    epochs: int = 3
    seed: int = data.DEFAULT_SEED
    batch_size: int = 64
    learning_rate: float = 3e-3
    word_dropout: float = 0.05  # <unk> substitution, so unknown desk words are not a shock
    min_count: int = 2
    val_examples: int = 400
    written_repeat: int = 10  # each written example (data.written_examples) this many times
    model: dict = field(default_factory=dict)  # ModelConfig overrides


@dataclass
class Batch:
    """One padded training batch (NumPy arrays)."""

    ids: np.ndarray
    feats: np.ndarray
    copy_mask: np.ndarray
    prev_ids: np.ndarray
    prev_pos: np.ndarray
    targets: np.ndarray
    target_mask: np.ndarray

    def tensors(self) -> tuple:
        """The arrays in train-step argument order."""
        return (self.ids, self.feats, self.copy_mask, self.prev_ids, self.prev_pos,
                self.targets, self.target_mask)


def entity_words() -> set[str]:
    """Lower-cased words of every entity pool (both sides): never vocabulary words.

    Why: if training names had their own embeddings, the model would lean on them and
    meet <unk> for every unseen name at test time. With entities always <unk>, training
    and serving see the same thing and the model must rely on shape and context.
    """
    pools = data.FIRST_NAMES + data.LAST_NAMES + data.ROOM_WORDS + data.DOMAIN_WORDS
    return {w.lower() for w in pools}


def build_vocab(examples: list[data.Example], min_count: int) -> Vocab:
    """Word-like tokens (no numbers, times, prices...) seen `min_count` times, minus entities."""
    counts: Counter[str] = Counter()
    for ex in examples:
        counts.update(t.lower() for t in words(ex.question) + words(ex.context)
                      if shape(t) in WORD_SHAPES)
    banned = entity_words()
    kept = sorted(w for w, n in counts.items() if n >= min_count and w not in banned)
    return Vocab(kept)


@dataclass
class Encoded:
    """An encoded example with its copy targets (source positions of the answer)."""

    source: Source
    positions: list[int]


def encode_examples(examples: list[data.Example], vocab: Vocab) -> list[Encoded]:
    """Encode examples, dropping those whose answer was truncated away or is too long."""
    out = []
    for ex in examples:
        src = encode(ex.question, ex.context, vocab, MAX_QUESTION_TOKENS, MAX_SOURCE_TOKENS)
        if not ex.answerable:  # target: <eos> at once, "the context does not say"
            out.append(Encoded(src, []))
            continue
        first, last = data.answer_token_span(ex)
        positions = list(range(src.offset + first, src.offset + last + 1))
        if positions[-1] < len(src.ids) and len(positions) <= MAX_ANSWER_TOKENS:
            out.append(Encoded(src, positions))
    return out


def make_batch(items: list[Encoded], vocab_size: int, word_dropout: float,
               rng: np.random.Generator) -> Batch:
    """Pad a batch; targets are copy classes then <eos>; decoder inputs are shifted right."""
    ids, feats, copy_mask = pad_batch([e.source for e in items])
    if word_dropout:
        drop = (rng.random(ids.shape) < word_dropout) & (ids >= len(SPECIALS))
        ids = np.where(drop, UNK, ids)
        feats[..., COL_UNK] = np.maximum(feats[..., COL_UNK], drop)
    steps = max(len(e.positions) for e in items) + 1
    prev_ids = np.zeros((len(items), steps), np.int32)
    prev_pos = np.full((len(items), steps), -1, np.int32)
    targets = np.zeros((len(items), steps), np.int32)
    mask = np.zeros((len(items), steps), np.float32)
    for row, item in enumerate(items):
        n = len(item.positions)
        targets[row, :n + 1] = [vocab_size + p for p in item.positions] + [EOS]
        prev_ids[row, :n + 1] = [BOS] + [ids[row, p] for p in item.positions]
        prev_pos[row, 1:n + 1] = item.positions
        mask[row, :n + 1] = 1.0
    return Batch(ids, feats, copy_mask, prev_ids, prev_pos, targets, mask)


def batches(items: list[Encoded], cfg: TrainConfig, vocab_size: int,
            rng: np.random.Generator) -> list[Batch]:
    """Length-bucketed batches in random order (short sources are cheap to run)."""
    noisy_len = [len(e.source.ids) + rng.uniform(0, 8) for e in items]
    order = np.argsort(noisy_len, kind="stable")
    groups = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    rng.shuffle(groups)
    return [make_batch([items[i] for i in g], vocab_size, cfg.word_dropout, rng) for g in groups]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TF, and ask TF for deterministic kernels."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train_step_fn(model, optimizer):
    """The compiled teacher-forced training step (one trace: every dimension is dynamic)."""
    import tensorflow as tf

    from services.chatbot.encoding import N_FEATURES

    i32, f32 = tf.int32, tf.float32
    spec = [tf.TensorSpec([None, None], i32), tf.TensorSpec([None, None, N_FEATURES], f32),
            tf.TensorSpec([None, None], f32), tf.TensorSpec([None, None], i32),
            tf.TensorSpec([None, None], i32), tf.TensorSpec([None, None], i32),
            tf.TensorSpec([None, None], f32)]

    @tf.function(input_signature=spec)
    def step(ids, feats, copy_mask, prev_ids, prev_pos, targets, target_mask):
        with tf.GradientTape() as tape:
            logits = model((ids, feats, copy_mask, prev_ids, prev_pos), training=True)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            loss = tf.reduce_sum(ce * target_mask) / tf.reduce_sum(target_mask)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def greedy_fn(model, max_steps: int):
    """The in-memory compiled greedy decoder (same code as the exported endpoint)."""
    import tensorflow as tf

    from services.chatbot.encoding import N_FEATURES

    spec = [tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None, N_FEATURES], tf.float32),
            tf.TensorSpec([None, None], tf.float32)]
    return tf.function(lambda i, f, m: model.greedy(i, f, m, max_steps), input_signature=spec)


def exact_match(greedy, items: list[Encoded], vocab_size: int, batch_size: int = 128) -> float:
    """Share of items whose decoded classes equal the copy targets exactly."""
    hits = 0
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        classes = greedy(*pad_batch([e.source for e in chunk]))["classes"].numpy()
        for row, item in zip(classes, chunk):
            want = [vocab_size + p for p in item.positions] + [EOS]
            hits += row[:len(want)].tolist() == want
    return hits / max(1, len(items))


def fit(model, train_items: list[Encoded], val_items: list[Encoded], cfg: TrainConfig,
        vocab_size: int, max_steps: int) -> list[dict]:
    """Train for cfg.epochs epochs; returns one log row per epoch."""
    import keras

    rng = np.random.default_rng(cfg.seed)
    steps_per_epoch = -(-len(train_items) // cfg.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=max(1, steps_per_epoch * cfg.epochs), alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule, global_clipnorm=1.0)
    model(make_batch(train_items[:2], vocab_size, 0.0, rng).tensors()[:5])  # build the weights
    optimizer.build(model.trainable_variables)
    step, greedy, log = train_step_fn(model, optimizer), greedy_fn(model, max_steps), []
    for epoch in range(cfg.epochs):
        began, losses = time.time(), []
        for batch in batches(train_items, cfg, vocab_size, rng):
            losses.append(float(step(*batch.tensors())))
        row = {"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4),
               "val_exact_match": round(exact_match(greedy, val_items, vocab_size), 4),
               "seconds": round(time.time() - began, 1)}
        print(json.dumps(row), flush=True)
        log.append(row)
    return log


def write_meta(out: Path, cfg: TrainConfig, model_cfg: ModelConfig, vocab: Vocab,
               log: list[dict], extra: dict) -> dict:
    """Write meta.json (JSON only: vocabulary, limits, configs, training log, figures)."""
    meta = {
        "vocab": json.loads(vocab.to_json()),
        "specials": list(SPECIALS),
        "max_question_tokens": MAX_QUESTION_TOKENS,
        "max_source_tokens": MAX_SOURCE_TOKENS,
        "max_decode_steps": model_cfg.max_answer,
        "signature": "serve(ids int32[B,S], feats float32[B,S,F], copy_mask float32[B,S]) "
                     "-> {classes int32[B,T], confidence float32[B], no_answer float32[B]}",
        "seed": cfg.seed,
        "train_config": asdict(cfg),
        "model_config": asdict(model_cfg),
        "training_log": log,
        **extra,
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def dir_size(path: Path) -> int:
    """Total bytes of the files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def train(out_dir: str | Path, cfg: TrainConfig, evaluate_examples: int = 1000) -> dict:
    """Generate data, train, export to out_dir, evaluate the export; returns the metadata."""
    began = time.time()
    seed_everything(cfg.seed)
    examples = data.generate(cfg.examples, "train", cfg.seed)
    # The vocabulary comes from the generated examples only: the written notices' names
    # and places would otherwise become words (each notice is repeated per question).
    vocab = build_vocab(examples, cfg.min_count)
    written = data.written_examples() if cfg.written_repeat > 0 else []
    train_items = encode_examples(examples + written * cfg.written_repeat, vocab)
    val_items = encode_examples(data.generate(cfg.val_examples, "train", cfg.seed + 1), vocab)
    model_cfg = ModelConfig(vocab_size=len(vocab), max_answer=MAX_ANSWER_TOKENS + 1,
                            **cfg.model)
    model = build_model(model_cfg)
    log = fit(model, train_items, val_items, cfg, len(vocab), model_cfg.max_answer)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)  # a stale variables/ shard from an older model would be loaded
    export(model, out, model_cfg.max_answer)
    extra = {"train_seconds": round(time.time() - began, 1), "train_examples": len(train_items),
             "written_examples": len(written)}
    write_meta(out, cfg, model_cfg, vocab, log, extra)
    figures = evaluation_figures(out, evaluate_examples) if evaluate_examples else {}
    extra.update(figures=figures, artifact_bytes=dir_size(out))
    return write_meta(out, cfg, model_cfg, vocab, log, extra)


def evaluation_figures(out: Path, n: int) -> dict:
    """evaluate.py's figures for the exported artifact (loaded the way serving loads it)."""
    from services.chatbot import evaluate
    from services.chatbot.answerer import Answerer

    return evaluate.evaluate_all(Answerer.load(out), n=n, seed=data.DEFAULT_SEED)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder for the SavedModel")
    parser.add_argument("--examples", type=int, default=TrainConfig.examples)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--written-repeat", type=int, default=TrainConfig.written_repeat,
                        help="times each written example is trained on (0: none)")
    parser.add_argument("--eval-examples", type=int, default=1000,
                        help="examples per held-out split measured after export (0: skip)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    args = parse_args(argv)
    cfg = TrainConfig(examples=args.examples, epochs=args.epochs, seed=args.seed,
                      batch_size=args.batch_size, learning_rate=args.learning_rate,
                      written_repeat=args.written_repeat)
    meta = train(args.out, cfg, args.eval_examples)
    print(json.dumps({k: meta[k] for k in ("train_seconds", "artifact_bytes", "figures")},
                     indent=1))


if __name__ == "__main__":
    main()
