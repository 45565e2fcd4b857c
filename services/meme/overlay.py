"""Drawing a caption on an image the way memes do: big white letters with a black outline,
wrapped to the image's width, in a band at the top or the bottom.

The font is the one that ships with Pillow (``ImageFont.load_default(size=...)``, a
FreeType font since Pillow 10.1), so nothing needs installing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

MIN_FONT = 10
MAX_BAND = 0.4  # a caption may cover at most this share of the image's height


@dataclass(frozen=True)
class Layout:
    """Where and how big a caption is drawn."""

    lines: tuple[str, ...]
    font_size: int
    band: tuple[int, int]  # top and bottom pixel rows of the caption band


def choose_band(height: int, band_height: int, boxes: Sequence[tuple[int, int, int, int]],
                position: str = "auto") -> str:
    """``top`` or ``bottom``: as asked, or (``auto``) where the caption covers less of the
    detected objects (ties go to the top, the classic place)."""
    if position in ("top", "bottom"):
        return position
    top = sum(_rows_overlap(b, 0, band_height) for b in boxes)
    bottom = sum(_rows_overlap(b, height - band_height, height) for b in boxes)
    return "bottom" if bottom < top else "top"


def _rows_overlap(box: tuple[int, int, int, int], start: int, end: int) -> int:
    """Area of a (left, top, right, bottom) box inside the rows start..end."""
    left, top, right, bottom = box
    return max(0, min(bottom, end) - max(top, start)) * max(0, right - left)


def layout(text: str, width: int, height: int, place: str) -> Layout:
    """The largest font (up to width/10) at which the wrapped caption fits its band."""
    size = max(MIN_FONT, width // 10)
    while True:
        font = ImageFont.load_default(size=size)
        lines = wrap(text, font, width - 2 * _margin(size))
        band_height = _band_height(len(lines), size)
        if band_height <= height * MAX_BAND or size <= MIN_FONT:
            break
        size = max(MIN_FONT, int(size * 0.85))
    top = 0 if place == "top" else max(0, height - band_height)
    return Layout(tuple(lines), size, (top, min(height, top + band_height)))


def _margin(size: int) -> int:
    return max(2, size // 4)


def _band_height(lines: int, size: int) -> int:
    return lines * _line_height(size) + 2 * _margin(size)


def _line_height(size: int) -> int:
    return int(size * 1.2)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; a word longer than a line gets its own."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines or [""]


def draw_caption(image: Image.Image, text: str, place: str) -> tuple[Image.Image, Layout]:
    """A copy of ``image`` with ``text`` drawn in the ``top`` or ``bottom`` band."""
    out = image.convert("RGB")
    plan = layout(text, out.width, out.height, place)
    font = ImageFont.load_default(size=plan.font_size)
    draw = ImageDraw.Draw(out)
    stroke = max(1, plan.font_size // 12)
    y = plan.band[0] + _margin(plan.font_size)
    for line in plan.lines:
        x = (out.width - font.getlength(line)) / 2
        draw.text((x, y), line, font=font, fill=(255, 255, 255), stroke_width=stroke,
                  stroke_fill=(0, 0, 0))
        y += _line_height(plan.font_size)
    return out, plan


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """The image scaled down so that its longer side is at most ``max_side``."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    return image.resize((max(1, round(image.width * scale)),
                         max(1, round(image.height * scale))), Image.LANCZOS)
