"""The before and after frames of the README, made with the committed artifact:

    python -m services.style_transfer.figures [--out services/style_transfer/examples]

Writes ``before.png`` and ``after.png``: the same four frames (a generated scene of
shapes, the sample image, and two frames of a disc crossing a background, as the video
tests make them) before and after ``StyleTransfer.style``, and ``style.png``, the
style image the network was trained on.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from common.media.images import sample_image
from common.media.video import sample_video_frames

from .app import ARTIFACTS, StyleTransfer
from .train import make_content_image

DEFAULT_OUT = Path(__file__).resolve().parent / "examples"


def frames() -> list[np.ndarray]:
    """The README's four input frames, 160x120."""
    scene = make_content_image(np.random.default_rng(2026), 120).resize((160, 120))
    video = sample_video_frames(8, 160, 120)
    return [np.asarray(scene), np.asarray(sample_image(160, 120)), video[1], video[6]]


def strip(images: list[np.ndarray]) -> Image.Image:
    """Frames side by side, 4 pixels apart."""
    gap = np.full((images[0].shape[0], 4, 3), 255, np.uint8)
    parts = [p for image in images for p in (image, gap)][:-1]
    return Image.fromarray(np.concatenate(parts, axis=1))


def main(argv: list[str] | None = None) -> None:
    """Write the figures (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    model = StyleTransfer({"MODEL_DIR": ""})
    model.load()
    before = frames()
    args.out.mkdir(parents=True, exist_ok=True)
    strip(before).save(args.out / "before.png", optimize=True)
    strip(model.style(before)).save(args.out / "after.png", optimize=True)
    shutil.copy(ARTIFACTS / "style.png", args.out / "style.png")


if __name__ == "__main__":
    main()
