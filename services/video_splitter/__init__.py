"""Video splitter service: ``create_app`` serves ``MODEL``, a video -> its frames."""
from .app import VideoSplitter as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
