"""A second scene generator, for evaluation only: no model trains on it.

It is made differently from :mod:`common.media.scenes` on purpose, so that a figure on
its scenes says how a model does on images it has not seen the like of:

- shapes are rasterised in NumPy (half-plane and distance tests on a 3x3 subpixel
  grid), never by Pillow's drawing code;
- colours are drawn in HSV, shapes may carry a drop shadow or a dark rim;
- backgrounds are other textures: wood grain, marble, Voronoi cells, dot grids,
  hatching, vignetted photo-like gradients and sensor-like noise;
- sizes follow a log-uniform law (many small shapes), triangles are right-angled,
  isosceles or scalene, squares are sometimes drawn as outlines with thick strokes;
- the finish is a box blur, uniform or Poisson-like noise, gamma, and JPEG through
  another encoder setting (4:2:0 subsampling, optimised tables).

Only Pillow's JPEG codec and its resize are shared with the training generator.
"""
from __future__ import annotations

import colorsys
import io
import math

import numpy as np
from PIL import Image

from .scenes import LABELS, Scene, Shape, iou

SUB = 3  # subpixel samples per axis


def generate(rng: np.random.Generator, count: int | None = None) -> Scene:
    """A scene of ``count`` shapes (1 to 7 at random when not given)."""
    width = int(rng.integers(120, 420))
    height = int(np.clip(width * rng.uniform(0.6, 1.5), 100, 420))
    canvas = _background(rng, width, height)
    shapes: list[Shape] = []
    wanted = count if count is not None else int(rng.integers(1, 8))
    single = wanted == 1
    for _ in range(wanted * 20):
        if len(shapes) == wanted:
            break
        shape = _visible_colour(rng, canvas, _propose(rng, width, height, single))
        if all(iou(shape.box, s.box) <= 0.35 and _visible(shape.box, s.box) for s in shapes):
            _paint(rng, canvas, shape)
            shapes.append(shape)
    return Scene(_finish(rng, canvas), shapes)


def _visible_colour(rng: np.random.Generator, canvas: np.ndarray, shape: Shape) -> Shape:
    """The shape in a colour that differs enough from the mean of what lies under it
    to be seen (a test scene of invisible shapes would measure nothing)."""
    x0, y0, x1, y1 = (int(v) for v in shape.box)
    under = canvas[max(0, y0):y1 + 1, max(0, x0):x1 + 1].reshape(-1, 3).mean(axis=0)
    colour = np.array(shape.colour, np.float32)
    for _ in range(50):
        if np.abs(colour - under).sum() > 100:
            break
        colour = _hsv(rng, value=(0.1, 1.0))
    return Shape(shape.label, tuple(int(v) for v in colour), shape.box, shape.points,
                 shape.filled)


def _visible(box, other) -> bool:
    """A new shape may cover at most 45% of an earlier one's box."""
    ix = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    iy = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    area = (other[2] - other[0]) * (other[3] - other[1])
    return ix * iy <= 0.45 * area and ix * iy <= 0.45 * (box[2] - box[0]) * (box[3] - box[1])


# ---- colours and textures ------------------------------------------------------------

