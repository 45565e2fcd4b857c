"""The image_preprocessor service: an image in, the float32 tensor a model expects out.

The tensor comes back as base64 of raw little-endian float32 bytes by default, with its
shape and dtype: a 224x224x3 tensor is 800 KB of base64 that NumPy reads in one call
(``np.frombuffer(base64.b64decode(t), "<f4").reshape(shape)``), where a nested JSON
list is about twice the size and far slower to write and parse. ``"encoding": "list"``
gives the nested list for small tensors and for callers that cannot decode binary.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common import Function, create_service_app
from common.serving.validation import Flag, Whole
from common.media.images import (IMAGE_SERVICE_DEFAULTS, Base64Image, ImageLimits, open_image,
                           per_item, sample_png_base64)

from .preprocess import RESIZE_MODES, Recipe, encode_tensor, preprocess

MAX_SIDE = 1024
MAX_LIST_PIXELS = 512 * 512  # a nested list of more numbers makes a huge, slow answer


def _triple(default: tuple[float, float, float], description: str) -> fields.List:
    return fields.List(fields.Float(allow_nan=False), load_default=list(default),
                       validate=validate.Length(equal=3),
                       metadata={"description": description})


class PreprocessInput(Schema):
    """An image and the recipe: ``((pixel * scale) - mean) / std`` per channel (RGB
    order, before any reordering), at ``width`` x ``height``."""

    image = Base64Image(required=True)
    width = Whole(load_default=224, validate=validate.Range(min=1, max=MAX_SIDE))
    height = Whole(load_default=224, validate=validate.Range(min=1, max=MAX_SIDE))
    resize = fields.String(load_default="stretch", validate=validate.OneOf(RESIZE_MODES),
                           metadata={"description": "stretch (ignore the aspect ratio), "
                                     "letterbox (fit and pad, centred) or center_crop "
                                     "(fill and cut the edges)"})
    pad_value = Whole(load_default=0, validate=validate.Range(min=0, max=255))
    scale = fields.Float(load_default=1 / 255, allow_nan=False,
                         metadata={"description": "Pixels (0..255) are multiplied by this "
                                   "first: 1/255 gives 0..1, 1 keeps 0..255."})
    mean = _triple((0.0, 0.0, 0.0), "Subtracted per channel (R, G, B) after scaling, e.g. "
                   "[0.485, 0.456, 0.406] for ImageNet models.")
    std = _triple((1.0, 1.0, 1.0), "Divides per channel after the mean, e.g. "
                  "[0.229, 0.224, 0.225] for ImageNet models.")
    channel_order = fields.String(load_default="RGB", validate=validate.OneOf(("RGB", "BGR")))
    layout = fields.String(load_default="HWC", validate=validate.OneOf(("HWC", "CHW")),
                           metadata={"description": "HWC (TensorFlow) or CHW (PyTorch)"})
    batch_dim = Flag(load_default=False,
                               metadata={"description": "Add a leading batch axis of 1."})
    encoding = fields.String(load_default="base64", validate=validate.OneOf(("base64", "list")),
                             metadata={"description": "base64 (raw little-endian float32, "
                                       "row-major) or list (nested JSON lists)"})

    @validates_schema
    def _check(self, data: dict, **_: Any) -> None:
        if any(s == 0 for s in data["std"]):
            raise ValidationError("No std may be 0.", "std")
        if data["encoding"] == "list" and data["width"] * data["height"] > MAX_LIST_PIXELS:
            raise ValidationError(f"encoding 'list' allows at most {MAX_LIST_PIXELS} pixels;"
                                  " use 'base64' for larger tensors.", "encoding")


class RecipeOutput(Schema):
    """The recipe the tensor was made with, so that a next stage can check or undo it."""

    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    resize = fields.String(required=True)
    pad_value = fields.Integer(required=True)
    scale = fields.Float(required=True)
    mean = fields.List(fields.Float(), required=True)
    std = fields.List(fields.Float(), required=True)
    channel_order = fields.String(required=True)
    layout = fields.String(required=True)
    batch_dim = fields.Boolean(required=True)


class PreprocessOutput(Schema):
    """The tensor, its shape and dtype, and how output pixels map to input pixels."""

    tensor = fields.Raw(required=True, metadata={
        "description": "base64 of raw float32 (little-endian, row-major) or a nested list"})
    encoding = fields.String(required=True)
    dtype = fields.String(required=True, metadata={"example": "float32"})
    byte_order = fields.String(required=True, metadata={"example": "little"})
    shape = fields.List(fields.Integer(), required=True)
    original_width = fields.Integer(required=True)
    original_height = fields.Integer(required=True)
    scale_x = fields.Float(required=True, metadata={
        "description": "out_x = in_x * scale_x + offset_x"})
    scale_y = fields.Float(required=True)
    offset_x = fields.Float(required=True)
    offset_y = fields.Float(required=True)
    recipe = fields.Nested(RecipeOutput, required=True, metadata={
        "description": "The recipe used (the request's, defaults filled in)."})


_RECIPE_FIELDS = ("width", "height", "resize", "pad_value", "scale", "channel_order",
                  "layout", "batch_dim")


class ImagePreprocessor(Function):
    """No model: Pillow decoding and resizing, NumPy arithmetic."""

    name = "image_preprocessor"
    version = "1.0.0"
    description = ("Decodes an image (base64 JPEG/PNG/GIF), resizes it (stretch, letterbox "
                   "or center crop) and normalises it (scale, mean, std, RGB/BGR, HWC/CHW) "
                   "into a float32 tensor, as base64 raw bytes or a nested list.")
    tags = ("vision", "utility", "preprocessing")
    input_schema = PreprocessInput
    output_schema = PreprocessOutput
    sample_input = {"image": sample_png_base64(), "width": 32, "height": 32}

    def load(self) -> None:
        """Read the image limits from the configuration."""
        self.limits = ImageLimits.for_service(self.config)

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decode every image first (a bad one fails the request), then convert each."""
        images = per_item([item["image"] for item in inputs],
                          lambda data: open_image(data, self.limits))
        return [self._convert(image, item) for image, item in zip(images, inputs)]

    def _convert(self, image, item: dict[str, Any]) -> dict[str, Any]:
        recipe = Recipe(mean=tuple(item["mean"]), std=tuple(item["std"]),
                        **{k: item[k] for k in _RECIPE_FIELDS})
        tensor = preprocess(image, recipe)
        encoded = encode_tensor(tensor.array) if item["encoding"] == "base64" \
            else tensor.array.tolist()
        return {"tensor": encoded, "encoding": item["encoding"], "dtype": "float32",
                "byte_order": "little", "shape": list(tensor.array.shape),
                "original_width": image.width, "original_height": image.height,
                "scale_x": tensor.scale_x, "scale_y": tensor.scale_y,
                "offset_x": tensor.offset_x, "offset_y": tensor.offset_y,
                "recipe": {**{k: item[k] for k in _RECIPE_FIELDS},
                           "mean": list(item["mean"]), "std": list(item["std"])}}


DEFAULTS = {**IMAGE_SERVICE_DEFAULTS}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The image_preprocessor service app (environment prefix ``IMAGE_PREPROCESSOR_``)."""
    return create_service_app(ImagePreprocessor, defaults=DEFAULTS, config=config)
