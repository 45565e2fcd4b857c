"""The unmodified `algorithmia` client (2.0.5, in .venv-algorithmia: `make algorithmia`,
which `make test` runs first) against the gateway on real gunicorn, in front of the real
sentiment and text_cleaner services (one process group, as `make run` serves them)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from common.core.registry import ROOT

pytestmark = pytest.mark.integration

ALGORITHMIA_PYTHON = ROOT / ".venv-algorithmia" / "bin" / "python"
SCRIPT = Path(__file__).with_name("algorithmia_calls.py")
KEY = "k-gateway-test"
#: Both sentiment versions run side by side (tests/integration/test_versions_side_by_side.py uses
#: the same set, so one set of processes serves both files).
SERVED = ("gateway", "sentiment", "sentiment_v1_0_0", "text_cleaner")


@pytest.fixture(scope="module")
def urls(live_services):
    if not ALGORITHMIA_PYTHON.exists():
        pytest.fail("the algorithmia environment is missing: run `make algorithmia` "
                    "(make test does)")
    return live_services(*SERVED, env={"GATEWAY_API_KEYS": KEY})


def run_client(url: str, *args: str, env: dict | None = None) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ALGORITHMIA_")}
    result = subprocess.run([str(ALGORITHMIA_PYTHON), str(SCRIPT), url, KEY, *args],
                            capture_output=True, text=True, timeout=180,
                            env={**environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def seen(urls):
    return run_client(urls["gateway"])


def direct(urls, name, document):
    answer = requests.post(f"{urls[name]}/predict", json=document, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_the_seed_call_pins_a_version_and_gets_the_services_answer(urls, seen):
    assert seen["json"] == {"result": direct(urls, "sentiment", {"text": "I love it"})}
    full = seen["full"]["result"]
    assert full["content_type"] == "json" and isinstance(full["duration"], float)
    # the callee's metadata travels back beside the client's fields
    assert full["metadata"]["service"] == "sentiment"
    assert full["metadata"]["version"] == "2.0.0" and full["metadata"]["request_id"]


def test_a_text_input_goes_to_the_services_text_field(urls, seen):
    assert seen["text"] == {"result": direct(urls, "sentiment", {"text": "I love it"})}
    cleaned = seen["cleaner_text"]["result"]
    assert cleaned["value"] == direct(urls, "text_cleaner", {"text": "Sooo happy!! #BestDayEver"})


def test_a_chain_pipes_one_services_result_into_the_next(urls, seen):
    cleaned = direct(urls, "text_cleaner",
                     {"text": "Sooo happy with @acme's support!! #BestDayEver"})
    assert seen["chain"] == {"result": direct(urls, "sentiment", {"text": cleaned["text"]})}


def test_the_batch_docs_serial_loop_and_a_batch_agree_with_predict(urls, seen):
    expected = direct(urls, "sentiment", [{"text": t} for t in seen["texts"]])
    # The same labels, and the same scores up to float rounding: the dynamic batcher
    # may group the serial calls differently from the batch (a different matmul order).
    for answers in (seen["serial"]["result"], seen["batch"]["result"]):
        assert [a["label"] for a in answers] == [e["label"] for e in expected]
        assert [a["scores"] for a in answers] == [pytest.approx(e["scores"], abs=1e-5)
                                                  for e in expected]


@pytest.mark.parametrize("case, message, error_type", [
    ("error", "text: Must not be empty or blank", "InputError"),
    ("not_json_input", "items[0]: Not an object", "InputError"),
    ("binary_refused", "sentiment takes no image field", "InputError"),
    ("other_owner", "this gateway serves the owner 'modelchain'", "NotFoundError"),
    ("unknown_service", "No service named 'nope'", "NotFoundError"),
    ("wrong_version", "it serves 2.0.0, 1.0.0", "NotFoundError"),
    ("tiny_timeout", "deadline passed", "TimeoutError"),
    ("wrong_key", "The API key is not valid.", "AuthorizationError"),
    ("bearer", "The API key is not valid.", "AuthorizationError"),
])
def test_errors_reach_the_client_with_our_message(seen, case, message, error_type):
    assert seen[case]["raised"] == "AlgorithmException", seen[case]
    assert message in seen[case]["message"]
    assert seen[case]["error_type"] == error_type


def test_a_version_prefix_and_the_options_the_client_sends(seen):
    assert seen["prefix_version"]["result"]["metadata"]["version"] == "2.0.0"


@pytest.mark.parametrize("case, version", [("seed_pinned", "1.0.0"), ("major_one", "1.0.0"),
                                           ("newest", "2.0.0"), ("prefix_version", "2.0.0")])
def test_each_version_in_the_name_reaches_its_own_deployment(seen, case, version):
    assert seen[case]["result"]["metadata"]["version"] == version, seen[case]
    options = seen["options"]["result"]
    assert options["stdout"] == "" and options["value"]["label"] == "positive"
    assert json.loads(seen["raw"]["result"])["label"] == "positive"
    assert seen["void"]["result"].startswith("AsyncResponse(async_protocol=void")


def test_the_client_finds_the_gateway_by_algorithmia_api(urls):
    seen = run_client(urls["gateway"], "env", env={"ALGORITHMIA_API": urls["gateway"],
                                                   "ALGORITHMIA_API_KEY": KEY})
    expected = direct(urls, "sentiment", {"text": "I love it"})
    assert seen == {"env": {"result": expected}, "default_client": {"result": expected}}


def test_request_id_and_trace_travel_to_the_callee_and_back(urls):
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    answer = requests.post(f"{urls['gateway']}/v1/algo/modelchain/sentiment",
                           data="I love it", timeout=60,
                           headers={"Authorization": f"Simple {KEY}", "Content-Type":
                                    "text/plain", "X-Request-ID": "gw-test-1",
                                    "traceparent": trace})
    assert answer.status_code == 200
    assert answer.json()["metadata"]["request_id"] == "gw-test-1"
    assert answer.headers["X-Request-ID"] == "gw-test-1"
    assert answer.headers["traceparent"].split("-")[1] == "ab" * 16


def test_an_error_answer_keeps_its_status_in_a_header_and_the_metrics(urls):
    answer = requests.post(f"{urls['gateway']}/v1/algo/modelchain/sentiment", json={},
                           headers={"Authorization": "wrong"}, timeout=60)
    assert answer.status_code == 200 and answer.headers["X-Modelchain-Status"] == "401"
    assert answer.json()["error"]["status"] == 401
    metrics = requests.get(f"{urls['gateway']}/metrics", timeout=10).text
    assert 'status="401"' in metrics
