"""Tests of common.serving.cache: ResultCache and its Lookup (hits, then the misses
computed once and filled in), as the runner uses them."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.serving.cache import ResultCache


def cached_predict(cache, predict, batch):
    """What the runner does: look the batch up, compute the misses once, fill them in."""
    lookup = cache.lookup(batch)
    if lookup.misses:
        lookup.fill(list(predict(lookup.misses)))
    return lookup.outputs
from common.core.errors import InternalError

pytestmark = pytest.mark.timeout(30)


def score(item):
    return {"label": f"L{item['x']}", "scores": [item["x"], -item["x"]]}


class RecordingPredict:
    """A batch-first predict that records the batches it was called with."""

    def __init__(self):
        self.calls: list[list] = []
        self.lock = threading.Lock()

    def __call__(self, items):
        with self.lock:
            self.calls.append(list(items))
        return [score(item) for item in items]


def items(*xs):
    return [{"x": x} for x in xs]


# ------------------------------------------------------------------ keys


def test_key_is_independent_of_dict_key_order():
    cache = ResultCache(10, "svc:1.0")
    assert cache.key({"a": 1, "b": {"c": 2, "d": 3}}) == cache.key({"b": {"d": 3, "c": 2}, "a": 1})


def test_key_differs_by_input():
    cache = ResultCache(10, "svc:1.0")
    assert cache.key({"x": 1}) != cache.key({"x": 2})
    assert cache.key({"x": 1}) != cache.key({"x": "1"})
    assert cache.key({"x": [1, 2]}) != cache.key({"x": [2, 1]})


def test_key_differs_by_service_and_version():
    item = {"x": 1}
    keys = {ResultCache(10, ns).key(item) for ns in ("svc:1.0", "svc:1.1", "other:1.0")}
    assert len(keys) == 3


def test_key_is_a_sha256_hex_digest():
    key = ResultCache(10, "svc:1.0").key({"x": 1})
    assert len(key) == 64 and int(key, 16) >= 0


def test_entries_do_not_leak_across_versions():
    old, new = ResultCache(10, "svc:1.0"), ResultCache(10, "svc:2.0")
    old.put_many(items(1), [{"v": "old"}])
    assert new.key({"x": 1}) != old.key({"x": 1})
    assert new.get_many(items(1)) == ([None], [0])


# ------------------------------------------------------------------ get / put


def test_hits_and_misses_are_counted_per_item():
    cache = ResultCache(10, "svc:1.0")
    assert cache.get_many(items(1, 2)) == ([None, None], [0, 1])
    assert (cache.hits, cache.misses) == (0, 2)
    cache.put_many(items(1, 2), [score(i) for i in items(1, 2)])
    outputs, missed = cache.get_many(items(2, 3, 1))
    assert outputs == [score({"x": 2}), None, score({"x": 1})]
    assert missed == [1]
    assert (cache.hits, cache.misses) == (2, 3)
    assert len(cache) == 2
    assert {"x": 1} in cache and {"x": 3} not in cache


def test_lru_evicts_the_least_recently_used_entry():
    cache = ResultCache(2, "svc:1.0")
    cache.put_many(items(1, 2), ["one", "two"])
    cache.get_many(items(1))  # 1 is now more recent than 2
    cache.put_many(items(3), ["three"])
    assert len(cache) == 2
    outputs, missed = cache.get_many(items(1, 2, 3))
    assert outputs == ["one", None, "three"]
    assert missed == [1]


def test_put_refreshes_an_existing_entry():
    cache = ResultCache(2, "svc:1.0")
    cache.put_many(items(1, 2), ["one", "two"])
    cache.put_many(items(1), ["uno"])  # 1 is refreshed, so 2 is the oldest
    cache.put_many(items(3), ["three"])
    assert cache.get_many(items(1, 2, 3))[0] == ["uno", None, "three"]


def test_zero_entries_disables_the_cache():
    cache = ResultCache(0, "svc:1.0")
    cache.put_many(items(1), ["one"])
    assert len(cache) == 0
    assert cache.get_many(items(1)) == ([None], [0])


def test_put_many_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        ResultCache(10, "svc:1.0").put_many(items(1, 2), ["one"])


def test_uncacheable_inputs_are_always_misses():
    cache = ResultCache(10, "svc:1.0")
    odd = [{"blob": b"\x00\x01"}, {1: "int key", "a": 2}]
    cache.put_many(odd, ["a", "b"])
    assert len(cache) == 0
    assert cache.get_many(odd) == ([None, None], [0, 1])


def test_cached_outputs_cannot_be_mutated_by_callers():
    cache = ResultCache(10, "svc:1.0")
    original = {"scores": [1, 2], "meta": {"k": "v"}}
    cache.put_many(items(1), [original])
    original["scores"].append(99)  # the producer changing its object afterwards

    first = cache.get_many(items(1))[0][0]
    assert first == {"scores": [1, 2], "meta": {"k": "v"}}
    first["scores"].append(3)
    first["meta"]["k"] = "changed"
    second = cache.get_many(items(1))[0][0]
    assert second == {"scores": [1, 2], "meta": {"k": "v"}}
    assert second is not first and second["scores"] is not first["scores"]


def test_non_json_outputs_are_copied_not_shared():
    class Label:
        def __init__(self, name):
            self.name = name

    cache = ResultCache(10, "svc:1.0")
    cache.put_many(items(1), [{"label": Label("cat")}])
    got = cache.get_many(items(1))[0][0]
    got["label"].name = "dog"
    assert cache.get_many(items(1))[0][0]["label"].name == "cat"


# ------------------------------------------------------------------ cached_predict


def test_cached_predict_calls_predict_once_with_only_the_misses():
    cache, predict = ResultCache(10, "svc:1.0"), RecordingPredict()
    assert cached_predict(cache, predict, items(1, 2)) == [score(i) for i in items(1, 2)]
    batch = items(3, 1, 4, 2)
    assert cached_predict(cache, predict, batch) == [score(i) for i in batch]
    assert predict.calls == [items(1, 2), items(3, 4)]


def test_cached_predict_with_all_hits_does_not_call_predict():
    cache, predict = ResultCache(10, "svc:1.0"), RecordingPredict()
    cached_predict(cache, predict, items(1, 2))
    assert cached_predict(cache, predict, items(2, 1)) == [score(i) for i in items(2, 1)]
    assert len(predict.calls) == 1


def test_cached_predict_computes_repeated_inputs_once_without_sharing_them():
    cache, predict = ResultCache(10, "svc:1.0"), RecordingPredict()
    outputs = cached_predict(cache, predict, items(5, 6, 5))
    assert outputs == [score({"x": 5}), score({"x": 6}), score({"x": 5})]
    assert predict.calls == [items(5, 6)]
    assert outputs[0] is not outputs[2]
    outputs[0]["scores"].append(0)
    assert outputs[2] == score({"x": 5})


def test_cached_predict_returned_outputs_are_not_the_cached_ones():
    cache, predict = ResultCache(10, "svc:1.0"), RecordingPredict()
    miss = cached_predict(cache, predict, items(1))[0]
    miss["label"] = "tampered"
    hit = cached_predict(cache, predict, items(1))[0]
    assert hit == score({"x": 1})
    hit["label"] = "tampered again"
    assert cached_predict(cache, predict, items(1))[0] == score({"x": 1})


def test_cached_predict_empty_input():
    predict = RecordingPredict()
    assert cached_predict(ResultCache(10, "svc:1.0"), predict, []) == []
    assert predict.calls == []


def test_cached_predict_wrong_output_count_is_an_error_and_caches_nothing():
    cache = ResultCache(10, "svc:1.0")
    with pytest.raises(ValueError):
        cached_predict(cache, lambda batch: [score(i) for i in batch][:-1], items(1, 2))
    assert len(cache) == 0


def test_cached_predict_failure_propagates_and_caches_nothing():
    cache = ResultCache(10, "svc:1.0")

    def broken(batch):
        raise RuntimeError("model down")

    with pytest.raises(RuntimeError):
        cached_predict(cache, broken, items(1))
    assert len(cache) == 0


def test_cached_predict_in_front_of_a_batcher():
    from common.serving.batcher import DynamicBatcher

    predict = RecordingPredict()
    batcher = DynamicBatcher(predict, max_batch_size=8, max_latency_ms=0)
    try:
        cache = ResultCache(10, "svc:1.0")
        assert cached_predict(cache, batcher.submit, items(1, 2)) == [score(i) for i in items(1, 2)]
        assert cached_predict(cache, batcher.submit, items(2, 3)) == [score(i) for i in items(2, 3)]
        assert predict.calls == [items(1, 2), items(3)]
    finally:
        batcher.close()


# ------------------------------------------------------------------ threads


def test_thread_safety_smoke():
    cache, predict = ResultCache(50, "svc:1.0"), RecordingPredict()

    def worker(seed):
        for step in range(200):
            batch = items(*[(seed * 7 + step * 3 + k) % 80 for k in range(4)])
            assert cached_predict(cache, predict, batch) == [score(i) for i in batch]
            assert len(cache) <= 50

    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(worker, seed) for seed in range(16)]:
            future.result(20)
    assert len(cache) == 50
    assert cache.hits + cache.misses == 16 * 200 * 4
    assert cache.hits > 0
