"""Running a detector with the TF Object Detection API's SavedModel signature.

Any SavedModel whose ``serving_default`` takes ``input_tensor`` (uint8 [1, H, W, 3]) and
answers ``detection_boxes`` [1, N, 4] (ymin, xmin, ymax, xmax, normalised),
``detection_scores`` [1, N], ``detection_classes`` [1, N] (1-based label ids, as floats)
and ``num_detections`` [1] works: the project's own shape detector or a model zoo one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

SIGNATURE = "serving_default"
REQUIRED_OUTPUTS = ("detection_boxes", "detection_scores", "detection_classes",
                    "num_detections")


@dataclass(frozen=True)
class Detection:
    """One detected object; ``box`` is (ymin, xmin, ymax, xmax), normalised to 0..1."""

    class_id: int
    label: str
    score: float
    box: tuple[float, float, float, float]


class Detector:
    """A loaded OD API SavedModel and its label map; one compiled call per image."""

    def __init__(self, serve: Any, labels: Mapping[int, str]):
        self._serve = serve
        self.labels = dict(labels)

    @classmethod
    def load(cls, model_dir: str | Path, labels: Mapping[int, str]) -> "Detector":
        """Load ``model_dir`` (imports TensorFlow: call after the fork) and check that it
        has the OD API signature."""
        import tensorflow as tf
        loaded = tf.saved_model.load(str(model_dir))
        if SIGNATURE not in loaded.signatures:
            raise ValueError(f"{model_dir} has no {SIGNATURE!r} signature")
        serve = loaded.signatures[SIGNATURE]
        _check_signature(serve, model_dir)
        detector = cls(serve, labels)
        detector._keep = loaded  # the signature's variables live as long as the object
        return detector

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        """Every detection the model reports for one uint8 [H, W, 3] image, best first."""
        import tensorflow as tf
        outputs = self._serve(input_tensor=tf.constant(pixels[None], tf.uint8))
        count = int(outputs["num_detections"].numpy().reshape(-1)[0])
        boxes = outputs["detection_boxes"].numpy()[0][:count]
        scores = outputs["detection_scores"].numpy()[0][:count]
        classes = outputs["detection_classes"].numpy()[0][:count]
        found = [Detection(int(c), self.label(int(c)), float(s),
                           tuple(float(v) for v in np.clip(b, 0.0, 1.0)))
                 for b, s, c in zip(boxes, scores, classes)]
        return sorted(found, key=lambda d: -d.score)

    def label(self, class_id: int) -> str:
        """The name of a label id; an id missing from the label map is named by number."""
        return self.labels.get(class_id, f"class_{class_id}")


def _check_signature(serve: Any, model_dir: str | Path) -> None:
    inputs = serve.structured_input_signature[1]
    if "input_tensor" not in inputs:
        raise ValueError(f"{model_dir}: the {SIGNATURE} signature takes "
                         f"{sorted(inputs)}, not 'input_tensor'")
    missing = [k for k in REQUIRED_OUTPUTS if k not in serve.structured_outputs]
    if missing:
        raise ValueError(f"{model_dir}: the {SIGNATURE} signature lacks {missing}")
