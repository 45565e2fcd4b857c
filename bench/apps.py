"""The apps the benchmarks serve besides the real services.

* ``create_noop_app(name)``: a service built with the project's own factory around a
  model that returns its input. It costs everything a modelchain service costs (routing,
  context, validation, metrics, JSON) except a model, so it is the HTTP ceiling and the
  stage of the pipe benchmarks. ``MODEL`` lets a pipeline use it as a step.
* ``create_classic_app(artifact)``: the way the Flask tutorials serve a Keras model, the
  baseline of the batching benchmark: Flask's development server (threaded), one
  Keras ``model.predict`` per request. It is deliberately not our serving code.
  ``python -m bench.apps classic --port N`` runs it.
"""
from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, jsonify, request
from marshmallow import Schema, fields

from common import Model, create_service_app
from common.serving.validation import Text


class NoopInput(Schema):
    """One text, as the sentiment service takes it."""

    text = Text()


class NoopOutput(Schema):
    """The same text back."""

    text = fields.String(required=True)


class NoopModel(Model):
    """Returns its inputs: the cost of the service around a model, without a model."""

    name = "noop"
    version = "1.0.0"
    description = "Returns its input (a benchmark stage)."
    input_schema = NoopInput
    output_schema = NoopOutput
    sample_input = {"text": "hello"}

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each input, unchanged."""
        return list(inputs)


MODEL = NoopModel


def create_noop_app(name: str = "noop", config: Mapping[str, Any] | None = None) -> Flask:
    """A no-op service named ``name`` (environment prefix ``<NAME>_``)."""
    model_cls = type(f"Noop_{name}", (NoopModel,), {"name": name})
    return create_service_app(model_cls, prefix=f"{name.upper()}_", config=config)


class SlowInput(Schema):
    """How long the request takes."""

    seconds = fields.Float(load_default=0.0)


class SlowOutput(Schema):
    """How long it took."""

    slept = fields.Float(required=True)


class SlowModel(Model):
    """Sleeps as long as asked (at most 30 s): it holds a thread, as a slow model does."""

    name = "slow"
    version = "1.0.0"
    description = "Sleeps as long as asked (a benchmark stage)."
    input_schema = SlowInput
    output_schema = SlowOutput
    sample_input = {"seconds": 0}

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sleep, then say how long."""
        for item in inputs:
            time.sleep(min(30.0, max(0.0, item["seconds"])))
        return [{"slept": item["seconds"]} for item in inputs]


def create_slow_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The slow service (environment prefix ``SLOW_``)."""
    return create_service_app(SlowModel, config=config)


# ------------------------------------------------------------------ the classic way


def load_keras_model(artifact: str | Path):
    """The sentiment SavedModel as a Keras model, so ``model.predict`` can be called.

    The export has one endpoint ``serve(texts, features)``; Keras' TFSMLayer calls an
    endpoint with a single argument, so a small subclass unpacks the two inputs.
    """
    import keras

    from services.sentiment.classifier import read_meta

    n_features = len(read_meta(artifact)["feature_names"])  # 17 for 1.0.0, 24 for 2.0.0

    class ServeLayer(keras.layers.TFSMLayer):
        def call(self, inputs, training=False):
            texts, feats = inputs
            return self.call_endpoint_fn(texts, feats)

    texts = keras.Input(shape=(), dtype="string", name="texts")
    feats = keras.Input(shape=(n_features,), dtype="float32", name="features")
    probs = ServeLayer(str(artifact), call_endpoint="serve")([texts, feats])
    return keras.Model([texts, feats], probs, name="classic_sentiment")


class InFlight:
    """A thread-safe count of the requests being computed (``with inflight: ...``)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> "InFlight":
        with self._lock:
            self.count += 1
        return self

    def __exit__(self, *_exc) -> None:
        with self._lock:
            self.count -= 1


def create_classic_app(artifact: str | Path) -> Flask:
    """The tutorial app: a global Keras model, ``model.predict`` on every request."""
    import numpy as np

    from services.sentiment import features
    from services.sentiment.classifier import read_meta
    from services.sentiment.data import LABELS

    model = load_keras_model(artifact)
    names = tuple(read_meta(artifact)["feature_names"])
    app = Flask("classic")
    inflight = InFlight()

    @app.post("/predict")
    def predict():
        with inflight:
            text = request.get_json()["text"]
            feats = features.lexicon_features([text], names)
            probs = model.predict([np.array([text], dtype=object), feats], verbose=0)[0]
        scores = {label: float(p) for label, p in zip(LABELS, probs)}
        return jsonify(label=max(scores, key=scores.get), scores=scores)

    @app.get("/readyz")
    def readyz():
        return jsonify(ready=True)

    @app.get("/inflight")
    def in_flight():
        # Not part of the tutorial way: lets the bench wait until requests that wrk
        # abandoned at the end of a run are done before it measures anything else.
        return jsonify(inflight=inflight.count)

    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.apps classic --port N [--artifact DIR]``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("app", choices=["classic"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--artifact", default="")
    args = parser.parse_args(argv)
    from services.sentiment.classifier import DEFAULT_ARTIFACT
    app = create_classic_app(args.artifact or DEFAULT_ARTIFACT)
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
