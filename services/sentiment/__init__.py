"""Sentiment service: ``create_app`` serves ``MODEL``, a TensorFlow text classifier."""
from .app import SentimentModel as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
