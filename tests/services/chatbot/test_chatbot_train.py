"""Smoke test of the chatbot training entry point: tiny run, export, load, answer."""
from __future__ import annotations

import json

from services.chatbot import data, train
from services.chatbot.answerer import Answerer


def test_tiny_training_run_exports_a_loadable_artifact(tmp_path):
    cfg = train.TrainConfig(examples=300, epochs=1, val_examples=16, batch_size=32,
                            written_repeat=1, model=dict(embed_dim=16, question_dim=8, enc_units=16,
                                       dec_units=32, attn_units=16))
    out = tmp_path / "model"
    meta = train.train(out, cfg, evaluate_examples=0)

    assert (out / "saved_model.pb").is_file() and meta["training_log"][0]["epoch"] == 1
    written = data.written_examples()
    assert meta["written_examples"] == len(written) and meta["train_examples"] > 300 + 0.9 * len(written)
    stored = json.loads((out / train.META_FILE).read_text())
    assert stored["vocab"] == meta["vocab"] and stored["seed"] == cfg.seed

    answerer = Answerer.load(out)
    results = answerer.answer(["Who is the manager?", "How much is a day pass?"],
                              [None, "A day pass costs $4.50. Parking is $2 per hour."])
    assert len(results) == 2
    for result in results:
        # a one-epoch model may abstain: what matters here is the contract
        assert result["answer"] is None or isinstance(result["answer"], str)
        assert result["reply"] and 0.0 <= result["confidence"] <= 1.0
    assert answerer.answer([], []) == []
