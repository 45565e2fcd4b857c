"""Serving one model behind the modelchain routes.

The path of one ``POST /predict``, file by file: ``app.py`` (the route: forwarding
header, body, schema, answer) -> ``validation.py`` (body and items) -> ``runner.py``
(cache, batcher, the model call and its one output check) -> ``cache.py`` /
``batcher.py`` -> ``model.py`` (your ``predict``). ``hooks.py`` runs around every request
(context, auth, metrics, error envelopes); ``forwarding.py`` sends the answer on when
``X-Pipe-Next`` asks for it.
"""
from .app import create_service_app, start_model
from .model import ANY_SERVICE, Failed, Function, Model

__all__ = ["ANY_SERVICE", "Failed", "Function", "Model", "create_service_app", "start_model"]
