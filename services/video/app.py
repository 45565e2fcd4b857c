"""The ``video`` pipeline: split a video, transform every frame, combine them again.

1. **video_splitter** turns the video into frames (base64 PNGs) at the requested rate;
2. the **frame service** (``style_transfer`` by default, or ``object_detection``, which
   draws its boxes) transforms them, in chunks of ``VIDEO_CHUNK_SIZE`` frames with at
   most ``VIDEO_CONCURRENCY`` chunks in flight, spread round-robin over its replicas
   (``VIDEO_REPLICAS``); results are put back in frame order;
3. **video_combiner** encodes the frames, with the source's audio and tags, into an MP4.

A video of more than ``VIDEO_SEGMENT_FRAMES`` output frames is cut into
``VIDEO_SEGMENT_FANOUT`` segments by frame index, each sent to this service itself (in
parallel), which may cut again, down to ``VIDEO_MAX_DEPTH`` levels; the segments come
back as lossless videos and the combiner joins them in order. Every call carries what
is left of the caller's deadline. A frame the frame service refuses, or a chunk it fails
on, fails the whole request with the frame's index and the stage's reason: no video is
ever made with a frame missing.
"""
from __future__ import annotations

import itertools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from flask import Flask
from marshmallow import fields, validate

from common import Client, Function, ServiceError, create_service_app
from common.client import Algo, pipe_partial
from common.core import context as ctx
from common.media.safe_fetch import FETCH_DEFAULTS, SafeFetcher, url_field
from common.media.video import (CODECS, VIDEO_SERVICE_DEFAULTS, Base64Video, EncodedVideoSchema,
                                VideoLimited, b64,
                                check_frames, fetch_video, output_fps, probe,
                                sample_video_base64, video_fetch_policy)
from common.serving.validation import Flag, InputSchema, Whole

#: The per-frame services: what each is sent besides the frame, and which output field
#: holds the transformed frame.
FRAME_SERVICES: dict[str, dict[str, Any]] = {
    "style_transfer": {"extra": {}, "field": "image"},
    "object_detection": {"extra": {"draw": True}, "field": "image"},
}


class VideoInput(InputSchema):
    """A video (base64 or URL), the rate, the per-frame service, the output codec."""

    exactly_one_of = ("video", "url")
    video = Base64Video()
    url = url_field(metadata={"description": "An http(s) URL of the video, fetched with the "
                              "SSRF checks (no private addresses, size and time limits)."})
    fps = fields.Float(allow_nan=False, validate=validate.Range(min=0.01), metadata={
        "description": "Frames per second to sample and write at (default: the source's), "
                       "capped at the max_fps limit."})
    frame_service = fields.String(load_default="style_transfer",
                                  validate=validate.OneOf(tuple(FRAME_SERVICES)), metadata={
                                      "description": "The service every frame goes through."})
    codec = fields.String(load_default="h264", validate=validate.OneOf(CODECS), metadata={
        "description": "h264 (plays everywhere) or h264_lossless (exact RGB pixels)."})
    audio = Flag(load_default=True, metadata={"description": "Keep the source's audio."})
    # Set by the service when it sends a segment to itself; callers leave them out.
    start_frame = Whole(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "Internal (recursive split): the segment's first output frame."})
    end_frame = Whole(validate=validate.Range(min=1), metadata={
        "description": "Internal (recursive split): one past the segment's last frame."})
    depth = Whole(load_default=0, validate=validate.Range(min=0, max=8), metadata={
        "description": "Internal (recursive split): how deep this call is."})


class VideoOutput(EncodedVideoSchema):
    """The transformed video and what it holds."""

    frame_service = fields.String(required=True)
    segments = fields.Integer(required=True, metadata={
        "description": "Segments this call cut the video into (1: not cut)."})


