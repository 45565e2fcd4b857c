"""The video_splitter service: a video in, its frames at a requested rate out.

Frames come back as base64 PNGs (lossless), each with its index and timestamp, with the
source's metadata (codec, size, rate, duration, tags) and its audio (AAC in an ``.m4a``)
for the combiner. ``start_frame``/``end_frame`` ask for a segment of the output frames,
so a long video can be split by several callers without any of them decoding it whole.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common import Function, create_service_app
from common.core import context as ctx
from common.media.safe_fetch import FETCH_DEFAULTS, SafeFetcher, url_field
from common.media.video import (VIDEO_SERVICE_DEFAULTS, Base64Video, VideoLimited, b64,
                                check_frames, extract_audio, fetch_video, frame_png,
                                output_fps, probe, sample_frames, sample_video_base64,
                                video_fetch_policy)
from common.serving.validation import Flag, InputSchema, Whole


class SplitInput(InputSchema):
    """A video (base64 or URL, exactly one), the rate, and optionally a segment."""

    exactly_one_of = ("video", "url")
    video = Base64Video()
    url = url_field(metadata={"description": "An http(s) URL of the video, fetched with the "
                              "SSRF checks (no private addresses, size and time limits)."})
    fps = fields.Float(allow_nan=False, validate=validate.Range(min=0.01, min_inclusive=True),
                       metadata={"description": "Frames per second to sample at (default: "
                                 "the source's rate), capped at the max_fps limit."})
    start_frame = Whole(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "The first output frame to return (a segment's start)."})
    end_frame = Whole(validate=validate.Range(min=1), metadata={
        "description": "One past the last output frame to return (default: the end)."})
    frames = Flag(load_default=True, metadata={"description": "Return the frames (false: "
                                               "only the audio and metadata)."})
    audio = Flag(load_default=True, metadata={"description": "Return the audio track."})

    @validates_schema
    def _range(self, data: dict, **_: Any) -> None:
        if "end_frame" in data and data["end_frame"] <= data["start_frame"]:
            raise ValidationError("Must be greater than start_frame.", "end_frame")


class FrameSchema(Schema):
    """One output frame."""

    index = fields.Integer(required=True)
    timestamp_s = fields.Float(required=True)
    image = fields.String(required=True, metadata={"format": "byte",
                                                   "description": "The frame, a base64 PNG."})


class SplitOutput(Schema):
    """The frames, the rate they were sampled at, the source's metadata and audio."""

    frames = fields.List(fields.Nested(FrameSchema), required=True)
    count = fields.Integer(required=True, metadata={"description": "Frames returned."})
    total_frames = fields.Integer(required=True, metadata={
        "description": "Frames the whole video gives at this rate (from its header)."})
    fps = fields.Float(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    duration_s = fields.Float(required=True)
    source = fields.Dict(required=True, metadata={
        "description": "The source's codec, container, size, rate, duration and tags."})
    audio = fields.String(allow_none=True, required=True, metadata={
        "format": "byte", "description": "The audio as AAC in a base64 .m4a, or null."})


class VideoSplitter(VideoLimited, Function):
    """No model: PyAV (its bundled FFmpeg) decodes, Pillow writes PNGs."""

    name = "video_splitter"
    version = "1.0.0"
    description = ("Splits a video (base64 or a URL) into frames at a requested rate, as "
                   "base64 PNGs with timestamps, keeping its audio and metadata for the "
                   "video_combiner. Can return one segment of the frames.")
    tags = ("video", "utility")
    input_schema = SplitInput
    output_schema = SplitOutput
    sample_input = {"video": sample_video_base64(), "fps": 4}

    def load(self) -> None:
        """The limits and the fetcher from the configuration."""
        self.fetcher = SafeFetcher(video_fetch_policy(self.config))

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each video in turn (a video is a big item: batches are small)."""
        return [self._split(item) for item in inputs]

    def _split(self, item: dict[str, Any]) -> dict[str, Any]:
        data = item.get("video") or self._fetch(item["url"])
        info = probe(data, self.limits)
        fps = output_fps(info, item.get("fps"), self.limits)
        total = info.output_frames(fps)
        end = item.get("end_frame")
        check_frames(min(end or total, total) - item["start_frame"], self.limits)
        frames = sample_frames(data, fps, item["start_frame"], end, self.limits) \
            if item["frames"] else []
        audio = extract_audio(data, item["start_frame"] / fps,
                              end / fps if end else None) if item["audio"] else None
        return {"frames": [{"index": i, "timestamp_s": t, "image": frame_png(p)}
                           for i, t, p in frames],
                "count": len(frames), "total_frames": total, "fps": fps,
                "width": info.width, "height": info.height, "duration_s": info.duration_s,
                "source": info.describe(), "audio": b64(audio) if audio else None}

    def _fetch(self, url: str) -> bytes:
        current = ctx.current()
        return fetch_video(self.fetcher, url, current.remaining() if current else None)


DEFAULTS = {**VIDEO_SERVICE_DEFAULTS, **FETCH_DEFAULTS,
            **{k: v for k, v in VIDEO_SERVICE_DEFAULTS.items() if k.startswith("FETCH_")},
            "MAX_CONTENT_LENGTH": 48 * 1024 * 1024}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The video_splitter service app (environment prefix ``VIDEO_SPLITTER_``)."""
    return create_service_app(VideoSplitter, defaults=DEFAULTS, config=config)
