"""Shared video decoding, encoding and limits (PyAV, which bundles its own FFmpeg).

Every video that reaches a service goes through :func:`open_video`: its size is checked,
it is opened and its header probed (container, codec, size, duration) and held to the
limits *before* any frame is decoded. A zero-length file, a file that is no video, a
truncated or corrupt one and a codec outside the supported list are each a 400 naming
the reason (``details.reason``); a file over a limit is a 413 naming the limit.

Frames are sampled at a requested rate: output frame ``k`` is the last source frame
shown at time ``k / fps`` (measured from the stream's start), so a segment of output
frames ``[start, end)`` decodes the same frames whichever process decodes it.
"""
from __future__ import annotations

import base64
import io
import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from marshmallow import Schema, fields

from common.core.errors import InvalidInput, PayloadTooLarge
from common.media.images import Base64File

#: Decoders accepted by default (what browsers, phones and cameras write).
DEFAULT_CODECS = "h264,hevc,vp8,vp9,av1,mpeg4,mjpeg,mpeg2video,theora"

VIDEO_DEFAULTS: dict[str, Any] = {
    "VIDEO_MAX_BYTES": 32 * 1024 * 1024,
    "VIDEO_MAX_DURATION_S": 120.0,
    "VIDEO_MAX_PIXELS": 1920 * 1080,     # width x height of one frame
    "VIDEO_MAX_FRAMES": 1800,            # frames after sampling at the requested fps
    "VIDEO_MAX_FPS": 60.0,
    "VIDEO_CODECS": DEFAULT_CODECS,
}

#: Container signatures: a file that starts with one but cannot be read is truncated
#: or corrupt; one that starts with none is no video at all.
_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (0, b"OggS"),
               (0, b"FLV"), (0, b"\x00\x00\x01\xba"), (4, b"moov"),
               (4, b"mdat"), (4, b"free"), (4, b"wide"))


#: FFmpeg's still-image readers: a picture is no video, whatever FFmpeg makes of it.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe")


@dataclass(frozen=True)
class VideoLimits:
    """What a video may weigh and measure."""

    max_bytes: int = VIDEO_DEFAULTS["VIDEO_MAX_BYTES"]
    max_duration_s: float = VIDEO_DEFAULTS["VIDEO_MAX_DURATION_S"]
    max_pixels: int = VIDEO_DEFAULTS["VIDEO_MAX_PIXELS"]
    max_frames: int = VIDEO_DEFAULTS["VIDEO_MAX_FRAMES"]
    max_fps: float = VIDEO_DEFAULTS["VIDEO_MAX_FPS"]
    codecs: tuple[str, ...] = tuple(DEFAULT_CODECS.split(","))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "VideoLimits":
        """The limits of a service's configuration (the ``VIDEO_*`` keys)."""
        settings = {**VIDEO_DEFAULTS, **config}
        return cls(int(settings["VIDEO_MAX_BYTES"]), float(settings["VIDEO_MAX_DURATION_S"]),
                   int(settings["VIDEO_MAX_PIXELS"]), int(settings["VIDEO_MAX_FRAMES"]),
                   float(settings["VIDEO_MAX_FPS"]),
                   tuple(c.strip() for c in str(settings["VIDEO_CODECS"]).split(",") if c))

    def describe(self) -> dict[str, Any]:
        """The limits as a service publishes them (``/metadata``, OpenAPI)."""
        return {"max_video_bytes": self.max_bytes, "max_duration_s": self.max_duration_s,
                "max_frame_pixels": self.max_pixels, "max_frames": self.max_frames,
                "max_fps": self.max_fps, "codecs": list(self.codecs)}