class VideoPipeline(VideoLimited, Function):
    """No model of its own: the splitter, a frame service and the combiner."""

    name = "video"
    version = "1.0.0"
    kind = "pipeline"
    description = ("Transforms every frame of a video: splits it (video_splitter), sends "
                   "the frames in parallel chunks through a per-frame service "
                   "(style_transfer by default, or object_detection, which draws its "
                   "boxes) and combines them, with the audio, into an H.264 MP4. Long "
                   "videos are split into segments processed recursively.")
    tags = ("video", "pipeline", "vision")
    input_schema = VideoInput
    output_schema = VideoOutput
    sample_input = {"video": sample_video_base64(), "fps": 4}
    deterministic = False
    calls = ("video_splitter", "video_combiner", "video", *FRAME_SERVICES)

    def load(self) -> None:
        """The limits, the fetcher and the frame services' replica clients."""
        self.fetcher = SafeFetcher(video_fetch_policy(self.config))
        self.replicas = parse_replicas(str(self.config["VIDEO_REPLICAS"]))
        self._turn = itertools.count()
        self._turn_lock = threading.Lock()

    def warmup(self) -> None:
        """Nothing to warm: readiness must not wait on the other services."""

    def metadata(self) -> dict[str, Any]:
        """The steps (for the catalog's graph) and the limits."""
        settings = {k.lower(): self.config[k] for k in _TUNING}
        return {"pipeline": {"steps": [
                    {"service": "video_splitter"},
                    {"service": "style_transfer", "map": True, "over": "frames",
                     "as": "frames", "concurrency": self.config["VIDEO_CONCURRENCY"]},
                    {"service": "video_combiner"}]},
                **super().metadata(),
                "segmenting": settings}

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each video in turn."""
        return [self._video(item) for item in inputs]

    def _video(self, item: dict[str, Any]) -> dict[str, Any]:
        data = item.get("video") or self._fetch(item["url"])
        info = probe(data, self.limits)
        fps = output_fps(info, item.get("fps"), self.limits)
        total = info.output_frames(fps)
        check_frames(total, self.limits)
        start, end = item["start_frame"], item.get("end_frame")
        count = min(end or total, total) - start
        if count > int(self.config["VIDEO_SEGMENT_FRAMES"]) and \
                item["depth"] < int(self.config["VIDEO_MAX_DEPTH"]):
            return self._segmented(data, item, fps, start, end, total)
        return self._direct(data, item, fps, info.describe())

    def _direct(self, data: bytes, item: dict[str, Any], fps: float,
                source: dict[str, Any]) -> dict[str, Any]:
        """Split, transform every frame, combine."""
        split = self.algo("video_splitter").pipe(
            {"video": b64(data), "fps": fps, "start_frame": item["start_frame"],
             **_end(item.get("end_frame")), "audio": self._wants_audio(item, source)},
            timeout=_left()).result
        first = split["frames"][0]["index"] if split["frames"] else item["start_frame"]
        frames = self.transform([f["image"] for f in split["frames"]],
                                item["frame_service"], first)
        combined = self._combine({"frames": frames}, split["fps"], split.get("audio"),
                                 source, item["codec"])
        return self._answer(combined, item, 1)

    def _segmented(self, data: bytes, item: dict[str, Any], fps: float, start: int,
                   end: int | None, total: int) -> dict[str, Any]:
        """Cut ``start..end`` into segments, send each to this service, join them."""
        bounds = segment_bounds(start, end, total, int(self.config["VIDEO_SEGMENT_FANOUT"]))
        encoded = b64(data)
        calls = [{"video": encoded, "fps": fps, "frame_service": item["frame_service"],
                  "codec": "h264_lossless", "audio": False, "start_frame": a,
                  **_end(b), "depth": item["depth"] + 1} for a, b in bounds]
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="segment") as pool:
            parts = list(pool.map(ctx.bind_context(self._segment), calls))
        audio = self._audio(encoded, item) if item["depth"] == 0 else None
        combined = self._combine({"segments": [p["video"] for p in parts]}, fps, audio,
                                 parts[0].get("source", {}), item["codec"])
        return self._answer(combined, item, len(parts))

    def _segment(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.algo("video").pipe(payload, timeout=_left()).result

    def _audio(self, encoded: str, item: dict[str, Any]) -> str | None:
        if not item["audio"]:
            return None
        return self.algo("video_splitter").pipe(
            {"video": encoded, "frames": False, "audio": True}, timeout=_left()).result.get("audio")

    def _wants_audio(self, item: dict[str, Any], source: dict[str, Any]) -> bool:
        return bool(item["audio"] and item["depth"] == 0 and source.get("has_audio"))

    def _combine(self, frames: dict[str, Any], fps: float, audio: str | None,
                 source: dict[str, Any], codec: str) -> dict[str, Any]:
        return self.algo("video_combiner").pipe(
            {**frames, "fps": fps, "audio": audio, "codec": codec,
             "tags": _kept_tags(source.get("tags") or {})}, timeout=_left()).result

    def _answer(self, combined: dict[str, Any], item: dict[str, Any], segments: int) -> dict:
        return {**{k: combined[k] for k in ("video", "frames", "fps", "width", "height",
                                            "duration_s", "codec")},
                "frame_service": item["frame_service"], "segments": segments}

    def transform(self, images: list[str], service: str, first: int = 0) -> list[str]:
        """Every frame (base64 PNG) through ``service``, in bounded parallel chunks over
        its replicas; the outputs in frame order. Any failure raises, naming the frame
        (its index in the whole video: ``first`` is the index of ``images[0]``)."""
        size = int(self.config["VIDEO_CHUNK_SIZE"])
        chunks = [(start, images[start:start + size]) for start in range(0, len(images), size)]
        workers = max(1, min(int(self.config["VIDEO_CONCURRENCY"]), len(chunks)))
        run = ctx.bind_context(lambda chunk: self._chunk(service, first, *chunk))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="frames") as pool:
            return [image for part in pool.map(run, chunks) for image in part]

    def _chunk(self, service: str, first: int, start: int, images: list[str]) -> list[str]:
        spec = FRAME_SERVICES[service]
        items = [{"image": image, **spec["extra"]} for image in images]
        try:
            answer = pipe_partial(self._replica(service), items, timeout=_left())
        except ServiceError as e:
            # a refusal of one image names it (``details.index``); else the whole chunk
            at = e.details.get("index") if isinstance(e.details, dict) else None
            if isinstance(at, int) and 0 <= at < len(images):
                raise frame_failure(e, first + start + at, service) from e
            raise frame_failure(e, first + start, service, len(images)) from e
        for index in sorted(answer.errors):
            raise frame_failure(answer.errors[index], first + start + index, service)
        return [result[spec["field"]] for result in answer.results]

    def _replica(self, service: str) -> Algo:
        """The next replica of ``service`` (round robin), or the registered one."""
        urls = self.replicas.get(service)
        if not urls:
            return self.algo(service)
        with self._turn_lock:
            turn = next(self._turn)
        return _replica_clients(tuple(urls))[turn % len(urls)].algo(service)

    def _fetch(self, url: str) -> bytes:
        current = ctx.current()
        return fetch_video(self.fetcher, url, current.remaining() if current else None)


def frame_failure(error: ServiceError, index: int, stage: str, count: int = 1) -> ServiceError:
    """The error that fails the request for frame ``index`` (or the ``count`` frames
    from it): the stage's own class (a 400 stays a 400, a 504 a 504), naming both."""
    frames = f"frame {index}" if count == 1 else f"frames {index}-{index + count - 1}"
    failed = type(error)(f"{frames}: {stage} failed: {error.message}",
                         {"frame": index, "frames": count, "stage": error.service or stage,
                          "reason": error.message, "code": error.code,
                          "cause": error.details}, service=error.service or stage,
                         request_id=error.request_id)
    return failed


