"""The shipped detector: a small CenterNet-style CNN and its TF OD API serving function.

The network sees a 128x128 letterboxed image (the longer side scaled to 128, the rest
padded with black, so shapes keep their proportions) and predicts, on a 32x32 grid
(stride 4: the features of strides 8 and 16 are brought back up to meet those of stride
4, where a small shape covers at least a cell or two), one heat map per class whose peaks
are object centres, plus the box size and the centre's offset within its cell. The
exported serving function takes the TF Object Detection API's input (``input_tensor``:
uint8 [1, H, W, 3]), letterboxes, runs the network, decodes the peaks into boxes and
applies per-class non-maximum suppression, and answers with the API's outputs, with
boxes normalised to the *original* image.

TensorFlow is imported inside functions: the service and its tests import
:mod:`services.object_detection` without loading TensorFlow before gunicorn forks.
"""
from __future__ import annotations

import math

import numpy as np

from .shapes import LABELS, Scene

INPUT_SIZE = 128
STRIDE = 4
GRID = INPUT_SIZE // STRIDE
NUM_CLASSES = len(LABELS)
#: Channels of the target array: heat map per class, size (w, h), offset (x, y), mask.
TARGET_CHANNELS = NUM_CLASSES + 5
MAX_DETECTIONS = 50
SCORE_THRESHOLD = 0.01  # low: a low-scored detection only adds recall to mAP; callers set min_score
NMS_IOU = 0.5


def letterbox_shape(height: int, width: int) -> tuple[int, int]:
    """The (height, width) an image is resized to before padding to the input square."""
    scale = INPUT_SIZE / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def letterbox(image):
    """uint8 [H, W, 3] -> (float32 [128, 128, 3] in 0..1, resized height, width): the
    image scaled to fit, top-left aligned, padded with zeros. Serving and training use
    this same function, so the network sees identical inputs in both."""
    import tensorflow as tf
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    scale = INPUT_SIZE / tf.cast(tf.maximum(height, width), tf.float32)
    new_h = tf.maximum(1, tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32))
    new_w = tf.maximum(1, tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32))
    resized = tf.image.resize(tf.cast(image, tf.float32) / 255.0, tf.stack([new_h, new_w]),
                              antialias=True)
    padded = tf.image.pad_to_bounding_box(resized, 0, 0, INPUT_SIZE, INPUT_SIZE)
    return tf.clip_by_value(padded, 0.0, 1.0), new_h, new_w


def build_network():
    """The Keras network: image in, [GRID, GRID, TARGET_CHANNELS - 1] predictions out
    (class heat maps as probabilities, box size, centre offset)."""
    import keras
    from keras import layers

    def conv(x, filters, stride=1, kernel=3):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = conv(image, 16, 2)                   # 64x64, stride 2
    c32 = conv(conv(x, 24, 2), 24)           # 32x32, stride 4
    c16 = conv(conv(c32, 48, 2), 48)         # 16x16, stride 8
    c8 = conv(conv(c16, 96, 2), 96)          # 8x8, stride 16: a wider view for large shapes
    x = layers.Concatenate()([c16, layers.UpSampling2D(2)(conv(c8, 48, kernel=1))])
    x = conv(conv(x, 64), 64)
    # back up to stride 4, where a small shape covers at least a cell or two
    x = layers.Concatenate()([c32, layers.UpSampling2D(2)(conv(x, 24, kernel=1))])
    x = conv(conv(x, 24), 24)
    # a heat map starts near 0.1 everywhere (CenterNet's prior), so early training is
    # not swamped by the many empty cells
    heat = layers.Conv2D(NUM_CLASSES, 1, activation="sigmoid", name="heat",
                         bias_initializer=keras.initializers.Constant(-2.19))(x)
    size = layers.Conv2D(2, 1, name="size")(x)
    offset = layers.Conv2D(2, 1, activation="sigmoid", name="offset")(x)
    out = layers.Concatenate(name="predictions")([heat, size, offset])
    model = keras.Model(image, out, name="shape_detector")
    if model.output_shape[1:3] != (GRID, GRID):  # STRIDE changed without the layers
        raise ValueError(f"the network ends on {model.output_shape[1:3]}, "
                         f"not on the {GRID}x{GRID} grid")
    return model


def targets(scene: Scene, new_h: int, new_w: int) -> np.ndarray:
    """The training target of a letterboxed scene: [GRID, GRID, TARGET_CHANNELS]."""
    out = np.zeros((GRID, GRID, TARGET_CHANNELS), np.float32)
    width, height = scene.image.size
    sx, sy = new_w / width, new_h / height
    ys, xs = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    for shape in scene.shapes:
        x0, y0, x1, y1 = shape.box
        w, h = (x1 - x0) * sx, (y1 - y0) * sy
        cx, cy = (x0 + x1) / 2 * sx / STRIDE, (y0 + y1) / 2 * sy / STRIDE
        col, row = min(GRID - 1, int(cx)), min(GRID - 1, int(cy))
        sigma = max(0.5, math.hypot(w, h) / STRIDE / 6)
        gauss = np.exp(-((xs - col) ** 2 + (ys - row) ** 2) / (2 * sigma ** 2))
        k = shape.class_id - 1
        out[..., k] = np.maximum(out[..., k], gauss)
        out[row, col, NUM_CLASSES:] = (w / INPUT_SIZE, h / INPUT_SIZE, cx - col, cy - row, 1)
    return out


