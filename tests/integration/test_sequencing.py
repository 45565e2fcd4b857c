"""Client, server and hybrid sequencing, and their faults, on real gunicorn services.

The services run from a test registry that adds misbehaving stages (tests/helpers/
faults.py) and one name whose URL points at a closed port.
"""
from __future__ import annotations

import time

import pytest
import requests
import yaml

from common.client import Client
from common.core.errors import DeadlineExceeded, InvalidInput, UpstreamError, VersionMismatch
from common.core.registry import DEFAULT_REGISTRY, ServiceEntry, load_registry
from tests.conftest import free_port

pytestmark = pytest.mark.integration

FAULTS = {f"fault_{m}": f"tests.helpers.faults:create_app('{m}')"
          for m in ("slow", "error", "malformed")}
TWEETS = ["Sooo happy with @acme's support!! #BestDayEver https://t.co/x",
          "@bob this is the worst service ever, I hate waiting #fail",
          "The meeting is at 3pm in room 4 http://example.com/agenda"]


@pytest.fixture(scope="module")
def chain(service_pool, tmp_path_factory):
    """URLs of text_cleaner, sentiment, tweet_sentiment and the fault services, and a
    client that knows them all (fault_down is registered but nothing listens there)."""
    document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    document["services"].update({n: {"app": a, "port": 1} for n, a in FAULTS.items()})
    document["services"]["fault_down"] = {"app": "unused:create_app()", "port": free_port()}
    registry_file = tmp_path_factory.mktemp("registry") / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(document))
    env = {"MODELCHAIN_REGISTRY": str(registry_file),
           "MODELCHAIN_URL_FAULT_DOWN": f"http://127.0.0.1:{document['services']['fault_down']['port']}"}
    entries = load_registry(registry_file, env)
    names = ["text_cleaner", "sentiment", "tweet_sentiment", *FAULTS]
    urls = service_pool.start([entries[n] for n in names], env)
    urls["fault_down"] = env["MODELCHAIN_URL_FAULT_DOWN"]
    return urls


@pytest.fixture
def client(chain):
    return Client(urls=chain, timeout=10)


def client_sequencing(client, tweets):
    cleaned = client.algo("text_cleaner").pipe([{"text": t} for t in tweets]).result
    return client.algo("sentiment").pipe([{"text": c["text"]} for c in cleaned]).result


def test_the_three_sequencing_patterns_agree(client):
    by_client = client_sequencing(client, TWEETS)
    by_server = client.algo("tweet_sentiment").pipe([{"text": t} for t in TWEETS]).result
    by_hybrid = client.algo("text_cleaner").pipe([{"text": t} for t in TWEETS],
                                                 next=["sentiment[text]"]).result
    assert by_client == by_server == by_hybrid
    assert [r["label"] for r in by_client][:2] == ["positive", "negative"]


def test_single_inputs_agree_too(client):
    tweet = TWEETS[1]
    by_server = client.algo("tweet_sentiment").pipe({"text": tweet})
    by_hybrid = client.algo("text_cleaner").pipe({"text": tweet}, next=["sentiment[text]"])
    assert by_server.result == by_hybrid.result == client_sequencing(client, [tweet])[0]
    steps = by_server.metadata["steps"]
    assert [s["service"] for s in steps] == ["text_cleaner", "sentiment"]
    assert all(s["duration_ms"] > 0 for s in steps)
    assert [h["service"] for h in by_hybrid.metadata["hops"]] == ["text_cleaner", "sentiment"]


def test_the_request_id_travels_along_the_chain(chain):
    response = requests.post(f"{chain['text_cleaner']}/predict", json={"text": TWEETS[0]},
                             headers={"X-Request-ID": "chain-42", "X-Pipe-Next": "sentiment[text]"},
                             timeout=10)
    hops = response.json()["metadata"]["hops"]
    assert [h["request_id"] for h in hops] == ["chain-42", "chain-42"]


def test_pipeline_metadata_lists_its_steps(chain):
    meta = requests.get(f"{chain['tweet_sentiment']}/metadata", timeout=5).json()
    assert [s["service"] for s in meta["pipeline"]["steps"]] == ["text_cleaner", "sentiment"]
    assert meta["input_schema"]["required"] == ["text"]
    assert set(meta["output_schema"]["properties"]) == {"label", "scores"}


@pytest.mark.parametrize("stage,error,code", [
    ("fault_down", UpstreamError, "upstream_error"),
    ("fault_error", UpstreamError, "upstream_error"),
    ("fault_malformed", UpstreamError, "upstream_error"),
])
def test_a_failing_next_stage_is_named(client, stage, error, code):
    with pytest.raises(error) as caught:
        client.algo("text_cleaner").pipe({"text": "hello"}, next=[stage])
    assert caught.value.code == code and caught.value.status == 502
    assert caught.value.details["stage"] == stage
    assert stage in caught.value.message


def test_a_slow_next_stage_stops_at_the_deadline(client):
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as caught:
        client.algo("text_cleaner").pipe({"text": "hello"}, next=["fault_slow"], timeout=1.0)
    elapsed = time.monotonic() - started
    assert caught.value.status == 504 and caught.value.details["stage"] == "fault_slow"
    assert elapsed < 4.0  # well before the stage's 5 s sleep ends: nothing hung


def test_a_slow_service_called_directly_times_out(client):
    with pytest.raises(DeadlineExceeded) as caught:
        client.algo("fault_slow").pipe({"text": "x"}, timeout=0.5)
    assert caught.value.details["stage"] == "fault_slow"


def test_a_service_that_is_down_is_an_upstream_error(client):
    with pytest.raises(UpstreamError, match="fault_down"):
        client.algo("fault_down").pipe({"text": "x"})


def test_forwarding_to_an_unregistered_name_is_refused(chain):
    for header in ("evil", "sentiment, evil", "http://169.254.169.254/latest"):
        response = requests.post(f"{chain['text_cleaner']}/predict", json={"text": "hi"},
                                 headers={"X-Pipe-Next": header}, timeout=5)
        assert response.status_code == 400, header
        assert response.json()["error"]["code"] == "invalid_input"


def test_an_unmet_version_requirement_fails_before_any_call(client, chain):
    def predict_count():
        text = requests.get(f"{chain['sentiment']}/metrics", timeout=5).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("modelchain_requests_total") and '"/predict"' in line)
    before = predict_count()
    with pytest.raises(VersionMismatch, match="requirement '9'"):
        client.algo("sentiment@9").pipe({"text": "hello"})
    assert predict_count() == before
    assert client.algo("sentiment@2").pipe({"text": "I love it"}).result["label"] == "positive"


def test_a_pipeline_validates_its_input_with_its_first_stage_schema(client):
    with pytest.raises(InvalidInput) as caught:
        client.algo("tweet_sentiment").pipe({"text": ""})
    assert caught.value.service == "tweet_sentiment" and "text" in caught.value.details