def segment_bounds(start: int, end: int | None, total: int,
                   fanout: int) -> list[tuple[int, int | None]]:
    """``start..end`` (``end`` None: to the stream's end) cut into ``fanout`` contiguous
    ranges of output frames; the last stays open-ended when ``end`` is None, so frames
    the header's estimate missed are never lost."""
    stop = min(end or total, total)
    step = math.ceil((stop - start) / max(2, fanout))
    cuts = list(range(start, stop, step))
    bounds = [(a, a + step) for a in cuts]
    bounds[-1] = (bounds[-1][0], end)
    return bounds


def _left() -> float | None:
    """What is left of the caller's deadline: each call may take all of it (the pipe
    client's own 30 s default would cut a long segment short)."""
    current = ctx.current()
    return current.remaining() if current else None


def _end(end: int | None) -> dict[str, int]:
    return {} if end is None else {"end_frame": end}


#: Tags FFmpeg writes itself; copying them from the source would only mislead.
_OWN_TAGS = ("major_brand", "minor_version", "compatible_brands", "encoder")


def _kept_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: str(v)[:200] for k, v in list(tags.items())[:20]
            if k not in _OWN_TAGS and len(k) <= 64}


def parse_replicas(text: str) -> dict[str, list[str]]:
    """``"style_transfer=http://a:1,http://b:2 object_detection=http://c:3"`` as a dict
    of URL lists (replicas of a frame service beyond its registered URL)."""
    replicas: dict[str, list[str]] = {}
    for entry in text.split():
        name, _, urls = entry.partition("=")
        if name not in FRAME_SERVICES or not urls:
            raise ValueError(f"VIDEO_REPLICAS: {entry!r} is not <frame service>=<url>,...")
        replicas[name] = [u.rstrip("/") for u in urls.split(",") if u]
    return replicas


_clients: dict[tuple[str, ...], list[Client]] = {}
_clients_lock = threading.Lock()


def _replica_clients(urls: tuple[str, ...]) -> list[Client]:
    """One pooled client per replica URL (built once per process)."""
    with _clients_lock:
        if urls not in _clients:
            # colocated=False: a replica is the URL given, even where the frame service
            # also lives in this process (a process group)
            _clients[urls] = [Client(urls={name: url for name in FRAME_SERVICES},
                                     colocated=False) for url in urls]
        return _clients[urls]


_TUNING = ("VIDEO_CHUNK_SIZE", "VIDEO_CONCURRENCY", "VIDEO_SEGMENT_FRAMES",
           "VIDEO_SEGMENT_FANOUT", "VIDEO_MAX_DEPTH")

DEFAULTS = {**VIDEO_SERVICE_DEFAULTS, **FETCH_DEFAULTS,
            **{k: v for k, v in VIDEO_SERVICE_DEFAULTS.items() if k.startswith("FETCH_")},
            "DEFAULT_TIMEOUT_S": 300.0, "MAX_BATCH_SIZE": 2,
            "VIDEO_CHUNK_SIZE": 8, "VIDEO_CONCURRENCY": 4, "VIDEO_REPLICAS": "",
            "VIDEO_SEGMENT_FRAMES": 240, "VIDEO_SEGMENT_FANOUT": 2, "VIDEO_MAX_DEPTH": 3}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The video pipeline app (environment prefix ``VIDEO_``)."""
    return create_service_app(VideoPipeline, defaults=DEFAULTS, config=config)
