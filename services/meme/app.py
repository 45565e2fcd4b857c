"""The meme service: an image and candidate captions in, a captioned image out.

It sequences other services itself (server sequencing, in code, because the overlay
needs the original image, the captions and both services' answers at once, which a
pipeline's step-to-step hand-over cannot carry):

1. **object_detection** finds the objects; the best one's label fills ``{object}`` in
   the captions, and the boxes decide whether the caption goes at the top or the bottom
   (where it hides less of them);
2. **sentiment** scores every caption; the one that best fits the ``mood`` wins;
3. the caption is drawn on the image (Pillow), which comes back as a base64 PNG.
"""
from __future__ import annotations

import base64
from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, fields, validate

from common import Failed, Function, InvalidInput, create_service_app
from common.media.images import (IMAGE_SERVICE_DEFAULTS, Base64Image, ImageLimits, encode_png,
                           open_image, per_item, sample_image, sample_png_base64)
from common.serving.validation import Text

from .overlay import choose_band, draw_caption, layout, shrink

MOODS = ("positive", "negative", "neutral")
PLACEHOLDER = "{object}"
FALLBACK_OBJECT = "thing"


class _Box(Schema):
    """object_detection's normalised box (0..1), as its contract publishes it."""

    ymin = fields.Float(required=True)
    xmin = fields.Float(required=True)
    ymax = fields.Float(required=True)
    xmax = fields.Float(required=True)


class DetectionSchema(Schema):
    """The part of object_detection's contract that meme reads and passes on: this
    service's own copy, so it depends on the published contract, not on that code."""

    label = fields.String(required=True)
    score = fields.Float(required=True)
    box = fields.Nested(_Box, required=True)


class MemeInput(Schema):
    """An image, the captions to choose from, and the mood to pick by."""

    image = Base64Image(required=True)
    captions = fields.List(Text(max_length=200), required=True,
                           validate=validate.Length(min=1, max=20), metadata={
                               "description": "Candidate captions; '{object}' is replaced "
                                              "by the label of the best detected object.",
                               "example": ["Best {object} ever!", "I hate this {object}"]})
    mood = fields.String(load_default="positive", validate=validate.OneOf(MOODS), metadata={
        "description": "Pick the caption that sentiment finds most positive (default), "
                       "most negative or most neutral."})
    position = fields.String(load_default="auto",
                             validate=validate.OneOf(("auto", "top", "bottom")))
    min_score = fields.Float(load_default=0.5, validate=validate.Range(min=0.0, max=1.0),
                             metadata={"description": "object_detection's score cut-off."})


class RankedCaption(Schema):
    """A candidate caption and its sentiment."""

    text = fields.String(required=True)
    label = fields.String(required=True)
    score = fields.Float(required=True, metadata={"description": "Probability of the mood."})


class MemeOutput(Schema):
    """The meme (base64 PNG), the chosen caption and why."""

    image = fields.String(required=True, metadata={"format": "byte",
                                                   "description": "The meme, a base64 PNG."})
    caption = fields.String(required=True)
    mood = fields.String(required=True)
    placement = fields.String(required=True, metadata={"description": "top or bottom"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    ranking = fields.List(fields.Nested(RankedCaption), required=True,
                          metadata={"description": "The captions, best fit first."})
    detections = fields.List(fields.Nested(DetectionSchema), required=True)


class Meme(Function):
    """No model of its own: object_detection and sentiment, then a Pillow overlay."""

    name = "meme"
    version = "1.0.0"
    description = ("Makes a meme: detects the objects in an image, picks the caption that "
                   "best fits a mood (ranked by the sentiment service) and draws it on the "
                   "image, away from the objects. Returns a base64 PNG.")
    tags = ("vision", "nlp", "fun")
    input_schema = MemeInput
    output_schema = MemeOutput
    sample_input = {"image": sample_png_base64(), "captions": ["What a lovely {object}!"]}
    deterministic = False  # depends on two other services' versions
    calls = ("object_detection", "sentiment")

    def load(self) -> None:
        """The image limits (peers are called through ``self.algo``)."""
        self.limits = ImageLimits.for_service(self.config)

    def warmup(self) -> None:
        """Warm the overlay only: readiness must not hang on the other services."""
        draw_caption(sample_image(), "warm up", "top")

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Check every image first, then make each meme."""
        images = per_item([item["image"] for item in inputs],
                          lambda data: open_image(data, self.limits))
        return [self._meme_or_failed(image, item) for image, item in zip(images, inputs)]

    def _meme_or_failed(self, image, item: dict[str, Any]) -> Any:
        """One meme; an item a called service refuses fails alone (a 400 from it names
        that stage), while a service that is down fails the request."""
        try:
            return self._meme(image, item)
        except InvalidInput as e:
            if not e.service or e.service == self.name:
                raise
            return Failed(e)

    def _meme(self, image, item: dict[str, Any]) -> dict[str, Any]:
        detections = self._detect(item)
        captions = fill_captions(item["captions"], detections)
        ranking = self._rank(captions, item["mood"])
        picture = shrink(image, int(self.config["MAX_SIDE"]))
        place = _place(picture, ranking[0]["text"], detections, item["position"])
        meme, _ = draw_caption(picture, ranking[0]["text"], place)
        return {"image": encode_png(meme), "caption": ranking[0]["text"],
                "mood": item["mood"], "placement": place, "width": meme.width,
                "height": meme.height, "ranking": ranking, "detections": detections}

    def _detect(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        payload = {"image": base64.b64encode(item["image"]).decode("ascii"),
                   "min_score": item["min_score"]}
        return _detections(self.algo("object_detection").pipe(payload).result)

    def _rank(self, captions: list[str], mood: str) -> list[dict[str, Any]]:
        """Captions with their sentiment, best fit for ``mood`` first (stable on ties)."""
        answers = self.algo("sentiment").pipe([{"text": c} for c in captions]).result
        ranked = [{"text": c, "label": a["label"], "score": float(a["scores"][mood])}
                  for c, a in zip(captions, answers)]
        return sorted(ranked, key=lambda r: -r["score"])


def _detections(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The detections of object_detection's answer, reduced to meme's copy of them."""
    return DetectionSchema(many=True).dump(answer["detections"])


def fill_captions(captions: list[str], detections: list[dict[str, Any]]) -> list[str]:
    """Captions with ``{object}`` replaced by the best detection's label."""
    thing = detections[0]["label"] if detections else FALLBACK_OBJECT
    return [c.replace(PLACEHOLDER, thing) for c in captions]


def _place(picture, text: str, detections: list[dict[str, Any]], position: str) -> str:
    """Top or bottom, given the caption's band height and the (rescaled) boxes."""
    band = layout(text, picture.width, picture.height, "top").band
    boxes = [_scaled_box(d["box"], picture.width, picture.height) for d in detections]
    return choose_band(picture.height, band[1] - band[0], boxes, position)


def _scaled_box(box: Mapping[str, float], width: int, height: int) -> tuple[int, ...]:
    return (round(box["xmin"] * width), round(box["ymin"] * height),
            round(box["xmax"] * width), round(box["ymax"] * height))


DEFAULTS = {**IMAGE_SERVICE_DEFAULTS, "MAX_SIDE": 1024}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The meme service app (environment prefix ``MEME_``)."""
    return create_service_app(Meme, defaults=DEFAULTS, config=config)
