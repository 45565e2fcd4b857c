"""The video_combiner service: frames (or video segments) in, one MP4 out.

Frames are base64 images (PNG, JPEG or GIF), all one size, shown at ``fps``; the audio
(any container FFmpeg reads, such as the splitter's ``.m4a``) is re-encoded to AAC and
muxed in; the source's tags are kept. ``segments`` instead joins videos end to end (the
``video`` pipeline's recursive split). H.264 in MP4 by default (libx264, bundled with
PyAV); ``h264_lossless`` keeps every RGB pixel exactly (libx264rgb, crf 0).
"""
from __future__ import annotations

import io
from typing import Any, Mapping

import numpy as np
from flask import Flask
from marshmallow import fields, validate

from common import Function, InvalidInput, create_service_app
from common.media.images import Base64Image, ImageLimits, open_image, per_item, to_array
from common.media.video import (CODECS, VIDEO_SERVICE_DEFAULTS, Base64Video,
                                EncodedVideoSchema, VideoLimited, VideoLimits, b64,
                                check_bytes, check_frames, decode_all, encode_video, frame_png,
                                probe, sample_video_frames)
from common.serving.validation import InputSchema


class CombineInput(InputSchema):
    """Frames or segments (exactly one), the rate, and what to keep from the source."""

    exactly_one_of = ("frames", "segments")
    frames = fields.List(Base64Image(), validate=validate.Length(min=1), metadata={
        "description": "The frames in order, base64 images, all one size."})
    segments = fields.List(Base64Video(), validate=validate.Length(min=1), metadata={
        "description": "Videos to join end to end, in order, all one frame size."})
    fps = fields.Float(required=True, allow_nan=False,
                       validate=validate.Range(min=0.01), metadata={"example": 8})
    audio = fields.String(allow_none=True, load_default=None, metadata={
        "format": "byte", "description": "An audio file (base64) to mux in, e.g. the "
                                         "splitter's .m4a; re-encoded to AAC."})
    codec = fields.String(load_default="h264", validate=validate.OneOf(CODECS), metadata={
        "description": "h264 (yuv420p, plays everywhere; odd sides are padded by one "
                       "pixel) or h264_lossless (exact RGB, for checks)."})
    tags = fields.Dict(keys=fields.String(validate=validate.Length(max=64)),
                       values=fields.String(validate=validate.Length(max=200)),
                       load_default=dict, validate=validate.Length(max=20), metadata={
                           "description": "Container metadata to write (the source's)."})


class CombineOutput(EncodedVideoSchema):
    """The video and what it holds."""

    has_audio = fields.Boolean(required=True)


#: Tags FFmpeg writes itself; copying them from the source would only mislead.
_OWN_TAGS = ("major_brand", "minor_version", "compatible_brands", "encoder")


class VideoCombiner(VideoLimited, Function):
    """No model: Pillow reads the frames, PyAV (its bundled FFmpeg) encodes."""

    name = "video_combiner"
    version = "1.0.0"
    description = ("Combines frames (base64 images) or video segments, with an optional "
                   "audio track and the source's tags, into one video: H.264 in MP4.")
    tags = ("video", "utility")
    input_schema = CombineInput
    output_schema = CombineOutput
    sample_input = {"frames": [frame_png(f) for f in sample_video_frames()], "fps": 8}

    def load(self) -> None:
        """The limits from the configuration."""
        self.image_limits = ImageLimits.for_service(
            {**self.config, "IMAGE_MAX_PIXELS": self.limits.max_pixels, "IMAGE_MIN_SIDE": 2})

    def warmup(self) -> None:
        """Encode the sample frames once (loads the codec)."""
        encode_video(sample_video_frames(), 8)

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each video in turn."""
        return [self._combine(item) for item in inputs]

    def _combine(self, item: dict[str, Any]) -> dict[str, Any]:
        frames = self._frames(item)
        _same_size(frames, "segments" if "segments" in item else "frames")
        audio = _audio(item.get("audio"), self.limits)
        tags = {k: v for k, v in item["tags"].items() if k not in _OWN_TAGS}
        data = encode_video(frames, item["fps"], item["codec"], audio, tags)
        height, width = frames[0].shape[:2]
        if item["codec"] == "h264":
            width, height = width + width % 2, height + height % 2
        return {"video": b64(data), "frames": len(frames), "fps": item["fps"],
                "width": width, "height": height,
                "duration_s": round(len(frames) / item["fps"], 6), "codec": item["codec"],
                "has_audio": audio is not None}

    def _frames(self, item: dict[str, Any]) -> list[np.ndarray]:
        if "frames" in item:
            check_frames(len(item["frames"]), self.limits)
            return per_item(item["frames"],
                            lambda data: to_array(open_image(data, self.image_limits)),
                            field="frames")
        frames: list[np.ndarray] = []
        for index, data in enumerate(item["segments"]):
            check_bytes(data, self.limits)
            frames += _segment(data, index, self.limits)
            check_frames(len(frames), self.limits)
        return frames


def _segment(data: bytes, index: int, limits: VideoLimits) -> list[np.ndarray]:
    try:
        probe(data, limits)
        return decode_all(data)
    except InvalidInput as e:
        raise InvalidInput(f"segments[{index}]: {e.message}",
                           {**(e.details or {}), "index": index}) from e


def _same_size(frames: list[np.ndarray], field: str) -> None:
    """Every frame must have the first one's size (a video has one frame size)."""
    first = frames[0].shape
    for index, frame in enumerate(frames):
        if frame.shape != first:
            raise InvalidInput(f"{field}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                               f"the first is {first[1]}x{first[0]}; a video has one size.",
                               {"field": field, "index": index})


def _audio(text: str | None, limits: VideoLimits) -> bytes | None:
    if not text:
        return None
    from common.media.images import decode_base64
    try:
        data = decode_base64(text)
    except ValueError as e:
        raise InvalidInput(f"audio: {e}", {"audio": [str(e)]}) from e
    check_bytes(data, limits)
    _check_audio(data)
    return data


def _check_audio(data: bytes) -> None:
    import av
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise InvalidInput("audio: the file has no audio stream.",
                                   {"audio": ["No audio stream."]})
    except av.error.FFmpegError as e:
        raise InvalidInput("audio: not an audio file FFmpeg can read.",
                           {"audio": ["Unreadable audio."]}) from e


DEFAULTS = {**VIDEO_SERVICE_DEFAULTS, "MAX_CONTENT_LENGTH": 256 * 1024 * 1024,
            "MAX_TEXT_LENGTH": 64 * 1024 * 1024, "IMAGE_MAX_BYTES": 16 * 1024 * 1024}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The video_combiner service app (environment prefix ``VIDEO_COMBINER_``)."""
    return create_service_app(VideoCombiner, defaults=DEFAULTS, config=config)
