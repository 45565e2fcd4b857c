"""The classifier's input: image_preprocessor's tensor, decoded and brought to the
model's own recipe. NumPy only (no TensorFlow: the service imports this before forking).

The model's recipe is VGG's (Caffe-style): the image stretched to 224x224, pixels
0..255, the ImageNet mean subtracted per channel, channels in BGR order, HWC. A tensor
made by image_preprocessor with another recipe (its defaults, say) is converted exactly:
the preprocessor's normalisation is affine per channel, so it is undone and redone. A
tensor of another size (at least 8x8) is stretched to 224x224 as the preprocessor would.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

import numpy as np

from common.core.errors import InvalidInput

SIZE = 224
SHAPE = (SIZE, SIZE, 3)
MIN_SIDE = 8
#: The ImageNet mean in R, G, B order (as image_preprocessor takes ``mean``).
VGG_MEAN_RGB = (123.68, 116.779, 103.939)

#: The image_preprocessor request that makes the model's native tensor.
RECIPE: dict[str, Any] = {
    "width": SIZE, "height": SIZE, "resize": "stretch", "scale": 1.0,
    "mean": list(VGG_MEAN_RGB), "std": [1.0, 1.0, 1.0], "channel_order": "BGR",
    "layout": "HWC", "batch_dim": False}

#: What a missing ``recipe`` field of the input means: the native one.
NATIVE = {**RECIPE, "pad_value": 0}


def decode(item: Mapping[str, Any]) -> np.ndarray:
    """The item's tensor as float32 [224, 224, 3] in the native (VGG) recipe."""
    array = _array(item)
    recipe = {**NATIVE, **(item.get("recipe") or {})}
    return to_native(array, recipe)


def _array(item: Mapping[str, Any]) -> np.ndarray:
    tensor = item["tensor"]
    encoding = item.get("encoding") or ("base64" if isinstance(tensor, str) else "list")
    if encoding == "base64":
        if not isinstance(tensor, str):
            raise InvalidInput("tensor: with encoding 'base64' it must be a string.",
                               {"tensor": ["Not a string."]})
        return _from_base64(tensor, item.get("shape") or list(SHAPE))
    if not isinstance(tensor, list):
        raise InvalidInput("tensor: with encoding 'list' it must be a nested list.",
                           {"tensor": ["Not a list."]})
    return _from_list(tensor, item.get("shape"))


def _from_base64(text: str, shape: list[int]) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput("tensor: not valid base64.", {"tensor": ["Not valid base64."]}) from e
    expected = int(np.prod(shape)) * 4
    if len(raw) != expected:
        raise InvalidInput(f"tensor: {len(raw)} bytes do not hold a float32 tensor of shape "
                           f"{shape} ({expected} bytes).", {"tensor": ["Wrong size."]})
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)


def _from_list(tensor: list, shape: list[int] | None) -> np.ndarray:
    try:
        array = np.asarray(tensor, dtype=np.float32)
    except (ValueError, TypeError) as e:  # ragged or not numbers
        raise InvalidInput("tensor: not a rectangular nested list of numbers.",
                           {"tensor": ["Not a rectangular list of numbers."]}) from e
    if shape is not None and list(array.shape) != list(shape):
        raise InvalidInput(f"tensor: its shape is {list(array.shape)}, not {shape}.",
                           {"shape": ["Does not match the tensor."]})
    return array


def to_native(array: np.ndarray, recipe: Mapping[str, Any]) -> np.ndarray:
    """A tensor made with ``recipe`` (image_preprocessor's fields) as the native one."""
    if recipe.get("batch_dim") and array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if recipe.get("layout") == "CHW" and array.ndim == 3:
        array = array.transpose(1, 2, 0)
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < MIN_SIDE:
        raise InvalidInput(f"tensor: its shape is {list(array.shape)}; the model takes "
                           f"{list(SHAPE)} (HWC; CHW and a batch axis of 1 are undone when "
                           "'recipe' says so; other sizes of at least 8x8 are resized).",
                           {"shape": [f"Must be {list(SHAPE)}."]})
    if not np.all(np.isfinite(array)):
        raise InvalidInput("tensor: holds NaN or infinite values.", {"tensor": ["Not finite."]})
    if not _same(recipe, NATIVE):
        rgb = array[..., ::-1] if recipe.get("channel_order") == "BGR" else array
        pixels = (rgb * np.asarray(recipe["std"], np.float32)
                  + np.asarray(recipe["mean"], np.float32)) / np.float32(recipe["scale"])
        array = (pixels - np.asarray(VGG_MEAN_RGB, np.float32))[..., ::-1]
    return np.ascontiguousarray(_resized(array), dtype=np.float32)


def _resized(array: np.ndarray) -> np.ndarray:
    """The tensor stretched to 224x224 (bilinear, per channel) unless it is already;
    resizing is linear, so it commutes with the recipe's per-channel arithmetic."""
    if array.shape == SHAPE:
        return array
    from PIL import Image
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(array[..., c]), mode="F")
                                .resize((SIZE, SIZE), Image.BILINEAR)) for c in range(3)], -1)


def _same(recipe: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    keys = ("scale", "mean", "std", "channel_order")
    return all(_close(recipe.get(k), other[k]) for k in keys)


def _close(a: Any, b: Any) -> bool:
    if isinstance(b, str):
        return a == b
    return a is not None and np.allclose(np.asarray(a, float), np.asarray(b, float))


def from_image(image, size: tuple[int, int] = (SIZE, SIZE)) -> np.ndarray:
    """The native tensor of a Pillow image, made as image_preprocessor makes it with
    :data:`RECIPE` (stretched to ``size``, 224x224 by default, bilinear)."""
    from PIL import Image
    return from_rgb_uint8(np.asarray(image.convert("RGB").resize(size, Image.BILINEAR)))


def encode(array: np.ndarray) -> str:
    """base64 of the array's raw little-endian float32 bytes (image_preprocessor's form)."""
    return base64.b64encode(array.astype("<f4", copy=False).tobytes()).decode("ascii")


def from_rgb_uint8(pixels: np.ndarray) -> np.ndarray:
    """The native tensor of a uint8 RGB [H, W, 3] image (for training and tests)."""
    return np.ascontiguousarray(
        (pixels.astype(np.float32) - np.asarray(VGG_MEAN_RGB, np.float32))[..., ::-1])
