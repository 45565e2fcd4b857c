"""The downloader service: an image URL in, the image's bytes (base64) out, safely.

Its output, ``{"image", "content_type", "url", "bytes"}``, is what the image services
take, so it is the first stage of a chain: ``X-Pipe-Next: object_detection[image]``.
"""
from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, fields, validate

from common import Function, create_service_app
from common.core import context as ctx
from common.core.context import bind_context
from common.media.images import per_item

from common.media.safe_fetch import (FETCH_DEFAULTS, MAX_URL_LENGTH, FetchPolicy, SafeFetcher,
                                      url_field)



class DownloadInput(Schema):
    """One URL to fetch."""

    # The schema checks the form; the fetcher checks the destination, naming the reason.
    url = url_field(required=True, metadata={
        "description": "An http(s) URL of a JPEG, PNG or GIF image.",
                  "example": "https://example.com/cat.jpg"})


class DownloadOutput(Schema):
    """The fetched image, ready for the next stage."""

    image = fields.String(required=True, metadata={
        "description": "The image file, base64-encoded.", "format": "byte"})
    content_type = fields.String(required=True, metadata={
        "description": "image/jpeg, image/png or image/gif, from the magic bytes."})
    url = fields.String(required=True, metadata={
        "description": "The URL the image came from, after redirects."})
    bytes = fields.Integer(required=True, metadata={"description": "Size of the file."})


class Downloader(Function):
    """No model: a fetcher that refuses private destinations and oversized answers."""

    name = "downloader"
    version = "1.0.0"
    description = ("Fetches an image URL (http/https; JPEG, PNG or GIF) with SSRF checks "
                   "on every redirect, size and time limits, and returns it as base64 "
                   "for the next stage.")
    tags = ("vision", "utility", "io")
    input_schema = DownloadInput
    output_schema = DownloadOutput
    sample_input = {"url": "https://example.com/image.png"}
    deterministic = False  # the same URL may serve a different image later

    def load(self) -> None:
        """Build the fetcher from the configuration."""
        self.fetcher = SafeFetcher(FetchPolicy.from_config(self.config))

    def warmup(self) -> None:
        """Nothing to warm (and the sample URL must not be fetched at start-up)."""

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fetch every URL, a few at a time; the first failure fails the request."""
        urls = [item["url"] for item in inputs]
        if len(urls) == 1:
            return [self._download(urls[0])]
        workers = min(len(urls), int(self.config["FETCH_CONCURRENCY"]))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            fetched = list(pool.map(bind_context(self._attempt), urls))
        return per_item(fetched, _unwrap, field="url")

    def _attempt(self, url: str) -> Any:
        try:
            return self._download(url)
        except Exception as e:  # noqa: BLE001  handed back, raised in order by per_item
            return _Failed(e)

    def _download(self, url: str) -> dict[str, Any]:
        current = ctx.current()
        fetched = self.fetcher.fetch(url, current.remaining() if current else None)
        return {"image": base64.b64encode(fetched.data).decode("ascii"),
                "content_type": fetched.content_type, "url": fetched.url,
                "bytes": len(fetched.data)}


class _Failed:
    def __init__(self, error: Exception):
        self.error = error


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Failed):
        raise value.error
    return value


DEFAULTS = {**FETCH_DEFAULTS, "MAX_BATCH_SIZE": 8, "MAX_TEXT_LENGTH": MAX_URL_LENGTH,
            "FETCH_CONCURRENCY": 4}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The downloader service app (environment prefix ``DOWNLOADER_``)."""
    return create_service_app(Downloader, defaults=DEFAULTS,
                              config=config)
