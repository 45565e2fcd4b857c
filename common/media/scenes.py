"""Domain-randomised training scenes of circles, squares and triangles (Pillow, NumPy).

The vision models (object_detection, image_classifier) train on these so that they hold
on images nobody here drew: textured, gradient and noisy backgrounds; any colour, filled
or outlined or with a gradient fill; small to large shapes, at any rotation; irregular
as well as equilateral triangles; overlapping shapes and occluding strokes; blur, noise,
colour casts and JPEG compression. The detector's shape sizes are log-uniform, so that
small shapes are as common as large ones. A scene is fully determined by its random generator,
so callers make reproducible, disjoint splits from seed ranges.

Shapes are drawn anti-aliased: each one's mask is drawn at four times the size and
scaled down, then its fill is composited through the mask.

No TensorFlow here (tests and services import it before any fork).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Label names by 1-based id.
LABELS = ("circle", "square", "triangle")
SUPERSAMPLE = 4


@dataclass(frozen=True)
class Shape:
    """One drawn object: its label, colour (RGB) and pixel box (xmin, ymin, xmax, ymax)."""

    label: str
    colour: tuple[int, int, int]
    box: tuple[float, float, float, float]
    points: tuple[tuple[float, float], ...] = ()  # polygon corners; none for a circle
    filled: bool = True

    @property
    def class_id(self) -> int:
        """The 1-based label id."""
        return LABELS.index(self.label) + 1


@dataclass
class Scene:
    """A generated image and the shapes drawn on it (in drawing order)."""

    image: Image.Image
    shapes: list[Shape]


@dataclass(frozen=True)
class Settings:
    """What a scene may hold: its size, how many shapes, how big, how much overlap."""

    min_side: int = 96
    max_side: int = 320
    max_aspect: float = 1.7
    min_count: int = 1
    max_count: int = 6
    min_scale: float = 0.07     # a shape's side as a fraction of the image's shorter side
    max_scale: float = 0.45
    max_overlap: float = 0.3    # IoU allowed with any shape already placed
    occluders: float = 0.5      # chance of occluding strokes and blobs
    log_sizes: bool = False     # sizes log-uniform (as many small shapes as large)


DETECTION = Settings(min_scale=0.06, log_sizes=True)
#: One shape per image, small to large (the classifier's scenes).
CLASSIFICATION = Settings(min_side=64, max_side=360, min_count=1, max_count=1,
                          min_scale=0.16, max_scale=0.9, max_overlap=0.0, occluders=0.6)


def generate(rng: np.random.Generator, settings: Settings = DETECTION) -> Scene:
    """A random scene under ``settings``."""
    width, height = random_size(rng, settings)
    image = background(rng, width, height)
    shapes: list[Shape] = []
    for _ in range(int(rng.integers(settings.min_count, settings.max_count + 1))):
        shape = _place(rng, image, shapes, settings)
        if shape is not None:
            image = _draw(rng, image, shape)
            shapes.append(shape)
    if rng.random() < settings.occluders:
        image = _occlude(rng, image, shapes)
    return Scene(finish(rng, image), shapes)


def random_size(rng: np.random.Generator, settings: Settings) -> tuple[int, int]:
    """A random (width, height) within the settings' sides and aspect ratio."""
    width = int(rng.integers(settings.min_side, settings.max_side + 1))
    aspect = math.exp(rng.uniform(-math.log(settings.max_aspect), math.log(settings.max_aspect)))
    height = int(min(settings.max_side, max(settings.min_side, round(width * aspect))))
    return width, height


# ---- backgrounds ---------------------------------------------------------------------

def background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A random background: flat, gradient, value noise, stripes, checks or clutter,
    sometimes two of them blended."""
    pixels = _texture(rng, width, height)
    if rng.random() < 0.3:
        alpha = rng.uniform(0.2, 0.6)
        pixels = pixels * (1 - alpha) + _texture(rng, width, height) * alpha
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        image = _clutter(rng, image)
    return image


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    kind = rng.choice(["flat", "linear", "radial", "noise", "stripes", "checks"],
                      p=[0.15, 0.2, 0.1, 0.25, 0.15, 0.15])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    a, b = _colour(rng), _colour(rng)
    if kind == "flat":
        return np.broadcast_to(a, (height, width, 3)).astype(np.float32)
    if kind == "linear":
        angle = rng.uniform(0, 2 * math.pi)
        t = xs * math.cos(angle) + ys * math.sin(angle)
        t = (t - t.min()) / max(1e-6, t.max() - t.min())
    elif kind == "radial":
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        t = np.hypot(xs - cx, ys - cy)
        t = t / max(1e-6, t.max())
    elif kind == "noise":
        return value_noise(rng, width, height)
    elif kind == "stripes":
        angle, period = rng.uniform(0, math.pi), rng.uniform(4, 40)
        t = 0.5 + 0.5 * np.sin((xs * math.cos(angle) + ys * math.sin(angle)) * 2 * math.pi / period)
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
    else:
        cell = rng.uniform(4, 40)
        t = ((np.floor(xs / cell) + np.floor(ys / cell)) % 2).astype(np.float32)
    return a + (b - a) * t[..., None]


def value_noise(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Multi-octave colour noise: small random images scaled up smoothly and summed."""
    total = np.zeros((height, width, 3), np.float32)
    weight = 0.0
    for octave in range(int(rng.integers(1, 4))):
        cells = int(rng.integers(2, 8)) * 2 ** octave
        small = rng.integers(0, 256, size=(cells, cells, 3)).astype(np.uint8)
        layer = np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC),
                           np.float32)
        total += layer / 2 ** octave
        weight += 1 / 2 ** octave
    return total / weight


