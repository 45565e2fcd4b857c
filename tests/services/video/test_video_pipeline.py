"""The video pipeline on real gunicorn: video_splitter, style_transfer (and
object_detection) and video_combiner behind ``video``, with videos the tests make.

The video service is started with small segment settings, so a 20-frame video already
goes through the recursive split (segments sent to itself, two levels deep)."""
from __future__ import annotations

import av
import numpy as np
import pytest
import requests

from tests.helpers.image_server import image_server
from tests.helpers.videos import b64, decoded, encode, from_png, moving_disc, png_frames

NAMES = ("video", "video_splitter", "video_combiner", "style_transfer", "object_detection")
ENV = {"VIDEO_VIDEO_SEGMENT_FRAMES": "8", "VIDEO_VIDEO_CHUNK_SIZE": "3",
       "VIDEO_VIDEO_CONCURRENCY": "3", "VIDEO_VIDEO_MAX_DURATION_S": "6",
       "VIDEO_VIDEO_MAX_FRAMES": "60", "VIDEO_VIDEO_MAX_PIXELS": str(160 * 120),
       "VIDEO_VIDEO_MAX_BYTES": "300000", "VIDEO_MAX_CONTENT_LENGTH": "600000",
       "VIDEO_ALLOW_LIST": image_server().allow_rule}


@pytest.fixture(scope="module")
def urls(live_services):
    return live_services(*NAMES, env=ENV)


def post(urls, name, body, **kwargs):
    return requests.post(f"{urls[name]}/predict", json=body, timeout=120, **kwargs)


def frame_service_outputs(urls, name, frames, extra=None):
    """What ``name`` answers for each frame on its own: the reference."""
    body = [{"image": p, **(extra or {})} for p in png_frames(frames)]
    answers = [a for start in range(0, len(body), 8)
               for a in post(urls, name, body[start:start + 8]).json()["result"]]
    return [from_png(a["image"]) for a in answers]


def test_frame_count_and_fps_come_back(urls):
    frames = moving_disc(6)
    answer = post(urls, "video", {"video": b64(encode(frames, 6, "h264"))})
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert (result["frames"], result["fps"], result["width"], result["height"]) == \
        (6, 6.0, 64, 48)
    assert result["duration_s"] == pytest.approx(1.0)
    got = decoded(result["video"])
    assert len(got) == 6
    with av.open(__import__("io").BytesIO(__import__("base64").b64decode(result["video"]))) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert float(c.streams.video[0].average_rate) == pytest.approx(6.0)


def test_a_lower_fps_samples_the_frames(urls):
    frames = moving_disc(8)
    result = post(urls, "video", {"video": b64(encode(frames, 8)), "fps": 4,
                                  "codec": "h264_lossless"}).json()["result"]
    assert (result["frames"], result["fps"]) == (4, 4.0)
    want = frame_service_outputs(urls, "style_transfer", frames[::2])
    assert all(np.array_equal(g, w) for g, w in zip(decoded(result["video"]), want))


def test_every_frame_is_the_frame_service_output_for_its_frame(urls):
    frames = moving_disc(7)
    result = post(urls, "video", {"video": b64(encode(frames, 7)),
                                  "codec": "h264_lossless"}).json()["result"]
    got = decoded(result["video"])
    want = frame_service_outputs(urls, "style_transfer", frames)
    assert len(got) == 7
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    assert not np.array_equal(want[0], frames[0])  # the style did change the frames


def test_the_default_h264_is_close_to_the_frame_service_output(urls):
    frames = moving_disc(5)
    result = post(urls, "video", {"video": b64(encode(frames, 5))}).json()["result"]
    want = frame_service_outputs(urls, "style_transfer", frames)
    errors = [np.abs(g.astype(int) - w).mean() for g, w in zip(decoded(result["video"]), want)]
    # yuv420p at crf 18 blurs the styled frames' fine colour texture: about 6-7 grey
    # levels off on average; another frame's output is 20+ off, the input frame 55+
    assert len(errors) == 5 and max(errors) < 10, errors


def test_a_long_video_goes_through_the_recursive_split_whole_and_in_order(urls):
    frames = moving_disc(20)
    answer = post(urls, "video", {"video": b64(encode(frames, 10)), "codec": "h264_lossless"})
    result = answer.json()["result"]
    assert result["segments"] == 2 and result["frames"] == 20
    got = decoded(result["video"])
    want = frame_service_outputs(urls, "style_transfer", frames)
    assert len(got) == 20
    assert [next(i for i, w in enumerate(want) if np.array_equal(g, w)) for g in got] == \
        list(range(20))


def test_object_detection_draws_its_boxes_on_every_frame(urls):
    frames = moving_disc(4, 96, 64)
    result = post(urls, "video", {"video": b64(encode(frames, 4)), "codec": "h264_lossless",
                                  "frame_service": "object_detection"}).json()["result"]
    want = frame_service_outputs(urls, "object_detection", frames, {"draw": True})
    got = decoded(result["video"])
    assert len(got) == 4 and all(np.array_equal(g, w) for g, w in zip(got, want))
    assert any(not np.array_equal(w, f) for w, f in zip(want, frames))  # boxes drawn


