"""Text cleaner service: ``create_app`` serves ``MODEL``, a tweet cleaner (no model)."""
from .app import TextCleaner as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
