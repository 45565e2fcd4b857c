"""A cosine learning-rate decay over whichever runs out first, the planned steps or
the time left, so that a run on a busy machine still ends annealed (not cut off at a
high rate) at its deadline, and then stops."""
from __future__ import annotations

import math
import time


def cosine_rate(peak: float, progress: float, floor: float) -> float:
    """The rate at ``progress`` (0 to 1): ``peak`` down to ``floor * peak``."""
    progress = min(1.0, max(0.0, progress))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def TimeBudget(peak: float, steps: int, deadline: float, floor: float = 0.05):
    """A Keras callback: :func:`cosine_rate` over ``steps`` or until ``deadline``
    (a ``time.monotonic()`` value), whichever comes first; then training stops."""
    import keras   # only where a model is trained

    class _TimeBudget(keras.callbacks.Callback):
        step, begin = 0, time.monotonic()

        def on_train_begin(self, logs=None):
            self.step, self.begin = 0, time.monotonic()

        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate.assign(cosine_rate(peak, self.progress, floor))

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.progress >= 1.0:
                self.model.stop_training = True

        @property
        def progress(self) -> float:
            span = max(1e-9, deadline - self.begin)
            return max(self.step / steps, (time.monotonic() - self.begin) / span)

    return _TimeBudget()
