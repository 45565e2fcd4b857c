"""Meme service: ``create_app`` serves ``MODEL``: object_detection + sentiment + overlay."""
from .app import Meme as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