def _clutter(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Lines and arcs on the background (not shapes of any label)."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for _ in range(int(rng.integers(2, 12))):
        points = [(rng.uniform(0, width), rng.uniform(0, height)) for _ in range(2)]
        colour = tuple(int(v) for v in _colour(rng))
        if rng.random() < 0.6:
            draw.line(points, fill=colour, width=int(rng.integers(1, 4)))
        else:
            x0, x1 = sorted(p[0] for p in points)
            y0, y1 = sorted(p[1] for p in points)
            start = rng.uniform(0, 360)
            draw.arc((x0, y0, x1 + 1, y1 + 1), start, start + rng.uniform(30, 200),
                     fill=colour, width=int(rng.integers(1, 4)))
    return image


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float32)


# ---- shapes --------------------------------------------------------------------------

def _place(rng: np.random.Generator, image: Image.Image, taken: list[Shape],
           settings: Settings) -> Shape | None:
    """A shape at a spot overlapping the others at most ``max_overlap`` (IoU)."""
    width, height = image.size
    for _ in range(30):
        low, high = settings.min_scale, settings.max_scale
        scale = math.exp(rng.uniform(math.log(low), math.log(high))) if settings.log_sizes \
            else rng.uniform(low, high)
        side = scale * min(width, height)
        side = max(side, 6.0)
        x0, y0 = rng.uniform(0, width - side), rng.uniform(0, height - side)
        label = str(rng.choice(LABELS))
        points = outline(label, rng, (x0, y0, x0 + side, y0 + side))
        box = bounds(points) if points else (x0, y0, x0 + side, y0 + side)
        if all(iou(box, s.box) <= settings.max_overlap and not _inside(box, s.box)
               and not _inside(s.box, box) for s in taken):
            return Shape(label, _contrasting(rng, image, box), box, tuple(points),
                         filled=bool(rng.random() < 0.7))
    return None


