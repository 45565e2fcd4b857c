"""Image -> model input tensor: resize, scale, subtract the mean, divide by the std,
reorder channels and axes. NumPy and Pillow only."""
from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
from PIL import Image

RESIZE_MODES = ("stretch", "letterbox", "center_crop")


@dataclass(frozen=True)
class Recipe:
    """How to turn an image into a tensor: ``((pixel * scale) - mean) / std``."""

    width: int = 224
    height: int = 224
    resize: str = "stretch"
    pad_value: int = 0
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    channel_order: str = "RGB"
    layout: str = "HWC"
    batch_dim: bool = False


@dataclass
class Tensor:
    """A float32 array and how the output pixels relate to the input's:
    ``out_x = in_x * scale_x + offset_x`` (likewise for y)."""

    array: np.ndarray
    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float


def preprocess(image: Image.Image, recipe: Recipe) -> Tensor:
    """The tensor ``recipe`` describes, from an RGB image."""
    fitted, transform = _fit(image, recipe)
    pixels = np.asarray(fitted, dtype=np.float32) * np.float32(recipe.scale)
    pixels = (pixels - np.asarray(recipe.mean, np.float32)) / np.asarray(recipe.std, np.float32)
    if recipe.channel_order == "BGR":
        pixels = pixels[..., ::-1]
    if recipe.layout == "CHW":
        pixels = pixels.transpose(2, 0, 1)
    if recipe.batch_dim:
        pixels = pixels[None]
    return Tensor(np.ascontiguousarray(pixels, dtype=np.float32), *transform)


def _fit(image: Image.Image, recipe: Recipe) -> tuple[Image.Image, tuple[float, ...]]:
    """The image at the recipe's size, and (scale_x, scale_y, offset_x, offset_y)."""
    width, height = image.size
    if recipe.resize == "stretch":
        return (image.resize((recipe.width, recipe.height), Image.BILINEAR),
                (recipe.width / width, recipe.height / height, 0.0, 0.0))
    fit = min if recipe.resize == "letterbox" else max
    scale = fit(recipe.width / width, recipe.height / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = image.resize((new_w, new_h), Image.BILINEAR)
    # both modes centre the image: letterbox pads around it, center_crop cuts its edges
    left, top = (recipe.width - new_w) // 2, (recipe.height - new_h) // 2
    canvas = Image.new("RGB", (recipe.width, recipe.height), (recipe.pad_value,) * 3)
    canvas.paste(resized, (left, top))
    return canvas, (new_w / width, new_h / height, float(left), float(top))


def encode_tensor(array: np.ndarray) -> str:
    """base64 of the array's raw little-endian float32 bytes, in C (row-major) order."""
    return base64.b64encode(array.astype("<f4", copy=False).tobytes()).decode("ascii")


def decode_tensor(text: str, shape: list[int]) -> np.ndarray:
    """The inverse of :func:`encode_tensor` (for clients and tests)."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)
