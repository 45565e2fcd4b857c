"""Tests of common.serving.batcher.DynamicBatcher.

Nothing here asserts on durations. Where a test needs requests to pile up, the first
model call blocks on an Event and the test waits until the batcher reports the expected
queue depth, so batch contents are deterministic rather than a matter of luck.
"""
from __future__ import annotations

import os
import select
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.serving.batcher import BatcherClosed, BatchTimeout, DynamicBatcher
from common.serving.runner import OutputCountMismatch
from common.core.errors import DeadlineExceeded

pytestmark = pytest.mark.timeout(30)


def score(x):
    """The per-item 'model': what every caller should get back for its item."""
    return {"input": x, "double": x * 2}


class Poison(Exception):
    """What the fake model raises for a batch containing the poison item."""


class FakeModel:
    """A batch-first predict function that records every batch it is called with.

    ``block_first``: the first call signals ``entered`` and waits for ``release``, so the
    test can queue requests behind it. ``poison``: a batch containing it raises Poison.
    ``short``: a batch containing it fails as the runner's output check fails it.
    """

    def __init__(self, block_first=False, poison=None, short=None):
        self.batches: list[list] = []
        self.lock = threading.Lock()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.block_first = block_first
        self.poison = poison
        self.short = short

    def __call__(self, items):
        with self.lock:
            self.batches.append(list(items))
            first = len(self.batches) == 1
        if first and self.block_first:
            self.entered.set()
            assert self.release.wait(20), "test never released the first batch"
        if self.poison is not None and self.poison in items:
            raise Poison(f"poisoned batch {items}")
        outputs = [score(x) for x in items]
        if self.short is not None and self.short in items:
            raise OutputCountMismatch("one output too few")
        return outputs

    @property
    def sizes(self):
        with self.lock:
            return [len(batch) for batch in self.batches]

    def seen(self):
        with self.lock:
            return [x for batch in self.batches for x in batch]


