"""``python scripts/detector-validation.py ARTIFACTS_DIR [ARTIFACTS_DIR ...] [--scenes 500]``:
mAP@0.5 of each trained detector (a ``train.py --out`` folder) on validation-split scenes
that its training did not fit on: indices from ``--validation-scenes`` (300, those whose
loss ``fit`` reports) up. The way to choose between training runs without looking at
the held-out test split or the other generator, which stay for the figures."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.object_detection import shapes  # noqa: E402
from services.object_detection.detector import Detector  # noqa: E402
from services.object_detection.evaluate import score  # noqa: E402
from services.object_detection.label_map import load_label_map  # noqa: E402


def main() -> None:
    """Print each folder's validation mAP@0.5 and per-class AP, on the same scenes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--scenes", type=int, default=500)
    parser.add_argument("--validation-scenes", type=int, default=300,
                        help="the first validation indices, which training saw as val_loss")
    args = parser.parse_args()
    start = args.validation_scenes
    scenes = [shapes.scene("validation", start + i) for i in range(args.scenes)]
    for folder in args.folders:
        detector = Detector.load(folder / "model", load_label_map(folder / "label_map.pbtxt"))
        part = score(detector, scenes)
        aps = " ".join(f"{k} {v:.4f}" for k, v in part["ap50"].items())
        print(f"{folder}: mAP@0.5 {part['map50']:.4f} on validation {start}..{start + len(scenes) - 1}"
              f" ({part['found_at_min_score']} of {part['objects']} found at 0.5; {aps})")


if __name__ == "__main__":
    main()