def _hsv(rng: np.random.Generator, value=(0.05, 1.0), saturation=(0.0, 1.0)) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return np.array([r, g, b], np.float32) * 255


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = int(rng.integers(0, 7))
    a, b = _hsv(rng), _hsv(rng)
    if kind == 0:  # wood grain: rings around a far centre, wobbled
        cx, cy = rng.uniform(-2, 3) * width, rng.uniform(-2, 3) * height
        r = np.hypot(xs - cx, ys - cy) + 6 * np.sin(ys / rng.uniform(8, 30))
        t = 0.5 + 0.5 * np.sin(r / rng.uniform(2, 8))
    elif kind == 1:  # marble: a sine of coordinates plus smooth turbulence
        t = 0.5 + 0.5 * np.sin((xs + ys) / rng.uniform(10, 40) + 5 * _smooth(rng, width, height))
    elif kind == 2:  # Voronoi cells, each its own shade
        t = _voronoi(rng, xs, ys)
    elif kind == 3:  # a grid of dots
        period = rng.uniform(6, 22)
        t = (np.hypot(xs % period - period / 2, ys % period - period / 2) < period / 4)
        t = t.astype(np.float32)
    elif kind == 4:  # cross hatching
        p = rng.uniform(5, 16)
        t = (((xs + ys) % p < 1.5) | ((xs - ys) % p < 1.5)).astype(np.float32)
    elif kind == 5:  # a photo-like gradient with a vignette
        t = ys / max(1, height - 1)
        vignette = 1 - 0.6 * (np.hypot(xs / width - 0.5, ys / height - 0.5) ** 2)
        return ((a + (b - a) * t[..., None]) * vignette[..., None]).astype(np.float32)
    else:  # plain with sensor noise
        return (a + rng.normal(0, rng.uniform(3, 25), (height, width, 3))).astype(np.float32)
    return (a + (b - a) * t[..., None]).astype(np.float32)


