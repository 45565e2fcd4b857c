"""Video decoding, sampling and limits (common/media/video.py), on generated videos."""
from __future__ import annotations

import numpy as np
import pytest

from common.core.errors import InvalidInput, PayloadTooLarge
from common.media import video as V
from services.video.app import parse_replicas, segment_bounds
from tests.helpers.videos import encode, moving_disc

FRAMES = moving_disc(12)
LOSSLESS = encode(FRAMES, 6)


def test_the_header_is_read():
    info = V.probe(LOSSLESS)
    assert (info.width, info.height, info.fps, info.codec) == (64, 48, 6.0, "h264")
    assert info.duration_s == pytest.approx(2.0) and info.output_frames(6) == 12


@pytest.mark.parametrize("fps, picked", [(6, list(range(12))), (3, list(range(0, 12, 2))),
                                         (12, [i // 2 for i in range(24)])])
def test_frames_are_sampled_at_the_rate(fps, picked):
    got = V.sample_frames(LOSSLESS, fps)
    assert [i for i, _, _ in got] == list(range(len(picked)))
    assert all(np.array_equal(p, FRAMES[j]) for (_, _, p), j in zip(got, picked))


@pytest.mark.parametrize("start, end", [(0, 5), (5, 9), (9, None), (3, 4)])
def test_a_segment_is_the_same_frames_as_in_the_whole(start, end):
    got = V.sample_frames(LOSSLESS, 6, start, end)
    assert [i for i, _, _ in got] == list(range(start, end or 12))
    assert all(np.array_equal(p, FRAMES[i]) for i, _, p in got)


def test_segments_cover_the_range_in_order():
    assert segment_bounds(0, None, 20, 2) == [(0, 10), (10, None)]
    assert segment_bounds(10, 20, 20, 3) == [(10, 14), (14, 18), (18, 20)]
    bounds = segment_bounds(0, None, 7, 4)
    assert bounds[0][0] == 0 and bounds[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_replicas_are_parsed_and_checked():
    assert parse_replicas("style_transfer=http://a:1,http://b:2/") == {
        "style_transfer": ["http://a:1", "http://b:2"]}
    with pytest.raises(ValueError):
        parse_replicas("sentiment=http://a:1")


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"), (b"GIF89a" + b"\0" * 50, "not_a_video"),
    (b"plain text " * 20, "not_a_video"), (LOSSLESS[:100], "truncated"),
    (encode(FRAMES[:3], 3, "ffv1", "matroska"), "unsupported_codec")])
def test_bad_files_are_400s_with_a_reason(data, reason):
    with pytest.raises(InvalidInput) as caught:
        V.probe(data)
    assert caught.value.details["reason"] == reason


@pytest.mark.parametrize("limits", [V.VideoLimits(max_bytes=1000),
                                    V.VideoLimits(max_duration_s=1.5),
                                    V.VideoLimits(max_pixels=64 * 47)])
def test_limits_are_413s(limits):
    with pytest.raises(PayloadTooLarge):
        V.probe(LOSSLESS, limits)


def test_too_many_frames_is_a_413():
    with pytest.raises(PayloadTooLarge):
        V.sample_frames(LOSSLESS, 6, limits=V.VideoLimits(max_frames=5))


def test_the_encoder_writes_h264_and_pads_odd_sizes():
    odd = [f[:47, :63] for f in FRAMES[:3]]
    info = V.probe(V.encode_video(odd, 3))
    assert (info.codec, info.width, info.height) == ("h264", 64, 48)
    exact = V.decode_all(V.encode_video(odd, 3, "h264_lossless"))
    assert all(np.array_equal(a, b) for a, b in zip(exact, odd))