@dataclass
class VideoInfo:
    """What a video's header says."""

    width: int
    height: int
    fps: float
    duration_s: float
    codec: str
    container: str
    source_frames: int
    has_audio: bool
    tags: dict[str, str] = field(default_factory=dict)

    def output_frames(self, fps: float) -> int:
        """How many frames sampling at ``fps`` gives (an estimate from the header)."""
        return max(1, math.ceil(round(self.duration_s * fps, 6)))

    def describe(self) -> dict[str, Any]:
        """The source's metadata, as the splitter passes it on."""
        return {"width": self.width, "height": self.height, "fps": round(self.fps, 6),
                "duration_s": round(self.duration_s, 6), "codec": self.codec,
                "container": self.container, "frames": self.source_frames,
                "has_audio": self.has_audio, "tags": dict(self.tags)}


class VideoLimited:
    """For a model of video: its ``VIDEO_*`` limits, read from its configuration once,
    whether asked before ``load()`` (the OpenAPI is built before the fork) or after,
    and stated in its OpenAPI (``extra_limits``) and ``/metadata``."""

    config: Mapping[str, Any]

    @functools.cached_property
    def limits(self) -> VideoLimits:
        """The limits in force."""
        return VideoLimits.from_config(self.config)

    def extra_limits(self) -> dict[str, Any]:
        """The video limits, stated in the OpenAPI."""
        return self.limits.describe()

    def metadata(self) -> dict[str, Any]:
        """The video limits, for ``/metadata``."""
        return {"video_limits": self.limits.describe()}


def _bad(reason: str, message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, {"field": "video", "reason": reason, **details})


def looks_like_container(data: bytes) -> bool:
    """Whether the first bytes are a known video container's signature (an MPEG
    transport stream: a sync byte at the start of each of its first two packets)."""
    transport = data[:1] == b"\x47" and data[188:189] == b"\x47"
    return transport or any(data[at:at + len(sig)] == sig for at, sig in _SIGNATURES)


def open_container(data: bytes):
    """The PyAV input container of ``data``; 400 for empty, not-a-video or unreadable."""
    import av
    if not data:
        raise _bad("empty", "The video is empty (zero bytes).")
    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as e:
        if looks_like_container(data):
            raise _bad("truncated", "The video file is truncated or corrupt: its container "
                       "cannot be read.", error=str(e)[:200]) from e
        raise _bad("not_a_video", "The data is not a video file (no known container "
                   "signature, and FFmpeg cannot read it).") from e


def probe(data: bytes, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Check the bytes, open the file and read its header, held to ``limits``."""
    check_bytes(data, limits)
    with open_container(data) as container:
        info = _info(container)
    check_info(info, limits)
    return info


def check_bytes(data: bytes, limits: VideoLimits) -> None:
    """413 when the file is over the byte limit."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"The video is {len(data)} bytes; at most {limits.max_bytes} "
                              "are allowed.", {"bytes": len(data), "max_bytes": limits.max_bytes})


def _video_stream(container):
    streams = container.streams.video
    if not streams:
        raise _bad("no_video_stream", "The file has no video stream.")
    return streams[0]


def _info(container) -> VideoInfo:
    if container.format.name in _IMAGE_FORMATS or container.format.name.endswith("_pipe"):
        raise _bad("not_a_video", f"The data is a still image ({container.format.name}), "
                   "not a video file.")
    stream = _video_stream(container)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    duration = _duration(container, stream, fps)
    codec = stream.codec_context.name if stream.codec_context else "unknown"
    tags = {str(k): str(v)[:200] for k, v in list((container.metadata or {}).items())[:20]}
    return VideoInfo(int(stream.codec_context.width or 0), int(stream.codec_context.height or 0),
                     fps, duration, codec, container.format.name.split(",")[0],
                     int(stream.frames or 0), bool(container.streams.audio), tags)


def _duration(container, stream, fps: float) -> float:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return stream.frames / fps if stream.frames and fps else 0.0


