"""A catalog over a test registry of in-process services (``Client(local=...)``):

- ``text_cleaner``: the real service, behind the API key ``KEY``;
- ``evil``: a model whose description, tags and sample try to inject HTML;
- ``pipe``: a model whose metadata declares pipeline steps of every kind;
- ``odd``: a plain Flask app answering metadata of the wrong types;
- ``down``: registered on a port where nothing listens.
"""
from __future__ import annotations

import threading
import time

import pytest
import yaml
from flask import Flask, jsonify
from marshmallow import Schema, fields

from common import Model, create_service_app
from services.catalog import create_app
from services.text_cleaner.app import TextCleaner
from tests.conftest import free_port

KEY = "catalog-key-4f9d2b7e1a"   # distinctive, so a leak is found by a substring test
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class TextInput(Schema):
    text = fields.String(required=True)


class TextOutput(Schema):
    text = fields.String(required=True)


class QuickCleaner(TextCleaner):
    """The real text_cleaner, loading only the English lemmas it is asked for (preloading
    every language takes seconds this suite does not need)."""

    def load(self):
        pass


class Evil(Model):
    name, version = "evil", "6.6.6"
    description = "Harmless. " + XSS
    tags = ("<b>bold</b>", "ok")
    input_schema, output_schema = TextInput, TextOutput
    sample_input = {"text": "</textarea>" + XSS}

    def predict(self, inputs):
        return [{"text": XSS} for _ in inputs]


class Pipe(Evil):
    name, version, description, tags = "pipe", "1.2.0", "A pipeline of fakes.", ("demo",)
    sample_input = {"text": "hello"}

    def metadata(self):
        return {"pipeline": {"steps": [
            {"service": "text_cleaner"},
            {"parallel": {"mood": {"service": "evil"},
                          "clean": {"service": "text_cleaner", "take": ["text"]}}},
            {"service": "evil", "map": True, "over": "items", "as": "scores"},
            {"service": "not_registered"}]}}


def odd_app() -> Flask:
    """Metadata of all the wrong types: the catalog must cope, not crash."""
    app = Flask("odd")
    app.get("/metadata")(lambda: jsonify(description=123, tags="nope", version=None,
                                         ready="yes", sample_input=[1, 2],
                                         pipeline={"steps": "x"}, limits=[1]))
    return app


def registry_file(tmp_path, names: list[str], down_port: int):
    document = {"services": {n: {"app": f"x.{n}:create_app()", "port": 9000 + i}
                             for i, n in enumerate(names)}}
    document["services"]["down"] = {"app": "x:create_app()", "port": down_port,
                                    "url": f"http://127.0.0.1:{down_port}"}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def fake_apps():
    """The in-process services, built once per session."""
    return {"text_cleaner": create_service_app(QuickCleaner, prefix="TEXT_CLEANER_", config={
                "LOAD_MODEL": "sync", "API_KEYS": KEY}),
            "evil": create_service_app(Evil, prefix="EVIL_", config={"LOAD_MODEL": "sync"}),
            "pipe": create_service_app(Pipe, prefix="PIPE_", config={"LOAD_MODEL": "sync"}),
            "odd": odd_app()}


@pytest.fixture
def make_catalog(tmp_path, fake_apps):
    """``make_catalog(**config)`` -> a catalog app over the test registry."""
    def make(apps=None, **config):
        apps = fake_apps if apps is None else apps
        path = registry_file(tmp_path, ["catalog", *apps], free_port())
        settings = {"REGISTRY": str(path), "LOAD_MODEL": "sync", "CACHE_TTL_S": 0,
                    "FETCH_TIMEOUT_S": 1.0, "API_KEY": KEY, **config}
        return create_app(settings, local=apps)
    return make


@pytest.fixture
def catalog(make_catalog):
    """The test client of a catalog with the test services."""
    return make_catalog().test_client()


def barrier_app(barrier: threading.Barrier) -> Flask:
    """A service whose /metadata answers only once ``barrier.parties`` calls wait at once,
    so it answers only if the catalog fetches concurrently."""
    app = Flask("together")

    @app.get("/metadata")
    def metadata():
        barrier.wait()
        return jsonify(name="together", version="1.0.0", ready=True)
    return app


def slow_app(seconds: float) -> Flask:
    """A service whose /metadata takes ``seconds``."""
    app = Flask("slow")

    @app.get("/metadata")
    def metadata():
        time.sleep(seconds)
        return jsonify(name="slow", ready=True)
    return app
