"""``Algo.pipe_many``: many inputs through one service, serially, in parallel or in
chunks, with results in input order and per-item errors instead of one failure."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from common.core.context import bind_context
from common.core.errors import InvalidInput, ServiceError, UpstreamError

if TYPE_CHECKING:  # for annotations only: client.py imports this module
    from .client import Algo

MODES = ("serial", "parallel", "chunked")


@dataclass
class ItemResult:
    """One item of :meth:`Algo.pipe_many`: its result or its error, never both."""

    index: int
    result: Any = None
    error: ServiceError | None = None

    @property
    def ok(self) -> bool:
        """Whether this item succeeded."""
        return self.error is None


def pipe_many(algo: "Algo", inputs: list[Any], *, mode: str, workers: int, chunk_size: int,
              timeout: float | None) -> list[ItemResult]:
    """See :meth:`common.client.Algo.pipe_many`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    algo.check_version()
    if mode == "chunked":
        limit = int(algo.metadata().get("limits", {}).get("max_batch_size") or chunk_size)
        size = max(1, min(chunk_size, limit))
        chunks = [(start, inputs[start:start + size]) for start in range(0, len(inputs), size)]
        return _flatten(_map(lambda c: _chunk(algo, *c, timeout), chunks, workers))
    single = lambda pair: _single(algo, *pair, timeout)  # noqa: E731
    return _map(single, list(enumerate(inputs)), 1 if mode == "serial" else workers)


def _map(function, items: list, workers: int) -> list:
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipe-many") as pool:
        return list(pool.map(bind_context(function), items))


def _flatten(groups: list[list]) -> list:
    return [item for group in groups for item in group]


def _single(algo: "Algo", index: int, data: Any, timeout: float | None) -> ItemResult:
    try:
        return ItemResult(index, result=algo.pipe(data, timeout=timeout).result)
    except ServiceError as e:
        return ItemResult(index, error=e)


def _chunk(algo: "Algo", start: int, items: list[Any],
           timeout: float | None) -> list[ItemResult]:
    """One batch call; items refused on the way get their own errors."""
    try:
        answer = pipe_partial(algo, items, timeout=timeout)
    except InvalidInput as e:  # a 400 naming no item: it concerns every item
        return [ItemResult(start + i, error=item_error(e, i)) for i in range(len(items))]
    except ServiceError as e:
        return [ItemResult(start + i, error=e) for i in range(len(items))]
    return [ItemResult(start + i, result=r, error=answer.errors.get(i))
            for i, r in enumerate(answer.results)]


@dataclass
class PartialAnswer:
    """A batch's answer item by item: ``results[i]`` is None where ``errors[i]`` says
    why that item failed (and at which stage); ``metadata`` is the last call's."""

    results: list[Any]
    errors: dict[int, ServiceError]
    metadata: dict[str, Any] = field(default_factory=dict)

    def placed(self, positions: list[int], count: int,
               known: dict[int, ServiceError]) -> "PartialAnswer":
        """This answer to a subset of a batch of ``count`` items, put back at the
        subset's ``positions``, beside the errors already ``known`` for the others."""
        results: list[Any] = [None] * count
        errors = dict(known)
        for position, index in enumerate(positions):
            results[index] = self.results[position]
            if position in self.errors:
                errors[index] = self.errors[position]
        return PartialAnswer(results, dict(sorted(errors.items())), self.metadata)


def pipe_partial(algo: "Algo", items: list[Any], *, next: Sequence[Any] = (),
                 timeout: float | None = None) -> PartialAnswer:
    """Pipe a batch so that no item can fail the others: items a service or a later
    stage refuses come back as errors by index, in ``items``' own numbering.

    The one rule it reads: a 400 naming batch indexes refused those items before any
    ran, so they fail and the rest are sent again; an accepted batch carries its later
    refusals in ``metadata.errors``. Any other error concerns the whole call, and raises.
    """
    try:
        answer = algo.pipe(items, next=next, timeout=timeout)
    except InvalidInput as e:
        bad = invalid_indexes(e, len(items))
        if not bad:
            raise
        return _without(algo, items, bad, e, next=next, timeout=timeout)
    results = answer.result if isinstance(answer.result, list) else None
    if results is None or len(results) != len(items):
        raise UpstreamError(f"{algo.name} answered {len(items)} inputs with a result of "
                            "another length.", {"stage": algo.name}, service=algo.name)
    errors = answer.errors
    return PartialAnswer([None if i in errors else r for i, r in enumerate(results)],
                         errors, answer.metadata)


def _without(algo: "Algo", items: list[Any], bad: set[int], error: InvalidInput,
             **options: Any) -> PartialAnswer:
    """The answer when ``bad`` items were refused: the others sent again alone."""
    errors: dict[int, ServiceError] = {i: item_error(error, i) for i in sorted(bad)}
    good = [i for i in range(len(items)) if i not in bad]
    if not good:
        return PartialAnswer([None] * len(items), errors)
    rest = pipe_partial(algo, [items[i] for i in good], **options)
    return rest.placed(good, len(items), errors)


def invalid_indexes(error: InvalidInput, count: int) -> set[int]:
    """The batch indexes a 400 names in its details (``{"3": {...}}``), below ``count``."""
    details = error.details if isinstance(error.details, dict) else {}
    return {int(k) for k in details if str(k).isdigit() and int(k) < count}


def item_error(error: InvalidInput, index: int) -> InvalidInput:
    """The part of a batch's 400 that concerns item ``index``, as its own error."""
    details = error.details.get(str(index), error.details) \
        if isinstance(error.details, dict) else error.details
    return InvalidInput(f"invalid input: {_describe(details)}", details,
                        service=error.service, request_id=error.request_id)


def _describe(details: Any) -> str:
    """``{"text": ["Must not be empty."]}`` as ``text: Must not be empty.``"""
    if not isinstance(details, dict):
        return str(details)
    return "; ".join(f"{key}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                     for key, v in details.items())
