"""Smoke test of the sentiment training entry point: tiny data, one epoch, export, load."""
from __future__ import annotations

import json
import random

from services.sentiment import data, train
from services.sentiment.classifier import LABELS, SentimentClassifier

WORDS = {
    2: ["great", "love", "wonderful", "happy", "excellent"],
    0: ["awful", "hate", "terrible", "sad", "boring"],
    1: ["table", "tuesday", "report", "street", "window"],
}


def write_tiny_data(folder, n: int = 30) -> None:
    """Three TSV files in the data set's format, ~30 lines each, all three classes."""
    rng = random.Random(0)
    for domain, name in data.DOMAIN_FILES.items():
        rows = []
        for i in range(n):
            label = i % 3
            rating = {0: -2.0, 1: 0.0, 2: 2.0}[label] + rng.uniform(-0.4, 0.4)
            text = f"the {domain} {rng.choice(WORDS[label])} and {rng.choice(WORDS[label])}"
            rows.append(f"{i}\t{rating:.3f}\t{text}")
        (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_tiny_training_run_exports_a_loadable_artifact(tmp_path):
    write_tiny_data(tmp_path)
    out = tmp_path / "model"
    train.main(["--data", str(tmp_path), "--out", str(out), "--epochs", "1", "--limit", "30"])

    assert (out / "saved_model.pb").is_file()
    meta = json.loads((out / train.META_FILE).read_text())
    assert meta["training_domains"] == list(data.DOMAINS) and meta["epochs_run"] == 1
    assert meta["data_sizes"]["nyt"] == {"train": 24, "val": 3, "test": 3}
    assert set(meta["test_figures"]["tweets"]) == {"model", "vader"}
    assert meta["generated_items"] == 30  # everyday_gen sentences, capped by --limit
    assert meta["version"] == "2.0.0" and meta["lexicon_items"] > 8000
    calibration = meta["calibration"]
    assert calibration["method"] == "held-out" and 0.0 <= calibration["mix"] <= 1.0
    # Leave-one-domain-out: each domain's validation split scored by a model without it.
    assert set(calibration["dev_acc3"]) == {f"{d}_val@without_{d}" for d in data.DOMAINS}

    results = SentimentClassifier.load(out).predict(["I love it", "the report", "awful"])
    assert len(results) == 3
    for result in results:
        assert result["label"] in LABELS
        assert abs(sum(result["scores"].values()) - 1.0) < 1e-5