def check_info(info: VideoInfo, limits: VideoLimits) -> None:
    """The header against the limits: codec (400), then duration and resolution (413)."""
    if info.codec not in limits.codecs:
        raise _bad("unsupported_codec", f"The video codec {info.codec!r} is not supported; "
                   f"supported: {', '.join(limits.codecs)}.", codec=info.codec,
                   supported=list(limits.codecs))
    if info.width <= 0 or info.height <= 0 or info.fps <= 0:
        raise _bad("truncated", "The video's header gives no frame size or rate; the file "
                   "is truncated or corrupt.")
    if info.duration_s > limits.max_duration_s:
        raise PayloadTooLarge(f"The video is {info.duration_s:.2f}s long; at most "
                              f"{limits.max_duration_s}s are allowed.",
                              {"duration_s": info.duration_s,
                               "max_duration_s": limits.max_duration_s})
    if info.width * info.height > limits.max_pixels:
        raise PayloadTooLarge(f"The video is {info.width}x{info.height}; at most "
                              f"{limits.max_pixels} pixels a frame are allowed.",
                              {"width": info.width, "height": info.height,
                               "max_frame_pixels": limits.max_pixels})


def check_frames(count: int, limits: VideoLimits) -> None:
    """413 when sampling gives more frames than allowed."""
    if count > limits.max_frames:
        raise PayloadTooLarge(f"The video gives {count} frames at the requested rate; at "
                              f"most {limits.max_frames} are allowed.",
                              {"frames": count, "max_frames": limits.max_frames})


def output_fps(info: VideoInfo, requested: float | None, limits: VideoLimits) -> float:
    """The rate frames are sampled at: the requested one, else the source's, capped."""
    return min(float(requested or info.fps), limits.max_fps)


def sample_frames(data: bytes, fps: float, start: int = 0, end: int | None = None,
                  limits: VideoLimits = VideoLimits()) -> list[tuple[int, float, np.ndarray]]:
    """``(index, timestamp_s, rgb uint8 [H, W, 3])`` of output frames ``start..end-1``
    (to the end of the stream when ``end`` is None) sampled at ``fps``."""
    import av
    with open_container(data) as container:
        stream = _video_stream(container)
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None \
            and stream.time_base else 0.0
        span = 1.0 / float(stream.average_rate or fps)  # how long one source frame shows
        slack = min(span, 1.0 / fps) / 4  # timestamps' rounding, well under a frame
        if start > 0:
            _seek(container, stream, origin + start / fps)
        try:
            return _pick(_decoded(container, stream, origin), fps, start, end, slack, span,
                         limits)
        except av.error.FFmpegError as e:
            raise _bad("truncated", "The video's frames cannot be decoded: the file is "
                       "truncated or corrupt.", error=str(e)[:200]) from e


def _seek(container, stream, seconds: float) -> None:
    """To the keyframe at or before ``seconds``, a little early to be safe."""
    offset = int(max(0.0, seconds - 0.5) / stream.time_base)
    container.seek(offset, stream=stream, backward=True, any_frame=False)


def _decoded(container, stream, origin: float) -> Iterator[tuple[float, Any]]:
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        yield float(frame.pts * stream.time_base) - origin, frame


def _pick(frames: Iterator[tuple[float, Any]], fps: float, start: int, end: int | None,
          slack: float, span: float, limits: VideoLimits) -> list[tuple[int, float, np.ndarray]]:
    """Walk the decoded frames once; output frame k takes the last one shown by k/fps."""
    picked: list[tuple[int, float, np.ndarray]] = []
    held, index, last = None, start, 0.0
    for time, frame in frames:
        last = max(last, time)
        while held is not None and time > index / fps + slack and (end is None or index < end):
            picked.append((index, round(index / fps, 6), held))
            index += 1
            check_frames(len(picked), limits)
        if end is not None and index >= end:
            return picked
        if time <= index / fps + slack:
            held = frame.to_ndarray(format="rgb24")
    # the last frame shows until its own end (one source frame later)
    while held is not None and index / fps < last + span - slack \
            and (end is None or index < end):
        picked.append((index, round(index / fps, 6), held))
        index += 1
        check_frames(len(picked), limits)
    if not picked:
        raise _bad("truncated", "No frame of the requested range could be decoded: the file "
                   "is truncated, or the range lies past its end.", start=start)
    return picked


