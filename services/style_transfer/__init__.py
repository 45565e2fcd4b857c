"""Style transfer service: ``create_app`` serves ``MODEL``, an image -> the image styled."""
from .app import StyleTransfer as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