def test_object_detection_without_draw_keeps_its_contract(urls):
    answer = post(urls, "object_detection", {"image": png_frames(moving_disc(1, 96, 64))[0]})
    assert "image" not in answer.json()["result"]


def test_the_audio_is_kept(urls):
    frames = moving_disc(6)
    data = encode(frames, 6, "h264", with_audio=True)
    result = post(urls, "video", {"video": b64(data)}).json()["result"]
    with av.open(__import__("io").BytesIO(__import__("base64").b64decode(result["video"]))) as c:
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"


def _bad_videos():
    good = encode(moving_disc(6), 6, "h264")
    return {
        "zero_length": ("", 400, None),
        "not_a_video": (b64(b"this is plain text, not a video at all" * 4), 400, "not_a_video"),
        "png_image": (png_frames(moving_disc(1))[0], 400, "not_a_video"),
        "truncated": (b64(good[: len(good) // 2]), 400, "truncated"),
        "header_only": (b64(good[:64]), 400, "truncated"),
        "unsupported_codec": (b64(encode(moving_disc(3), 3, "ffv1", "matroska")), 400,
                              "unsupported_codec"),
        "too_long": (b64(encode(moving_disc(14), 2, "h264")), 413, None),
        "too_many_pixels": (b64(encode(moving_disc(2, 192, 128), 2, "h264")), 413, None),
        "too_many_bytes": (b64(encode([np.random.default_rng(i).integers(0, 256, (120, 160, 3),
                                                                         np.uint8)
                                       for i in range(12)], 12)), 413, None),
    }


BAD = _bad_videos()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_videos_get_a_clear_json_error(urls, case):
    video, status, reason = BAD[case]
    answer = post(urls, "video", {"video": video})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"]
    if reason:
        assert error["details"]["reason"] == reason
    if case == "zero_length":
        assert "video" in error["details"]


def test_too_many_frames_at_the_requested_fps_is_a_413(urls):
    answer = post(urls, "video", {"video": b64(encode(moving_disc(12), 6, "h264")), "fps": 40})
    assert answer.status_code == 413 and answer.json()["error"]["details"]["max_frames"] == 60


def test_a_frame_the_frame_service_refuses_fails_the_request_naming_it(urls):
    tiny = [f[:6] for f in moving_disc(4)]  # 64x6: style_transfer wants sides of 8+
    answer = post(urls, "video", {"video": b64(encode(tiny, 4))})
    assert answer.status_code == 400, answer.text
    details = answer.json()["error"]["details"]
    assert details["stage"] == "style_transfer" and details["frame"] == 0
    assert "8" in details["reason"]


@pytest.mark.parametrize("body, field", [
    ({"video": "%%%"}, "video"), ({}, "video"), ({"video": "AAAA", "url": "http://x/y"}, "video"),
    ({"video": "AAAA", "fps": 0}, "fps"), ({"video": "AAAA", "frame_service": "sentiment"},
                                           "frame_service"),
    ({"video": "AAAA", "codec": "vp9"}, "codec"), ({"url": "http://127.0.0.1:1/v.mp4"}, None)])
def test_bad_fields_are_400s_naming_them(urls, body, field):
    answer = post(urls, "video", body)
    assert answer.status_code == 400, answer.text
    if field:
        assert field in answer.json()["error"]["details"]


def test_the_openapi_states_the_limits(urls):
    document = requests.get(f"{urls['video']}/metadata", timeout=10).json()
    assert document["video_limits"]["max_duration_s"] == 6.0
    assert document["video_limits"]["max_frames"] == 60
    assert document["video_limits"]["max_video_bytes"] == 300000
    assert document["video_limits"]["max_frame_pixels"] == 160 * 120


def test_a_video_url_is_fetched_with_the_ssrf_checks(urls):
    answer = post(urls, "video", {"url": image_server().url("/clip.mp4")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["frames"] == 6


@pytest.mark.parametrize("path, reason", [("/scene/0.png", "content_type"),
                                          ("/missing.png", "http_status")])
def test_a_url_that_is_no_video_is_refused(urls, path, reason):
    answer = post(urls, "video", {"url": image_server().url(path)})
    assert answer.status_code == 400 and answer.json()["error"]["details"]["reason"] == reason


def test_the_caller_deadline_bounds_the_whole_video(urls):
    answer = post(urls, "video", {"video": b64(encode(moving_disc(20), 10))},
                  headers={"X-Deadline-Ms": "300"})
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["code"] == "deadline_exceeded"


def test_the_openapi_document_states_the_video_limits(urls):
    spec = requests.get(f"{urls['video']}/openapi.json", timeout=10).json()
    operation = spec["paths"]["/predict"]["post"]
    limits = operation["x-modelchain-own-limits"]
    assert (limits["max_duration_s"], limits["max_frames"], limits["max_video_bytes"],
            limits["max_frame_pixels"]) == (6.0, 60, 300000, 160 * 120)
    assert "max_duration_s 6.0" in operation["description"]
