"""Gateway service: ``create_app`` serves ``MODEL`` (a name resolver) and the
Algorithmia wire API in front of every registered service."""
from .app import Gateway as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
