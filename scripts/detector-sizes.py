"""``python scripts/detector-sizes.py <artifact dir> [<artifact dir> ...]``: how often
each detector finds the other generator's shapes (right label, IoU >= 0.5, score >=
0.3), by size (under or over 12 % of the image's shorter side) and by filled or
outlined, on its first 150 scenes. An artifact dir holds ``model/`` and
``label_map.pbtxt`` (``services/object_detection/artifacts``, or an older copy)."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.object_detection import shapes  # noqa: E402
from services.object_detection.detector import Detector  # noqa: E402
from services.object_detection.evaluate import in_pixels, matched  # noqa: E402
from services.object_detection.label_map import load_label_map  # noqa: E402

SMALL, MIN_SCORE, SCENES = 0.12, 0.3, 150


def found_by_kind(detector: Detector) -> dict[tuple[str, str], list[bool]]:
    """Per (size, fill): whether each shape of the scenes was found."""
    kinds: dict[tuple[str, str], list[bool]] = {}
    for index in range(SCENES):
        scene = shapes.other_scene(index)
        kept = [d for d in in_pixels(detector.detect(np.asarray(scene.image)),
                                     scene.image.size) if d[1] >= MIN_SCORE]
        for shape, hit in zip(scene.shapes, matched(scene.shapes, kept)):
            side = max(shape.box[2] - shape.box[0], shape.box[3] - shape.box[1])
            kind = ("small" if side / min(scene.image.size) < SMALL else "large",
                    "filled" if shape.filled else "outlined")
            kinds.setdefault(kind, []).append(hit)
    return kinds


def main() -> None:
    """One line per artifact dir."""
    for folder in map(Path, sys.argv[1:]):
        detector = Detector.load(folder / "model", load_label_map(folder / "label_map.pbtxt"))
        kinds = found_by_kind(detector)
        print(folder, "  ".join(f"{s} {f}: {np.mean(v):.2f} of {len(v)}"
                               for (s, f), v in sorted(kinds.items())))


if __name__ == "__main__":
    main()
