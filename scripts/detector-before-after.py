"""``python scripts/detector-before-after.py <old checkout> [--scenes 300]``: mAP@0.5 of
the detector of ``<old checkout>`` (e.g. ``git archive 8530233 | tar -x -C /tmp/old``)
and of this checkout's, in one run, on three sets: the old checkout's own generator
(its ``shapes.py``), this checkout's held-out randomised scenes, and the other
generator's scenes."""
import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.object_detection import shapes  # noqa: E402
from services.object_detection.detector import Detector  # noqa: E402
from services.object_detection.evaluate import ARTIFACTS, score  # noqa: E402
from services.object_detection.label_map import load_label_map  # noqa: E402


def old_generator(checkout: Path):
    """The old checkout's shapes.py, loaded from its file (it imports only NumPy and PIL)."""
    spec = importlib.util.spec_from_file_location(
        "old_shapes", checkout / "services" / "object_detection" / "shapes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_shapes"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("--scenes", type=int, default=300)
    args = parser.parse_args()
    labels = load_label_map(ARTIFACTS / "label_map.pbtxt")
    models = {"before": Detector.load(args.old / "services/object_detection/artifacts/model",
                                      labels),
              "after": Detector.load(ARTIFACTS / "model", labels)}
    old = old_generator(args.old)
    sets = {"old generator test": [old.scene("test", i) for i in range(args.scenes)],
            "randomised held-out": [shapes.scene("test", i) for i in range(args.scenes)],
            "other generator": [shapes.other_scene(i) for i in range(args.scenes)]}
    for name, scenes in sets.items():
        for label, detector in models.items():
            report = score(detector, scenes)
            print(f"{name:20s} {label:6s} mAP@0.5 {report['map50']:.4f}  found at 0.5 "
                  f"{report['found_at_min_score']}/{report['objects']}")


if __name__ == "__main__":
    main()
