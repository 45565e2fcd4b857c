"""A threaded Python load driver, for what wrk cannot drive (client sequencing).

N threads each call ``make_call()`` once to get their own callable (so every thread has
its own pipe client and pooled session) and then call it in a loop until the time is
up, timing every call. Python's GIL makes this driver itself a bottleneck that wrk is
not, so its figures are only ever compared with a baseline taken with this same driver.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable, Sequence

from .load import LoadResult, check

CallFactory = Callable[[], Callable[[], None]]


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (what wrk reports too); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


class _Worker(threading.Thread):
    """One driver thread: its own callable, its own latencies and errors."""

    def __init__(self, make_call: CallFactory, start: threading.Event, stop_at: list[float]):
        super().__init__(daemon=True)
        self.call = make_call()
        self.go = start
        self.stop_at = stop_at
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error = ""

    def run(self) -> None:
        self.go.wait()
        while True:
            started = time.perf_counter()
            if started >= self.stop_at[0]:
                return
            try:
                self.call()
            except Exception as e:  # noqa: BLE001  counted, reported, fails the run
                self.errors += 1
                self.first_error = self.first_error or f"{type(e).__name__}: {e}"[:300]
                continue
            self.latencies.append(time.perf_counter() - started)


def drive(make_call: CallFactory, *, name: str, concurrency: int, seconds: float,
          warmup_s: float = 0.0, items_per_request: int = 1) -> LoadResult:
    """Warm up, then run ``concurrency`` threads for ``seconds``; raises on any error."""
    if warmup_s:
        _drive_once(make_call, f"{name} (warm-up)", concurrency, warmup_s, items_per_request)
    return _drive_once(make_call, name, concurrency, seconds, items_per_request)


def _drive_once(make_call: CallFactory, name: str, concurrency: int, seconds: float,
                items: int) -> LoadResult:
    go, stop_at = threading.Event(), [math.inf]
    workers = [_Worker(make_call, go, stop_at) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    go.set()
    for worker in workers:
        worker.join()
    # Calls still in flight at the stop time finish and count, as in wrk.
    elapsed = time.perf_counter() - began
    return check(_result(workers, name, concurrency, elapsed, items))


def _result(workers: list[_Worker], name: str, concurrency: int, elapsed: float,
            items: int) -> LoadResult:
    latencies = [s for w in workers for s in w.latencies]
    errors = sum(w.errors for w in workers)
    first = next((w.first_error for w in workers if w.first_error), "")
    return LoadResult(name=name, concurrency=concurrency, requests=len(latencies),
                      duration_s=elapsed, p50_ms=percentile(latencies, 50) * 1000,
                      p99_ms=percentile(latencies, 99) * 1000,
                      mean_ms=(sum(latencies) / len(latencies) * 1000) if latencies else None,
                      max_ms=max(latencies, default=0.0) * 1000, items_per_request=items,
                      driver="python", errors={"exception": errors} if errors else {},
                      first_error=first)
