"""Small services that call each other, for the call graph and warm-dependents tests.

``leaf_app`` serves a model that calls nobody; its warm-up can be held until the test
releases it. ``relay_app`` serves a model that pipes its input through the services it
declares (and warms up nothing of theirs, like meme: readiness is then the dependents
gate's alone). ``create_relay_app`` is the same under gunicorn (a registry entry's
``app:``), declaring ``RELAY_CALLS`` (default ``text_cleaner``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from bench.apps import NoopModel
from common import create_service_app
from common.client import Client

#: Fast checks, so the tests wait milliseconds, not the defaults' half seconds.
FAST = {"DEPENDENTS_POLL_S": 0.02, "DEPENDENTS_RECHECK_S": 0.05,
        "DEPENDENTS_PROBE_TIMEOUT_S": 2.0}


class Leaf(NoopModel):
    """Echoes its text (bench's no-op stage), counting its predictions.
    ``FAIL_LOAD`` makes it fail to load; ``HOLD_WARMUP`` (an Event) holds the warm-up
    until it is set."""

    name = "back"

    def load(self) -> None:
        self.predictions = 0
        if self.config.get("FAIL_LOAD"):
            raise RuntimeError("weights missing")

    def warmup(self) -> None:
        hold = self.config.get("HOLD_WARMUP")
        if hold is not None:
            hold.wait(30)
        super().warmup()

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.predictions += len(inputs)
        return super().predict(inputs)


class Relay(Leaf):
    """Pipes each input through ``TARGETS`` (default: every service it declares)."""

    calls: tuple[str, ...] = ()

    def warmup(self) -> None:
        """Nothing of the callees is warmed here: readiness is the gate's alone."""

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        outputs = []
        for item in inputs:
            text = item["text"]
            for callee in self.config.get("TARGETS") or self.calls:
                text = self.algo(callee).pipe({"text": text}).result["text"]
            outputs.append({"text": text})
        return outputs


def leaf_app(name: str = "back", **config):
    """A leaf service app named ``name``; loaded at once unless ``LOAD_MODEL`` says."""
    model = type(f"Leaf_{name}", (Leaf,), {"name": name})
    return create_service_app(model, prefix=name.upper() + "_",
                              config={"LOAD_MODEL": "sync", **FAST, **config})


def relay_app(name: str, calls: Iterable[str], apps: dict[str, Callable] | None = None,
              **config):
    """A relay named ``name`` calling ``calls`` through an in-process client over
    ``apps`` (a dict the test may fill later: the client keeps the same mapping)."""
    model = type(f"Relay_{name}", (Relay,), {"name": name, "calls": tuple(calls)})
    app = create_service_app(model, prefix=name.upper() + "_",
                             config={"LOAD_MODEL": "sync", **FAST, **config})
    client = Client(urls={}, local={}, retries=0)
    if apps is not None:
        client.local = apps    # shared: apps added later are reachable
    app.extensions["modelchain"].model.client = client
    return app


def registry_file(folder: Path, names: Iterable[str],
                  calls: dict[str, list[str]] | None = None) -> str:
    """A registry of ``names`` (ports unused: the tests call in-process), with each
    ``calls`` policy."""
    services = {n: {"app": "unused:create_app()", "port": 9000 + i}
                for i, n in enumerate(names)}
    for name, allowed in (calls or {}).items():
        services[name]["calls"] = list(allowed)
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump({"services": services}))
    return str(path)


def until(predicate: Callable[[], Any], seconds: float = 20.0, what: str = "") -> Any:
    """Poll ``predicate`` until it is truthy (a bound on waiting, not a timing check)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never true within {seconds:g}s: {what or predicate}")


def create_relay_app():
    """The relay under gunicorn: named ``relay``, calling ``RELAY_CALLS``."""
    calls = [c for c in os.environ.get("RELAY_CALLS", "text_cleaner").split(",") if c]
    model = type("GunicornRelay", (Relay,), {"name": "relay", "calls": tuple(calls)})
    return create_service_app(model, prefix="RELAY_")
