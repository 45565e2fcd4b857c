"""A bounded, thread-safe result cache for deterministic models.

A model whose ``deterministic`` flag is set gives the same output for the same
validated input, so a repeated input need not reach the model at all. Entries are keyed
by a SHA-256 of the cache's namespace (``"{service}:{version}"``, so a new model version
never serves the old one's answers) and the canonical JSON of the input.

Outputs are stored frozen (as JSON text, or as a private deep copy when they are not
JSON-able) and thawed into a fresh object on every hit, so no caller can change what
another caller, or the cache, sees.
"""
from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Optional

from .model import Failed


class _Frozen:
    """An output kept safe from mutation: JSON text when possible, else a deep copy."""

    __slots__ = ("text", "obj")

    def __init__(self, output: Any):
        try:
            # json.loads of a string is much faster than copy.deepcopy, and the result
            # shares nothing with the original.
            self.text: Optional[str] = json.dumps(output)
            self.obj: Any = None
        except (TypeError, ValueError):
            # Not JSON-able (a numpy scalar, a tuple key...): keep a private copy instead.
            self.text = None
            self.obj = copy.deepcopy(output)

    def thaw(self) -> Any:
        """A new, independent copy of the stored output."""
        if self.text is not None:
            return json.loads(self.text)
        return copy.deepcopy(self.obj)


class ResultCache:
    """A least-recently-used map from model input to model output.

    ``hits`` and ``misses`` count items (not calls). An input that cannot be written as
    canonical JSON (a ``bytes`` field, a non-string dict key) is never cached: it counts
    as a miss and is always computed. ``max_entries=0`` disables the cache.
    """

    def __init__(self, max_entries: int, namespace: str):
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self.max_entries = int(max_entries)
        self.namespace = namespace
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, _Frozen] = OrderedDict()
        self._lock = threading.Lock()
        # The NUL byte separates namespace from input so that no pair of namespace and
        # input can produce the same bytes as another pair.
        self._prefix = namespace.encode("utf-8") + b"\x00"

    def key(self, item: dict) -> str:
        """The cache key of one input; raises TypeError/ValueError if not JSON-able."""
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False, allow_nan=True)
        return hashlib.sha256(self._prefix + canonical.encode("utf-8")).hexdigest()

    def lookup(self, items: list[dict]) -> "Lookup":
        """The batch's hits, and the distinct misses left to compute (see :class:`Lookup`)."""
        return Lookup(self, items)

    def get_many(self, items: list[dict]) -> tuple[list, list[int]]:
        """Cached outputs (None where missing) and the indexes of the items that missed."""
        outputs, missed, _ = self._lookup(items)
        return outputs, missed

    def put_many(self, items: list[dict], outputs: list) -> None:
        """Store one output per input (uncacheable inputs are skipped)."""
        if len(items) != len(outputs):
            raise ValueError(f"{len(items)} inputs but {len(outputs)} outputs")
        self._store([self._key_or_none(item) for item in items], outputs)

    def clear(self) -> None:
        """Drop every entry (the counters are kept)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, item: dict) -> bool:
        key = self._key_or_none(item)
        with self._lock:
            return key is not None and key in self._entries

    def _key_or_none(self, item: dict) -> Optional[str]:
        try:
            return self.key(item)
        except (TypeError, ValueError):
            return None

    def _lookup(self, items: list) -> tuple[list, list[int], list[Optional[str]]]:
        """get_many, plus the keys it computed (so a Lookup need not hash twice)."""
        keys = [self._key_or_none(item) for item in items]
        outputs: list = [None] * len(items)
        missed: list[int] = []
        with self._lock:
            for index, key in enumerate(keys):
                frozen = self._entries.get(key) if key is not None else None
                if frozen is None:
                    missed.append(index)
                    continue
                self._entries.move_to_end(key)
                outputs[index] = frozen
            self.hits += len(items) - len(missed)
            self.misses += len(missed)
        # Thaw outside the lock: it is the slow part and needs no shared state.
        thawed = [o.thaw() if isinstance(o, _Frozen) else o for o in outputs]
        return thawed, missed, keys

    def _store(self, keys: list[Optional[str]], outputs: list) -> None:
        """put_many with precomputed keys (None: uncacheable, skipped)."""
        if self.max_entries == 0:
            return
        # Freeze outside the lock; only the dict update touches shared state.
        entries = [(key, _Frozen(output)) for key, output in zip(keys, outputs)
                   if key is not None]
        with self._lock:
            for key, frozen in entries:
                self._entries[key] = frozen
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)  # least recently used first


class Lookup:
    """One batch looked up in the cache: the hits are in :attr:`outputs` already; the
    caller computes :attr:`misses` (each distinct missed input once) and hands the
    outputs to :meth:`fill`, which stores them and completes :attr:`outputs`."""

    def __init__(self, cache: "ResultCache", items: list):
        self._cache = cache
        self.outputs, missed, self._keys = cache._lookup(items)
        self._groups = _group_misses(self._keys, missed)
        self.misses = [items[first] for first in self._groups]

    def fill(self, computed: list) -> list:
        """Store one computed output per miss, in order; returns every output."""
        if len(computed) != len(self.misses):
            raise ValueError(f"{len(self.misses)} misses but {len(computed)} outputs")
        # An item that failed (a Failed in place of its output) is never stored.
        self._cache._store([None if isinstance(output, Failed) else self._keys[first]
                            for first, output in zip(self._groups, computed)], computed)
        for (first, indexes), output in zip(self._groups.items(), computed):
            self.outputs[first] = output
            for index in indexes[1:]:  # duplicates get their own copy, not a shared one
                self.outputs[index] = _Frozen(output).thaw()
        return self.outputs


def _group_misses(keys: list[Optional[str]], missed: list[int]) -> dict[int, list[int]]:
    """Map the first index of each distinct missed input to all of its indexes, in order."""
    groups: dict[int, list[int]] = {}
    first_by_key: dict[str, int] = {}
    for index in missed:
        key = keys[index]
        if key is None:  # uncacheable: duplicates cannot be told apart, compute it alone
            groups[index] = [index]
            continue
        first = first_by_key.setdefault(key, index)
        groups.setdefault(first, []).append(index)
    return groups


__all__ = ["Lookup", "ResultCache"]
