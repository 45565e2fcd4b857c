"""The object_detection service: labelled boxes for the objects in an image.

It serves any SavedModel with the TF Object Detection API's signature plus its
``label_map.pbtxt``; the shipped one is the project's shape detector (train.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from PIL import Image, ImageDraw
from marshmallow import Schema, fields, validate

from common import Model, create_service_app
from common.core import context as ctx
from common.media.images import (IMAGE_SERVICE_DEFAULTS, Base64Image, ImageLimits, encode_png,
                           open_image,
                           per_item, sample_png_base64, to_array)
from common.media.safe_fetch import FETCH_DEFAULTS, FetchPolicy, SafeFetcher, url_field
from common.serving.validation import Flag, InputSchema, Whole

from .detector import Detection, Detector
from .label_map import load_label_map

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


class DetectInput(InputSchema):
    """One image, as base64 or as a URL (exactly one), and the score cut-off."""

    exactly_one_of = ("image", "url")
    image = Base64Image(metadata={"description": "The image file, base64-encoded."})
    url = url_field(metadata={
        "description": "An http(s) URL of the image, fetched with the downloader's checks "
                       "(no private addresses, size and time limits)."})
    min_score = fields.Float(load_default=0.5, validate=validate.Range(min=0.0, max=1.0),
                             metadata={"description": "Detections scoring less are left out."})
    max_detections = Whole(load_default=100, validate=validate.Range(min=1, max=100))
    draw = Flag(load_default=False, metadata={
        "description": "Also return the image with its detections drawn (boxes and "
                       "labels), as a base64 PNG in `image`: what the video pipeline uses "
                       "to run object_detection as a per-frame service."})


class BoxSchema(Schema):
    """Normalised coordinates (0..1), in the TF OD API's order."""

    ymin = fields.Float(required=True)
    xmin = fields.Float(required=True)
    ymax = fields.Float(required=True)
    xmax = fields.Float(required=True)


class PixelBoxSchema(Schema):
    """Pixel coordinates in the original image: left, top, right, bottom (exclusive)."""

    left = fields.Integer(required=True)
    top = fields.Integer(required=True)
    right = fields.Integer(required=True)
    bottom = fields.Integer(required=True)


class DetectionSchema(Schema):
    """One detected object."""

    label = fields.String(required=True)
    class_id = fields.Integer(required=True, metadata={"description": "The label map id."})
    score = fields.Float(required=True)
    box = fields.Nested(BoxSchema, required=True)
    box_pixels = fields.Nested(PixelBoxSchema, required=True)


class DetectOutput(Schema):
    """The image's size and its detections, best score first."""

    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    detections = fields.List(fields.Nested(DetectionSchema), required=True)
    image = fields.String(metadata={"format": "byte", "description": "Only with `draw`: "
                                    "the image with the boxes drawn, a base64 PNG."})


class ObjectDetection(Model):
    """A TF OD API SavedModel; one compiled call per image (the signature is batch 1)."""

    name = "object_detection"
    version = "1.0.0"
    description = ("Finds objects in an image (base64 JPEG/PNG/GIF or a URL) and returns "
                   "labelled boxes with scores. Serves any TF Object Detection API "
                   "SavedModel; the shipped one detects circles, squares and triangles.")
    tags = ("vision", "detection", "tensorflow")
    input_schema = DetectInput
    output_schema = DetectOutput
    sample_input = {"image": sample_png_base64()}
    # a URL's image may change; (base64 images arrive as bytes, which are never cached)
    deterministic = False

    def load(self) -> None:
        """Load the SavedModel and label map (imports TensorFlow here, after the fork)."""
        model_dir = Path(self.config["MODEL_DIR"] or ARTIFACTS / "model")
        label_map = self.config["LABEL_MAP"] or _default_label_map(model_dir)
        self.limits = ImageLimits.for_service(self.config)
        self.fetcher = SafeFetcher(FetchPolicy.from_config(self.config))
        self.detector = Detector.load(model_dir, load_label_map(label_map))

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decode (and fetch) every image first, so a bad one fails before any work,
        then one signature call per image."""
        pixels = per_item(inputs, self._pixels)
        return [self._detect(image, item) for image, item in zip(pixels, inputs)]

    def _pixels(self, item: dict[str, Any]):
        data = item.get("image")
        if data is None:
            current = ctx.current()
            data = self.fetcher.fetch(item["url"], current.remaining() if current else None).data
        return to_array(open_image(data, self.limits))

    def _detect(self, pixels, item: dict[str, Any]) -> dict[str, Any]:
        height, width = pixels.shape[:2]
        kept = [d for d in self.detector.detect(pixels) if d.score >= item["min_score"]]
        answer = {"width": width, "height": height,
                  "detections": [_as_output(d, width, height)
                                 for d in kept[:item["max_detections"]]]}
        if item["draw"]:
            answer["image"] = encode_png(draw_detections(pixels, answer["detections"]))
        return answer


def _as_output(detection: Detection, width: int, height: int) -> dict[str, Any]:
    ymin, xmin, ymax, xmax = detection.box
    return {"label": detection.label, "class_id": detection.class_id,
            "score": round(detection.score, 4),
            "box": {"ymin": round(ymin, 4), "xmin": round(xmin, 4),
                    "ymax": round(ymax, 4), "xmax": round(xmax, 4)},
            "box_pixels": {"left": round(xmin * width), "top": round(ymin * height),
                           "right": round(xmax * width), "bottom": round(ymax * height)}}


#: Box colours by label id (cycled), bright on most backgrounds.
_COLOURS = ((255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255))


def draw_detections(pixels, detections: list[dict[str, Any]]) -> Image.Image:
    """The image with each detection's box and label drawn on it."""
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for detection in detections:
        box = detection["box_pixels"]
        colour = _COLOURS[detection["class_id"] % len(_COLOURS)]
        corners = (box["left"], box["top"], max(box["left"], box["right"] - 1),
                   max(box["top"], box["bottom"] - 1))
        draw.rectangle(corners, outline=colour, width=2)
        draw.text((box["left"] + 2, box["top"] + 1), detection["label"], fill=colour)
    return image


def _default_label_map(model_dir: Path) -> Path:
    """``label_map.pbtxt`` inside the model folder if there is one, else beside it."""
    inside = model_dir / "label_map.pbtxt"
    return inside if inside.exists() else model_dir.parent / "label_map.pbtxt"


DEFAULTS = {**IMAGE_SERVICE_DEFAULTS, **FETCH_DEFAULTS, "MODEL_DIR": "", "LABEL_MAP": ""}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The object_detection service app (environment prefix ``OBJECT_DETECTION_``)."""
    return create_service_app(ObjectDetection, defaults=DEFAULTS,
                              config=config)
