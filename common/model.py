"""The one base class every served model (and every pipeline) derives from."""
from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar, Mapping

from marshmallow import Schema

log = logging.getLogger(__name__)


class Model:
    """A model served behind the standard routes.

    Subclasses set the class attributes and implement :meth:`load` and :meth:`predict`.
    ``predict`` is batch-first: it takes a list of validated inputs and returns a list of
    outputs in the same order, so one compiled-function call serves a whole batch.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    tags: ClassVar[tuple[str, ...]] = ()
    input_schema: ClassVar[type[Schema]]
    output_schema: ClassVar[type[Schema]]
    sample_input: ClassVar[dict[str, Any]] = {}
    #: Whether the same input always gives the same output (a result cache may be used).
    deterministic: ClassVar[bool] = True
    #: Whether predict may run on the dynamic batcher's thread. Models that call other
    #: services say False: that thread has no request context (id, trace, deadline).
    batchable: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any] | None = None):
        self.config = dict(config or {})
        self._ready = threading.Event()
        self._started = threading.Lock()
        self.load_error: BaseException | None = None

    @property
    def ready(self) -> bool:
        """True once the model is loaded and warmed up."""
        return self._ready.is_set()

    def load(self) -> None:
        """Load weights and build compiled functions; runs once per process, after fork."""

    def warmup(self) -> None:
        """Run the sample input once so the first real request pays no tracing cost."""
        self.predict([self.input_schema().load(self.sample_input)])

    def predict(self, inputs: list[dict[str, Any]]) -> list[Any]:
        """Score a batch of validated inputs; returns one output per input, in order."""
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """Extra fields a subclass adds to ``/metadata`` (a pipeline lists its steps)."""
        return {}

    def start(self, warmup: bool = True) -> None:
        """Load, warm up and mark ready; safe to call more than once, from any thread."""
        if not self._started.acquire(blocking=False):
            return
        try:
            self.load()
            if warmup:
                self.warmup()
            self._ready.set()
            log.info("model %s %s ready", self.name, self.version)
        except Exception as e:  # kept for /readyz; the process stays up to report it
            self.load_error = e
            log.exception("model %s failed to load", self.name)

    def start_in_background(self, warmup: bool = True) -> threading.Thread:
        """Start loading on a daemon thread so health checks answer meanwhile."""
        thread = threading.Thread(target=self.start, args=(warmup,),
                                  name=f"load-{self.name}", daemon=True)
        thread.start()
        return thread
