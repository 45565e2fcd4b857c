"""The generated data set: circles, squares and triangles drawn with Pillow.

Each scene is a random-size image (96 to 320 pixels a side) with a random background
(flat colour, gradient or blotchy noise), one to five filled shapes in several colours
and sizes that barely overlap, and some pixel noise. A scene is fully determined by its
seed, so the training, validation and test sets are reproducible and disjoint (they use
different seed ranges).

No TensorFlow here: tests and the service import this module.

    python -m services.object_detection.shapes shapes.png [--index 7]

writes a test scene (and prints its shapes), e.g. to try the service with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Label names by 1-based id, the order of ``label_map.pbtxt``.
LABELS = ("circle", "square", "triangle")

COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "yellow": (240, 210, 40), "purple": (150, 60, 190), "orange": (245, 140, 30),
    "white": (245, 245, 245), "black": (20, 20, 20), "cyan": (40, 200, 210),
}

#: Seed ranges of the splits; a scene's seed is ``base + index``.
SPLITS = {"train": 0, "validation": 5_000_000, "test": 9_000_000}

MIN_SIDE, MAX_SIDE = 96, 320
MAX_ASPECT = 1.67


@dataclass(frozen=True)
class Shape:
    """One drawn object: its label, colour and pixel box (xmin, ymin, xmax, ymax)."""

    label: str
    colour: str
    box: tuple[float, float, float, float]
    points: tuple[tuple[float, float], ...] = ()  # polygon corners; none for a circle

    @property
    def class_id(self) -> int:
        """The 1-based label id."""
        return LABELS.index(self.label) + 1


@dataclass
class Scene:
    """A generated image and the shapes drawn on it."""

    image: Image.Image
    shapes: list[Shape]


def scene(split: str, index: int) -> Scene:
    """The ``index``-th scene of a split (the same every time)."""
    return generate(np.random.default_rng(SPLITS[split] + index))


def generate(rng: np.random.Generator, size: tuple[int, int] | None = None,
             count: int | None = None) -> Scene:
    """A random scene; ``size`` (width, height) and ``count`` are random unless given."""
    width, height = size or _random_size(rng)
    image = _background(rng, width, height)
    draw = ImageDraw.Draw(image)
    shapes: list[Shape] = []
    for _ in range(count or int(rng.integers(1, 6))):
        shape = _place(rng, image, shapes)
        if shape is not None:
            _draw(draw, shape)
            shapes.append(shape)
    return Scene(_finish(rng, image), shapes)


def _random_size(rng: np.random.Generator) -> tuple[int, int]:
    width = int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
    aspect = math.exp(rng.uniform(-math.log(MAX_ASPECT), math.log(MAX_ASPECT)))
    height = int(min(MAX_SIDE, max(MIN_SIDE, round(width * aspect))))
    return width, height


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    kind = rng.choice(["flat", "gradient", "blotches"])
    base = rng.integers(0, 256, size=3).astype(np.float32)
    if kind == "flat":
        pixels = np.broadcast_to(base, (height, width, 3)).copy()
    elif kind == "gradient":
        other = rng.integers(0, 256, size=3).astype(np.float32)
        t = np.linspace(0, 1, width if rng.random() < 0.5 else height, dtype=np.float32)
        ramp = base + (other - base) * t[:, None]
        pixels = np.broadcast_to(ramp[None] if len(t) == width else ramp[:, None],
                                 (height, width, 3)).copy()
    else:  # low-frequency colour noise: a tiny random image scaled up smoothly
        small = rng.integers(0, 256, size=(4, 4, 3)).astype(np.uint8)
        return Image.fromarray(small).resize((width, height), Image.BICUBIC)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _place(rng: np.random.Generator, image: Image.Image, taken: list[Shape]) -> Shape | None:
    """A shape at a free spot with a colour that stands out from what lies under it."""
    width, height = image.size
    for _ in range(20):
        side = rng.uniform(0.14, 0.42) * min(width, height)
        x0, y0 = rng.uniform(0, width - side), rng.uniform(0, height - side)
        label = str(rng.choice(LABELS))
        points = _outline(label, rng, (x0, y0, x0 + side, y0 + side))
        box = _bounds(points) if points else (x0, y0, x0 + side, y0 + side)
        if all(iou(box, s.box) < 0.05 for s in taken):
            return Shape(label, _contrasting_colour(rng, image, box), box, tuple(points))
    return None


def _contrasting_colour(rng: np.random.Generator, image: Image.Image,
                        box: tuple[float, float, float, float]) -> str:
    under = np.asarray(image.crop(tuple(int(v) for v in box)), np.float32).reshape(-1, 3)
    mean = under.mean(axis=0)
    names = [n for n, c in COLOURS.items() if np.abs(np.array(c) - mean).sum() > 150]
    return str(rng.choice(names or list(COLOURS)))


def _draw(draw: ImageDraw.ImageDraw, shape: Shape) -> None:
    fill = COLOURS[shape.colour]
    if shape.label == "circle":
        draw.ellipse(shape.box, fill=fill)
    else:
        draw.polygon(list(shape.points), fill=fill)


def _outline(label: str, rng: np.random.Generator, square) -> list[tuple[float, float]]:
    """The corners of a square or triangle, rotated at random and centred in ``square``
    (none for a circle, which fills the square)."""
    if label == "circle":
        return []
    if label == "square":
        angle = rng.uniform(0, math.pi / 2) if rng.random() < 0.35 else 0.0
        corners = [math.pi / 4 + k * math.pi / 2 for k in range(4)]
    else:
        angle = rng.uniform(0, 2 * math.pi)
        corners = [math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
    return _fit([(math.cos(a + angle), math.sin(a + angle)) for a in corners], square)


def _fit(points: list[tuple[float, float]], square) -> list[tuple[float, float]]:
    """Scale ``points`` (keeping proportions) to fit ``square`` and centre them in it."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, x1, y1 = square
    scale = min((x1 - x0) / (max(xs) - min(xs)), (y1 - y0) / (max(ys) - min(ys)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    mx, my = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [(cx + (x - mx) * scale, cy + (y - my) * scale) for x, y in points]


def _bounds(points) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _finish(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Blur a little sometimes, then add pixel noise."""
    if rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    pixels = np.asarray(image, np.float32)
    sigma = rng.uniform(0, 14)
    pixels = pixels + rng.normal(0, sigma, pixels.shape).astype(np.float32)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main(argv: list[str] | None = None) -> None:
    """Write a test-split scene to a file and print what is on it."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", help="where to write the image (.png, .jpg or .gif)")
    parser.add_argument("--index", type=int, default=0, help="which test scene")
    args = parser.parse_args(argv)
    drawn = scene("test", args.index)
    drawn.image.save(args.path)
    for shape in drawn.shapes:
        print(shape.label, shape.colour, [round(v) for v in shape.box])


if __name__ == "__main__":
    main()
