"""Everything between a validated request and the model, in one straight path:

    predict -> cache hits (optional) -> batcher (optional) -> _call_model -> Model.predict

``_call_model`` is the only caller of a model's ``predict`` and holds the one check that
the model answered once per input; the cache and the batcher rely on it."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from common.core.errors import InternalError

from .batcher import DynamicBatcher
from .cache import ResultCache
from .metrics import ServiceMetrics
from .model import Failed, Model


class OutputCountMismatch(InternalError):
    """A model returned a different number of outputs than it was given inputs."""


class ModelRunner:
    """Runs a model's ``predict`` for the routes, optionally batched and cached."""

    def __init__(self, model: Model, config: Mapping[str, Any], metrics: ServiceMetrics):
        self.model = model
        self.config = config
        self.metrics = metrics
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._inside = 0  # /predict requests between arrival and answer
        self._dump_one = model.output_schema().dump
        self.batcher = self._make_batcher() if config["BATCHING"] and model.batchable \
            else None
        self.cache = self._make_cache() if config["CACHE_SIZE"] and model.deterministic \
            else None

    def start(self) -> None:
        """Load and warm the model on this thread."""
        self.model.start(self.config["WARMUP"])

    def start_in_background(self) -> None:
        """Load and warm the model on a daemon thread, once per process."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = self.model.start_in_background(self.config["WARMUP"])

    @contextmanager
    def request_scope(self) -> Iterator[None]:
        """Count a /predict request for as long as the service holds it, so the batcher
        knows when no more company can come."""
        with self._lock:
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1

    def in_flight(self) -> int:
        """How many /predict requests the service holds right now."""
        return self._inside

    def predict(self, inputs: list[dict], timeout: float | None = None) -> list[Any]:
        """Outputs for validated inputs, in order, serialised by the output schema."""
        self.metrics.request_batch.observe(len(inputs))
        if self.cache is None:
            return self._compute(inputs, timeout)
        lookup = self.cache.lookup(inputs)
        if lookup.misses:
            lookup.fill(self._compute(lookup.misses, timeout))
        return lookup.outputs

    def describe(self) -> dict[str, Any]:
        """The batching and caching settings, for ``/metadata``."""
        return {"dynamic": bool(self.batcher),
                "max_batch_size": self.config["BATCH_MAX_SIZE"] if self.batcher else None,
                "max_latency_ms": self.config["BATCH_MAX_LATENCY_MS"] if self.batcher
                else None,
                "cache_entries": self.config["CACHE_SIZE"] if self.cache else 0}

    def _compute(self, inputs: list[dict], timeout: float | None) -> list[Any]:
        if self.batcher is not None:  # its BatchTimeout is a 504 with the phase it hit
            return self.batcher.submit(inputs, timeout=timeout)
        return self._call_model(inputs)

    def _call_model(self, inputs: list[dict]) -> list[Any]:
        """One call of the model on a (possibly merged) batch, checked and serialised."""
        self.metrics.model_batch.observe(len(inputs))
        predict_batch = self.model.predict  # our batch-first Model.predict, not Keras'
        outputs = predict_batch(inputs)
        if len(outputs) != len(inputs):
            raise OutputCountMismatch(f"{self.model.name} returned {len(outputs)} outputs "
                                      f"for {len(inputs)} inputs.",
                                      {"inputs": len(inputs), "outputs": len(outputs)})
        return [o if isinstance(o, Failed) else self._dump_one(o) for o in outputs]

    def _make_batcher(self) -> DynamicBatcher:
        return DynamicBatcher(self._call_model, max_batch_size=self.config["BATCH_MAX_SIZE"],
                              max_latency_ms=self.config["BATCH_MAX_LATENCY_MS"],
                              name=self.model.name, on_batch=self._observe_batch,
                              in_flight=self.in_flight)

    def _observe_batch(self, batch_size: int, waits: list[float]) -> None:
        for wait in waits:
            self.metrics.batch_wait.observe(wait)

    def _make_cache(self) -> ResultCache:
        return ResultCache(self.config["CACHE_SIZE"], f"{self.model.name}:{self.model.version}")
