"""Video pipeline service: ``create_app`` serves ``MODEL``, a video -> every frame
transformed by a per-frame service, as an MP4."""
from .app import VideoPipeline as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
