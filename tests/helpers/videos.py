"""Short videos the video tests make themselves (PyAV encodes them): a disc crossing a
coloured background, tiny and few frames so the tests stay fast."""
from __future__ import annotations

import base64
import io

import numpy as np


def moving_disc(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """``count`` RGB frames, each different: the disc moves, the background shifts hue."""
    rows, cols = np.mgrid[0:height, 0:width]
    frames = []
    for index in range(count):
        frame = np.empty((height, width, 3), np.uint8)
        frame[...] = (30 + (index * 7) % 200, 60, 160)
        cx = 6 + (index * 5) % max(1, width - 12)
        frame[(cols - cx) ** 2 + (rows - height / 2) ** 2 < (min(width, height) / 5) ** 2] = \
            (220, 40, 40)
        frames.append(frame)
    return frames


def encode(frames: list[np.ndarray], fps: float, codec: str = "h264_lossless",
           container: str = "mp4", with_audio: bool = False) -> bytes:
    """A video file of ``frames``; ``codec`` h264_lossless (exact pixels), h264, or any
    PyAV encoder name (``ffv1`` in ``container`` mkv for an unsupported codec)."""
    import av
    from fractions import Fraction
    from common.media.video import encode_video
    if codec in ("h264", "h264_lossless") and not with_audio:
        return encode_video(frames, fps, codec)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec if codec not in ("h264", "h264_lossless") else "libx264",
                                rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p" if codec in ("h264", "h264_lossless") else "yuv444p"
        audio = _tone(out, len(frames) / fps) if with_audio else None
        for pixels in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode(None))
        if audio:
            audio()
    return buffer.getvalue()


def _tone(out, seconds: float):
    import av
    stream = out.add_stream("aac", rate=16000)
    stream.layout = "mono"

    def write() -> None:
        samples = np.sin(np.arange(int(16000 * seconds)) * 2 * np.pi * 440 / 16000)
        for start in range(0, len(samples), 1024):
            chunk = samples[start:start + 1024].astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = 16000
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return write


def b64(data: bytes) -> str:
    """Bytes as base64 text."""
    return base64.b64encode(data).decode("ascii")


def decoded(video_b64: str) -> list[np.ndarray]:
    """Every frame of a base64 video answer."""
    from common.media.video import decode_all
    return decode_all(base64.b64decode(video_b64))


def png_frames(frames: list[np.ndarray]) -> list[str]:
    """Frames as the base64 PNGs the splitter sends the frame service."""
    from common.media.video import frame_png
    return [frame_png(f) for f in frames]


def from_png(text: str) -> np.ndarray:
    """A base64 PNG answer as RGB pixels."""
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))
