"""Accuracy of an exported classifier on one-shape scenes training never saw.

    python -m services.image_classifier.evaluate [--model DIR] [--scenes 500]

Two sets: the training generator's ``test`` seed range (held out), and the other
generator (``common/media/other_scenes.py``: different drawing code, textures, sizes
and colours; never trained on). Each image goes the way a served one does: stretched to
224x224 and normalised by the VGG recipe (the same arithmetic as image_preprocessor,
checked by tests), then through the exported SavedModel's compiled signature.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common.media.scenes import LABELS

from . import data
from .classifier import Classifier
from .recipe import from_rgb_uint8

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BATCH = 32


def evaluate(model_dir: str | Path = ARTIFACTS / "model", scenes: int = 500) -> dict:
    """Accuracy and per-class recall on both sets."""
    classifier = Classifier.load(model_dir)
    held_out = [data.scene("test", i) for i in range(scenes)]
    other = [data.other_scene(i) for i in range(scenes)]
    return {"held_out": _score(classifier, held_out), "other_generator": _score(classifier, other)}


def _score(classifier: Classifier, drawn: list) -> dict:
    truth = np.array([data.label_of(s) for s in drawn])
    guesses = []
    for start in range(0, len(drawn), BATCH):
        batch = np.stack([from_rgb_uint8(data.stretched(s.image))
                          for s in drawn[start:start + BATCH]])
        guesses.extend(np.argmax(classifier.scores(batch), axis=1))
    guesses = np.array(guesses)
    recall = {label: round(float(np.mean(guesses[truth == k] == k)), 4)
              for k, label in enumerate(LABELS) if np.any(truth == k)}
    return {"accuracy": round(float(np.mean(guesses == truth)), 4), "images": len(drawn),
            "recall": recall}


def main(argv: list[str] | None = None) -> None:
    """Print the accuracy on both sets and each class's recall."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ARTIFACTS / "model")
    parser.add_argument("--scenes", type=int, default=500)
    args = parser.parse_args(argv)
    report = evaluate(args.model, args.scenes)
    for name, title in (("held_out", "held-out split of the training generator"),
                        ("other_generator", "the other generator (never trained on)")):
        part = report[name]
        print(f"accuracy {part['accuracy']:.4f} on {part['images']} images of {title}")
        for label, value in part["recall"].items():
            print(f"  recall {label}: {value:.4f}")


if __name__ == "__main__":
    main()