def _smooth(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    grid = rng.random((int(rng.integers(3, 7)), int(rng.integers(3, 7)))).astype(np.float32)
    return np.asarray(Image.fromarray(grid, mode="F").resize((width, height), Image.BILINEAR))


def _voronoi(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    seeds = rng.uniform(0, 1, (int(rng.integers(5, 25)), 2)) * [xs.shape[1], xs.shape[0]]
    shade = rng.random(len(seeds)).astype(np.float32)
    distances = np.stack([np.hypot(xs - sx, ys - sy) for sx, sy in seeds])
    return shade[np.argmin(distances, axis=0)]


# ---- shapes --------------------------------------------------------------------------

def _propose(rng: np.random.Generator, width: int, height: int, single: bool) -> Shape:
    short = min(width, height)
    low, high = (0.18, 0.85) if single else (0.05, 0.5)
    side = math.exp(rng.uniform(math.log(low), math.log(high))) * short
    side = max(side, 8.0)
    cx, cy = rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2)
    label = LABELS[int(rng.integers(0, 3))]
    colour = tuple(int(v) for v in _hsv(rng, value=(0.1, 1.0)))
    filled = bool(rng.random() < 0.6)
    if label == "circle":
        r = side / 2
        return Shape(label, colour, (cx - r, cy - r, cx + r, cy + r), (), filled)
    points = _polygon(rng, label, cx, cy, side)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return Shape(label, colour, (min(xs), min(ys), max(xs), max(ys)), tuple(points), filled)


def _polygon(rng: np.random.Generator, label: str, cx, cy, side) -> list[tuple[float, float]]:
    if label == "square":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) / 2
    else:
        kind = int(rng.integers(0, 3))
        if kind == 0:  # right-angled
            corners = np.array([[-0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float32)
        elif kind == 1:  # isosceles, tall or flat
            half = rng.uniform(0.25, 0.6)
            corners = np.array([[0, -0.5], [half, 0.5], [-half, 0.5]], np.float32)
        else:  # scalene
            corners = np.array([[rng.uniform(-0.5, 0.5), -0.5], [0.5, 0.5],
                                [-0.5, rng.uniform(0.0, 0.5)]], np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    turned = corners @ turn.T
    scale = side / max(np.ptp(turned[:, 0]), np.ptp(turned[:, 1]))
    turned = (turned - turned.mean(axis=0)) * scale
    return [(float(cx + x), float(cy + y)) for x, y in turned]


def _coverage(shape: Shape, xs: np.ndarray, ys: np.ndarray, inset: float = 0.0) -> np.ndarray:
    """1 where a subpixel lies inside the shape shrunk by ``inset`` pixels."""
    if shape.label == "circle":
        x0, y0, x1, y1 = shape.box
        r = (x1 - x0) / 2 - inset
        return (np.hypot(xs - (x0 + x1) / 2, ys - (y0 + y1) / 2) <= r).astype(np.float32)
    points = np.array(shape.points)
    sign = np.sign(_cross(points[0], points[1], points[2])) or 1.0
    inside = np.ones_like(xs, bool)
    for k in range(len(points)):
        p, q = points[k], points[(k + 1) % len(points)]
        edge = q - p
        distance = sign * (edge[0] * (ys - p[1]) - edge[1] * (xs - p[0])) / np.hypot(*edge)
        inside &= distance >= inset
    return inside.astype(np.float32)


def _cross(a, b, c) -> float:
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


def _mask(shape: Shape, height: int, width: int, stroke: float) -> tuple[np.ndarray, tuple]:
    """The anti-aliased coverage of a shape in its bounding region, and that region."""
    x0, y0 = max(0, int(shape.box[0]) - 3), max(0, int(shape.box[1]) - 3)
    x1, y1 = min(width, int(shape.box[2]) + 4), min(height, int(shape.box[3]) + 4)
    offsets = (np.arange(SUB, dtype=np.float32) + 0.5) / SUB
    xs = (np.arange(x0, x1, dtype=np.float32)[:, None] + offsets).reshape(-1)
    ys = (np.arange(y0, y1, dtype=np.float32)[:, None] + offsets).reshape(-1)
    gx, gy = np.meshgrid(xs, ys)
    cover = _coverage(shape, gx, gy)
    if stroke:
        cover = cover * (1 - _coverage(shape, gx, gy, stroke))
    cover = cover.reshape(y1 - y0, SUB, x1 - x0, SUB).mean(axis=(1, 3))
    return cover, (x0, y0, x1, y1)


def _paint(rng: np.random.Generator, canvas: np.ndarray, shape: Shape) -> None:
    height, width = canvas.shape[:2]
    side = min(shape.box[2] - shape.box[0], shape.box[3] - shape.box[1])
    stroke = 0.0 if shape.filled else max(1.5, side * rng.uniform(0.06, 0.2))
    if rng.random() < 0.25:  # a soft drop shadow, down and to the right
        shadow = Shape(shape.label, shape.colour, tuple(v + side * 0.06 for v in shape.box),
                       tuple((x + side * 0.06, y + side * 0.06) for x, y in shape.points),
                       shape.filled)
        _blend(canvas, *_mask(shadow, height, width, stroke), np.zeros(3, np.float32), 0.45)
    _blend(canvas, *_mask(shape, height, width, stroke), np.array(shape.colour, np.float32), 1.0)
    if shape.filled and rng.random() < 0.3:  # a dark rim
        rim = max(1.0, side * 0.03)
        _blend(canvas, *_mask(shape, height, width, rim), np.array(shape.colour) * 0.4, 1.0)


def _blend(canvas, cover, region, colour, opacity) -> None:
    x0, y0, x1, y1 = region
    alpha = (cover * opacity)[..., None]
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - alpha) + colour * alpha


# ---- finishing -----------------------------------------------------------------------

def _finish(rng: np.random.Generator, canvas: np.ndarray) -> Image.Image:
    if rng.random() < 0.3:  # a 3x3 box blur
        padded = np.pad(canvas, ((1, 1), (1, 1), (0, 0)), mode="edge")
        canvas = sum(padded[dy:dy + canvas.shape[0], dx:dx + canvas.shape[1]]
                     for dy in range(3) for dx in range(3)) / 9
    if rng.random() < 0.5:
        canvas = canvas + rng.uniform(-1, 1, canvas.shape) * rng.uniform(5, 30)
    if rng.random() < 0.3:
        canvas = 255 * (np.clip(canvas, 0, 255) / 255) ** rng.uniform(0.6, 1.6)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    if rng.random() < 0.6:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(20, 90)), subsampling=2,
                   optimize=True)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return image
