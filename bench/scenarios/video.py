"""Scenario ``video`` (issue 18): frames per second through the ``video`` pipeline with
1 and with 2 replicas of ``style_transfer`` (each service in a process of its own), and
with the four in one process group (frames to style_transfer in-process), against the
model run in a loop in-process on the same frames.

The video is generated (a disc crossing a shifting background), ``FRAMES`` frames of
``WIDTH`` x ``HEIGHT``. The baseline runs ``StyleTransfer.style`` (the service's own
compiled SavedModel call) on the decoded frames, in chunks of the pipeline's chunk size,
in a subprocess of its own; the pipeline rows post the whole video to ``video`` (which
splits, fans the frames out, combines) one request at a time. ``pipeline ms/frame`` is
the time per frame above the model's: decoding, PNGs, HTTP, JSON, encoding.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import subprocess
import sys
import time

import requests

from tools.launcher import service_environment, start_services, stop_services, wait_ready
from common.core.registry import ROOT

from .. import servers
from ..report import Table, ratio, write_json
from . import Options

FRAMES, WIDTH, HEIGHT, FPS = 48, 160, 120, 12
CHUNK = 8


def make_video(frames: int = FRAMES) -> bytes:
    """The benchmark's video: H.264 MP4, generated."""
    from common.media.video import encode_video, sample_video_frames
    return encode_video(sample_video_frames(frames, WIDTH, HEIGHT), FPS)


def run(options: Options) -> list[Table]:
    """The in-process baseline, then the pipeline with one and with two replicas."""
    video = make_video()
    repeats = 1 if options.quick else 3
    baseline = _baseline(repeats * 2)
    names = ["video_splitter", "video_combiner", "style_transfer", "video"]
    first = servers.Group(_apart(servers.entries(names)), {}, "video-1")
    second = servers.Group(_apart(servers.entries(["style_transfer"])), {}, "video-replica")
    together = servers.Group(_together(servers.entries(names)), {}, "video-colocated")
    for group in (first, second, together):
        group.start()
    processes = first.processes + second.processes + together.processes
    try:
        urls = {p.entry.name: p.url for p in first.processes}
        two = _two_replica_video(urls, second.processes[0].url)
        processes += two
        wait_ready(processes, 300)
        runs = [_load("1 replica", urls["video"], video, repeats),
                _load("2 replicas", two[0].url, video, repeats),
                _load("1 replica co-located", together.by_name()["video"].url, video,
                      repeats)]
    finally:
        stop_services(processes)
    write_json("video", {"options": vars(options), "baseline": baseline, "runs": runs})
    return [_table(baseline, runs)]


def _apart(entries):
    """The entries, each in a process of its own (frames go over HTTP)."""
    return [dataclasses.replace(e, group="") for e in entries]


def _together(entries):
    """The entries in one process group (frames go to style_transfer in-process)."""
    return [dataclasses.replace(e, group="video_bench") for e in entries]


def _two_replica_video(urls: dict[str, str], replica: str):
    """A second ``video`` service whose frames go to both style_transfer replicas."""
    entry = _apart(servers.entries(["video"]))[0]
    env = {**{f"MODELCHAIN_URL_{n.upper()}": u for n, u in urls.items() if n != "video"},
           "VIDEO_VIDEO_REPLICAS": f"style_transfer={urls['style_transfer']},{replica}"}
    return start_services([entry], ports={"video": servers.free_port()}, env=env,
                          log_dir=servers.LOG_DIR / "video-2")


def _load(name: str, url: str, video: bytes, repeats: int) -> dict:
    body = {"video": base64.b64encode(video).decode("ascii")}
    _post(url, body)  # warm-up: the first call pays the services' first-use costs
    started = time.perf_counter()
    for _ in range(repeats):
        answer = _post(url, body)
    seconds = time.perf_counter() - started
    assert answer["frames"] == FRAMES, answer["frames"]
    return {"case": name, "frames": FRAMES * repeats, "seconds": round(seconds, 3),
            "fps": round(FRAMES * repeats / seconds, 2)}


def _post(url: str, body: dict) -> dict:
    response = requests.post(f"{url}/predict", json=body, timeout=600)
    if response.status_code != 200:
        raise RuntimeError(f"video answered {response.status_code}: {response.text[:500]}")
    return response.json()["result"]


def _baseline(repeats: int) -> dict:
    command = [sys.executable, "-m", "bench.scenarios.video", "--repeats", str(repeats)]
    done = subprocess.run(command, cwd=ROOT, env=service_environment({}), capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the video baseline failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(baseline: dict, runs: list[dict]) -> Table:
    table = Table(f"video: {FRAMES} frames of {WIDTH}x{HEIGHT}, chunks of {CHUNK}, "
                  "one request at a time", ["case", "frames/s", "÷ model in-process",
                                            "ms/frame", "pipeline ms/frame"])
    model_ms = 1000 / baseline["fps"]
    table.add("model in a loop, in-process", baseline["fps"], 1.0, round(model_ms, 2), 0.0)
    for run in runs:
        ms = 1000 / run["fps"]
        table.add(f"video, {run['case']} of style_transfer", run["fps"],
                  ratio(run["fps"], baseline["fps"]), round(ms, 2), round(ms - model_ms, 2))
    table.notes.append("pipeline ms/frame = ms/frame through video minus the model's own; "
                       "all rows from this same run, on this machine's cores (replicas "
                       "share them).")
    return table


def measure_model(repeats: int) -> dict:
    """frames/s of the service's model on the benchmark's frames, in chunks of CHUNK."""
    from common.media.video import sample_frames
    from services.style_transfer.app import StyleTransfer
    model = StyleTransfer({"MODEL_DIR": "", "IMAGE_MAX_PIXELS": 40_000_000})
    model.load()
    frames = [f for _, _, f in sample_frames(make_video(), FPS)]
    model.style(frames[:CHUNK])  # trace once
    started = time.perf_counter()
    for _ in range(repeats):
        for start in range(0, len(frames), CHUNK):
            model.style(frames[start:start + CHUNK])
    seconds = time.perf_counter() - started
    return {"frames": len(frames) * repeats, "seconds": round(seconds, 3),
            "fps": round(len(frames) * repeats / seconds, 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    print(json.dumps(measure_model(parser.parse_args().repeats)))
