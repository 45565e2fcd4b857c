"""The detector's parts: the generated scenes, the targets and their decoding, the AP
computation, and the export's signature."""
from __future__ import annotations

import numpy as np
import pytest

from services.object_detection import shapes
from services.object_detection.evaluate import average_precision


def test_scenes_are_reproducible_and_well_formed():
    first, again = shapes.scene("test", 3), shapes.scene("test", 3)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert first.shapes == again.shapes
    for index in range(30):
        drawn = shapes.scene("train", index)
        width, height = drawn.image.size
        assert shapes.MIN_SIDE <= min(width, height) and max(width, height) <= shapes.MAX_SIDE
        assert 1 <= len(drawn.shapes) <= 6
        for shape in drawn.shapes:
            x0, y0, x1, y1 = shape.box
            assert 0 <= x0 < x1 <= width + 1 and 0 <= y0 < y1 <= height + 1
        boxes = [s.box for s in drawn.shapes]
        # shapes may overlap (partial occlusion), but never so much that one hides another
        assert all(shapes.iou(a, b) <= 0.3 for i, a in enumerate(boxes) for b in boxes[:i])


def test_the_training_scenes_are_domain_randomised():
    """Over a few dozen scenes: outlined and filled shapes, colours off any palette,
    small and large shapes, rotated squares, overlaps."""
    drawn = [shapes.scene("train", i) for i in range(60)]
    every = [s for d in drawn for s in d.shapes]
    assert {s.filled for s in every} == {True, False}
    assert len({s.colour for s in every}) > 0.9 * len(every)
    sides = [min(s.box[2] - s.box[0], s.box[3] - s.box[1]) / min(d.image.size)
             for d in drawn for s in d.shapes]
    assert min(sides) < 0.1 and max(sides) > 0.35
    squares = [s for s in every if s.label == "square"]
    assert any(abs(s.points[0][1] - s.points[1][1]) > 1 for s in squares)  # turned
    assert any(shapes.iou(a.box, b.box) > 0.02 for d in drawn
               for i, a in enumerate(d.shapes) for b in d.shapes[:i])


def test_the_other_generator_is_reproducible_and_not_the_training_one():
    first, again = shapes.other_scene(4), shapes.other_scene(4)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert first.shapes == again.shapes and 1 <= len(first.shapes) <= 7
    assert all(s.label in shapes.LABELS for s in first.shapes)


def test_the_splits_do_not_share_scenes():
    assert not np.array_equal(np.asarray(shapes.scene("train", 0).image),
                              np.asarray(shapes.scene("test", 0).image))


def truth(label, box):
    return shapes.Shape(label, (200, 30, 30), box)


def test_average_precision():
    truths = [[truth("circle", (0, 0, 10, 10)), truth("circle", (20, 20, 30, 30))]]
    perfect = [[("circle", 0.9, (0, 0, 10, 10)), ("circle", 0.8, (20, 20, 30, 30))]]
    assert average_precision(truths, perfect, "circle") == pytest.approx(1.0)
    assert average_precision(truths, [[]], "circle") == 0.0
    # a confident false positive first, then both objects: precision 1/2 at recall 1/2,
    # 2/3 at recall 1; all-point interpolation takes the best precision at or beyond
    # each recall, so 2/3 throughout
    noisy = [[("circle", 0.99, (50, 50, 60, 60)), ("circle", 0.9, (0, 0, 10, 10)),
              ("circle", 0.8, (20, 20, 30, 30))]]
    assert average_precision(truths, noisy, "circle") == pytest.approx(2 / 3)
    # found, then a false positive, then found: 1 up to recall 1/2, then 2/3
    mixed = [[("circle", 0.99, (0, 0, 10, 10)), ("circle", 0.9, (50, 50, 60, 60)),
              ("circle", 0.8, (20, 20, 30, 30))]]
    assert average_precision(truths, mixed, "circle") == pytest.approx(0.5 + 0.5 * 2 / 3)
    # a duplicate of a found object counts as a false positive
    double = [[("circle", 0.9, (0, 0, 10, 10)), ("circle", 0.8, (0, 0, 10, 10))]]
    assert average_precision(truths, double, "circle") == pytest.approx(0.5)


def test_decoding_the_targets_gives_back_the_true_boxes():
    """What the network should output, put through the exported decoding, is the truth:
    letterbox, grid, offsets, sizes and the return to original coordinates agree."""
    import tensorflow as tf

    from services.object_detection import network
    from services.object_detection.train import _letterbox_uint8
    for index in range(5):
        drawn = shapes.scene("test", index)
        _, new_h, new_w = _letterbox_uint8(tf.constant(np.asarray(drawn.image)))
        target = network.targets(drawn, int(new_h), int(new_w))
        prediction = tf.constant(target[None, ..., :-1])
        out = network.decode(prediction, new_h, new_w)
        count = int(out["num_detections"][0])
        width, height = drawn.image.size
        found = [(shapes.LABELS[int(c) - 1], (b[1] * width, b[0] * height, b[3] * width,
                                              b[2] * height))
                 for b, c in zip(out["detection_boxes"][0][:count].numpy(),
                                 out["detection_classes"][0][:count].numpy())]
        for shape in drawn.shapes:
            assert any(label == shape.label and shapes.iou(box, shape.box) > 0.95
                       for label, box in found), (index, shape)


def test_an_exported_network_has_the_od_api_signature(tmp_path):
    """export() of a (here untrained) network gives a SavedModel the service loads:
    ``input_tensor`` of any size in, the four OD API outputs in their shapes out."""
    import tensorflow as tf

    from services.object_detection.detector import Detector
    from services.object_detection.network import MAX_DETECTIONS, build_network, export
    export(build_network(), str(tmp_path))
    detector = Detector.load(tmp_path, {1: "circle", 2: "square", 3: "triangle"})
    outputs = detector._serve(input_tensor=tf.zeros([1, 37, 151, 3], tf.uint8))
    assert outputs["detection_boxes"].shape == (1, MAX_DETECTIONS, 4)
    assert outputs["detection_scores"].shape == outputs["detection_classes"].shape
    assert outputs["num_detections"].shape == (1,)
    found = detector.detect(np.asarray(shapes.scene("test", 0).image))
    assert all(d.label in shapes.LABELS and 0 <= d.score <= 1 for d in found)
