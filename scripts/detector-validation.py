"""``python scripts/detector-validation.py ARTIFACTS_DIR [ARTIFACTS_DIR ...] [--scenes 500]``:
mAP@0.5 of trained detectors (``train.py --out`` folders) on the same validation scenes.

Training reports its ``val_loss`` on the first ``validation_scenes`` scenes of the
validation split (300 by default; each folder's ``meta.json`` says how many), so the
scenes scored here start after the largest of those: no run has seen them in any way.
Use it to choose between training runs, so that the held-out test split and the other
generator stay unread until the final figures."""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.object_detection import shapes  # noqa: E402
from services.object_detection.detector import Detector  # noqa: E402
from services.object_detection.evaluate import score  # noqa: E402
from services.object_detection.label_map import load_label_map  # noqa: E402
from services.object_detection.train import TrainConfig  # noqa: E402


def reported_scenes(folder: Path) -> int:
    """How many validation scenes a run's training reported ``val_loss`` on."""
    meta = folder / "meta.json"
    if not meta.exists():
        return TrainConfig().validation_scenes
    return int(json.loads(meta.read_text())["config"]["validation_scenes"])


def main() -> None:
    """Print each folder's validation mAP@0.5 and per-class AP, on the same scenes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="train.py --out folders")
    parser.add_argument("--scenes", type=int, default=500, help="how many scenes to score")
    parser.add_argument("--start", type=int,
                        help="the first validation index scored (default: just after the "
                             "scenes any of the runs reported val_loss on)")
    args = parser.parse_args()
    start = args.start if args.start is not None else max(map(reported_scenes, args.folders))
    scenes = [shapes.scene("validation", start + i) for i in range(args.scenes)]
    for folder in args.folders:
        detector = Detector.load(folder / "model", load_label_map(folder / "label_map.pbtxt"))
        part = score(detector, scenes)
        aps = " ".join(f"{k} {v:.4f}" for k, v in part["ap50"].items())
        last = start + len(scenes) - 1
        print(f"{folder}: mAP@0.5 {part['map50']:.4f} on validation {start}..{last}"
              f" ({part['found_at_min_score']} of {part['objects']} found at 0.5; {aps})")


if __name__ == "__main__":
    main()
