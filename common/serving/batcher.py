"""Dynamic batching: many request threads, one model call.

A compiled TensorFlow function costs about the same for one row as for a few dozen, so
when several gunicorn threads of one worker process are scoring at once it pays to hand
the model their inputs together. :class:`DynamicBatcher` does what Triton, TF Serving
and BentoML do: each request thread calls :meth:`DynamicBatcher.submit` with its own
small list of validated inputs and blocks; one worker thread gathers queued requests
into a single ``predict(list) -> list`` call and gives every caller its own slice of
the outputs back.

Batching policy:

* The worker waits for a first request, then keeps collecting until ``max_batch_size``
  items are gathered or ``max_latency_ms`` have passed since that first request
  arrived, so no request waits longer than ``max_latency_ms`` for company.
* Requests are never split and never reordered. One that would push the batch past
  ``max_batch_size`` closes the batch and opens the next one; a request that is larger
  than ``max_batch_size`` on its own runs alone.
* A failing model call fails the callers of that batch only; the next batch runs as
  usual. ``predict`` must return one output per input, in order: the service's runner
  checks that before the outputs reach here, so slicing hands each caller its own.

The worker thread is started lazily by the first :meth:`~DynamicBatcher.submit` of a
process, so a batcher built at import time in a gunicorn master (``preload_app``) works
in every forked worker: a child sees a new ``os.getpid()``, drops the parent's queue
state and starts its own thread.
"""
from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections import deque
from concurrent import futures
from typing import Callable, Optional

from common.core.errors import DeadlineExceeded, NotReady

log = logging.getLogger(__name__)

PredictFn = Callable[[list], list]
OnBatchFn = Callable[[int, list[float]], None]


class BatchTimeout(DeadlineExceeded, TimeoutError):
    """``submit``'s timeout passed before the request's outputs were ready.

    Both a :class:`TimeoutError` (for plain Python callers) and a
    :class:`~common.core.errors.DeadlineExceeded` (so the service renders a 504 envelope).
    """


class BatcherClosed(NotReady):
    """The batcher was closed (the worker process is shutting down)."""

    default_message = "The model's batcher is shut down."


class _Request:
    """One caller's inputs, its future, and when it joined the queue."""

    __slots__ = ("items", "future", "enqueued_at")

    def __init__(self, items: list):
        self.items = items
        self.future: futures.Future = futures.Future()
        self.enqueued_at = time.monotonic()


# Guards the "has this process got its worker yet?" check. A lock that some parent
# thread held at fork time stays locked forever in the child, so the child gets a new
# one before any of its own threads can run.
_process_guard = threading.Lock()


def _renew_process_guard() -> None:
    global _process_guard
    _process_guard = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork to survive
    os.register_at_fork(after_in_child=_renew_process_guard)


