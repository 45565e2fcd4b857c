"""Train the sentiment network and export it as a TensorFlow SavedModel.

    python -m services.sentiment.train --data ../shared/data/sentiment \
        --out services/sentiment/artifacts/model [--domains tweets,movie,nyt] \
        [--limit N] [--epochs E] [--seed S] [--reason TEXT]

Network (two heads over shared inputs, see README "Model"):
- lexical head: normalised VADER lexicon features (features.py) -> Dense(32) -> softmax(3);
- word head: raw string -> in-graph TextVectorization -> Embedding(16) -> masked mean
  pooling, concatenated with the same features -> Dense(32) -> softmax(3).
Each head is trained on its own loss; the exported model returns the weighted mean of
the two probability vectors (lexical 2/3, word 1/3). The export has one endpoint,
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

from services.sentiment import data, features, metrics

META_FILE = "meta.json"
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
    embed_dim: int = 16
    hidden: int = 32
    dropout: float = 0.4
    clip: float = 2.5  # normalised features are clipped to +-clip standard deviations
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 2
    lexical_weight: float = 2 / 3  # share of the lexical head in the served probabilities


@dataclass
class Arrays:
    """Model inputs and targets for one set of items."""

    texts: np.ndarray  # (N,) object array of str
    feats: np.ndarray  # (N, F) float32
    labels: np.ndarray  # (N,) int32
    weights: np.ndarray  # (N,) float32


def balanced_weights(items: list[data.Item]) -> np.ndarray:
    """Weights that give every (domain, class) cell the same total weight, mean 1.

    Why: the domains differ a lot in class balance (movie has 5% neutral, nyt 46%).
    Equal cells make the network assume a uniform prior over classes and domains,
    which transfers to an unseen domain far better than the pooled training prior.
    """
    cells = [(i.domain, i.label) for i in items]
    counts: dict[tuple[str, int], int] = {}
    for cell in cells:
        counts[cell] = counts.get(cell, 0) + 1
    raw = np.array([1.0 / counts[c] for c in cells], dtype=np.float32)
    return raw * (len(raw) / raw.sum()) if len(raw) else raw


def to_arrays(items: list[data.Item]) -> Arrays:
    """Texts, lexicon features, labels and training weights for a list of items."""
    texts = [i.text for i in items]
    return Arrays(
        texts=np.array(texts, dtype=object),
        feats=features.lexicon_features(texts),
        labels=np.array([i.label for i in items], dtype=np.int32),
        weights=balanced_weights(items),
    )


_STRIP = str.maketrans("", "", string.punctuation)


def tokens(text: str) -> list[str]:
    """Python twin of TextVectorization's default standardisation and whitespace split."""
    return text.lower().translate(_STRIP).split()


def vocabulary(texts: np.ndarray, cfg: TrainConfig) -> list[str]:
    """Words seen at least cfg.min_count times, most frequent first, ties alphabetical."""
    counts: dict[str, int] = {}
    for text in texts:
        for tok in tokens(text):
            counts[tok] = counts.get(tok, 0) + 1
    kept = [w for w, n in counts.items() if n >= cfg.min_count]
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
        max_tokens=cfg.max_tokens, output_sequence_length=cfg.sequence_length, name="vectorize"
    )
    vectorize.set_vocabulary(vocabulary(train.texts, cfg) or ["[none]"])
    normalize = keras.layers.Normalization(name="normalize_features")
    normalize.adapt(train.feats)
    text_in = keras.Input(shape=(), dtype="string", name="texts")
    feat_in = keras.Input(shape=(features.N_FEATURES,), dtype="float32", name="features")
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
    """(training model with two outputs, serving model with their weighted mean), sharing weights.

    Why two heads: the lexical head carries over to unseen domains, the word head is
    much better in domain but learns domain-specific words; the weighted mean hedges both.
    """
    import keras

    inputs, feats, pooled = _inputs(train, cfg)
    lexical = _head(feats, cfg, "lexical")
    word = _head(keras.layers.Concatenate(name="join")([feats, pooled]), cfg, "word")
    # The lexical head gets the larger vote: it is the stabler one on held-out domains.
    probs = keras.layers.Add(name="probs")(
        [lexical * cfg.lexical_weight, word * (1.0 - cfg.lexical_weight)]
    )
    return keras.Model(inputs, [lexical, word], name="sentiment_heads"), keras.Model(
        inputs, probs, name="sentiment"
    )


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


def export(model, out_dir: Path) -> None:
    """Write the SavedModel with the single `serve(texts, features)` endpoint."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda texts, feats: model([texts, feats], training=False),
        input_signature=[
            tf.TensorSpec([None], tf.string, name="texts"),
            tf.TensorSpec([None, features.N_FEATURES], tf.float32, name="features"),
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

    clf = SentimentClassifier.load(artifact_dir, check_meta=False)
    figures = {}
    for domain, parts in splits.items():
        arrays = to_arrays(parts["test"])
        probs = clf.probabilities(list(arrays.texts), arrays.feats)
        figures[domain] = {
            "model": metrics.model_scores(arrays.labels, probs),
            "vader": metrics.vader_scores(arrays.labels, arrays.feats),
        }
    return figures


def train(
    data_dir: str | Path, out_dir: str | Path, cfg: TrainConfig, reason: str | None = None
) -> dict:
    """Train on the train splits of cfg.domains, export to out_dir, return the metadata.

    `reason` (why these domains) goes into meta.json.
    """
    seed_everything(cfg.seed)
    splits = limited(data.load_splits(data_dir, cfg.domains, data.DEFAULT_SEED), cfg.limit)
    train_arr = to_arrays(data.pool(splits, "train"))
    fit_model, model = build_model(train_arr, cfg)
    epochs = fit(fit_model, train_arr, to_arrays(data.pool(splits, "val")), cfg)
    out = Path(out_dir)
    export(model, out)
    meta = build_meta(cfg, splits, epochs, test_figures(out, splits))
    meta["training_domains_reason"] = reason or (
        ALL_DOMAINS_REASON if set(cfg.domains) == set(data.DOMAINS) else "chosen by the caller"
    )
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def build_meta(cfg: TrainConfig, splits: dict, epochs: dict, figures: dict) -> dict:
    """The JSON metadata written beside the SavedModel."""
    return {
        "labels": list(data.LABELS),
        "feature_names": list(features.FEATURE_NAMES),
        "endpoint": "serve(texts: string[None], features: float32[None, %d]) -> float32[None, 3]"
        % features.N_FEATURES,
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: train, export, print the test figures."""
    args = parse_args(argv)
    cfg = TrainConfig(
        domains=tuple(d for d in args.domains.split(",") if d),
        epochs=args.epochs,
        seed=args.seed,
        limit=args.limit,
    )
    meta = train(args.data, args.out, cfg, args.reason)
    print(json.dumps(meta["test_figures"], indent=2))


if __name__ == "__main__":
    main()
