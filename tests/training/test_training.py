"""The trainers' shared parts: the time-budget schedule, the training loop under it and
the config command line."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from common.training import (TimeBudget, config_main, cosine_rate, empty_dir, fit_within,
                             parse_config, uint8_batches)


@pytest.mark.parametrize("progress, rate", [(0.0, 1.0), (0.5, 0.525), (1.0, 0.05),
                                            (-1.0, 1.0), (3.0, 0.05)])
def test_the_rate_falls_from_the_peak_to_the_floor(progress, rate):
    assert cosine_rate(1.0, progress, 0.05) == pytest.approx(rate)


def _fit(callback, batches: int) -> int:
    import keras
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(np.ones((batches * 4, 2)), np.ones((batches * 4, 1)), batch_size=4,
                        epochs=3, verbose=0, callbacks=[callback])
    return callback.step, float(model.optimizer.learning_rate.numpy()), history


def test_training_stops_after_the_planned_steps_at_the_floor_rate():
    steps, rate, _ = _fit(TimeBudget(0.1, steps=5, deadline=time.monotonic() + 600,
                                     floor=0.02), batches=4)
    assert steps == 5
    assert rate == pytest.approx(cosine_rate(0.1, 4 / 5, 0.02), rel=1e-5)


def test_training_stops_at_the_deadline_whatever_the_steps_planned():
    steps, _, _ = _fit(TimeBudget(0.1, steps=10_000, deadline=time.monotonic() - 1),
                       batches=4)
    assert steps == 1   # the deadline had passed: one step, then stop


@dataclass
class Config:
    learning_rate: float = 0.01
    max_minutes: int = 25
    eval_scenes: int = 300


def test_each_config_field_is_a_flag(tmp_path):
    config, out = parse_config(Config, ["--max-minutes", "3", "--learning-rate", "0.5",
                                        "--out", str(tmp_path)], Path("x"), "d")
    assert (config, out) == (Config(0.5, 3, 300), tmp_path)


def test_a_flag_of_the_wrong_type_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_config(Config, ["--max-minutes", "soon"], Path("x"), "d")
    assert "invalid int value" in capsys.readouterr().err


def test_config_main_trains_saves_and_prints_the_meta(tmp_path, capsys):
    seen = {}
    meta = config_main(Config, lambda c: ("net", {"steps": 2}),
                       lambda n, o, c, s: seen.update(n=n, o=o, c=c) or {"ok": True, **s},
                       tmp_path, "d", ["--eval-scenes", "7"])
    assert meta == {"ok": True, "steps": 2} and seen == {"n": "net", "o": tmp_path,
                                                          "c": Config(eval_scenes=7)}
    assert '"ok": true' in capsys.readouterr().out


def test_uint8_batches_are_scaled_floats_and_augmented_per_batch():
    images = np.full((5, 2, 2, 3), 255, np.uint8)
    images[0] = 0
    batches = list(uint8_batches(images, np.arange(5), batch_size=2,
                                 augment=lambda x, y: (1.0 - x, y * 10)))
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    first, labels = batches[0]
    assert first.dtype.name == "float32"
    assert first.numpy()[0].max() == 1.0 and first.numpy()[1].max() == 0.0  # flipped
    assert labels.numpy().tolist() == [0, 10]


def test_uint8_batches_reshuffle_every_epoch_and_lose_nothing():
    data = uint8_batches(np.zeros((32, 1, 1, 1), np.uint8), np.arange(32), 32, shuffle=True)
    first, second = ([int(v) for v in next(iter(data))[1]] for _ in range(2))
    assert sorted(first) == sorted(second) == list(range(32)) and first != second


@dataclass
class _FitConfig:
    epochs: int = 4
    batch_size: int = 4
    learning_rate: float = 0.1
    max_minutes: float = 10.0


def _fit_within(reserve_s: float, data_seconds: float = 0.0) -> dict:
    """fit_within on 12 examples of 1x1x2 uint8 images, batches of 4, 4 epochs at most."""
    import keras
    model = keras.Sequential([keras.Input((1, 1, 2)), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    images, labels = np.full((12, 1, 1, 2), 255, np.uint8), np.ones((12, 1), np.float32)
    return fit_within(model, (images, labels), (images[:4], labels[:4]),
                      augment=None, config=_FitConfig(),
                      started=time.monotonic() - data_seconds, reserve_s=reserve_s, floor=0.05)


def test_fit_within_summarises_the_run_for_meta_json():
    summary = _fit_within(reserve_s=0, data_seconds=0.34)
    assert summary["epochs_run"] == 4 and summary["steps_run"] == 12
    assert summary["data_seconds"] == 0.3  # the time before the call: making the data
    assert set(summary) >= {"loss", "val_loss", "train_seconds"}


def test_fit_within_stops_at_the_deadline_less_the_reserve():
    summary = _fit_within(reserve_s=600)
    assert summary["epochs_run"] == 1 and summary["steps_run"] == 1


def test_empty_dir_replaces_what_was_there(tmp_path):
    (tmp_path / "model" / "old").mkdir(parents=True)
    made = empty_dir(tmp_path / "a" / "model")
    assert made.is_dir() and not list(made.iterdir())
    assert not list(empty_dir(tmp_path / "model").iterdir())
