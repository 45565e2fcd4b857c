"""The BentoML side of ``python -m bench.peers``: ``bentoml serve bento_services:<Name>``
with ``--working-dir bench/peers``, in the peers' environment (``.venv-bench-peers``).

* ``Noop``: one service returning its input, the per-request cost of BentoML itself.
* ``NoopA`` -> ``NoopB`` -> ``NoopC``: the 3-stage no-op chain, each stage calling the
  next through ``bentoml.depends`` (BentoML runs each in its own process).
* ``Sentiment``: the sentiment SavedModel (``peer_model``), one text per request.

Every API takes ``{"text": ...}`` at ``POST /predict``, as our services do. One worker
each, sync APIs on BentoML's thread pool, no adaptive batching (ours runs without its
dynamic batching in this scenario too), no access log.
"""
from __future__ import annotations

import bentoml

#: No access log line per request: ours writes none in this scenario (the launcher's
#: MODELCHAIN_ACCESS_LOG is a `make run` default), so none of the three does.
CONFIG = {"workers": 1, "traffic": {"timeout": 30}, "logging": {"access": {"enabled": False}}}


@bentoml.service(**CONFIG)
class Noop:
    """Returns its input."""

    @bentoml.api
    def predict(self, text: str) -> dict:
        return {"text": text}


@bentoml.service(**CONFIG)
class NoopC:
    """Last stage: returns its input."""

    @bentoml.api
    def predict(self, text: str) -> dict:
        return {"text": text}


@bentoml.service(**CONFIG)
class NoopB:
    """Middle stage: hands its input to NoopC."""

    next = bentoml.depends(NoopC)

    @bentoml.api
    def predict(self, text: str) -> dict:
        return self.next.predict(text=text)


@bentoml.service(**CONFIG)
class NoopA:
    """First stage (the one called over HTTP): hands its input to NoopB."""

    next = bentoml.depends(NoopB)

    @bentoml.api
    def predict(self, text: str) -> dict:
        return self.next.predict(text=text)


@bentoml.service(**CONFIG)
class Sentiment:
    """The sentiment SavedModel, loaded in the worker (after the fork)."""

    def __init__(self) -> None:
        from peer_model import Sentiment as Model

        self.model = Model()

    @bentoml.api
    def predict(self, text: str) -> dict:
        return self.model.predict(text)
