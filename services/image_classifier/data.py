"""The classifier's data: one shape per image, from the domain-randomised generator
(training and its held-out split) or from the evaluation-only other generator.

No TensorFlow here."""
from __future__ import annotations

import numpy as np
from PIL import Image

from common.media import other_scenes, scenes

from .recipe import SIZE

#: Seed ranges of the splits of the training generator; a scene's seed is base + index.
SPLITS = {"train": 0, "validation": 5_000_000, "test": 9_000_000}
#: The other generator's seeds (evaluation only; training never draws from it).
OTHER_SEED = 77_000_000


def scene(split: str, index: int) -> scenes.Scene:
    """The ``index``-th one-shape scene of a split of the training generator."""
    return scenes.generate(np.random.default_rng(SPLITS[split] + index), scenes.CLASSIFICATION)


def other_scene(index: int) -> scenes.Scene:
    """The ``index``-th one-shape scene of the other generator (never trained on)."""
    return other_scenes.generate(np.random.default_rng(OTHER_SEED + index), count=1)


def stretched(image: Image.Image) -> np.ndarray:
    """uint8 [224, 224, 3]: the image as image_preprocessor's ``stretch`` resizes it."""
    return np.asarray(image.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR))


def label_of(drawn: scenes.Scene) -> int:
    """The 0-based class of a one-shape scene."""
    return drawn.shapes[0].class_id - 1
