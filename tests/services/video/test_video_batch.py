"""The batch job on a folder (and a list) of videos through the real ``video`` service:
each result is written as an .mp4 file and the result store keeps its path."""
from __future__ import annotations

import json

import numpy as np

from common.batch.job import JobOptions, run_job
from tests.helpers.videos import encode, moving_disc
from tests.services.video.test_video_pipeline import ENV, NAMES


def _videos(folder, count=3):
    folder.mkdir()
    for index in range(count):
        (folder / f"clip{index}.mp4").write_bytes(encode(moving_disc(3 + index), 4, "h264"))
    (folder / "notes.txt").write_bytes(b"not a video")
    return folder


def test_a_folder_of_videos_becomes_result_files(live_services, tmp_path):
    urls = live_services(*NAMES, env=ENV)
    folder = _videos(tmp_path / "clips")
    out = tmp_path / "results.jsonl"
    summary = run_job(JobOptions(service="video", input=folder, output=out, url=urls["video"],
                                 progress=False, timeout=120))
    assert (summary.total, summary.done, summary.failed) == (4, 3, 1)
    lines = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert lines["notes.txt"]["status"] == "failed"
    assert lines["notes.txt"]["error"]["details"]["reason"] == "not_a_video"
    for index in range(3):
        result = lines[f"clip{index}.mp4"]["result"]
        path = tmp_path / "results.files" / f"clip{index}.mp4"
        assert result["video"] == str(path) and result["video_bytes"] == path.stat().st_size
        assert result["frames"] == 3 + index
        from common.media.video import decode_all
        assert len(decode_all(path.read_bytes())) == 3 + index
    assert len(out.read_text()) < 20_000  # paths, not base64


def test_a_list_of_videos_is_read_from_the_list_folder(live_services, tmp_path):
    urls = live_services(*NAMES, env=ENV)
    _videos(tmp_path / "clips", 2)
    listing = tmp_path / "todo.txt"
    listing.write_text("clips/clip1.mp4\n# a comment\nclips/missing.mp4\n")
    summary = run_job(JobOptions(service="video", input=listing, fmt="files",
                                 url=urls["video"], progress=False, timeout=120))
    assert (summary.done, summary.failed) == (1, 1)
    written = tmp_path / "todo.results.files" / "clips" / "clip1.mp4"
    assert written.exists() and written.stat().st_size > 0
    assert np.isfinite(summary.rate)
