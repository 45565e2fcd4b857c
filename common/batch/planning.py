"""Cutting inputs into list calls that the service accepts.

A service publishes its limits in ``/metadata`` (``limits.max_batch_size``,
``limits.max_body_bytes``); a call over either is a 413 for the whole batch. Calls are
planned greedily in input order, each within both limits, and within the caller's own
batch size. A single input over the body limit is planned alone, and the scorer records
it as too large without sending it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .records import Record

DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_BODY = 10 * 1024 * 1024
#: Headroom for the list's brackets and anything a proxy adds; bodies stay under this.
BODY_MARGIN = 1024


@dataclass(frozen=True)
class Limits:
    """What one call to the service may carry."""

    max_batch_size: int = DEFAULT_MAX_BATCH
    max_body_bytes: int = DEFAULT_MAX_BODY

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> "Limits":
        """The limits a service's ``/metadata`` declares (defaults where it is silent)."""
        limits = metadata.get("limits") or {}
        return cls(int(limits.get("max_batch_size") or DEFAULT_MAX_BATCH),
                   int(limits.get("max_body_bytes") or DEFAULT_MAX_BODY))

    @property
    def body_budget(self) -> int:
        """The most bytes of items one list call is planned with."""
        return max(1, self.max_body_bytes - BODY_MARGIN)


def encoded_size(payload: Any) -> int:
    """Bytes of ``payload`` as the pipe client sends it (``requests``' JSON encoding)."""
    return len(json.dumps(payload).encode("utf-8"))


def plan_calls(records: Iterable[Record], max_items: int, max_bytes: int) -> list[list[Record]]:
    """Consecutive groups of records, each at most ``max_items`` long and ``max_bytes``
    big once encoded as a JSON list."""
    calls: list[list[Record]] = []
    current: list[Record] = []
    size = 2  # "[" and "]"
    for record in records:
        item = encoded_size(record.payload) + 2  # ", " between items
        if current and (len(current) >= max_items or size + item > max_bytes):
            calls.append(current)
            current, size = [], 2
        current.append(record)
        size += item
    if current:
        calls.append(current)
    return calls
