"""Train the sentiment network and export it as a TensorFlow SavedModel.

    python -m services.sentiment.train --data ../shared/data/sentiment \
        --out services/sentiment/artifacts/2.0.0 [--domains tweets,movie,nyt] \
        [--dev services/sentiment/evalsets/everyday_dev.tsv] [--no-lexicon] \
        [--limit N] [--epochs E] [--seed S] [--reason TEXT] [--generated N]

Network (two heads over shared inputs, see README "Model"):
- lexical head: normalised VADER lexicon features (features.py) -> Dense(32) -> softmax(3);
- word head: raw string -> in-graph TextVectorization -> Embedding(16) -> masked mean
  pooling, concatenated with the same features -> Dense(32) -> softmax(3).
Training data: the rated sentences' train splits, plus (2.0.0) the VADER and Pattern
lexicon entries as one-word items (extra_data.py) and generated everyday sentences
(everyday_gen.py, --generated N) as a fourth domain. Each head is trained on its own
loss. Calibration (2.0.0), on validation data only: the heads' mixing weight w and
biases on the neutral and positive log-probabilities are chosen to maximise the mean
three-class accuracy of leave-one-domain-out models on the held-out domain's
validation split and on the everyday dev sentences (--dev); the exported model
returns softmax(log(w*lexical + (1-w)*word) + bias). The export has one endpoint,
``serve(texts: string[None], features: float32[None, F]) -> float32[None, 3]``
(LABELS order), so serving needs only ``tf.saved_model.load``. ``meta.json`` is
written into the same folder.

TensorFlow/Keras are imported inside functions only: tests import this module, and
TF must not be loaded before a fork.
"""

from __future__ import annotations

import argparse
import json
import shutil
import string
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from services.sentiment import data, everyday_gen, extra_data, features, metrics