def extract_audio(data: bytes, start_s: float = 0.0, end_s: float | None = None) -> bytes | None:
    """The audio of ``start_s..end_s`` as an AAC track in an MP4 (``.m4a``) file, or None
    when the video has no audio."""
    import av
    with open_container(data) as source:
        if not source.streams.audio:
            return None
        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="mp4") as out:
            _transcode_audio(source, source.streams.audio[0], out, start_s, end_s)
        return buffer.getvalue()


def _transcode_audio(source, stream, out, start_s: float, end_s: float | None) -> None:
    import av
    rate = stream.codec_context.sample_rate or 44100
    target = out.add_stream("aac", rate=rate)
    target.layout = "stereo"
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    for frame in source.decode(stream):
        time = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
        if time < start_s or (end_s is not None and time >= end_s):
            continue
        for chunk in resampler.resample(frame):
            chunk.pts = None
            out.mux(target.encode(chunk))
    for chunk in resampler.resample(None):
        chunk.pts = None
        out.mux(target.encode(chunk))
    out.mux(target.encode(None))


#: Output codecs: ``h264`` (yuv420p, plays in every browser) or ``h264_lossless``
#: (libx264rgb at crf 0: the exact RGB pixels, for checks; few players show it).
CODECS = ("h264", "h264_lossless")


def encode_video(frames: Sequence[np.ndarray], fps: float, codec: str = "h264",
                 audio: bytes | None = None, tags: Mapping[str, str] | None = None,
                 crf: int = 18) -> bytes:
    """An MP4 of RGB uint8 frames (all one size) at ``fps``, with the audio of an audio
    file muxed in (re-encoded to AAC). Odd sizes are padded by one edge pixel for yuv420p."""
    import av
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        for key, value in (tags or {}).items():
            out.metadata[key] = value
        stream = _video_out(out, frames[0].shape, fps, codec, crf)
        audio_source = av.open(io.BytesIO(audio)) if audio else None
        audio_out = _audio_out(out, audio_source)
        for pixels in frames:
            picture = av.VideoFrame.from_ndarray(_even(pixels, codec), format="rgb24")
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
        if audio_out is not None:
            _copy_audio(audio_source, audio_out, out)
            audio_source.close()
    return buffer.getvalue()


def _video_out(out, shape: tuple[int, ...], fps: float, codec: str, crf: int):
    rate = Fraction(fps).limit_denominator(1001)
    if codec == "h264_lossless":
        stream = out.add_stream("libx264rgb", rate=rate, options={"crf": "0", "preset": "veryfast"})
        stream.pix_fmt = "rgb24"
    else:
        stream = out.add_stream("libx264", rate=rate,
                                options={"crf": str(crf), "preset": "veryfast"})
        stream.pix_fmt = "yuv420p"
    height, width = shape[:2]
    pad = 0 if codec == "h264_lossless" else 1
    stream.width, stream.height = width + (width % 2) * pad, height + (height % 2) * pad
    return stream


