"""Chatbot service: ``create_app`` serves ``MODEL`` (the desk assistant) and its chat page."""
from .app import Chatbot as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
