"""image_classifier: the last stage of the Classy chain; ``create_app`` serves ``MODEL``."""
from .app import ImageClassifier as MODEL
from .app import create_app

__all__ = ["create_app", "MODEL"]
