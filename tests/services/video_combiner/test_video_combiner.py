"""The video_combiner service on its own (Flask's test client): frames or segments in,
one MP4 out, exact with the lossless codec; and the bad inputs a caller sends."""
from __future__ import annotations

import numpy as np
import pytest

from services.video_combiner import create_app
from tests.helpers.videos import b64, decoded, encode, moving_disc, png_frames


@pytest.fixture(scope="module")
def client():
    return create_app({"LOAD_MODEL": "sync", "VIDEO_MAX_FRAMES": 40}).test_client()


def combine(client, **body):
    return client.post("/predict", json=body)


def test_frames_become_an_mp4_with_every_pixel_kept_losslessly(client):
    frames = moving_disc(6)
    answer = combine(client, frames=png_frames(frames), fps=6,
                     codec="h264_lossless").get_json()["result"]
    assert (answer["frames"], answer["fps"], answer["duration_s"]) == (6, 6, 1.0)
    assert answer["codec"] == "h264_lossless" and answer["has_audio"] is False
    assert all(np.array_equal(a, b) for a, b in zip(decoded(answer["video"]), frames))


def test_the_default_h264_pads_odd_sides_and_plays_back_the_same_count(client):
    frames = moving_disc(4, width=33, height=21)
    answer = combine(client, frames=png_frames(frames), fps=4).get_json()["result"]
    assert (answer["width"], answer["height"]) == (34, 22)
    assert len(decoded(answer["video"])) == 4


def test_segments_are_joined_end_to_end_in_order(client):
    first, second = moving_disc(3), moving_disc(5)[2:]
    answer = combine(client, segments=[b64(encode(first, 4)), b64(encode(second, 4))],
                     fps=4, codec="h264_lossless").get_json()["result"]
    out = decoded(answer["video"])
    assert len(out) == 6 and np.array_equal(out[3], second[0])


@pytest.mark.parametrize("body,field", [
    ({"fps": 4}, "frames"),
    ({"frames": [], "fps": 4}, "frames"),
    ({"frames": ["@@@"], "fps": 4}, "frames"),
    ({"frames": png_frames(moving_disc(1)), "fps": 0}, "fps"),
    ({"frames": png_frames(moving_disc(1)), "fps": 4, "codec": "vp9"}, "codec"),
    ({"frames": png_frames(moving_disc(1)), "segments": ["AAAA"], "fps": 4}, "frames"),
])
def test_bad_fields_name_themselves(client, body, field):
    response = combine(client, **body)
    assert response.status_code == 400, response.get_json()
    assert field in str(response.get_json()["error"])


def test_frames_of_different_sizes_are_refused(client):
    frames = png_frames(moving_disc(1)) + png_frames(moving_disc(1, width=32, height=32))
    response = combine(client, frames=frames, fps=4)
    assert response.status_code == 400 and "frames" in str(response.get_json()["error"])


def test_a_segment_that_is_no_video_is_named_by_index(client):
    response = combine(client, segments=[b64(encode(moving_disc(2), 4)),
                                         b64(b"not a video")], fps=4)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("segments[1]")


def test_too_many_frames_is_a_413(client):
    response = combine(client, frames=png_frames(moving_disc(41, 8, 8)), fps=4)
    assert response.status_code == 413
