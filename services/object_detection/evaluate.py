"""mAP@0.5 of an exported detector on scenes training never saw.

    python -m services.object_detection.evaluate [--model DIR] [--label-map FILE]
        [--scenes 500]

Two sets: the training generator's ``test`` seed range (held out: training and
validation never use it), and the other generator's scenes (``shapes.other_scene``:
other drawing code, textures, sizes and colours; never trained on).
Detections come from the exported SavedModel through the service's own
:class:`~services.object_detection.detector.Detector`, so the figure is the served
model's. AP is the area under the all-point interpolated precision/recall curve per
class (PASCAL VOC 2010+); mAP is the mean over classes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import shapes
from .detector import Detection, Detector
from .label_map import load_label_map

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def evaluate(model_dir: str | Path = ARTIFACTS / "model",
             label_map: str | Path = ARTIFACTS / "label_map.pbtxt",
             scenes: int = 500, iou_threshold: float = 0.5) -> dict:
    """Evaluate the detector on the first ``scenes`` scenes of both sets."""
    detector = Detector.load(model_dir, load_label_map(label_map))
    return {"held_out": score(detector, [shapes.scene("test", i) for i in range(scenes)],
                              iou_threshold),
            "other_generator": score(detector, [shapes.other_scene(i) for i in range(scenes)],
                                     iou_threshold)}


def score(detector: Detector, scenes: list[shapes.Scene], iou_threshold: float = 0.5,
          min_score: float = 0.5) -> dict:
    """mAP@``iou_threshold`` and each class's AP on ``scenes``, and how many objects are
    found (right label, IoU at least the threshold) at the service's default ``min_score``."""
    truths, found = [], []
    for scene in scenes:
        truths.append(scene.shapes)
        found.append(in_pixels(detector.detect(np.asarray(scene.image)), scene.image.size))
    per_class = {label: average_precision(truths, found, label, iou_threshold)
                 for label in shapes.LABELS}
    return {"map50": round(float(np.mean(list(per_class.values()))), 4),
            "ap50": {k: round(v, 4) for k, v in per_class.items()},
            "scenes": len(scenes), "objects": sum(len(t) for t in truths),
            "found_at_min_score": _found(truths, found, iou_threshold, min_score),
            "min_score": min_score}


def _found(truths, found, iou_threshold: float, min_score: float) -> int:
    """Objects matched by a kept detection of their label (each detection used once)."""
    return sum(sum(matched(shapes_, [d for d in dets if d[1] >= min_score], iou_threshold))
               for shapes_, dets in zip(truths, found))


def matched(truth: list[shapes.Shape], detections: list[tuple],
            iou_threshold: float = 0.5) -> list[bool]:
    """Whether each true shape is found by one of ``detections`` (``in_pixels``) of its
    label with an IoU of at least ``iou_threshold``; each detection finds one shape,
    taken greedily in the shapes' order."""
    used: set[int] = set()
    hits = []
    for shape in truth:
        best = max(((shapes.iou(box, shape.box), k) for k, (name, _, box) in
                    enumerate(detections) if name == shape.label and k not in used),
                   default=(0.0, -1))
        hits.append(best[0] >= iou_threshold)
        if hits[-1]:
            used.add(best[1])
    return hits


def in_pixels(detections: list[Detection], size: tuple[int, int]) -> list[tuple]:
    """(label, score, (x0, y0, x1, y1) in pixels) per detection."""
    width, height = size
    return [(d.label, d.score, (d.box[1] * width, d.box[0] * height,
                                d.box[3] * width, d.box[2] * height)) for d in detections]


def average_precision(truths: list[list[shapes.Shape]], found: list[list[tuple]],
                      label: str, iou_threshold: float = 0.5) -> float:
    """AP of one class: detections ranked by score, each matched greedily to the best
    unmatched true box of its image with IoU >= the threshold."""
    positives = sum(1 for shapes_ in truths for s in shapes_ if s.label == label)
    ranked = sorted(((score, image, box) for image, dets in enumerate(found)
                     for name, score, box in dets if name == label), key=lambda r: -r[0])
    matched: set[tuple[int, int]] = set()
    hits = []
    for _, image, box in ranked:
        candidates = [(shapes.iou(box, s.box), k) for k, s in enumerate(truths[image])
                      if s.label == label and (image, k) not in matched]
        best = max(candidates, default=(0.0, -1))
        hits.append(best[0] >= iou_threshold)
        if hits[-1]:
            matched.add((image, best[1]))
    return _area(np.array(hits, bool), positives)


def _area(hits: np.ndarray, positives: int) -> float:
    if positives == 0:
        return 0.0
    true_pos = np.cumsum(hits)
    recall = true_pos / positives
    precision = true_pos / np.arange(1, len(hits) + 1)
    # all-point interpolation: precision at recall r is the best precision at >= r
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def main(argv: list[str] | None = None) -> None:
    """Print the mAP@0.5 and each class's AP."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ARTIFACTS / "model")
    parser.add_argument("--label-map", type=Path, default=ARTIFACTS / "label_map.pbtxt")
    parser.add_argument("--scenes", type=int, default=500)
    args = parser.parse_args(argv)
    report = evaluate(args.model, args.label_map, args.scenes)
    for name, title in (("held_out", "held-out scenes of the training generator"),
                        ("other_generator", "scenes of the other generator (never trained on)")):
        part = report[name]
        print(f"mAP@0.5: {part['map50']:.4f} on {part['scenes']} {title} "
              f"({part['objects']} objects; {part['found_at_min_score']} found at "
              f"min_score {part['min_score']})")
        for label, ap in part["ap50"].items():
            print(f"  AP@0.5 {label}: {ap:.4f}")


if __name__ == "__main__":
    main()
