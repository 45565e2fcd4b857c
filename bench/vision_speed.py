"""Serving speed of the vision models, in process, through each service's own app
(validation, decoding, the compiled signature, the answer), with a baseline measured in
the same run:

    python -m bench.vision_speed [--baseline-detector DIR] [--rounds 5]

- object_detection: batches of 8 base64 PNG scenes (4 of the held-out split, 4 of the
  other generator) against the shipped model and, when given, another SavedModel (the
  one before a change: ``git show <commit>:services/object_detection/artifacts/...`` or
  a copy). Rounds alternate between the two, so load on a shared machine hits both
  alike; the figure is each one's median images/s and their ratio.
- image_classifier: batches of 8 VGG-recipe tensors (base64), images/s.
"""
from __future__ import annotations

import argparse
import statistics
import time

from common.media.images import encode_png


def _png(image) -> str:
    return encode_png(image)


def detector_bodies() -> list[dict]:
    from services.object_detection import shapes
    images = [shapes.scene("test", 800 + i).image for i in range(4)]
    images += [shapes.other_scene(800 + i).image for i in range(4)]
    return [{"image": _png(image)} for image in images]


def classifier_bodies() -> list[dict]:
    from services.image_classifier.data import other_scene
    from services.image_classifier.recipe import encode, from_image
    return [{"tensor": encode(from_image(other_scene(800 + i).image))} for i in range(8)]


def images_per_s(client, body: list[dict], calls: int) -> float:
    """Images per second over ``calls`` batch requests (after one warm call)."""
    assert client.post("/predict", json=body).status_code == 200
    start = time.perf_counter()
    for _ in range(calls):
        response = client.post("/predict", json=body)
        assert response.status_code == 200, response.get_json()
    return calls * len(body) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Print images/s of each model (and the ratio to the baseline detector)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-detector", help="another OD API SavedModel folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10, help="batch requests per round")
    args = parser.parse_args(argv)
    from services.image_classifier import create_app as classifier_app
    from services.object_detection import create_app as detector_app
    apps = {"object_detection (shipped)": detector_app({"LOAD_MODEL": "sync"}).test_client()}
    if args.baseline_detector:
        apps["object_detection (baseline)"] = detector_app(
            {"LOAD_MODEL": "sync", "MODEL_DIR": args.baseline_detector}).test_client()
    apps["image_classifier"] = classifier_app({"LOAD_MODEL": "sync"}).test_client()
    bodies = {name: classifier_bodies() if "classifier" in name else detector_bodies()
              for name in apps}
    figures = {name: [] for name in apps}
    for _ in range(args.rounds):
        for name, client in apps.items():
            figures[name].append(images_per_s(client, bodies[name], args.calls))
    medians = {name: statistics.median(values) for name, values in figures.items()}
    for name, value in medians.items():
        print(f"{name}: {value:.1f} images/s (median of {args.rounds} rounds of "
              f"{args.calls} batches of 8)")
    if args.baseline_detector:
        ratio = medians["object_detection (shipped)"] / medians["object_detection (baseline)"]
        print(f"object_detection shipped / baseline: {ratio:.3f}")


if __name__ == "__main__":
    main()
