"""The one base class every served model (and every pipeline) derives from, and
:class:`Function`, its kind for services with no model to load."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from marshmallow import Schema

from common.client import Algo, Client, default_client
from common.core import identity
from common.core.errors import InternalError, ServiceError

log = logging.getLogger(__name__)

#: In ``Model.calls``: the model may call any registered service (the catalog does).
ANY_SERVICE = "*"


@dataclass(frozen=True)
class Failed:
    """What ``predict`` returns in place of an output for an item that failed on its own
    (a later stage refused it), so that the other items of the batch still succeed.
    The answer then holds ``None`` for it and its error in ``metadata.errors``."""

    error: ServiceError


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
    #: The services this model calls (``ANY_SERVICE`` for any). :meth:`algo` refuses
    #: the others, so the list cannot drift from the code.
    calls: ClassVar[tuple[str, ...]] = ()
    #: What the service runs: ``model`` (weights to load), ``function`` (plain code) or
    #: ``pipeline``; shown in ``/metadata``.
    kind: ClassVar[str] = "model"

    def __init__(self, config: Mapping[str, Any] | None = None):
        self.config = dict(config or {})
        self._ready = threading.Event()
        self._started = threading.Lock()
        self.load_error: BaseException | None = None
        self._client: Client | None = None

    @property
    def ready(self) -> bool:
        """True once the model is loaded and warmed up."""
        return self._ready.is_set()

    @property
    def batchable(self) -> bool:
        """Whether ``predict`` may run on the dynamic batcher's thread: only when the
        model calls no other service, since that thread has no request context (id,
        trace, deadline) for the calls to carry."""
        return not self.calls

    @property
    def client(self) -> Client:
        """The pipe client :meth:`algo` calls through: the process's shared one unless
        another was set (an in-process client, in tests)."""
        return self._client or default_client()

    @client.setter
    def client(self, client: Client) -> None:
        self._client = client

    def algo(self, ref: str) -> Algo:
        """A handle on a service this model calls, through the process's pipe client.

        ``ref`` is ``"name"`` or ``"name@version"``; the name must be in :attr:`calls`.
        """
        name = ref.partition("@")[0]
        if name not in self.calls and ANY_SERVICE not in self.calls:
            raise InternalError(f"{self.name} calls {name}, which its Model.calls does not "
                                f"name ({', '.join(self.calls) or 'none'}).")
        return self.client.algo(ref)

    def load(self) -> None:
        """Load weights and build compiled functions; runs once per process, after fork."""

    def warmup(self) -> None:
        """Run the sample input once so the first real request pays no tracing cost."""
        self.predict([self.input_schema().load(self.sample_input)])

    def predict(self, inputs: list[dict[str, Any]]) -> list[Any]:
        """Score a batch of validated inputs; returns one output per input, in order
        (or a :class:`Failed` for an input that failed alone)."""
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """Extra fields a subclass adds to ``/metadata`` (a pipeline lists its steps)."""
        return {}

    def extra_limits(self) -> dict[str, Any]:
        """Limits of this model's own (a video's duration...), stated in the OpenAPI
        beside the service's common ones; from ``self.config``."""
        return {}

    def start(self, warmup: bool = True) -> None:
        """Load, warm up and mark ready; safe to call more than once, from any thread."""
        if not self._started.acquire(blocking=False):
            return
        # Calls made while loading and warming up (a pipeline's sample through its
        # steps) are made for this service, and signed as it.
        acting = identity.act_as(self.name)
        try:
            self.load()
            if warmup:
                self.warmup()
            self._ready.set()
            log.info("model %s %s ready", self.name, self.version)
        except Exception as e:  # kept for /readyz; the process stays up to report it
            self.load_error = e
            log.exception("model %s failed to load", self.name)
        finally:
            identity.stop_acting(acting)

    def start_in_background(self, warmup: bool = True) -> threading.Thread:
        """Start loading on a daemon thread so health checks answer meanwhile."""
        thread = threading.Thread(target=self.start, args=(warmup,),
                                  name=f"load-{self.name}", daemon=True)
        thread.start()
        return thread


class Function(Model):
    """A service with no model to load: plain code behind the same routes (a text
    cleaner, a downloader, an adapter). It is ready as soon as it starts."""

    kind: ClassVar[str] = "function"
