"""Co-located services (one process group) against the same services apart, on real
gunicorn: the same answers, errors, per-item errors, deadlines and metadata (apart from
timing), and proof that a co-located call does not go through HTTP."""
from __future__ import annotations

import dataclasses

import pytest
import requests

from common.client import Client
from common.core.registry import load_registry

pytestmark = pytest.mark.integration

NAMES = ("text_cleaner", "sentiment", "tweet_sentiment")
TWEETS = ["Sooo happy with @acme's support!! #BestDayEver https://t.co/x",
          "@bob https://t.co/only-a-link",          # cleans to nothing: sentiment refuses it
          "@bob this is the worst service ever, I hate waiting #fail"]
TIMING = {"duration_ms"}


@pytest.fixture(scope="module")
def layouts(service_pool):
    """URLs of the three services in one process group, and apart."""
    registry = load_registry()
    apart = [dataclasses.replace(registry[n], group="") for n in NAMES]
    together = [dataclasses.replace(e, group="text_test") for e in apart]
    return {"together": service_pool.start(together), "apart": service_pool.start(apart)}


def untimed(value):
    """``value`` without its timing fields, anywhere in it."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def post(url, body, **headers):
    response = requests.post(f"{url}/predict", json=body, timeout=20,
                             headers={"X-Request-ID": "same-id", **headers})
    return response.status_code, untimed(response.json())


CALLS = {
    "server sequencing, batch with a refused item":
        ("tweet_sentiment", [{"text": t} for t in TWEETS], {}),
    "server sequencing, one input": ("tweet_sentiment", {"text": TWEETS[0]}, {}),
    "server sequencing, refused single input": ("tweet_sentiment", {"text": TWEETS[1]}, {}),
    "hybrid, batch with a refused item":
        ("text_cleaner", [{"text": t} for t in TWEETS], {"X-Pipe-Next": "sentiment[text]"}),
    "hybrid, refused single input":
        ("text_cleaner", {"text": TWEETS[1]}, {"X-Pipe-Next": "sentiment[text]"}),
    "invalid input at the entry": ("tweet_sentiment", [{"text": 3}], {}),
}


@pytest.mark.parametrize("case", CALLS)
def test_a_co_located_chain_answers_as_the_remote_one(layouts, case):
    name, body, headers = CALLS[case]
    together = post(layouts["together"][name], body, **headers)
    apart = post(layouts["apart"][name], body, **headers)
    assert together == apart


def test_a_spent_deadline_is_a_504_either_way(layouts):
    # Which hop notices first (the worker's queue or the model) may differ; the answer not.
    answers = [post(layouts[k]["tweet_sentiment"], {"text": TWEETS[0]}, **{
        "X-Deadline-Ms": "0"}) for k in ("together", "apart")]
    assert [(s, d["error"]["code"]) for s, d in answers] == [(504, "deadline_exceeded")] * 2


def test_per_item_errors_stay_per_item_in_process(layouts):
    status, document = post(layouts["together"]["tweet_sentiment"],
                            [{"text": t} for t in TWEETS])
    assert status == 200
    assert document["result"][1] is None and document["result"][0]["label"] == "positive"
    assert set(document["metadata"]["errors"]) == {"1"}
    assert document["metadata"]["errors"]["1"]["stage"] == "sentiment"


def colocated_count(url: str, service: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("modelchain_colocated_requests_total{")
               and f'service="{service}"' in line)


def test_a_co_located_call_does_not_go_through_http(layouts):
    for layout in ("together", "apart"):
        post(layouts[layout]["tweet_sentiment"], {"text": TWEETS[0]})
    assert colocated_count(layouts["together"]["sentiment"], "sentiment") >= 1
    assert colocated_count(layouts["apart"]["sentiment"], "sentiment") == 0


def test_each_member_keeps_its_own_routes_and_metadata(layouts):
    for name in NAMES:
        together = requests.get(f"{layouts['together'][name]}/metadata", timeout=5).json()
        apart = requests.get(f"{layouts['apart'][name]}/metadata", timeout=5).json()
        assert together["name"] == name and untimed(together) == untimed(apart)


def test_the_pipe_client_outside_sees_no_difference(layouts):
    answers = [Client(urls=layouts[k], retries=0).algo("tweet_sentiment").pipe(
        [{"text": t} for t in TWEETS]) for k in ("together", "apart")]
    assert answers[0].result == answers[1].result
    assert answers[0].errors.keys() == answers[1].errors.keys() == {1}
