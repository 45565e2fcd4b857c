"""``Algo.pipe_many``: many inputs through one service, serially, in parallel or in
chunks, with results in input order and per-item errors instead of one failure."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from common.core.context import bind_context
from common.core.errors import InvalidInput, ServiceError

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
    """One batch call; when some items are invalid, they get their own errors and the
    others are sent again without them."""
    try:
        results = algo.pipe(items, timeout=timeout).result
        return [ItemResult(start + i, result=r) for i, r in enumerate(results)]
    except InvalidInput as e:
        bad = invalid_indexes(e, len(items))
        if not bad or len(bad) == len(items):
            return [ItemResult(start + i, error=item_error(e, i)) for i in range(len(items))]
        good = [i for i in range(len(items)) if i not in bad]
        retried = _chunk(algo, 0, [items[i] for i in good], timeout)
        merged = {good[r.index]: r for r in retried}
        merged.update({i: ItemResult(i, error=item_error(e, i)) for i in bad})
        return [ItemResult(start + i, merged[i].result, merged[i].error)
                for i in range(len(items))]
    except ServiceError as e:
        return [ItemResult(start + i, error=e) for i in range(len(items))]


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
