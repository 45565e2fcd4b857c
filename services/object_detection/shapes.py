"""The detector's data: scenes of circles, squares and triangles.

Training, validation and the held-out test split come from the domain-randomised
generator (``common/media/scenes.py``: textured, gradient and noisy backgrounds, any
colour filled or outlined, small to large shapes at any rotation, overlap with partial
occlusion, occluding strokes, blur, noise and JPEG). ``other_scene`` comes from the
second generator (``common/media/other_scenes.py``: other drawing code, textures, sizes
and colours), which is for evaluation only. A scene is fully determined by its seed, so
every set is reproducible and the sets are disjoint (different seed ranges).

No TensorFlow here: tests and the service import this module.

    python -m services.object_detection.shapes shapes.png [--index 7] [--other]

writes a test scene (and prints its shapes), e.g. to try the service with.
"""
from __future__ import annotations

import numpy as np

from common.media import other_scenes
from common.media.scenes import DETECTION, LABELS, Scene, Shape, generate, iou

__all__ = ["LABELS", "Scene", "Shape", "iou", "scene", "other_scene", "SPLITS"]

#: Seed ranges of the splits; a scene's seed is ``base + index``.
SPLITS = {"train": 0, "validation": 5_000_000, "test": 9_000_000}
#: The other generator's seeds (evaluation only; training never draws from it).
OTHER_SEED = 88_000_000

MIN_SIDE, MAX_SIDE = DETECTION.min_side, DETECTION.max_side


def scene(split: str, index: int) -> Scene:
    """The ``index``-th scene of a split (the same every time)."""
    return generate(np.random.default_rng(SPLITS[split] + index), DETECTION)


def other_scene(index: int) -> Scene:
    """The ``index``-th scene of the other generator (never trained on)."""
    return other_scenes.generate(np.random.default_rng(OTHER_SEED + index))


def main(argv: list[str] | None = None) -> None:
    """Write a test-split scene to a file and print what is on it."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", help="where to write the image (.png, .jpg or .gif)")
    parser.add_argument("--index", type=int, default=0, help="which test scene")
    parser.add_argument("--other", action="store_true", help="from the other generator")
    args = parser.parse_args(argv)
    drawn = other_scene(args.index) if args.other else scene("test", args.index)
    drawn.image.save(args.path)
    for shape in drawn.shapes:
        print(shape.label, shape.colour, [round(v) for v in shape.box])


if __name__ == "__main__":
    main()
