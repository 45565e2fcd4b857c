"""Video combiner service: ``create_app`` serves ``MODEL``, frames -> an MP4."""
from .app import VideoCombiner as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
