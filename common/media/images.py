"""Shared image decoding and limits for the image services.

Every image that reaches a service goes through :func:`open_image`: the bytes are
checked against a size limit, their magic bytes must say JPEG, PNG or GIF, the header is
read (Pillow opens lazily) and its width x height checked against a pixel limit *before*
any pixel is decoded, so a decompression bomb (a small file that claims 20000 x 20000
pixels) is refused with a 413 without allocating anything. Decoding errors (truncated or
corrupt data) are a 400, never a 500.

Pillow's own bomb check is kept as a second line: ``Image.MAX_IMAGE_PIXELS`` follows the
configured limit and its ``DecompressionBombWarning`` is turned into an error.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
from marshmallow import ValidationError, fields
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from common.core.errors import InvalidInput, PayloadTooLarge, ServiceError

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024

#: Content types by Pillow format name, and the magic bytes that announce each.
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
         (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))

#: Service defaults for any service taking images as base64 strings: every string of an
#: input is held to MAX_TEXT_LENGTH before the schema runs, so it must fit a whole image
#: (the body limit, 413, stays the real bound).
IMAGE_SERVICE_DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_TEXT_LENGTH": 16 * 1024 * 1024,
    "MAX_BATCH_SIZE": 8,
    "IMAGE_MAX_BYTES": DEFAULT_MAX_BYTES,
    "IMAGE_MAX_PIXELS": DEFAULT_MAX_PIXELS,
    "IMAGE_MIN_SIDE": 8,
}

Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
# Pillow only warns between MAX_IMAGE_PIXELS and twice that; a warning must refuse too.
warnings.simplefilter("error", Image.DecompressionBombWarning)


@dataclass(frozen=True)
class ImageLimits:
    """What an image may weigh and measure."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = 8

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ImageLimits":
        """The limits of a service's configuration (``IMAGE_*`` keys)."""
        return cls(int(config.get("IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES)),
                   int(config.get("IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS)),
                   int(config.get("IMAGE_MIN_SIDE", 8)))

    @classmethod
    def for_service(cls, config: Mapping[str, Any]) -> "ImageLimits":
        """The limits of a service's configuration, applied to Pillow too: what a service
        that opens images calls in its ``load``."""
        limits = cls.from_config(config)
        limits.apply_to_pillow()
        return limits

    def apply_to_pillow(self) -> None:
        """Raise Pillow's own bomb check to this pixel limit if it is lower. The setting
        is process-wide, so it is never lowered: a lower limit is this service's own
        check's job (:func:`check_dimensions`, before any pixel is decoded)."""
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, self.max_pixels)
        warnings.simplefilter("error", Image.DecompressionBombWarning)


def sniff(data: bytes) -> str | None:
    """The content type the magic bytes announce, if it is a supported one."""
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def decode_base64(text: str) -> bytes:
    """Standard base64 (an optional ``data:image/...;base64,`` prefix and line breaks
    allowed) to bytes; anything else raises ``ValueError``."""
    cleaned = _WHITESPACE.sub("", _DATA_URL.sub("", text, count=1))
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"Not valid base64: {e}.") from e


class Base64File(fields.String):
    """A base64-encoded file (a data: URL prefix accepted); deserialises to its bytes,
    serialises bytes back to base64. Zero bytes are refused with ``empty_message``."""

    description = "The file, base64-encoded; a data: URL prefix is accepted."
    empty_message = "The file is empty."

    def __init__(self, **kwargs: Any):
        metadata = {"description": self.description, "format": "byte",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            raw = decode_base64(text)
        except ValueError as e:
            raise ValidationError(str(e)) from e
        if not raw:
            raise ValidationError(self.empty_message)
        return raw

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        return super()._serialize(value, attr, obj, **kwargs)


class Base64Image(Base64File):
    """A base64-encoded image (JPEG, PNG or GIF); deserialises to its bytes."""

    description = ("The image file (JPEG, PNG or GIF), base64-encoded; a data: URL prefix "
                   "is accepted.")
    empty_message = "The image is empty."


def open_image(data: bytes, limits: ImageLimits = ImageLimits()) -> Image.Image:
    """Check and decode an image file into an RGB Pillow image (EXIF rotation applied);
    413 when over a limit, 400 when not a supported, sound image."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"The image is {len(data)} bytes; at most {limits.max_bytes} "
                              "are allowed.", {"bytes": len(data),
                                               "max_bytes": limits.max_bytes})
    if sniff(data) is None:
        raise InvalidInput("The data is not a JPEG, PNG or GIF image (its first bytes are "
                           "no image signature).", {"reason": "not_an_image"})
    image = _open_header(data, limits)
    check_dimensions(image.size, limits)
    return _decode(image, limits)


def check_dimensions(size: tuple[int, int], limits: ImageLimits) -> None:
    """Refuse an image whose header announces too many pixels (413) or a side too
    small to hold anything (400)."""
    width, height = size
    if width * height > limits.max_pixels:
        raise PayloadTooLarge(f"The image is {width}x{height} = {width * height} pixels; at "
                              f"most {limits.max_pixels} are allowed.",
                              {"width": width, "height": height,
                               "max_pixels": limits.max_pixels})
    if min(width, height) < limits.min_side:
        raise InvalidInput(f"The image is {width}x{height}; each side must be at least "
                           f"{limits.min_side} pixels.", {"width": width, "height": height,
                                                          "min_side": limits.min_side})


def _open_header(data: bytes, limits: ImageLimits) -> Image.Image:
    """Read the header only (Pillow is lazy); Pillow's bomb check runs here too."""
    try:
        return Image.open(io.BytesIO(data), formats=list(CONTENT_TYPES))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _bomb(e, limits) from e
    except UnidentifiedImageError as e:
        raise InvalidInput("The image header cannot be read; the file is corrupt or not "
                           "an image.", {"reason": "unreadable"}) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InvalidInput("The image header cannot be read; the file is corrupt or not "
                           "an image.", {"reason": "unreadable", "error": str(e)[:200]}) from e


def _bomb(error: Exception, limits: ImageLimits) -> PayloadTooLarge:
    return PayloadTooLarge(f"The image's header announces more than the limit of "
                           f"{limits.max_pixels} pixels (a decompression bomb?); it was not "
                           "decoded.", {"reason": "decompression_bomb",
                                        "max_pixels": limits.max_pixels,
                                        "error": str(error)[:200]})


def _decode(image: Image.Image, limits: ImageLimits) -> Image.Image:
    """Decode every pixel (of a GIF, the first frame) into an RGB image."""
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        return image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _bomb(e, limits) from e
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        # Pillow reports a truncated file as OSError("image file is truncated ...")
        raise InvalidInput("The image data is truncated or corrupt.",
                           {"reason": "corrupt", "error": str(e)[:200]}) from e


def to_array(image: Image.Image) -> np.ndarray:
    """uint8 [height, width, 3] pixels of an RGB image."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def encode_png(image: Image.Image) -> str:
    """The image as a base64 PNG file."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


T = TypeVar("T")


def per_item(values: Sequence[Any], function: Callable[[Any], T],
             field: str = "image") -> list[T]:
    """``function`` on each value; an error names the item (``items[2].image``) when
    there are several, keeping its class (400 or 413) and chaining the cause."""
    results = []
    for index, value in enumerate(values):
        try:
            results.append(function(value))
        except ServiceError as e:
            if len(values) == 1:
                raise
            details = e.details if isinstance(e.details, dict) else {}
            # keyed by the item's index too: the rule by which a chain's hop fails only
            # that item and sends the others on (common/client/bulk.pipe_partial)
            raise type(e)(f"items[{index}].{field}: {e.message}",
                          {**details, "index": index, str(index): {field: [e.message]}}) from e
    return results


def sample_image(width: int = 160, height: int = 120) -> Image.Image:
    """A small picture with a red circle and a blue square: a sample input."""
    image = Image.new("RGB", (width, height), (235, 235, 225))
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 20, 72, 80), fill=(220, 40, 40))
    draw.rectangle((90, 40, 140, 90), fill=(40, 80, 220))
    return image


def sample_png_base64(width: int = 160, height: int = 120) -> str:
    """:func:`sample_image` as a base64 PNG."""
    return encode_png(sample_image(width, height))