META_FILE = "meta.json"
VERSION = "2.0.0"
FEATURES = features.FEATURE_SETS["v2"]
# The lexical head's share, tried on validation. Never 0: it is the only head that reads
# emoticons and other punctuation-only text (the word head strips punctuation), and a
# share of 0 made ":)" negative once the written sentences came in.
MIX_GRID = (0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
BIAS_GRID = tuple(round(-2.0 + 0.1 * i, 1) for i in range(31))  # neutral log-bias -2.0..1.0
POSITIVE_GRID = tuple(round(-1.0 + 0.1 * i, 1) for i in range(21))  # positive log-bias
ALL_DOMAINS_REASON = (
    "all three domains: the service receives text of unknown kind, so the shipped model "
    "learns from every register available (tweets, review snippets, editorial sentences); "
    "per-domain class balance is equalised so no single domain's prior dominates"
)


@dataclass
class TrainConfig:
    """Everything that determines a trained model besides the data folder."""

    domains: tuple[str, ...] = data.DOMAINS
    epochs: int = 12  # upper bound; early stopping on validation loss picks the epoch
    seed: int = data.DEFAULT_SEED
    limit: int | None = None  # at most this many items per domain and split (smoke tests)
    max_tokens: int = 20000
    min_count: int = 2  # words seen once get no embedding row: they would only be memorised
    sequence_length: int = 64
    ngrams: int = 1  # 2: word pairs too ("never arrived", "not bad"), after the single words
    embed_dim: int = 16
    hidden: int = 32
    dropout: float = 0.4
    clip: float = 2.5  # normalised features are clipped to +-clip standard deviations
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 2
    lexicon: bool = True  # add the VADER and Pattern lexicon entries as one-word items
    lexicon_share: float = 0.5  # their total weight, relative to one sentence domain
    generated: int = 12000  # generated everyday sentences (everyday_gen.py) added to training
    generated_share: float = 1.0  # their total weight, relative to one sentence domain
    written: bool = True  # add the written sentences (trainsets/written_*.tsv), 80/10/10
    written_share: float = 1.0  # their total weight, relative to one sentence domain


@dataclass
class Arrays:
    """Model inputs and targets for one set of items."""

    texts: np.ndarray  # (N,) object array of str
    feats: np.ndarray  # (N, F) float32
    labels: np.ndarray  # (N,) int32
    weights: np.ndarray  # (N,) float32


def balanced_weights(items: list[data.Item], lexicon_share: float = 1.0,
                     generated_share: float = 1.0, written_share: float = 1.0) -> np.ndarray:
    """Weights that give every (domain, class) cell the same total weight, mean 1;
    the lexicon items' cells get `lexicon_share` of that, the generated everyday
    sentences' cells `generated_share`, the written sentences' `written_share`.

    Why: the domains differ a lot in class balance (movie has 5% neutral, nyt 46%).
    Equal cells make the network assume a uniform prior over classes and domains,
    which transfers to an unseen domain far better than the pooled training prior.
    """
    cells = [(i.domain, i.label) for i in items]
    counts: dict[tuple[str, int], int] = {}
    for cell in cells:
        counts[cell] = counts.get(cell, 0) + 1
    share = {extra_data.LEXICON_DOMAIN: lexicon_share, everyday_gen.DOMAIN: generated_share,
             extra_data.WRITTEN_DOMAIN: written_share}
    raw = np.array([share.get(c[0], 1.0) / counts[c] for c in cells], dtype=np.float32)
    return raw * (len(raw) / raw.sum()) if len(raw) else raw


def to_arrays(items: list[data.Item], lexicon_share: float = 1.0,
              generated_share: float = 1.0, written_share: float = 1.0) -> Arrays:
    """Texts, lexicon features, labels and training weights for a list of items."""
    texts = [i.text for i in items]
    return Arrays(
        texts=np.array(texts, dtype=object),
        feats=features.lexicon_features(texts, FEATURES),
        labels=np.array([i.label for i in items], dtype=np.int32),
        weights=balanced_weights(items, lexicon_share, generated_share, written_share),
    )


_STRIP = str.maketrans("", "", string.punctuation)


def tokens(text: str) -> list[str]:
    """Python twin of TextVectorization's default standardisation and whitespace split."""
    return text.lower().translate(_STRIP).split()


def grams(text: str, n: int) -> list[str]:
    """The words of `text`, then (n = 2) its word pairs joined by a space, as
    TextVectorization(ngrams=n) makes them."""
    words = tokens(text)
    return words + [" ".join(p) for p in zip(words, words[1:])] if n >= 2 else words


def vocabulary(texts: np.ndarray, cfg: TrainConfig) -> list[str]:
    """Words (and word pairs) seen at least cfg.min_count times, most frequent first,
    ties alphabetical."""
    counts: dict[str, int] = {}
    for text in texts:
        for tok in grams(text, cfg.ngrams):
            counts[tok] = counts.get(tok, 0) + 1
    # A one-word item is a lexicon entry: rated by people, so kept even if seen once.
    singles = {t.lower() for t in texts if len(tokens(t)) == 1}
    kept = [w for w, n in counts.items() if n >= cfg.min_count or w in singles]
    kept.sort(key=lambda w: (-counts[w], w))
    return kept[: cfg.max_tokens - 2]  # ids 0 and 1 are padding and out-of-vocabulary


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TF, and ask TF for deterministic kernels."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _inputs(train: Arrays, cfg: TrainConfig):
    """Input layers, clipped normalised features and dropped-out pooled word embeddings."""
    import keras

    vectorize = keras.layers.TextVectorization(
        max_tokens=cfg.max_tokens, output_sequence_length=cfg.sequence_length,
        ngrams=cfg.ngrams if cfg.ngrams > 1 else None, name="vectorize",
    )
    vectorize.set_vocabulary(vocabulary(train.texts, cfg) or ["[none]"])
    normalize = keras.layers.Normalization(name="normalize_features")
    normalize.adapt(train.feats)
    text_in = keras.Input(shape=(), dtype="string", name="texts")
    feat_in = keras.Input(shape=(len(FEATURES),), dtype="float32", name="features")
    # Clipping keeps feature values never seen in training (e.g. the many '!' of tweets
    # for a model trained on reviews) from extrapolating through the ReLU layers.
    feats = keras.ops.clip(normalize(feat_in), -cfg.clip, cfg.clip)
    embed = keras.layers.Embedding(
        vectorize.vocabulary_size(), cfg.embed_dim, mask_zero=True, name="embed"
    )
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(embed(vectorize(text_in)))
    pooled = keras.layers.Dropout(cfg.dropout, name="drop_words")(pooled)
    return [text_in, feat_in], feats, pooled


def _head(x, cfg: TrainConfig, name: str):
    """Dense(relu) -> Dropout -> Dense softmax(3)."""
    import keras

    x = keras.layers.Dense(cfg.hidden, activation="relu", name=f"{name}_hidden")(x)
    x = keras.layers.Dropout(cfg.dropout, name=f"{name}_drop")(x)
    return keras.layers.Dense(len(data.LABELS), activation="softmax", name=f"{name}_probs")(x)


def build_model(train: Arrays, cfg: TrainConfig):
    """The training model: two outputs (lexical head, word head) over shared inputs.

    Why two heads: the lexical head carries over to unseen domains, the word head is
    much better in domain but learns domain-specific words; `calibrate` picks the mix.
    """
    import keras

    inputs, feats, pooled = _inputs(train, cfg)
    lexical = _head(feats, cfg, "lexical")
    word = _head(keras.layers.Concatenate(name="join")([feats, pooled]), cfg, "word")
    return keras.Model(inputs, [lexical, word], name="sentiment_heads")


def served(lexical: np.ndarray, word: np.ndarray, mix: float, bias: float,
           positive: float = 0.0) -> np.ndarray:
    """NumPy twin of the exported output: softmax(log(mix*lexical + (1-mix)*word) + bias),
    the bias being (0, neutral `bias`, `positive`)."""
    logits = np.log(mix * lexical + (1.0 - mix) * word + 1e-7)
    logits[:, metrics.NEU] += bias
    logits[:, metrics.POS] += positive
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def head_outputs(model, dev_sets: dict[str, Arrays]) -> dict[str, tuple]:
    """{name: (lexical probs, word probs, gold labels)} for each non-empty set."""
    outs = {}
    for name, arrays in dev_sets.items():
        if len(arrays.labels):
            lexical, word = model(list(tf_inputs(arrays)), training=False)
            outs[name] = (np.asarray(lexical), np.asarray(word), arrays.labels)
    return outs


def calibrate(outputs: dict[str, tuple]) -> dict:
    """Mix and class biases with the best mean three-class accuracy over the sets in
    `outputs` (head_outputs on validation data only); ties go to the smaller biases,
    then to the larger lexical share (the stabler head on unseen text)."""
    best = None
    for mix in MIX_GRID:
        mixed = {n: (np.log(mix * lex + (1.0 - mix) * word + 1e-7), gold)
                 for n, (lex, word, gold) in outputs.items()}
        for bias in BIAS_GRID:
            for positive in POSITIVE_GRID:
                accs = {n: _accuracy(logits, gold, bias, positive)
                        for n, (logits, gold) in mixed.items()}
                key = (round(float(np.mean(list(accs.values()))), 6),
                       -abs(bias) - abs(positive), mix)
                if best is None or key > best[0]:
                    best = (key, {"mix": mix, "neutral_bias": bias, "positive_bias": positive,
                                  "dev_acc3": accs})
    return best[1] if best else {"mix": 0.5, "neutral_bias": 0.0, "positive_bias": 0.0,
                                 "dev_acc3": {}}


def _accuracy(logits: np.ndarray, gold: np.ndarray, bias: float, positive: float) -> float:
    """Three-class accuracy of log-probabilities after adding the class biases."""
    return float(((logits + np.array([0.0, bias, positive])).argmax(1) == gold).mean())


def tf_inputs(arrays: Arrays):
    """(texts, features) tensors for a direct model call."""
    import tensorflow as tf

    return tf.constant(arrays.texts.astype(str)), tf.constant(arrays.feats)


def to_dataset(arrays: Arrays, cfg: TrainConfig, shuffle: bool):
    """Batched tf.data of ((texts, features), (label, label), (weight, weight)): one per head."""
    import tensorflow as tf

    inputs = (tf.constant(arrays.texts.astype(str)), tf.constant(arrays.feats))
    targets = (arrays.labels, arrays.labels)
    weights = (arrays.weights, arrays.weights)
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets, weights))
    if shuffle:
        ds = ds.shuffle(len(arrays.labels), seed=cfg.seed, reshuffle_each_iteration=True)
    return ds.batch(cfg.batch_size)


