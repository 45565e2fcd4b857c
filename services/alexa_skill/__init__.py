"""Alexa skill endpoint: ``create_app`` serves ``MODEL`` (the dialogue) and POST /alexa."""
from .app import AlexaSkill as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