def _inside(a, b) -> bool:
    """Whether box ``a`` lies mostly inside box ``b`` (which would hide it or confuse
    which is which)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return area > 0 and ix * iy / area > 0.5


def _contrasting(rng: np.random.Generator, image: Image.Image, box) -> tuple[int, int, int]:
    """Any colour whose distance from the mean colour under the box is large enough
    to be seen (sometimes only just)."""
    crop = image.crop(tuple(int(v) for v in box)) if box[2] - box[0] >= 1 else image
    under = np.asarray(crop, np.float32).reshape(-1, 3).mean(axis=0)
    needed = rng.uniform(60, 160)
    for _ in range(40):
        colour = _colour(rng)
        if np.abs(colour - under).sum() > needed:
            break
    return tuple(int(v) for v in colour)


def outline(label: str, rng: np.random.Generator, square) -> list[tuple[float, float]]:
    """The corners of a square or triangle, at any rotation, fitted into ``square``
    (none for a circle, which fills it). Half the triangles are irregular."""
    angle = rng.uniform(0, 2 * math.pi)
    if label == "circle":
        return []
    if label == "square":
        corners = [math.pi / 4 + k * math.pi / 2 for k in range(4)]
        unit = [(math.cos(a + angle), math.sin(a + angle)) for a in corners]
    elif rng.random() < 0.5:
        corners = [math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
        unit = [(math.cos(a + angle), math.sin(a + angle)) for a in corners]
    else:
        unit = _irregular_triangle(rng)
    return fit(unit, square)


def _irregular_triangle(rng: np.random.Generator) -> list[tuple[float, float]]:
    """Three random points on a circle with every angle of the triangle >= 25 degrees."""
    while True:
        angles = np.sort(rng.uniform(0, 2 * math.pi, 3))
        arcs = np.diff(np.concatenate([angles, [angles[0] + 2 * math.pi]]))
        # an inscribed angle is half its opposite arc
        if arcs.min() / 2 >= math.radians(25):
            return [(math.cos(a), math.sin(a)) for a in angles]


def fit(points: list[tuple[float, float]], square) -> list[tuple[float, float]]:
    """Scale ``points`` (keeping proportions) to fit ``square`` and centre them in it."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, x1, y1 = square
    scale = min((x1 - x0) / (max(xs) - min(xs)), (y1 - y0) / (max(ys) - min(ys)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    mx, my = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [(cx + (x - mx) * scale, cy + (y - my) * scale) for x, y in points]


def bounds(points) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) of a list of points."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _draw(rng: np.random.Generator, image: Image.Image, shape: Shape) -> Image.Image:
    """Composite ``shape`` onto ``image``: an anti-aliased mask, a flat or gradient fill."""
    x0, y0 = int(math.floor(shape.box[0])) - 2, int(math.floor(shape.box[1])) - 2
    x1, y1 = int(math.ceil(shape.box[2])) + 2, int(math.ceil(shape.box[3])) + 2
    w, h = x1 - x0, y1 - y0
    mask = _mask(rng, shape, (x0, y0), (w, h))
    fill = _fill(rng, shape.colour, w, h)
    region = image.crop((x0, y0, x1, y1))
    region.paste(fill, (0, 0), mask)
    image.paste(region, (x0, y0))
    return image


def _mask(rng: np.random.Generator, shape: Shape, origin, size) -> Image.Image:
    k = SUPERSAMPLE
    mask = Image.new("L", (size[0] * k, size[1] * k), 0)
    draw = ImageDraw.Draw(mask)
    side = min(shape.box[2] - shape.box[0], shape.box[3] - shape.box[1])
    stroke = 0 if shape.filled else max(1, int(round(rng.uniform(0.04, 0.15) * side * k)))
    local = [((x - origin[0]) * k, (y - origin[1]) * k) for x, y in shape.points]
    if shape.label == "circle":
        box = [(shape.box[0] - origin[0]) * k, (shape.box[1] - origin[1]) * k,
               (shape.box[2] - origin[0]) * k, (shape.box[3] - origin[1]) * k]
        draw.ellipse(box, fill=255 if shape.filled else None,
                     outline=None if shape.filled else 255, width=stroke or 1)
    elif shape.filled:
        draw.polygon(local, fill=255)
    else:
        draw.line(local + local[:2], fill=255, width=stroke, joint="curve")
    return mask.resize(size, Image.BOX)


def _fill(rng: np.random.Generator, colour, width: int, height: int) -> Image.Image:
    base = np.array(colour, np.float32)
    if rng.random() < 0.75:
        pixels = np.broadcast_to(base, (height, width, 3))
    else:  # a gradient fill, from the colour to a shade of it
        other = (base + rng.uniform(-90, 90, 3)).clip(0, 255)
        t = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        pixels = np.broadcast_to(base + (other - base) * t, (height, width, 3))
    return Image.fromarray(np.ascontiguousarray(pixels).clip(0, 255).astype(np.uint8))


def _occlude(rng: np.random.Generator, image: Image.Image, shapes: list[Shape]) -> Image.Image:
    """Strokes and small blobs over the scene, some across shapes (partial occlusion)."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for _ in range(int(rng.integers(1, 4))):
        colour = tuple(int(v) for v in _colour(rng))
        if shapes and rng.random() < 0.7:
            sx0, sy0, sx1, sy1 = shapes[int(rng.integers(len(shapes)))].box
            cx, cy = rng.uniform(sx0, sx1), rng.uniform(sy0, sy1)
            size = 0.3 * max(sx1 - sx0, sy1 - sy0)
        else:
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            size = 0.15 * min(width, height)
        if rng.random() < 0.6:
            angle = rng.uniform(0, math.pi)
            dx, dy = math.cos(angle) * size * 1.5, math.sin(angle) * size * 1.5
            draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour,
                      width=max(1, int(size * rng.uniform(0.05, 0.2))))
        else:
            r = size * rng.uniform(0.2, 0.45)
            blob = [(cx + r * rng.uniform(0.6, 1.2) * math.cos(a),
                     cy + r * rng.uniform(0.6, 1.2) * math.sin(a))
                    for a in np.linspace(0, 2 * math.pi, 9)[:-1]]
            draw.polygon(blob, fill=colour)
    return image


# ---- finishing -----------------------------------------------------------------------

def finish(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Sometimes blur, a colour cast or contrast change, pixel noise, then sometimes
    JPEG compression at a random quality."""
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    pixels = np.asarray(image, np.float32)
    if rng.random() < 0.4:
        pixels = (pixels - 128) * rng.uniform(0.6, 1.3) + 128 + rng.uniform(-30, 30, 3)
    sigma = rng.uniform(0, 18) if rng.random() < 0.8 else 0.0
    if sigma:
        pixels = pixels + rng.normal(0, sigma, pixels.shape).astype(np.float32)
    if rng.random() < 0.1:  # salt and pepper
        spots = rng.random(pixels.shape[:2]) < rng.uniform(0.002, 0.02)
        pixels[spots] = rng.choice([0.0, 255.0], size=(int(spots.sum()), 1))
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        image = jpeg(image, int(rng.integers(15, 96)))
    return image


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """The image after a round trip through JPEG at ``quality``."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