def fit(model, train: Arrays, val: Arrays, cfg: TrainConfig) -> dict[str, int]:
    """Train with early stopping on the weighted validation loss (best weights restored)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss=["sparse_categorical_crossentropy", "sparse_categorical_crossentropy"],
    )
    has_val = len(val.labels) > 0
    stop = keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True)
    history = model.fit(
        to_dataset(train, cfg, shuffle=True),
        validation_data=to_dataset(val, cfg, shuffle=False) if has_val else None,
        epochs=cfg.epochs,
        shuffle=False,  # the tf.data pipeline shuffles, seeded
        callbacks=[stop] if has_val else [],
        verbose=2,
    )
    run = len(history.history["loss"])
    return {"epochs_run": run, "best_epoch": (stop.best_epoch + 1) if has_val else run}


def export(model, out_dir: Path, calibration: dict) -> None:
    """Write the SavedModel with the single `serve(texts, features)` endpoint, the
    calibrated mix of the two heads and the neutral bias inside the graph."""
    import keras
    import tensorflow as tf

    mix = float(calibration["mix"])
    bias = tf.constant([0.0, float(calibration["neutral_bias"]),
                        float(calibration.get("positive_bias", 0.0))], tf.float32)

    def serve(texts, feats):
        lexical, word = model([texts, feats], training=False)
        return tf.nn.softmax(tf.math.log(mix * lexical + (1.0 - mix) * word + 1e-7) + bias)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=serve,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="texts"),
            tf.TensorSpec([None, len(FEATURES)], tf.float32, name="features"),
        ],
    )
    if out_dir.exists():
        shutil.rmtree(out_dir)  # stale files from an older model must not survive
    archive.write_out(str(out_dir), verbose=False)


def limited(splits: dict, limit: int | None) -> dict:
    """Keep at most `limit` items of each domain's train/val/test part (already shuffled)."""
    if limit is None:
        return splits
    return {d: {p: items[:limit] for p, items in parts.items()} for d, parts in splits.items()}


