"""Object detection service: ``create_app`` serves ``MODEL``, a TF OD API SavedModel."""
from .app import ObjectDetection as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
