"""The image_classifier service: image_preprocessor's tensor in, a shape label out.

It is the last stage of the Classy chain, downloader -> image_preprocessor ->
image_classifier. It takes the preprocessor's answer as it comes (the whole answer, or
only its ``tensor`` and ``shape``): base64 raw float32 or a nested list. Its native
recipe is VGG's (``/metadata`` states it, as the preprocessor request that makes it); a
tensor made with another recipe is converted exactly when its ``recipe`` says how.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from flask import Flask
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common import Model, create_service_app
from common.media.images import IMAGE_SERVICE_DEFAULTS, per_item, sample_image
from common.media.scenes import LABELS
from common.serving.validation import Flag, Whole

from . import recipe as native

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


class RecipeSchema(Schema):
    """How the tensor was made: image_preprocessor's recipe fields (its answer echoes them)."""

    width = Whole(validate=validate.Range(min=1, max=1024))
    height = Whole(validate=validate.Range(min=1, max=1024))
    resize = fields.String(validate=validate.OneOf(("stretch", "letterbox", "center_crop")))
    pad_value = Whole(validate=validate.Range(min=0, max=255))
    scale = fields.Float(allow_nan=False, validate=validate.Range(min=0, min_inclusive=False))
    mean = fields.List(fields.Float(allow_nan=False), validate=validate.Length(equal=3))
    std = fields.List(fields.Float(allow_nan=False), validate=validate.Length(equal=3))
    channel_order = fields.String(validate=validate.OneOf(("RGB", "BGR")))
    layout = fields.String(validate=validate.OneOf(("HWC", "CHW")))
    batch_dim = Flag()

    @validates_schema
    def _check(self, data: dict, **_: Any) -> None:
        if any(s == 0 for s in data.get("std", ())):
            raise ValidationError("No std may be 0.", "std")


def _ignored(description: str) -> fields.Field:
    return fields.Raw(metadata={"description": description})


class ClassifyInput(Schema):
    """image_preprocessor's answer: the tensor and how to read it."""

    tensor = fields.Raw(required=True, metadata={
        "description": "float32 [224, 224, 3]: base64 of raw little-endian bytes "
                       "(row-major), or a nested list. The VGG recipe unless 'recipe' "
                       "says otherwise.",
        # on the Open Inference Protocol: an FP32 tensor [N, 224, 224, 3], its native case
        "oip_tensor": list(native.SHAPE)})
    shape = fields.List(Whole(validate=validate.Range(min=1, max=1024)),
                        validate=validate.Length(min=3, max=4),
                        metadata={"description": "The tensor's shape; default [224, 224, 3]."})
    dtype = fields.String(load_default="float32", validate=validate.OneOf(("float32",)))
    byte_order = fields.String(load_default="little", validate=validate.OneOf(("little",)))
    encoding = fields.String(validate=validate.OneOf(("base64", "list")), metadata={
        "description": "base64 or list; by default, base64 for a string, list for a list."})
    recipe = fields.Nested(RecipeSchema, metadata={
        "description": "The recipe the tensor was made with (image_preprocessor echoes "
                       "it); absent means the native VGG recipe."})
    # the rest of image_preprocessor's answer, taken so that it can be piped whole
    original_width = _ignored("Taken from image_preprocessor's answer; not used.")
    original_height = _ignored("Taken from image_preprocessor's answer; not used.")
    scale_x = _ignored("Taken from image_preprocessor's answer; not used.")
    scale_y = _ignored("Taken from image_preprocessor's answer; not used.")
    offset_x = _ignored("Taken from image_preprocessor's answer; not used.")
    offset_y = _ignored("Taken from image_preprocessor's answer; not used.")


class ClassifyOutput(Schema):
    """The most likely label and every label's probability."""

    label = fields.String(required=True, metadata={"example": "circle"})
    scores = fields.Dict(keys=fields.String(), values=fields.Float(), required=True,
                         metadata={"example": {"circle": 0.97, "square": 0.02,
                                               "triangle": 0.01}})


class ImageClassifier(Model):
    """A small CNN (SavedModel); one compiled-signature call per batch."""

    name = "image_classifier"
    version = "1.0.0"
    description = ("Labels the shape in an image (circle, square or triangle) from the "
                   "float32 tensor image_preprocessor makes with the VGG recipe (BGR, "
                   "ImageNet mean subtracted, 224x224); the last stage of the Classy chain.")
    tags = ("vision", "classification", "tensorflow")
    input_schema = ClassifyInput
    output_schema = ClassifyOutput
    # a result cache would key on 800 KB tensors; a repeat is cheaper to score again
    deterministic = False

    # a small tensor (16x12, stretched to 224x224 by the service), so that /metadata,
    # the contract and the catalog's examples stay small; the native one is 800 KB
    sample_input = {"tensor": native.encode(native.from_image(sample_image(), (16, 12))),
                    "shape": [12, 16, 3]}

    def load(self) -> None:
        """Load the SavedModel (imports TensorFlow here, after the fork)."""
        from .classifier import Classifier
        self.classifier = Classifier.load(self.config["MODEL_DIR"] or ARTIFACTS / "model")

    def warmup(self) -> None:
        """Score the sample picture's native tensor once (traces the signature)."""
        tensor = native.from_image(sample_image())
        self.predict([{"tensor": native.encode(tensor), "shape": list(native.SHAPE)}])

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decode every tensor first (a bad one fails alone, named), then one call."""
        batch = np.stack(per_item(inputs, native.decode, field="tensor"))
        return [_answer(row) for row in self.classifier.scores(batch)]

    def metadata(self) -> dict[str, Any]:
        """The preprocessing recipe, as the image_preprocessor request that makes it."""
        return {"preprocessing": {
            "service": "image_preprocessor", "request": native.RECIPE,
            "tensor": {"shape": list(native.SHAPE), "dtype": "float32",
                       "encodings": ["base64", "list"]},
            "other_sizes": "an [H, W, 3] tensor of at least 8x8 is stretched to 224x224 "
                           "(bilinear), as the preprocessor's 'stretch' would",
            "labels": list(LABELS),
            "other_recipes": "converted exactly when the input's 'recipe' gives them "
                             "(image_preprocessor's answer echoes its recipe)"}}


def _answer(row: np.ndarray) -> dict[str, Any]:
    scores = {label: round(float(p), 4) for label, p in zip(LABELS, row)}
    return {"label": LABELS[int(np.argmax(row))], "scores": scores}


DEFAULTS = {**IMAGE_SERVICE_DEFAULTS, "MODEL_DIR": ""}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The image_classifier service app (environment prefix ``IMAGE_CLASSIFIER_``)."""
    return create_service_app(ImageClassifier, defaults=DEFAULTS, config=config)
