"""Train the shipped style-transfer network and export it as a SavedModel.

    python -m services.style_transfer.train [--out services/style_transfer/artifacts]
        [--style path/to/style.png] [--content-dir folder/of/images]
        [--steps 2500] [--size 96] [--batch-size 4] [--max-minutes 15] [--seed 7]
        [--style-weight 2] [--content-weight 1] [--colour-weight 100] [--tv-weight 1]

No pretrained weights are used (none can be downloaded here): the style loss is the
distance of feature covariances (centred Gram matrices) on three fixed random-weight
conv nets of different receptive fields (``network.FEATURE_NETS``); the content loss
compares the shallow random features of the standardised luminance (the layout, not
the colours); a sliced Wasserstein term matches the output's whole colour distribution
to the style's; a total-variation term keeps it smooth. The style image, when none is given, is the project's
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
    style_weight: float = 2.0
    content_weight: float = 1.0
    colour_weight: float = 100.0
    tv_weight: float = 1.0
    max_minutes: float = 15.0
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
    for it, so only texture can match the style's (the palette has its own term)."""
    import tensorflow as tf
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[3]])
    flat = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(shape[1] * shape[2], tf.float32)


def colour_directions(seed: int, count: int = 16):
    """Fixed unit directions in RGB (the three axes and random ones) along which the
    output's colour distribution is compared with the style's."""
    rng = np.random.default_rng(seed)
    directions = np.concatenate([np.eye(3), rng.normal(size=(count - 3, 3))])
    return (directions / np.linalg.norm(directions, axis=1, keepdims=True)).astype(np.float32)


def sorted_projections(pixels, directions):
    """[B, N, P]: each image's pixel colours (0..1) projected on each direction, sorted."""
    import tensorflow as tf
    flat = tf.reshape(pixels / 255.0, [tf.shape(pixels)[0], -1, 3])
    return tf.sort(tf.einsum("bnc,pc->bnp", flat, directions), axis=1)


def sliced_wasserstein(pixels, style_sorted, directions):
    """The sliced Wasserstein distance of each image's colour distribution to the
    style's: the whole palette (how much dark blue, how much yellow), not its mean."""
    import tensorflow as tf
    got = sorted_projections(pixels, directions)
    count = tf.shape(got)[1]
    # the style's quantiles at the image's pixel count (the two sizes differ)
    picks = tf.cast(tf.round(tf.linspace(0.0, tf.cast(tf.shape(style_sorted)[1] - 1,
                                                     tf.float32), count)), tf.int32)
    want = tf.gather(style_sorted, picks, axis=1)
    return tf.reduce_mean(tf.square(got - want))


def _structure(images):
    """Standardised luminance as 3 channels: the layout and edges without the colours,
    so the content term does not hold the palette back."""
    import tensorflow as tf
    luma = tf.reduce_sum(images * [0.299, 0.587, 0.114], axis=-1, keepdims=True)
    mean, var = tf.nn.moments(luma, axes=[1, 2, 3], keepdims=True)
    return tf.tile((luma - mean) * tf.math.rsqrt(var + 25.0) * 60.0 + 127.5, [1, 1, 1, 3])


def _losses(nets, style_grams, style_sorted, directions, content, styled):
    """The four loss terms of a batch (each a scalar)."""
    import tensorflow as tf
    style_terms = []
    for net, grams in zip(nets, style_grams):
        for got, want in zip(net(styled), grams):
            style_terms.append(tf.reduce_mean(tf.square(gram(got) - want))
                               / tf.reduce_mean(tf.square(want)))
    style_loss = tf.add_n(style_terms) / len(style_terms)
    got, want = nets[0](_structure(styled)), nets[0](_structure(content))
    content_loss = tf.add_n([tf.reduce_mean(tf.square(g - w)) / tf.reduce_mean(tf.square(w))
                             for g, w in zip(got[:2], want[:2])])
    colour_loss = sliced_wasserstein(styled, style_sorted, directions)
    tv = tf.reduce_mean(tf.image.total_variation(styled / 255.0)) / tf.cast(
        tf.size(styled[0]), tf.float32)
    return style_loss, content_loss, colour_loss, tv


def train(config: TrainConfig, out: Path, style_path: Path | None,
          content_dir: Path | None) -> dict:
    """Train, export to ``out/model`` and return the run's figures."""
    import tensorflow as tf
    from .network import FEATURE_NETS, build_features, build_transform, export
    tf.keras.utils.set_random_seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    style = Image.open(style_path).convert("RGB") if style_path else make_style_image()
    style.save(out / "style.png")
    nets = [build_features(config.seed + 1 + n, spec) for n, spec in enumerate(FEATURE_NETS)]
    transform = build_transform(config.width, config.seed)
    style_pixels = tf.constant(np.asarray(style, np.float32)[None])
    style_grams = [[gram(f) for f in net(style_pixels)] for net in nets]
    directions = tf.constant(colour_directions(config.seed))
    style_sorted = sorted_projections(style_pixels, directions)
    optimizer = tf.keras.optimizers.Adam(config.learning_rate)

    @tf.function
    def step(content):
        with tf.GradientTape() as tape:
            styled = transform(content, training=True)
            terms = _losses(nets, style_grams, style_sorted, directions, content, styled)
            weights = (config.style_weight, config.content_weight, config.colour_weight,
                       config.tv_weight)
            loss = tf.add_n([w * t for w, t in zip(weights, terms)])
        grads = tape.gradient(loss, transform.trainable_variables)
        optimizer.apply_gradients(zip(grads, transform.trainable_variables))
        return (loss,) + terms

    started, history = time.monotonic(), []
    batches = content_batches(config, content_dir)
    for index in range(config.steps):
        values = step(tf.constant(next(batches)))
        if index % 50 == 0 or index == config.steps - 1:
            names = ("loss", "style", "content", "colour", "tv")
            history.append({"step": index, **{n: round(float(v), 4)
                                              for n, v in zip(names, values)}})
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
    for name in ("max_minutes", "style_weight", "content_weight", "colour_weight",
                 "tv_weight", "learning_rate"):
        parser.add_argument("--" + name.replace("_", "-"), type=float,
                            default=getattr(defaults, name))
    args = parser.parse_args(argv)
    config = TrainConfig(**{k: getattr(args, k) for k in asdict(defaults) if hasattr(args, k)})
    train(config, args.out, args.style, args.content_dir)


if __name__ == "__main__":
    main()