def _even(pixels: np.ndarray, codec: str) -> np.ndarray:
    if codec == "h264_lossless":
        return np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return np.pad(pixels, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _audio_out(out, source):
    if source is None or not source.streams.audio:
        return None
    stream = out.add_stream("aac", rate=source.streams.audio[0].codec_context.sample_rate or 44100)
    stream.layout = "stereo"
    return stream


def _copy_audio(source, target, out) -> None:
    import av
    resampler = av.AudioResampler(format="fltp", layout="stereo",
                                  rate=target.codec_context.sample_rate)
    for frame in source.decode(source.streams.audio[0]):
        for chunk in resampler.resample(frame):
            chunk.pts = None
            out.mux(target.encode(chunk))
    out.mux(target.encode(None))


def decode_all(data: bytes) -> list[np.ndarray]:
    """Every frame of a video as RGB uint8 arrays, in order (the combiner's segments)."""
    import av
    with open_container(data) as container:
        try:
            stream = _video_stream(container)
            return [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        except av.error.FFmpegError as e:
            raise _bad("truncated", "A segment's frames cannot be decoded.",
                       error=str(e)[:200]) from e


def b64(data: bytes) -> str:
    """Bytes as base64 text."""
    return base64.b64encode(data).decode("ascii")


def sniff_video(data: bytes) -> str | None:
    """A content type for bytes that start like a video container (the fetcher's check
    of what a video URL answered), else None."""
    return "video/mp4" if looks_like_container(data) else None


#: What a video URL may answer with.
VIDEO_CONTENT_TYPES = ("video/mp4", "video/quicktime", "video/webm", "video/x-matroska",
                       "video/x-msvideo", "video/ogg", "video/mpeg", "video/mp2t",
                       "application/octet-stream")


class Base64Video(Base64File):
    """A base64-encoded video file; deserialises to its bytes (zero bytes is refused)."""

    description = ("The video file (MP4, WebM, MKV, MOV, AVI...), base64-encoded; a data: "
                   "URL prefix is accepted.")
    empty_message = "The video is empty (zero bytes)."


class EncodedVideoSchema(Schema):
    """An encoded video and what it holds: the fields every service that answers a
    video shares (the combiner and the ``video`` pipeline add their own)."""

    video = fields.String(required=True, metadata={"format": "byte",
                                                   "description": "The MP4, base64."})
    frames = fields.Integer(required=True)
    fps = fields.Float(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    duration_s = fields.Float(required=True)
    codec = fields.String(required=True)


def video_fetch_policy(config: Mapping[str, Any]):
    """The SSRF-safe fetcher's policy for video URLs: the service's fetch settings, video
    content types, and a container-signature check of the body."""
    from dataclasses import replace

    from common.media.safe_fetch import FetchPolicy
    return replace(FetchPolicy.from_config(config), content_types=VIDEO_CONTENT_TYPES,
                   sniffer=sniff_video, what="a video file")


def fetch_video(fetcher, url: str, budget_s: float | None) -> bytes:
    """The bytes of a video URL through ``fetcher`` (a :class:`SafeFetcher`)."""
    return fetcher.fetch(url, budget_s).data


def frame_png(pixels: np.ndarray) -> str:
    """An RGB frame as a base64 PNG (lossless: the frame services see exact pixels)."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return b64(buffer.getvalue())


#: Settings of every video service: bodies big enough for a video as base64.
VIDEO_SERVICE_DEFAULTS: dict[str, Any] = {
    **VIDEO_DEFAULTS,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MAX_TEXT_LENGTH": 64 * 1024 * 1024,
    "MAX_BATCH_SIZE": 4,
    "FETCH_MAX_BYTES": 32 * 1024 * 1024,
    "FETCH_DEADLINE_S": 30.0,
    "FETCH_READ_TIMEOUT_S": 10.0,
}


# The sample video every video service warms up on and shows in its docs: a second of
# a red disc crossing a blue background, 64x48 at 8 fps (about 3 KB).


def sample_video_frames(count: int = 8, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """The sample's frames: RGB uint8 [height, width, 3]."""
    rows, cols = np.mgrid[0:height, 0:width]
    frames = []
    for index in range(count):
        frame = np.empty((height, width, 3), np.uint8)
        frame[...] = (30, 60, 160)
        centre = (8 + index * (width - 16) / max(1, count - 1), height / 2)
        disc = (cols - centre[0]) ** 2 + (rows - centre[1]) ** 2 < 10 ** 2
        frame[disc] = (220, 40, 40)
        frames.append(frame)
    return frames


@functools.lru_cache(maxsize=1)
def sample_video_base64() -> str:
    """The sample as a base64 H.264 MP4 (made once, when first asked for)."""
    return b64(encode_video(sample_video_frames(), 8))
