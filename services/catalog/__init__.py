"""Catalog service: ``create_app`` serves ``MODEL`` (a search over the registered
services) and the deployment's home page."""
from .app import Catalog as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
