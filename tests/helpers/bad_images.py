"""Images that must be refused, crafted byte by byte, shared by the image services' tests.

``BAD_IMAGES`` maps a case name to (base64 text, expected status, expected code).
"""
from __future__ import annotations

import base64
import io
import struct
import zlib

from PIL import Image

from tests.helpers.image_server import scene_bytes


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` RGB pixels, with a tiny (invalid)
    body: a decompression bomb's announcement, with valid CRCs so readers trust it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    """An image's file bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def bad_images() -> dict[str, tuple[str, int]]:
    """Case name -> (the ``image`` field's value, the expected HTTP status)."""
    good = scene_bytes(0)
    return {
        "truncated": (b64(good[: len(good) // 2]), 400),
        "not_an_image": (b64(b"%PDF-1.4 this is no image at all" * 4), 400),
        "one_pixel": (b64(encoded(Image.new("RGB", (1, 1), (255, 0, 0)))), 400),
        "huge_header": (b64(png_header(20000, 20000)), 413),
        "wrong_base64": ("this is not base64!", 400),
        "bad_padding": ("iVBORw0KGgo", 400),
        "empty": ("", 400),
        "png_signature_only": (b64(b"\x89PNG\r\n\x1a\n"), 400),
        "jpeg_garbage": (b64(b"\xff\xd8\xff" + b"\x00" * 100), 400),
    }