def detection_loss(y_true, y_pred):
    """CenterNet's loss: penalty-reduced focal loss on the heat maps, L1 on size and
    offset at object centres; each part divided by the number of objects."""
    import tensorflow as tf
    heat_true, heat_pred = y_true[..., :NUM_CLASSES], y_pred[..., :NUM_CLASSES]
    mask = y_true[..., -1:]
    count = tf.maximum(tf.reduce_sum(mask), 1.0)
    p = tf.clip_by_value(heat_pred, 1e-6, 1 - 1e-6)
    is_peak = tf.cast(heat_true > 0.999, tf.float32)
    positive = is_peak * tf.square(1 - p) * tf.math.log(p)
    negative = (1 - is_peak) * tf.pow(1 - heat_true, 4) * tf.square(p) * tf.math.log(1 - p)
    focal = -tf.reduce_sum(positive + negative) / count
    size_err = tf.abs(y_true[..., NUM_CLASSES:NUM_CLASSES + 2]
                      - y_pred[..., NUM_CLASSES:NUM_CLASSES + 2])
    offset_err = tf.abs(y_true[..., NUM_CLASSES + 2:NUM_CLASSES + 4]
                        - y_pred[..., NUM_CLASSES + 2:NUM_CLASSES + 4])
    regression = tf.reduce_sum(mask * (5.0 * size_err + offset_err)) / count
    return focal + regression


def decode(predictions, new_h, new_w):
    """Network output [1, GRID, GRID, C] -> the OD API's output dictionary, boxes
    normalised to the original image (before letterboxing)."""
    import tensorflow as tf
    heat = predictions[..., :NUM_CLASSES]
    # a peak is a cell that is the maximum of its 3x3 neighbourhood: CenterNet's NMS
    peaks = tf.cast(tf.equal(heat, tf.nn.max_pool2d(heat, 3, 1, "SAME")), heat.dtype)
    scores = tf.reshape(heat * peaks, [1, GRID * GRID, NUM_CLASSES])
    boxes = tf.reshape(_boxes(predictions, new_h, new_w), [1, GRID * GRID, 1, 4])
    nms = tf.image.combined_non_max_suppression(
        boxes, scores, max_output_size_per_class=MAX_DETECTIONS,
        max_total_size=MAX_DETECTIONS, iou_threshold=NMS_IOU,
        score_threshold=SCORE_THRESHOLD, clip_boxes=False)
    return {"detection_boxes": nms.nmsed_boxes,
            "detection_scores": nms.nmsed_scores,
            "detection_classes": nms.nmsed_classes + 1.0,  # the API's ids are 1-based
            "num_detections": tf.cast(nms.valid_detections, tf.float32)}


def _boxes(predictions, new_h, new_w):
    """[1, GRID, GRID, 4] boxes (ymin, xmin, ymax, xmax), normalised to the image."""
    import tensorflow as tf
    rows, cols = tf.meshgrid(tf.range(GRID, dtype=tf.float32),
                             tf.range(GRID, dtype=tf.float32), indexing="ij")
    size = predictions[..., NUM_CLASSES:NUM_CLASSES + 2] * INPUT_SIZE
    offset = predictions[..., NUM_CLASSES + 2:NUM_CLASSES + 4]
    cx = (cols + offset[..., 0]) * STRIDE
    cy = (rows + offset[..., 1]) * STRIDE
    h_scale, w_scale = tf.cast(new_h, tf.float32), tf.cast(new_w, tf.float32)
    box = tf.stack([(cy - size[..., 1] / 2) / h_scale, (cx - size[..., 0] / 2) / w_scale,
                    (cy + size[..., 1] / 2) / h_scale, (cx + size[..., 0] / 2) / w_scale],
                   axis=-1)
    return tf.clip_by_value(box, 0.0, 1.0)


def export(network, directory: str) -> None:
    """Save ``network`` as a SavedModel whose ``serving_default`` signature is the TF
    Object Detection API's (``input_tensor`` uint8 [1, H, W, 3] in, detections out)."""
    import tensorflow as tf

    class Detector(tf.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                                    name="input_tensor")])
        def serve(self, input_tensor):
            image, new_h, new_w = letterbox(input_tensor[0])
            predictions = self.net(image[None], training=False)
            return decode(predictions, new_h, new_w)

    # a fresh copy holds the weights only (not the optimizer's slots): a third the size
    clean = build_network()
    clean.set_weights(network.get_weights())
    module = Detector(clean)
    tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})
