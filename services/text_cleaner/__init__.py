"""Text cleaner service: ``create_app`` serves :class:`~services.text_cleaner.app.TextCleaner`."""
from .app import create_app

__all__ = ["create_app"]