def test_figures(artifact_dir: Path, splits: dict) -> dict[str, dict]:
    """Figures of the exported model (as served) and of VADER on each domain's test split."""
    from services.sentiment.classifier import SentimentClassifier

    clf = SentimentClassifier.load(artifact_dir, check_meta=False, feature_names=FEATURES)
    figures = {}
    for domain, parts in splits.items():
        arrays = to_arrays(parts["test"])
        probs = clf.probabilities(list(arrays.texts), arrays.feats)
        figures[domain] = {
            "model": metrics.model_scores(arrays.labels, probs),
            "vader": metrics.vader_scores(arrays.labels, arrays.feats),
        }
    return figures


def generated_items(cfg: TrainConfig) -> tuple[list[data.Item], list[data.Item]]:
    """Generated everyday sentences for training and for early stopping (another seed),
    at most cfg.limit of each (smoke tests)."""
    n = cfg.generated if cfg.limit is None else min(cfg.generated, cfg.limit)
    if n <= 0:
        return [], []
    return (everyday_gen.generate(n, cfg.seed),
            everyday_gen.generate(max(1, n // 10), cfg.seed + 1))


def written_splits(cfg: TrainConfig) -> dict[str, list[data.Item]]:
    """The written sentences cut 80/10/10 into train/val/test, at most cfg.limit of
    each (smoke tests); empty when cfg.written is off. The cut always uses the data
    split's seed (data.DEFAULT_SEED), not cfg.seed, so that evaluate.py finds the same
    test part whatever seed a model was trained with."""
    items = extra_data.written_items() if cfg.written else []
    return limited({"written": data.split_items(items, data.DEFAULT_SEED)}, cfg.limit)["written"]


def fit_heads(splits: dict, cfg: TrainConfig):
    """Seed, build and fit the two-head model on the splits' train parts, the lexicons,
    the generated everyday sentences and the written sentences' train part."""
    seed_everything(cfg.seed)
    extra = extra_data.lexicon_items() if cfg.lexicon else []
    gen_train, gen_val = generated_items(cfg)
    written = written_splits(cfg)
    shares = (cfg.lexicon_share, cfg.generated_share, cfg.written_share)
    train_arr = to_arrays(data.pool(splits, "train") + extra + gen_train + written["train"],
                          *shares)
    model = build_model(train_arr, cfg)
    val_arr = to_arrays(data.pool(splits, "val") + gen_val + written["val"], 1.0, *shares[1:])
    epochs = fit(model, train_arr, val_arr, cfg)
    return model, {**epochs, "lexicon_items": len(extra), "generated_items": len(gen_train),
                   "written_items": len(written["train"])}


def held_out_outputs(splits: dict, cfg: TrainConfig, dev_paths: tuple[str, ...]) -> dict:
    """Head outputs of leave-one-domain-out models: for each domain D, a model fitted on
    the others, on D's validation split and on the dev files. Why: the mix and bias are
    then chosen for text of a kind the model never saw, which is what the service gets."""
    outputs = {}
    for held in splits:
        others = {d: parts for d, parts in splits.items() if d != held}
        model, _ = fit_heads(others, cfg)
        sets = {f"{held}_val": to_arrays(splits[held]["val"]), **dev_files(dev_paths)}
        outputs.update({f"{k}@without_{held}": v for k, v in head_outputs(model, sets).items()})
    return outputs


def train(
    data_dir: str | Path, out_dir: str | Path, cfg: TrainConfig, reason: str | None = None,
    dev_paths: tuple[str, ...] = (), calibration: str = "held-out",
) -> dict:
    """Train on the train splits of cfg.domains (and the lexicons), calibrate on
    validation data (`calibration`: "held-out" = leave-one-domain-out models, "none" =
    mix 0.5, no bias), export to out_dir, return the metadata.

    `reason` (why these domains) goes into meta.json.
    """
    splits = limited(data.load_splits(data_dir, cfg.domains, data.DEFAULT_SEED), cfg.limit)
    outputs = held_out_outputs(splits, cfg, dev_paths) if calibration == "held-out" else {}
    chosen = calibrate(outputs)
    model, epochs = fit_heads(splits, cfg)
    out = Path(out_dir)
    export(model, out, chosen)
    written = {"written": written_splits(cfg)} if cfg.written else {}
    files = [p.name for p in extra_data.written_files()] if cfg.written else []
    meta = build_meta(cfg, splits, epochs, test_figures(out, {**splits, **written}))
    meta.update(written_files=files, calibration={"method": calibration, **chosen},
                dev_sets=[str(p) for p in dev_paths])
    meta["training_domains_reason"] = reason or (
        ALL_DOMAINS_REASON if set(cfg.domains) == set(data.DOMAINS) else "chosen by the caller"
    )
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def dev_files(dev_paths: tuple[str, ...]) -> dict[str, Arrays]:
    """Each labelled dev file (label<TAB>topic<TAB>text) as arrays, named by its stem."""
    return {Path(p).stem: to_arrays(extra_data.read_labelled(p)) for p in dev_paths}


def build_meta(cfg: TrainConfig, splits: dict, epochs: dict, figures: dict) -> dict:
    """The JSON metadata written beside the SavedModel."""
    return {
        "version": VERSION,
        "labels": list(data.LABELS),
        "feature_names": list(FEATURES),
        "endpoint": "serve(texts: string[None], features: float32[None, %d]) -> float32[None, 3]"
        % len(FEATURES),
        "training_domains": list(cfg.domains),
        "split": {"seed": data.DEFAULT_SEED, "fractions": list(data.SPLIT_FRACTIONS)},
        "data_sizes": {d: {p: len(v) for p, v in parts.items()} for d, parts in splits.items()},
        "train_class_counts": dict(zip(data.LABELS, data.class_counts(data.pool(splits, "train")))),
        **epochs,
        "config": asdict(cfg),
        "test_figures": figures,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Train and export the sentiment model.")
    parser.add_argument("--data", required=True, help="folder of the *_GroundTruth.tsv files")
    parser.add_argument("--out", required=True, help="output folder for the SavedModel")
    all_domains = ",".join(data.DOMAINS)
    parser.add_argument("--domains", default=all_domains, help=f"comma-separated, of {all_domains}")
    parser.add_argument("--limit", type=int, default=None, help="max items per domain and split")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--reason", default=None, help="why these domains (stored in meta.json)")
    parser.add_argument("--dev", action="append", default=[],
                        help="label<TAB>topic<TAB>text file for calibration (repeatable)")
    parser.add_argument("--calibration", choices=("held-out", "none"), default="held-out",
                        help="held-out: mix and neutral bias from leave-one-domain-out models")
    parser.add_argument("--generated", type=int, default=TrainConfig.generated,
                        help="generated everyday sentences to train on (0: none)")
    parser.add_argument("--generated-share", type=float, default=TrainConfig.generated_share,
                        help="weight of the generated sentences relative to one rated domain")
    parser.add_argument("--no-written", action="store_true",
                        help="leave out the written sentences (trainsets/written_*.tsv)")
    parser.add_argument("--written-share", type=float, default=TrainConfig.written_share,
                        help="weight of the written sentences relative to one rated domain")
    parser.add_argument("--ngrams", type=int, default=TrainConfig.ngrams, choices=(1, 2))
    parser.add_argument("--max-tokens", type=int, default=TrainConfig.max_tokens)
    parser.add_argument("--sequence-length", type=int, default=TrainConfig.sequence_length)
    parser.add_argument("--embed-dim", type=int, default=TrainConfig.embed_dim)
    parser.add_argument("--hidden", type=int, default=TrainConfig.hidden)
    parser.add_argument("--patience", type=int, default=TrainConfig.patience)
    parser.add_argument("--no-lexicon", action="store_true",
                        help="train on the rated sentences only (no lexicon items)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: train, export, print the test figures."""
    args = parse_args(argv)
    cfg = TrainConfig(
        domains=tuple(d for d in args.domains.split(",") if d),
        epochs=args.epochs,
        seed=args.seed,
        limit=args.limit,
        lexicon=not args.no_lexicon,
        generated=args.generated,
        generated_share=args.generated_share,
        written=not args.no_written,
        written_share=args.written_share,
        ngrams=args.ngrams,
        max_tokens=args.max_tokens,
        sequence_length=args.sequence_length,
        embed_dim=args.embed_dim,
        hidden=args.hidden,
        patience=args.patience,
    )
    meta = train(args.data, args.out, cfg, args.reason, tuple(args.dev), args.calibration)
    print(json.dumps(meta["test_figures"], indent=2))


if __name__ == "__main__":
    main()
