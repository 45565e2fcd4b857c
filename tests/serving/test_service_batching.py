"""Dynamic batching through the factory: concurrent requests, right answers, own errors.

No timing assertions: whether requests were merged depends on the scheduler, so the
tests check correctness (and that merging did happen at least once, which a slow first
model call makes certain).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.client import Client

from tests.helpers.words import make_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def batched_app():
    app = make_app(BATCHING=True, BATCH_MAX_SIZE=8, BATCH_MAX_LATENCY_MS=50)
    model = app.extensions["modelchain"].model
    gate = threading.Event()
    original = model.predict

    def slow_first(inputs):  # hold the first batch so the others queue up behind it
        if not gate.is_set():
            gate.set()
            threading.Event().wait(0.3)
        return original(inputs)
    model.predict = slow_first
    return app


def post(app, body):
    response = app.test_client().post("/predict", json=body)
    return response.status_code, response.get_json()


def test_concurrent_singles_get_their_own_results(batched_app):
    texts = [" ".join(["w"] * (i % 7 + 1)) for i in range(40)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda t: post(batched_app, {"text": t}), texts))
    unbatched = make_app()
    expected = [post(unbatched, {"text": t})[1]["result"] for t in texts]
    assert [status for status, _ in answers] == [200] * 40
    assert [body["result"] for _, body in answers] == expected
    calls = batched_app.extensions["modelchain"].model.batch_sizes
    assert sum(calls) == 40 + 1 and max(calls) > 1  # the warm-up, then merged batches


def test_a_failing_request_does_not_fail_the_requests_merged_with_it(batched_app):
    bodies = [{"text": "boom"} if i == 5 else {"text": f"t{i}"} for i in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda b: post(batched_app, b), bodies))
    assert answers[5][0] == 500 and answers[5][1]["error"]["code"] == "internal_error"
    assert all(status == 200 for i, (status, _) in enumerate(answers) if i != 5)
    assert [body["result"]["shout"] for i, (_, body) in enumerate(answers) if i != 5] == \
        [f"T{i}" for i in range(16) if i != 5]


def test_batch_size_and_queue_wait_are_exported(batched_app):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: post(batched_app, {"text": "a"}), range(8)))
    text = batched_app.test_client().get("/metrics").get_data(as_text=True)
    assert "modelchain_model_batch_size_bucket" in text
    assert "modelchain_batch_queue_wait_seconds_count" in text
    meta = batched_app.test_client().get("/metadata").get_json()["batching"]
    assert meta == {"dynamic": True, "max_batch_size": 8, "max_latency_ms": 50,
                    "cache_entries": 0}


def test_the_result_cache_serves_repeats_without_the_model():
    app = make_app(CACHE_SIZE=100)
    model = app.extensions["modelchain"].model
    first = post(app, [{"text": "a b"}, {"text": "c"}])
    calls = list(model.batch_sizes)
    again = post(app, [{"text": "c"}, {"text": "a b"}, {"text": "new one"}])
    assert model.batch_sizes[len(calls):] == [1]  # only the miss reached the model
    assert again[1]["result"][:2] == first[1]["result"][::-1]


def test_models_that_call_other_services_are_never_batched():
    from common import create_service_app
    from tests.helpers.words import WordsModel

    class Caller(WordsModel):
        name = "caller"
        calls = ("text_cleaner",)
    app = create_service_app(Caller, config={"LOAD_MODEL": "sync", "BATCHING": True})
    assert app.extensions["modelchain"].runner.batcher is None
    assert not Caller({}).batchable and WordsModel({}).batchable


def test_a_model_may_call_only_the_services_it_declares():
    from common import ANY_SERVICE, InternalError
    from tests.helpers.words import WordsModel

    class Caller(WordsModel):
        name = "caller"
        calls = ("text_cleaner",)
    caller = Caller({})
    caller.client = Client(urls={"text_cleaner": "http://127.0.0.1:9", "sentiment": "x"})
    assert caller.algo("text_cleaner@1").name == "text_cleaner"
    with pytest.raises(InternalError, match="caller calls sentiment"):
        caller.algo("sentiment")
    Caller.calls = (ANY_SERVICE,)
    assert caller.algo("sentiment").name == "sentiment"
