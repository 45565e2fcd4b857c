"""The style_transfer service: an image in, the same image painted in the trained
style out (a small feed-forward fast-style-transfer network, ``train.py``).

The network is a SavedModel whose ``serving_default`` takes uint8 [N, H, W, 3] of any
size; a batch is served by one call per frame size (a video's frames share one size,
so a chunk of frames is one call).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from flask import Flask
from marshmallow import Schema, fields
from PIL import Image

from common import Model, create_service_app
from common.media.images import (IMAGE_SERVICE_DEFAULTS, Base64Image, ImageLimits, encode_png,
                                 open_image, per_item, sample_png_base64, to_array)
from common.serving.validation import InputSchema

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


class StyleInput(InputSchema):
    """One image."""

    image = Base64Image(required=True)


class StyleOutput(Schema):
    """The styled image, same size as the input."""

    image = fields.String(required=True, metadata={"format": "byte",
                                                   "description": "The styled image, a base64 "
                                                                  "PNG of the input's size."})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)


class StyleTransfer(Model):
    """A SavedModel signature called once per frame size in a batch."""

    name = "style_transfer"
    version = "1.1.0"   # retrained: random-net Gram, palette and content losses
    description = ("Repaints an image (base64 JPEG/PNG/GIF) in the style the network was "
                   "trained on (generated night-sky swirls: deep blues and yellow "
                   "strokes), keeping its layout. Returns a base64 PNG of the same size.")
    tags = ("vision", "style-transfer", "tensorflow")
    input_schema = StyleInput
    output_schema = StyleOutput
    sample_input = {"image": sample_png_base64(64, 48)}

    def load(self) -> None:
        """Load the SavedModel (imports TensorFlow here, after the fork)."""
        import tensorflow as tf
        self.limits = ImageLimits.for_service(self.config)
        self._loaded = tf.saved_model.load(str(self.config["MODEL_DIR"] or ARTIFACTS / "model"))
        self._serve = self._loaded.signatures["serving_default"]

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decode every image first (a bad one fails before any work), then style them
        with one call per distinct size."""
        pixels = per_item([item["image"] for item in inputs],
                          lambda data: to_array(open_image(data, self.limits)))
        styled = self.style(pixels)
        return [{"image": encode_png(Image.fromarray(s)), "width": s.shape[1],
                 "height": s.shape[0]} for s in styled]

    def style(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Styled uint8 [H, W, 3] arrays for uint8 arrays, in order."""
        import tensorflow as tf
        out: list[np.ndarray | None] = [None] * len(images)
        for shape in dict.fromkeys(i.shape for i in images):
            positions = [n for n, i in enumerate(images) if i.shape == shape]
            batch = tf.constant(np.stack([images[n] for n in positions]), tf.uint8)
            result = self._serve(images=batch)["images"].numpy()
            for position, array in zip(positions, result):
                out[position] = array
        return out


DEFAULTS = {**IMAGE_SERVICE_DEFAULTS, "MAX_BATCH_SIZE": 16, "MODEL_DIR": ""}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The style_transfer service app (environment prefix ``STYLE_TRANSFER_``)."""
    return create_service_app(StyleTransfer, defaults=DEFAULTS, config=config)
