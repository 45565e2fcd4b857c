"""Warm dependents and the observed call graph on real gunicorn (127.0.0.1, free ports).

- A caller started before the service it calls answers /readyz 503 naming it, and
  turns ready only once that service is ready (and so warmed); with
  MODELCHAIN_WAIT_FOR_DEPENDENTS=0 it does not wait.
- After chain calls, the callers' /metrics hold the pipe-call series (and /calls the
  same figures, every worker's), over HTTP, in-process (a process group), through an
  X-Pipe-Next forward and through the gateway.
"""
from __future__ import annotations

import dataclasses
import time

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from common.core.registry import DEFAULT_REGISTRY, load_registry
from tests.conftest import free_port
from tests.helpers.chain import until
from tools.launcher import start_services, stop_services

pytestmark = pytest.mark.integration

#: The chain the metrics tests (and the catalog's browser test) call, each on its own;
#: tweet_sentiment with two workers, so /metrics and /calls add both up.
CHAIN = ("catalog", "text_cleaner", "sentiment", "tweet_sentiment", "gateway")
CHAIN_ENV = {"TWEET_SENTIMENT_WORKERS": "2"}
GROUPED = ("text_cleaner", "sentiment", "tweet_sentiment")


@pytest.fixture(scope="module")
def relay_registry(tmp_path_factory):
    """The project's registry plus ``relay`` (tests/helpers/chain.py), which calls
    text_cleaner and warms up nothing of it."""
    document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    document["services"]["relay"] = {"app": "tests.helpers.chain:create_relay_app()",
                                     "port": 1}
    path = tmp_path_factory.mktemp("relay") / "registry.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def readyz(url: str) -> tuple[int, dict]:
    try:
        answer = requests.get(f"{url}/readyz", timeout=5)
    except requests.ConnectionError:
        return 0, {}
    return answer.status_code, answer.json()


def waiting(url: str) -> dict:
    status, body = readyz(url)
    return body["error"]["details"] if status == 503 else {}


@pytest.mark.parametrize("caller, started_with, late, wait", [
    ("relay", [], "text_cleaner", True),
    ("tweet_sentiment", ["text_cleaner"], "sentiment", True),
    ("relay", [], "text_cleaner", False),
], ids=["relay-declared", "pipeline", "relay-wait-off"])
def test_a_caller_started_first_is_ready_only_once_its_dependent_is(
        relay_registry, tmp_path, caller, started_with, late, wait):
    entries = load_registry(relay_registry, {})
    late_port = free_port()
    late_url = f"http://127.0.0.1:{late_port}"
    env = {"MODELCHAIN_REGISTRY": str(relay_registry),
           f"MODELCHAIN_URL_{late.upper()}": late_url,
           "MODELCHAIN_DEPENDENTS_POLL_S": "0.1",
           **({} if wait else {"MODELCHAIN_WAIT_FOR_DEPENDENTS": "0"})}
    first = start_services([entries[n] for n in (caller, *started_with)],
                           ports={n: free_port() for n in (caller, *started_with)},
                           env=env, log_dir=tmp_path / "first")
    processes = list(first)
    try:
        url = next(p.url for p in first if p.entry.name == caller)
        if not wait:
            until(lambda: readyz(url)[0] == 200, 180, f"{caller} ready without {late}")
            assert readyz(late_url)[0] == 0    # nothing listens there yet
            return
        until(lambda: waiting(url).get("waiting_for", {}).get(late) == "unreachable", 180,
              f"{caller} names {late}")
        # the relay's own model is ready: the gate holds it; the pipeline's warm-up too
        assert waiting(url)["model_ready"] is (caller == "relay")
        for _ in range(5):   # still not ready while the dependent is missing
            status, body = readyz(url)
            assert status == 503 and late in body["error"]["details"]["waiting_for"]
            time.sleep(0.2)
        processes += start_services([entries[late]], ports={late: late_port}, env=env,
                                    log_dir=tmp_path / "late")
        until(lambda: readyz(url)[0] == 200, 240, f"{caller} ready once {late} is")
        assert readyz(late_url)[0] == 200          # the dependent was ready first
        assert readyz(url)[1]["dependents"][late] == "ready"
    finally:
        stop_services(processes)


def series(url: str, name: str) -> list[tuple[dict, float]]:
    """The samples ``name`` of a service's /metrics: labels and value."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return [(s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name]


def total(url: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` that have ``labels``."""
    return sum(v for found, v in series(url, name) if labels.items() <= found.items())


def calls_of(url: str, caller: str, callee: str, outcome: str = "ok") -> float:
    return total(url, "modelchain_pipe_calls_total", caller=caller, callee=callee,
                 outcome=outcome)


@pytest.fixture(scope="module", params=["apart", "together"])
def chain(request, live_services, service_pool):
    """The chain, each service in its own process, or co-located in one group."""
    if request.param == "apart":
        return request.param, live_services(*CHAIN, env=CHAIN_ENV)
    registry = load_registry()
    together = [dataclasses.replace(registry[n], group="warm_test") for n in GROUPED]
    return request.param, service_pool.start(together)


@pytest.mark.parametrize("text, outcome", [
    ("Sooo happy with @acme!! #BestDayEver", "ok"),
    ("@bob https://t.co/only-a-link", "error"),   # cleans to nothing: sentiment refuses
], ids=["scored", "refused-by-sentiment"])
def test_a_chain_call_is_in_the_callers_metrics(chain, text, outcome):
    _layout, urls = chain
    url = urls["tweet_sentiment"]
    cleaner, scorer = (calls_of(url, "tweet_sentiment", "text_cleaner"),
                       calls_of(url, "tweet_sentiment", "sentiment", outcome))
    for _ in range(4):   # with two workers, they share these
        requests.post(f"{url}/predict", json={"text": text}, timeout=60)
    assert calls_of(url, "tweet_sentiment", "text_cleaner") - cleaner == 4
    assert calls_of(url, "tweet_sentiment", "sentiment", outcome) - scorer == 4
    assert total(url, "modelchain_pipe_call_seconds_count", caller="tweet_sentiment",
                 callee="sentiment", version="1.0.0") >= 4
    documented = {e["callee"]: e for e in
                  requests.get(f"{url}/calls", timeout=10).json()["calls"]}
    assert documented["sentiment"]["outcomes"][outcome] == \
        calls_of(url, "tweet_sentiment", "sentiment", outcome)


def test_a_forward_is_the_forwarding_services_call(chain):
    _layout, urls = chain
    url = urls["text_cleaner"]
    before = calls_of(url, "text_cleaner", "sentiment")
    answer = requests.post(f"{url}/predict", json={"text": "I loooove it #happy"},
                           headers={"X-Pipe-Next": "sentiment[text]"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert calls_of(url, "text_cleaner", "sentiment") - before == 1


def test_the_gateway_records_its_calls(live_services):
    urls = live_services(*CHAIN, env=CHAIN_ENV)
    url = urls["gateway"]

    def to_sentiment() -> float:
        return sum(v for labels, v in series(url, "modelchain_pipe_calls_total")
                   if labels["caller"] == "gateway" and labels["outcome"] == "ok"
                   and labels["callee"].startswith("sentiment"))
    before = to_sentiment()
    answer = requests.post(f"{url}/v1/algo/modelchain/sentiment", timeout=60,
                           json={"text": "What a lovely day"})
    assert answer.status_code == 200 and answer.json()["result"]["label"] == "positive"
    assert to_sentiment() - before == 1
