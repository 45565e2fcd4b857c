"""Downloader service: ``create_app`` serves ``MODEL``, a safe image fetcher (no model)."""
from .app import Downloader as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