class DynamicBatcher:
    """Merges concurrent :meth:`submit` calls of one process into batched model calls.

    ``predict`` takes a list of inputs and returns one output per input, in order.
    ``on_batch(batch_size, queue_waits)`` is called after every model call (successful
    or not) with the number of items in it and, per request, the seconds that request
    spent queued; it is meant for Prometheus histograms and must be quick.
    """

    def __init__(self, predict: PredictFn, *, max_batch_size: int = 32,
                 max_latency_ms: float = 5.0, name: str = "batcher",
                 on_batch: Optional[OnBatchFn] = None,
                 in_flight: Optional[Callable[[], int]] = None):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_latency_ms < 0:
            raise ValueError("max_latency_ms must not be negative")
        self.predict = predict
        self.max_batch_size = int(max_batch_size)
        self.max_latency_s = float(max_latency_ms) / 1000.0
        self.name = name
        self.on_batch = on_batch
        #: How many requests the service holds right now (None: unknown). When all of
        #: them are already in the batch, no company can come, so it runs at once.
        self.in_flight = in_flight
        self._closed = False
        self._pid: Optional[int] = None
        self._worker: Optional[threading.Thread] = None
        self._reset_queue()

    # ------------------------------------------------------------------ public API

    def submit(self, items: list, timeout: Optional[float] = None) -> list:
        """Score ``items`` as part of a batch; blocks and returns their outputs in order.

        Raises the exception of the model call this request was part of, or
        :class:`BatchTimeout` when ``timeout`` seconds pass first. A request still queued
        at that point is withdrawn and never computed; one already inside a model call
        has its outputs discarded. Raises :class:`BatcherClosed` after :meth:`close`.
        """
        items = list(items)
        if not items:
            return []
        if timeout is not None and timeout <= 0:
            raise BatchTimeout("The request's deadline passed before it was queued.")
        self._ensure_worker()
        request = self._enqueue(items)
        try:
            # exception() waits without raising the batch's error; only a timeout raises.
            request.future.exception(timeout)
        except futures.TimeoutError:
            self._give_up(request)
        # result() raises this caller's copy of the batch's exception, if it had one.
        return request.future.result()

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stop the worker; queued callers get :class:`BatcherClosed`.

        A batch already inside the model finishes and its callers get their outputs.
        Waits up to ``timeout`` seconds for the worker thread to end.
        """
        with self._cond:
            self._closed = True
            abandoned = []
            while self._queue:
                abandoned.append(self._claim())
            self._cond.notify_all()
        _fail(abandoned, BatcherClosed())
        worker = self._worker
        if (worker is not None and worker is not threading.current_thread()
                and self._pid == os.getpid()):
            worker.join(timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def queue_depth(self) -> int:
        """Requests waiting to be picked up (not counting the batch being computed)."""
        with self._cond:
            return len(self._queue)

    @property
    def queued_items(self) -> int:
        """Items in the waiting requests (not counting the batch being computed)."""
        with self._cond:
            return self._queued_items

    # ------------------------------------------------------------ caller side

    def _reset_queue(self) -> None:
        """Fresh queue state: at construction, and in a forked child."""
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Request] = deque()
        self._queued_items = 0

    def _ensure_worker(self) -> None:
        """Start the worker thread on first use in this process (and after a fork)."""
        pid = os.getpid()
        worker = self._worker
        if self._pid == pid and worker is not None and worker.is_alive():
            return
        with _process_guard:
            if self._pid != pid:
                # A forked child inherits the parent's queue and condition but none of
                # its threads: the queued callers live in the parent, and the lock may
                # have been held at fork time. Start over.
                self._reset_queue()
                self._worker = None
                self._pid = pid
            if self._closed:
                raise BatcherClosed()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, daemon=True,
                                                name=f"{self.name}-worker")
                self._worker.start()

    def _enqueue(self, items: list) -> _Request:
        request = _Request(items)
        with self._cond:
            if self._closed:
                raise BatcherClosed()
            self._queue.append(request)
            self._queued_items += len(items)
            self._cond.notify()
        return request

    def _give_up(self, request: _Request) -> None:
        """Withdraw a timed-out request if it is still queued, then raise BatchTimeout."""
        with self._cond:
            # Under the lock, a request is either still in the queue (PENDING) or the
            # worker has claimed it (RUNNING); cancel() succeeds only in the first case.
            withdrawn = request.future.cancel()
            if withdrawn and request in self._queue:
                self._queue.remove(request)
                self._queued_items -= len(request.items)
        if withdrawn:
            raise BatchTimeout("The request timed out waiting in the batch queue.",
                               {"batcher": self.name, "phase": "queued"})
        if request.future.done():
            return  # finished just now: let submit() hand over the outputs
        raise BatchTimeout("The request timed out while its batch was being computed.",
                           {"batcher": self.name, "phase": "computing"})

    # ------------------------------------------------------------ worker side

    def _run(self) -> None:
        """The worker thread: gather a batch, compute it, repeat until closed."""
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._compute(batch)
            except BaseException as exc:  # never leave a caller waiting forever
                log.exception("batcher %s: unexpected failure", self.name)
                _fail(batch, exc)

    def _next_batch(self) -> Optional[list[_Request]]:
        """Block for the next batch of requests; None once closed."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = self._claim()
            batch, size = [first], len(first.items)
            deadline = first.enqueued_at + self.max_latency_s
            while size < self.max_batch_size:
                if self._queue:
                    if size + len(self._queue[0].items) > self.max_batch_size:
                        break  # it would overflow: it opens the next batch instead
                    request = self._claim()
                    batch.append(request)
                    size += len(request.items)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed or self._alone(batch):
                    break
                self._cond.wait(remaining)
            if self._closed:
                _fail(batch, BatcherClosed())
                return None
            return batch

    def _alone(self, batch: list[_Request]) -> bool:
        """Whether every request the service holds is already in ``batch``."""
        return self.in_flight is not None and self.in_flight() <= len(batch)

    def _claim(self) -> _Request:
        """Take the head request off the queue (caller holds the lock)."""
        request = self._queue.popleft()
        self._queued_items -= len(request.items)
        # Marks the future RUNNING so a timing-out caller can no longer cancel it.
        # It cannot already be cancelled: cancellation happens under the same lock and
        # removes the request from the queue.
        request.future.set_running_or_notify_cancel()
        return request

    def _compute(self, batch: list[_Request]) -> None:
        """One model call for the whole batch, then each caller gets its slice."""
        items = [item for request in batch for item in request.items]
        started = time.monotonic()
        waits = [started - request.enqueued_at for request in batch]
        try:
            outputs = list(self.predict(items))
        except BaseException as exc:
            if len(batch) > 1 and isinstance(exc, Exception):
                # Errors stay with their own caller: one request's poison input must not
                # fail the strangers it was merged with, so each is run again alone.
                log.info("batcher %s: batch of %d requests failed (%s); isolating",
                         self.name, len(batch), type(exc).__name__)
                for request in batch:
                    self._compute([request])  # each run reports its own metrics
                return
            self._report(len(items), waits)
            _fail(batch, exc)
            return
        # Metrics first, so they are recorded by the time any caller returns.
        self._report(len(items), waits)
        start = 0
        for request in batch:
            end = start + len(request.items)
            request.future.set_result(outputs[start:end])
            start = end

    def _report(self, size: int, waits: list[float]) -> None:
        """Call on_batch; a broken metrics hook must not fail requests."""
        if self.on_batch is None:
            return
        try:
            self.on_batch(size, waits)
        except Exception:
            log.exception("batcher %s: on_batch hook failed", self.name)


def _fail(batch: list[_Request], exc: BaseException) -> None:
    """Hand the batch's exception to every caller of the batch that is not done yet."""
    for request in batch:
        if not request.future.done():
            request.future.set_exception(_own_copy(exc))


def _own_copy(exc: BaseException) -> BaseException:
    """A copy of ``exc`` for one caller, carrying the original traceback.

    Raising one exception object in many threads at once makes each raise prepend that
    thread's frames to the shared ``__traceback__``, so callers would log each other's
    stacks. A copy per caller keeps the model's own frames and adds only the caller's.
    Exceptions that cannot be rebuilt from their args are shared as they are.
    """
    try:
        clone = copy.copy(exc)
    except Exception:
        return exc
    if type(clone) is not type(exc):
        return exc
    clone.__traceback__ = exc.__traceback__
    clone.__cause__, clone.__context__ = exc.__cause__, exc.__context__
    clone.__suppress_context__ = exc.__suppress_context__
    return clone


__all__ = ["BatchTimeout", "BatcherClosed", "DynamicBatcher"]
