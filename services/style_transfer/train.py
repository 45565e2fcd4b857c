"""Train the shipped style-transfer network and export it as a SavedModel.

    python -m services.style_transfer.train [--out services/style_transfer/artifacts]
        [--style path/to/style.png] [--content-dir folder/of/images]
        [--steps 1200] [--size 96] [--batch-size 4] [--max-minutes 18] [--seed 7]

No pretrained weights are used (none can be downloaded here): the style and content
losses are measured on a fixed random-weight multi-scale conv net (``network.py``),
whose Gram matrices carry colour and texture. A per-channel colour-statistics term pulls
the palette towards the style's. The style image, when none is given, is the project's
own generated "swirls" painting (``make_style_image``), saved as ``<out>/style.png``;
content images, when no folder is given, are generated scenes (gradients, shapes,
strokes) drawn from the seed. Writes ``<out>/model/`` and ``<out>/meta.json``.

TensorFlow is imported inside functions only: tests import this module.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"


@dataclass
class TrainConfig:
    """Everything that determines a trained network."""

    steps: int = 2500
    size: int = 96
    batch_size: int = 4
    learning_rate: float = 2e-3
    style_weight: float = 1.5
    content_weight: float = 0.6
    colour_weight: float = 0.01
    tv_weight: float = 2e-5
    max_minutes: float = 18.0
    seed: int = 7
    width: int = 24


def make_style_image(seed: int = 3, size: int = 256) -> Image.Image:
    """A generated painting: thick curved strokes of a night-sky palette (deep blues,
    cyan, yellow, orange) on dark blue, like a swirly post-impressionist sky."""
    rng = np.random.default_rng(seed)
    palette = [(20, 40, 110), (40, 90, 190), (70, 170, 220), (240, 210, 60),
               (250, 140, 30), (15, 25, 60), (200, 230, 250)]
    image = Image.new("RGB", (size, size), (18, 28, 80))
    draw = ImageDraw.Draw(image)
    for _ in range(420):
        cx, cy = rng.uniform(0, size, 2)
        radius = rng.uniform(6, 40)
        start = rng.uniform(0, 2 * math.pi)
        sweep = rng.uniform(0.8, 2.5)
        colour = palette[rng.integers(len(palette))]
        points = [(cx + radius * math.cos(start + sweep * t / 8),
                   cy + radius * math.sin(start + sweep * t / 8)) for t in range(9)]
        draw.line(points, fill=colour, width=int(rng.integers(3, 8)), joint="curve")
    return image.filter(ImageFilter.SMOOTH)


def make_content_image(rng: np.random.Generator, size: int) -> Image.Image:
    """A generated scene: a two-colour gradient, shapes of random colours, a few lines."""
    top, bottom = rng.integers(0, 256, (2, 3))
    ramp = np.linspace(0, 1, size)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp) * np.ones((size, size, 3))
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 7))):
        box = sorted(rng.uniform(0, size, 2)), sorted(rng.uniform(0, size, 2))
        shape = (box[0][0], box[1][0], box[0][1] + 4, box[1][1] + 4)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        getattr(draw, ("ellipse", "rectangle")[int(rng.integers(2))])(shape, fill=colour)
    for _ in range(int(rng.integers(0, 4))):
        draw.line([tuple(rng.uniform(0, size, 2)) for _ in range(2)],
                  fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=3)
    return image


def content_batches(config: TrainConfig, folder: Path | None):
    """Endless batches of content images [B, size, size, 3] float32 0..255."""
    rng = np.random.default_rng(config.seed)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in
                   (".png", ".jpg", ".jpeg")) if folder else []
    while True:
        if files:
            chosen = [files[i] for i in rng.integers(len(files), size=config.batch_size)]
            images = [_crop(Image.open(f).convert("RGB"), config.size, rng) for f in chosen]
        else:
            images = [make_content_image(rng, config.size) for _ in range(config.batch_size)]
        yield np.stack([np.asarray(i, np.float32) for i in images])


def _crop(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    scale = size / min(image.size)
    image = image.resize((max(size, round(image.width * scale)),
                          max(size, round(image.height * scale))))
    left = int(rng.integers(0, image.width - size + 1))
    top = int(rng.integers(0, image.height - size + 1))
    return image.crop((left, top, left + size, top + size))


def gram(features):
    """The channel-by-channel covariance of [B, H, W, C] features (a Gram matrix of the
    centred features), size-normalised. Centred, because a flat image of the style's
    mean colour already matches most of a plain Gram matrix: the covariance is zero
    for it, so only texture can match the style's."""
    import tensorflow as tf
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[3]])
    flat = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(shape[1] * shape[2], tf.float32)


