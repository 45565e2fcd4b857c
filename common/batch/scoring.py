"""Scoring records through a service, one per call or many per list call, turning every
failure into a per-item error instead of a failed job.

The rules, by what the service answered:

- 400 with details keyed by batch index: those items fail with their own details, the
  others are sent again without them. A 400 that names no item, a 413 (too big), a 504
  (too slow for the caller's timeout) or a 500 (the model broke on something) splits a
  list call in halves until the culprit is alone, so one bad input costs its own result
  only.
- 502 / 503 (the service, or a stage after it, is unreachable or not ready): the call is
  retried with backoff; if it still fails, its items are recorded as failed. Several
  calls in a row failing that way, or a chunk in which every item did, stop the job
  (:class:`ServiceUnavailable`): the service is down, and recording a million failures
  (or waiting out every retry of every item) would help nobody.
- 401, 403, 404, 405, 409, 415: the job itself is misconfigured (API key, its scope or
  the calls policy, service name, version): :class:`JobAborted` at once.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Iterable, Sequence

from common.client.bulk import invalid_indexes, item_error
from common.client.client import Algo, Client, PipeResponse
from common.core.errors import (Forbidden, InvalidInput, MethodNotAllowed, NotFound,
                                PayloadTooLarge, ServiceError, Unauthorized,
                                UnsupportedMediaType, UpstreamError, VersionMismatch)
from common.core.registry import load_registry
from .planning import Limits, encoded_size, plan_calls
from .records import Record
from .store import Outcome

#: Statuses worth retrying: the service or a later stage is unreachable or not ready.
UNAVAILABLE = frozenset({502, 503})
#: Statuses for which a list call is split to find the item responsible.
SPLITTABLE = frozenset({400, 413, 500, 504})
FATAL = (Unauthorized, Forbidden, NotFound, MethodNotAllowed, UnsupportedMediaType,
         VersionMismatch)
#: Calls in a row that found the service unreachable after their retries: it is down.
DOWN_AFTER = 3


class JobAborted(RuntimeError):
    """The job cannot go on (misconfigured, or the service is down); whatever was
    committed stays, and running the job again resumes it."""


class ServiceUnavailable(JobAborted):
    """Every item of a chunk failed because the service could not be reached."""


def error_dict(error: ServiceError) -> dict:
    """A typed service error as stored with its item (JSON-able)."""
    return {"code": error.code, "status": error.status, "message": error.message,
            "details": error.details, "service": error.service,
            "request_id": error.request_id}


def failure(record: Record, error: ServiceError | dict) -> Outcome:
    """The outcome of a record that failed with ``error``."""
    as_dict = error if isinstance(error, dict) else error_dict(error)
    return Outcome(record.item_id, record.index, error=as_dict)


def check_available(outcomes: Sequence[Outcome]) -> None:
    """Raise :class:`ServiceUnavailable` when every item of a chunk (of two or more)
    failed because the service was unreachable."""
    if len(outcomes) > 1 and all(o.error and o.error.get("status") in UNAVAILABLE
                                 for o in outcomes):
        raise ServiceUnavailable(f"the service is unavailable: {outcomes[0].error['message']}")


class Scorer:
    """Sends records to one service (optionally with hybrid next stages)."""

    def __init__(self, algo: Algo, limits: Limits, *, timeout: float = 30.0,
                 batch_size: int | None = None, next_stages: Sequence[str] = (),
                 retries: int = 2, backoff: float = 0.5):
        self.algo, self.limits, self.timeout = algo, limits, timeout
        self.batch_size = min(batch_size or limits.max_batch_size, limits.max_batch_size)
        self.next_stages, self.retries, self.backoff = list(next_stages), retries, backoff
        self.seconds_per_item: float | None = None
        self._down_streak = 0
        self._lock = threading.Lock()  # calls run on several threads

    # -- planning ----------------------------------------------------------------------
    def call_size(self) -> int:
        """Items per list call: the batch size, shrunk so a call takes about half the
        caller's timeout at the speed observed so far."""
        if not self.seconds_per_item:
            return self.batch_size
        fits = int(self.timeout * 0.5 / self.seconds_per_item)
        return max(1, min(self.batch_size, fits))

    def plan(self, records: Iterable[Record]) -> list[list[Record]]:
        """List calls for ``records`` within the service's limits."""
        return plan_calls(records, self.call_size(), self.limits.body_budget)

    # -- scoring -----------------------------------------------------------------------
    def score_one(self, record: Record) -> Outcome:
        """One input, one call (serial and parallel modes)."""
        if record.problem:
            return failure(record, record.problem)
        try:
            answer = self._send(record.payload, 1)
        except ServiceError as e:
            return failure(record, e)
        return Outcome(record.item_id, record.index, result=answer.result)

    def score_list(self, records: list[Record]) -> list[Outcome]:
        """One list call (chunked mode); every record gets its own outcome."""
        unreadable = [failure(r, r.problem) for r in records if r.problem]
        sendable = [r for r in records if not r.problem]
        return _in_order(records, unreadable + (self._score_sendable(sendable)
                                                if sendable else []))

    def _score_sendable(self, records: list[Record]) -> list[Outcome]:
        if len(records) == 1 and encoded_size(records[0].payload) + 2 > self.limits.body_budget:
            return [failure(records[0], PayloadTooLarge(
                f"the input is over the service's body limit of "
                f"{self.limits.max_body_bytes} bytes; not sent", service=self.algo.name))]
        try:
            answer = self._send([r.payload for r in records], len(records))
        except InvalidInput as e:
            return self._isolate_invalid(records, e)
        except ServiceError as e:
            if e.status in SPLITTABLE and len(records) > 1:
                return self._halves(records)
            return [failure(r, e) for r in records]
        errors = answer.errors  # items a later stage refused: failed, the others done
        return [failure(r, errors[i]) if i in errors else Outcome(r.item_id, r.index, result=x)
                for i, (r, x) in enumerate(zip(records, answer.result, strict=True))]

    def _halves(self, records: list[Record]) -> list[Outcome]:
        middle = len(records) // 2
        return self._score_sendable(records[:middle]) + self._score_sendable(records[middle:])

    def _isolate_invalid(self, records: list[Record], error: InvalidInput) -> list[Outcome]:
        bad = invalid_indexes(error, len(records))
        if not bad:
            return self._halves(records) if len(records) > 1 else [failure(records[0], error)]
        failed = [failure(records[i], item_error(error, i)) for i in sorted(bad)]
        good = [r for i, r in enumerate(records) if i not in bad]
        return failed + (self._score_sendable(good) if good else [])

    # -- one HTTP call, with retries for an unreachable service --------------------------
    def _send(self, body: Any, count: int) -> PipeResponse:
        for attempt in range(self.retries + 1):
            try:
                return self._timed_pipe(body, count)
            except FATAL as e:
                raise JobAborted(f"{self.algo.name}: {e}") from e
            except ServiceError as e:
                if e.status not in UNAVAILABLE:
                    raise
                if attempt == self.retries:
                    self._count_down(e)
                    raise
                time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _count_down(self, error: ServiceError) -> None:
        with self._lock:
            self._down_streak += 1
            down = self._down_streak >= DOWN_AFTER
        if down:
            raise ServiceUnavailable(f"{self.algo.name} is unavailable: {error}") from error

    def _timed_pipe(self, body: Any, count: int) -> PipeResponse:
        started = time.monotonic()
        answer = self.algo.pipe(body, next=self.next_stages, timeout=self.timeout)
        result = answer.result
        if isinstance(body, list) and (not isinstance(result, list) or len(result) != count):
            raise UpstreamError(f"{self.algo.name} answered {count} inputs with a result of "
                                "another length", {"stage": self.algo.name},
                                service=self.algo.name)
        self._observe(count, time.monotonic() - started)
        with self._lock:
            self._down_streak = 0
        return answer

    def _observe(self, count: int, seconds: float) -> None:
        # A moving average: one slow call must not halve every later call.
        per_item = seconds / max(1, count)
        previous = self.seconds_per_item
        self.seconds_per_item = per_item if previous is None else 0.8 * previous + 0.2 * per_item


def build_scorer(service: str, *, url: str | None = None, timeout: float = 30.0,
                 batch_size: int | None = None, next_stages: Sequence[str] = (),
                 client: Client | None = None) -> Scorer:
    """A scorer for ``service`` (``url`` overrides the registry's), with the limits its
    ``/metadata`` declares; :class:`JobAborted` when that cannot be read."""
    client = client or _client(service, url, timeout)
    algo = client.algo(service)
    try:
        limits = Limits.from_metadata(algo.metadata())
    except ServiceError as e:
        raise JobAborted(f"cannot read {algo.name}'s /metadata: {e}") from e
    return Scorer(algo, limits, timeout=timeout, batch_size=batch_size,
                  next_stages=next_stages)


def _client(service: str, url: str | None, timeout: float) -> Client:
    if not url:
        return Client(timeout=timeout)
    urls = {name: entry.url for name, entry in load_registry().items()}
    return Client(urls={**urls, service.partition("@")[0]: url}, timeout=timeout)


def _in_order(records: list[Record], outcomes: list[Outcome]) -> list[Outcome]:
    by_id = {o.item_id: o for o in outcomes}
    return [by_id[r.item_id] for r in records]
