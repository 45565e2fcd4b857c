"""The trainers' shared parts: the time-budget schedule and the config command line."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from common.training import TimeBudget, config_main, cosine_rate, parse_config


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
