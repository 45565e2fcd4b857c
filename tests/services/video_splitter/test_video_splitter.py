"""The video_splitter service on its own (Flask's test client): frames, rate, segment,
audio and source metadata, and the bad inputs a caller sends."""
from __future__ import annotations

import numpy as np
import pytest

from services.video_splitter import create_app
from tests.helpers.videos import b64, encode, from_png, moving_disc


@pytest.fixture(scope="module")
def client():
    return create_app({"LOAD_MODEL": "sync", "VIDEO_MAX_FRAMES": 40}).test_client()


@pytest.fixture(scope="module")
def video():
    return moving_disc(12)


def split(client, **body):
    return client.post("/predict", json=body)


def test_frames_come_back_at_the_source_rate_exactly(client, video):
    answer = split(client, video=b64(encode(video, 6))).get_json()["result"]
    assert answer["count"] == answer["total_frames"] == 12 and answer["fps"] == 6
    assert (answer["width"], answer["height"]) == (64, 48)
    assert [f["index"] for f in answer["frames"]] == list(range(12))
    assert answer["frames"][3]["timestamp_s"] == pytest.approx(0.5)
    for sent, frame in zip(video, answer["frames"]):   # lossless source: exact pixels
        assert np.array_equal(from_png(frame["image"]), sent)


def test_a_lower_rate_and_a_segment_sample_the_right_frames(client, video):
    answer = split(client, video=b64(encode(video, 6)), fps=3, start_frame=1,
                   end_frame=4).get_json()["result"]
    assert answer["total_frames"] == 6 and [f["index"] for f in answer["frames"]] == [1, 2, 3]
    assert np.array_equal(from_png(answer["frames"][0]["image"]), video[2])


def test_the_audio_and_the_source_metadata_travel_for_the_combiner(client, video):
    answer = split(client, video=b64(encode(video, 6, codec="h264", with_audio=True)),
                   frames=False).get_json()["result"]
    assert answer["frames"] == [] and answer["audio"]
    assert answer["source"]["codec"] == "h264"


@pytest.mark.parametrize("body,status,reason", [
    ({"video": ""}, 400, None),
    ({"video": b64(b"not a video at all, just text")}, 400, "not_a_video"),
    ({"video": b64(encode(moving_disc(4), 4)[:300])}, 400, "truncated"),
    ({"video": b64(encode(moving_disc(4), 4, codec="ffv1", container="matroska"))}, 400,
     "unsupported_codec"),
    ({"video": b64(encode(moving_disc(60), 30))}, 413, None),
])
def test_bad_videos_are_clear_json_errors(client, body, status, reason):
    response = split(client, **body)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["message"]
    if reason:
        assert error["details"]["reason"] == reason


@pytest.mark.parametrize("body,field", [
    ({}, "video"),
    ({"video": "x", "url": "http://example.com/a.mp4"}, "video"),
    ({"video": "@@@"}, "video"),
    ({"video": "AAAA", "fps": 0}, "fps"),
    ({"video": "AAAA", "start_frame": 3, "end_frame": 2}, "end_frame"),
])
def test_bad_fields_name_themselves(client, body, field):
    response = split(client, **body)
    assert response.status_code == 400
    assert field in str(response.get_json()["error"])


def test_the_openapi_states_the_configured_video_limits(client):
    spec = client.get("/openapi.json").get_json()
    limits = spec["info"].get("x-modelchain-own-limits") or next(
        op["post"]["x-modelchain-own-limits"] for op in spec["paths"].values()
        if "x-modelchain-own-limits" in op.get("post", {}))
    assert limits["max_frames"] == 40 and limits["max_video_bytes"] > 0