def _blur_luma(images):
    """Luminance (0..1), averaged over 8x8 blocks: the layout without the texture."""
    import tensorflow as tf
    luma = tf.reduce_sum(images / 255.0 * [0.299, 0.587, 0.114], axis=-1, keepdims=True)
    return tf.nn.avg_pool2d(luma, 8, 8, "VALID") * 4.0


def train(config: TrainConfig, out: Path, style_path: Path | None,
          content_dir: Path | None) -> dict:
    """Train, export to ``out/model`` and return the run's figures."""
    import tensorflow as tf
    from .network import build_features, build_transform, export
    tf.keras.utils.set_random_seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    style = Image.open(style_path).convert("RGB") if style_path else make_style_image()
    style.save(out / "style.png")
    features = build_features(config.seed + 1)
    transform = build_transform(config.width, config.seed)
    style_pixels = tf.constant(np.asarray(style, np.float32)[None])
    style_grams = [gram(f) for f in features(style_pixels)]
    style_mean, style_var = tf.nn.moments(style_pixels / 255.0, axes=[0, 1, 2])
    optimizer = tf.keras.optimizers.Adam(config.learning_rate)

    @tf.function
    def step(content):
        with tf.GradientTape() as tape:
            styled = transform(content, training=True)
            got, want = features(styled), features(content)
            style_loss = tf.add_n([tf.reduce_mean(tf.square(gram(g) - s)) / tf.reduce_mean(
                tf.square(s)) for g, s in zip(got, style_grams)])
            # the deepest features only: shallower ones hold the texture the style adds
            content_loss = tf.reduce_mean(tf.square(got[3] - want[3])) / tf.reduce_mean(
                tf.square(want[3]))
            # the layout, in pixels: the blurred luminance of input and output agree
            content_loss += tf.reduce_mean(tf.square(_blur_luma(styled) - _blur_luma(content)))
            mean, var = tf.nn.moments(styled / 255.0, axes=[1, 2])
            colour_loss = tf.reduce_mean(tf.square(mean - style_mean)) + tf.reduce_mean(
                tf.square(tf.sqrt(var + 1e-6) - tf.sqrt(style_var + 1e-6)))
            tv = tf.reduce_mean(tf.image.total_variation(styled))
            loss = (config.style_weight * style_loss + config.content_weight * content_loss
                    + config.colour_weight * colour_loss * 100 + config.tv_weight * tv)
        grads = tape.gradient(loss, transform.trainable_variables)
        optimizer.apply_gradients(zip(grads, transform.trainable_variables))
        return loss, style_loss, content_loss

    started, history = time.monotonic(), []
    batches = content_batches(config, content_dir)
    for index in range(config.steps):
        loss, style_loss, content_loss = step(tf.constant(next(batches)))
        if index % 50 == 0 or index == config.steps - 1:
            history.append({"step": index, "loss": round(float(loss), 4),
                            "style": round(float(style_loss), 4),
                            "content": round(float(content_loss), 4)})
            print(json.dumps(history[-1]), flush=True)
        if time.monotonic() - started > config.max_minutes * 60:
            break
    export(transform, out / "model")
    meta = {"config": asdict(config), "steps_done": index + 1,
            "train_seconds": round(time.monotonic() - started, 1), "history": history,
            "style": str(style_path or "generated swirls (make_style_image)"),
            "content": str(content_dir or "generated scenes (make_content_image)")}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--style", type=Path)
    parser.add_argument("--content-dir", type=Path)
    defaults = TrainConfig()
    for name in ("steps", "size", "batch_size", "seed", "width"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("max_minutes", "style_weight", "content_weight", "learning_rate"):
        parser.add_argument("--" + name.replace("_", "-"), type=float,
                            default=getattr(defaults, name))
    args = parser.parse_args(argv)
    config = TrainConfig(**{k: getattr(args, k) for k in asdict(defaults) if hasattr(args, k)})
    train(config, args.out, args.style, args.content_dir)


if __name__ == "__main__":
    main()