def wait_until(condition, what, limit=10.0):
    """Wait for a state the test set up (never used to prove anything about timing)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {what}")
        time.sleep(0.001)


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=80) as executor:
        yield executor


@pytest.fixture
def make():
    """Build batchers and always release and close them, so no test leaves a thread."""
    made = []

    def build(model, **kwargs):
        batcher = DynamicBatcher(model, **kwargs)
        made.append((batcher, model))
        return batcher

    yield build
    for batcher, model in made:
        if isinstance(model, FakeModel):
            model.release.set()
        batcher.close()


def block_worker(pool, batcher, model, item=-1):
    """Occupy the worker with a first batch that waits for model.release."""
    future = pool.submit(batcher.submit, [item])
    assert model.entered.wait(10)
    return future


def queue_in_order(pool, batcher, requests, **kwargs):
    """Submit requests one by one, each queued before the next (a known FIFO order)."""
    futures = []
    for items in requests:
        before = batcher.queue_depth
        futures.append(pool.submit(batcher.submit, items, **kwargs))
        wait_until(lambda: batcher.queue_depth == before + 1, f"{items} queued")
    return futures


# ------------------------------------------------------------------ correctness


def test_single_submit_returns_outputs_in_order(make):
    model = FakeModel()
    batcher = make(model, max_batch_size=8, max_latency_ms=1)
    assert batcher.submit([1, 2, 3]) == [score(1), score(2), score(3)]
    assert model.batches == [[1, 2, 3]]


def test_empty_submit_does_not_call_the_model(make):
    model = FakeModel()
    batcher = make(model)
    assert batcher.submit([]) == []
    assert model.batches == []


def test_worker_starts_lazily_on_first_submit(make):
    batcher = make(FakeModel(), max_latency_ms=0)
    assert batcher._worker is None
    batcher.submit([1])
    assert batcher._worker is not None and batcher._worker.is_alive()
    assert batcher._worker.daemon


def test_many_threads_each_get_their_own_outputs_in_full_batches(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=16, max_latency_ms=50)
    blocker = block_worker(pool, batcher, model)
    futures = {i: pool.submit(batcher.submit, [i]) for i in range(64)}
    wait_until(lambda: batcher.queued_items == 64, "64 requests queued")
    model.release.set()

    assert blocker.result(10) == [score(-1)]
    for i, future in futures.items():
        assert future.result(10) == [score(i)]
    # The 64 queued singles were merged into four full batches: batching happened.
    assert model.sizes == [1, 16, 16, 16, 16]
    assert sorted(model.seen()) == [-1] + list(range(64))


def test_results_match_unbatched_calls_under_load(make, pool):
    model = FakeModel()
    batcher = make(model, max_batch_size=8, max_latency_ms=2)
    requests = [list(range(n * 10, n * 10 + 1 + n % 5)) for n in range(200)]
    futures = [pool.submit(batcher.submit, items) for items in requests]
    for items, future in zip(requests, futures):
        assert future.result(10) == FakeModel()(items)  # the same call, unbatched
    assert max(model.sizes) <= 8
    assert sorted(model.seen()) == sorted(x for items in requests for x in items)


def test_requests_are_never_split_nor_merged_past_the_limit(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=8, max_latency_ms=20)
    block_worker(pool, batcher, model)
    requests = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11], [12]]
    futures = queue_in_order(pool, batcher, requests)
    model.release.set()

    for items, future in zip(requests, futures):
        assert future.result(10) == [score(x) for x in items]
    # 3+3 fits, +3 would be 9 > 8, so [7,8,9] opens the next batch, with [10,11],[12].
    assert model.batches[1:] == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]


def test_oversized_request_runs_alone(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=4, max_latency_ms=20)
    block_worker(pool, batcher, model)
    big = list(range(100, 110))
    futures = queue_in_order(pool, batcher, [[1], big, [2]])
    model.release.set()

    assert [f.result(10) for f in futures] == [[score(1)], [score(x) for x in big], [score(2)]]
    assert model.batches[1:] == [[1], big, [2]]


def test_oversized_request_alone_in_an_idle_batcher(make):
    model = FakeModel()
    batcher = make(model, max_batch_size=4, max_latency_ms=1)
    assert batcher.submit(list(range(10))) == [score(x) for x in range(10)]
    assert model.sizes == [10]


def test_zero_latency_still_batches_what_is_already_queued(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=10, max_latency_ms=0)
    block_worker(pool, batcher, model)
    futures = queue_in_order(pool, batcher, [[1], [2], [3]])
    model.release.set()
    assert [f.result(10) for f in futures] == [[score(1)], [score(2)], [score(3)]]
    assert model.batches[1:] == [[1, 2, 3]]


# ------------------------------------------------------------------ failures


def test_a_failing_request_fails_only_its_own_caller(make, pool):
    model = FakeModel(block_first=True, poison=666)
    batcher = make(model, max_batch_size=2, max_latency_ms=20)
    block_worker(pool, batcher, model)
    ok1, ok2, bad, neighbour, ok3, ok4 = queue_in_order(
        pool, batcher, [[1], [2], [666], [3], [4], [5]])
    model.release.set()

    assert ok1.result(10) == [score(1)] and ok2.result(10) == [score(2)]
    with pytest.raises(Poison) as info:
        bad.result(10)
    # The model's own exception, with the model's frames in its traceback.
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "__call__" in frames and "submit" in frames
    # The stranger merged with the poison was run again alone and succeeded.
    assert neighbour.result(10) == [score(3)]
    assert ok3.result(10) == [score(4)] and ok4.result(10) == [score(5)]
    assert model.batches[1:] == [[1, 2], [666, 3], [666], [3], [4, 5]]
    # The worker survived: later requests work.
    assert batcher.submit([7]) == [score(7)]


def test_a_failed_output_check_fails_the_guilty_request_only(make, pool):
    model = FakeModel(block_first=True, short=13)
    batcher = make(model, max_batch_size=2, max_latency_ms=20)
    block_worker(pool, batcher, model)
    first, short, fine = queue_in_order(pool, batcher, [[12], [13], [14]])
    model.release.set()

    assert first.result(10) == [score(12)]
    with pytest.raises(OutputCountMismatch):
        short.result(10)
    assert fine.result(10) == [score(14)]
    assert batcher.submit([15, 16]) == [score(15), score(16)]


def test_on_batch_gets_size_and_one_wait_per_request(make, pool):
    calls = []
    model = FakeModel(block_first=True, poison=666)
    batcher = make(model, max_batch_size=4, max_latency_ms=20,
                   on_batch=lambda size, waits: calls.append((size, list(waits))))
    block_worker(pool, batcher, model)
    futures = queue_in_order(pool, batcher, [[1, 2], [3], [4], [666]])
    model.release.set()
    for future in futures[:3]:
        future.result(10)
    with pytest.raises(Poison):
        futures[3].result(10)

    # Blocker, then [1,2]+[3]+[4] (three requests, four items), then the failing [666].
    assert [(size, len(waits)) for size, waits in calls] == [(1, 1), (4, 3), (1, 1)]
    assert all(wait >= 0 for _, waits in calls for wait in waits)


def test_on_batch_failure_does_not_fail_requests(make):
    def broken_hook(size, waits):
        raise RuntimeError("metrics are down")

    batcher = make(FakeModel(), max_latency_ms=0, on_batch=broken_hook)
    assert batcher.submit([1]) == [score(1)]


def test_timeout_while_queued_withdraws_the_request(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=8, max_latency_ms=20)
    block_worker(pool, batcher, model)

    with pytest.raises(BatchTimeout) as info:
        batcher.submit([99], timeout=0.05)
    assert info.value.details["phase"] == "queued"
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, DeadlineExceeded)
    assert batcher.queue_depth == 0 and batcher.queued_items == 0

    later = pool.submit(batcher.submit, [100])
    wait_until(lambda: batcher.queue_depth == 1, "[100] queued")
    model.release.set()
    assert later.result(10) == [score(100)]
    assert 99 not in model.seen()
    assert model.batches == [[-1], [100]]


def test_timeout_while_computing_discards_the_outputs(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=8, max_latency_ms=0)
    late = pool.submit(batcher.submit, [1], timeout=0.5)
    assert model.entered.wait(10)  # claimed by the worker well before its timeout
    with pytest.raises(BatchTimeout) as info:
        late.result(10)
    assert info.value.details["phase"] == "computing"
    model.release.set()
    assert batcher.submit([2]) == [score(2)]  # the worker carries on


def test_expired_timeout_is_rejected_before_queueing(make):
    model = FakeModel()
    batcher = make(model)
    with pytest.raises(BatchTimeout):
        batcher.submit([1], timeout=0)
    assert model.batches == []


def test_close_fails_queued_callers_and_later_submits(make, pool):
    model = FakeModel(block_first=True)
    batcher = make(model, max_batch_size=8, max_latency_ms=20)
    blocker = block_worker(pool, batcher, model)
    queued = queue_in_order(pool, batcher, [[1], [2]])

    batcher.close(timeout=0)  # the worker is busy; do not wait for it here
    for future in queued:
        with pytest.raises(BatcherClosed):
            future.result(10)
    model.release.set()
    assert blocker.result(10) == [score(-1)]  # the batch in the model still finishes
    with pytest.raises(BatcherClosed):
        batcher.submit([3])
    batcher._worker.join(10)
    assert not batcher._worker.is_alive()
    assert model.batches == [[-1]]


# ------------------------------------------------------------------ fork


def test_worker_is_restarted_when_the_pid_changes(make, monkeypatch):
    model = FakeModel()
    batcher = make(model, max_latency_ms=0)
    assert batcher.submit([1]) == [score(1)]
    parent_worker, parent_cond = batcher._worker, batcher._cond
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)  # as seen in a forked child
    assert batcher.submit([2]) == [score(2)]
    assert batcher._worker is not parent_worker and batcher._worker.is_alive()
    assert batcher._cond is not parent_cond  # fresh lock and queue for the "child"
    batcher.close()
    monkeypatch.undo()
    # In a real child the parent's worker does not exist; here it still waits on the old
    # condition, so wake it to let it see the batcher is closed.
    with parent_cond:
        parent_cond.notify_all()
    parent_worker.join(10)
    assert not parent_worker.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_batcher_works_in_a_forked_child(make):
    batcher = make(FakeModel(), max_latency_ms=0)
    assert batcher.submit([1]) == [score(1)]  # the parent's worker is running
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no worker thread came along; submit must start one
        try:
            ok = batcher.submit([21], timeout=5) == [score(21)]
            os.write(write_end, b"ok" if ok else b"wrong")
        except BaseException as exc:  # report anything to the parent
            os.write(write_end, repr(exc).encode()[:200])
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 20)
        answer = os.read(read_end, 256) if ready else b"no answer"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert answer == b"ok"
    assert batcher.submit([2]) == [score(2)]  # the parent is unaffected


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize("kwargs", [{"max_batch_size": 0}, {"max_latency_ms": -1}])
def test_rejects_nonsense_settings(kwargs):
    with pytest.raises(ValueError):
        DynamicBatcher(FakeModel(), **kwargs)


@pytest.mark.timeout(10)
def test_a_request_alone_in_the_service_does_not_wait_for_company():
    # With a 60 s window, waiting for company would hit the 10 s test timeout.
    model = FakeModel()
    batcher = DynamicBatcher(model, max_batch_size=8, max_latency_ms=60_000,
                             in_flight=lambda: 1)
    try:
        assert batcher.submit([3]) == [score(3)]
        assert model.batches == [[3]]
    finally:
        batcher.close()
