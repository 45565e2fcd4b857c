"""Image preprocessor service: ``create_app`` serves ``MODEL``, image -> float32 tensor."""
from .app import ImagePreprocessor as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
