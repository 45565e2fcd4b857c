"""Who may call whom, on real gunicorn processes on 127.0.0.1: each permission rule with
the policy on (every process holding only its own identity keys, as
``MODELCHAIN_POLICY=1 make run`` and the deploy files give them), and the same calls
with no policy configured, which behave as before.

Two processes, each a process group, from a test registry:

- ``front``: alpha (calls text_cleaner and beta), mallory (calls text_cleaner only),
  pipe_ok, pipe_bad and pipe_cold (pipelines text_cleaner -> beta; the policy of the
  last two forgets beta; pipe_bad does not warm up) and the gateway;
- ``back``: text_cleaner (the real one; no policy stated), beta (may call none), gamma
  (no policy) and relay_in (calls gamma), whose calls to its neighbours stay in-process.

alpha, mallory and relay_in are relays (tests/helpers/permission_apps.py): they call,
from their own code, the services their input names.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from bench.apps import create_noop_app
from common.core import identity
from common.core.registry import ROOT, load_registry
from common.pipeline.contracts import contract_of
from tests.conftest import free_ports
from tools.identity import ensure_keys
from tools.launcher import start_services, stop_services, wait_ready

pytestmark = pytest.mark.integration

RELAY = "tests.helpers.permission_apps:create_relay_app({name!r})"
NOOP = "bench.apps:create_noop_app({name!r})"
PIPELINE = "common.pipeline:create_pipeline_app({path!r})"
ALL_KEY, TEXT_KEY = "k-all", "k-text"
ALGORITHMIA_PYTHON = ROOT / ".venv-algorithmia" / "bin" / "python"
SCRIPT = Path(__file__).with_name("algorithmia_scoped.py")


def write_registry(folder: Path) -> Path:
    """The services above, their policies, and the pipelines' files and contracts."""
    for name in ("pipe_ok", "pipe_bad", "pipe_cold"):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump({
            "name": name, "version": "1.0.0", "steps": [
                {"service": "text_cleaner"}, {"service": "beta", "take": ["text"]}]}))
    contracts = folder / "contracts"
    contracts.mkdir()
    (contracts / "text_cleaner.json").write_text(
        (ROOT / "deploy" / "contracts" / "text_cleaner.json").read_text())
    beta = create_noop_app("beta", {"LOAD_MODEL": "off"})
    (contracts / "beta.json").write_text(json.dumps(contract_of(
        beta.test_client().get("/metadata").get_json())))
    services = {
        "alpha": {"app": RELAY.format(name="alpha"), "calls": ["text_cleaner", "beta"]},
        "mallory": {"app": RELAY.format(name="mallory"), "calls": ["text_cleaner"]},
        "pipe_ok": {"app": PIPELINE.format(path=str(folder / "pipe_ok.yaml")),
                    "calls": ["text_cleaner", "beta"]},
        "pipe_bad": {"app": PIPELINE.format(path=str(folder / "pipe_bad.yaml")),
                     "calls": ["text_cleaner"]},
        "pipe_cold": {"app": PIPELINE.format(path=str(folder / "pipe_cold.yaml")),
                      "calls": ["text_cleaner"]},   # as pipe_bad, warmed up
        "gateway": {"app": "services.gateway:create_app()"},
        "text_cleaner": {"app": "services.text_cleaner:create_app()", "group": "back"},
        "beta": {"app": NOOP.format(name="beta"), "calls": [], "group": "back"},
        "gamma": {"app": NOOP.format(name="gamma"), "group": "back"},
        "relay_in": {"app": RELAY.format(name="relay_in"), "calls": ["gamma"], "group": "back"},
    }
    for name, spec in services.items():
        spec.setdefault("group", "front")
        spec["port"] = 1   # free ports are given when started
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump({"services": services}))
    return path


def start(folder: Path, policy: bool) -> dict[str, str]:
    """The services of the test registry, with or without the policy; their URLs."""
    registry_file = write_registry(folder)
    entries = list(load_registry(registry_file, environ={}).values())
    env = {"MODELCHAIN_REGISTRY": str(registry_file),
           "MODELCHAIN_CONTRACTS": str(folder / "contracts"),
           "PIPE_BAD_WARMUP": "false",   # its warmup would be refused: it needs beta
           "MODELCHAIN_API_KEYS": f"{ALL_KEY},{TEXT_KEY}:text_cleaner+beta"}
    if not policy:   # as before: one key for everyone, services send it on
        env.update({"MODELCHAIN_API_KEYS": ALL_KEY, "MODELCHAIN_API_KEY": ALL_KEY})
    keys = ensure_keys(folder / "identity", [e.name for e in entries]) if policy else None
    processes = start_services(entries, ports=free_ports(entries), env=env,
                               log_dir=folder / "logs", identities=keys)
    try:   # pipe_cold never turns ready with the policy on (its warmup is refused)
        wait_ready([p for p in processes if p.entry.name != "pipe_cold" or not policy], 240)
    except BaseException:
        stop_services(processes)
        raise
    start.processes += processes
    return {p.entry.name: p.url for p in processes}


start.processes = []


@pytest.fixture(scope="module", autouse=True)
def _stop_all():
    yield
    stop_services(start.processes)


@pytest.fixture(scope="module")
def on(tmp_path_factory):
    """URLs of the services with the policy on (and the key folder, under "keys")."""
    folder = tmp_path_factory.mktemp("policy-on")
    return {**start(folder, policy=True), "keys": str(folder / "identity")}


@pytest.fixture(scope="module")
def off(tmp_path_factory):
    """URLs of the same services with no policy configured."""
    return start(tmp_path_factory.mktemp("policy-off"), policy=False)


def call(urls, name, body, key=ALL_KEY, **headers):
    return requests.post(f"{urls[name]}/predict", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {key}", **headers})


def refused(response, caller, callee):
    """The JSON 403 naming the caller and the callee of the refused call."""
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert (error["details"]["caller"], error["details"]["callee"]) == (caller, callee)
    named = "API key" if caller == "api_key" else caller
    assert named in error["message"] and callee in error["message"]
    return error


# ------------------------------------------------------------------ policy on
def test_an_allowed_call_is_served(on):
    answer = call(on, "alpha", {"text": "hi", "to": ["text_cleaner", "beta"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["reached"] == ["text_cleaner", "beta"]
    answer = call(on, "pipe_ok", {"text": "Sooo happy!! #BestDayEver"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["text"].endswith("Best Day Ever")


def test_a_forbidden_call_is_a_403_naming_caller_and_callee(on):
    answer = call(on, "mallory", {"text": "hi", "to": ["beta"]})
    error = refused(answer, "mallory", "beta")
    assert error["message"] == ("beta refuses calls from mallory: the registry lets "
                                "mallory call text_cleaner only.")
    assert error["details"]["stage"] == "beta"   # the service that refused it


def test_a_forbidden_forward_is_a_403(on):
    # beta may call no one: a request asking it to forward to gamma
    error = refused(call(on, "beta", {"text": "hi"}, **{"X-Pipe-Next": "gamma"}),
                    "beta", "gamma")
    assert error["message"].startswith("X-Pipe-Next asks beta to forward to gamma")
    # a service cannot reach what it may not call by asking another to forward to it
    refused(call(on, "mallory", {"text": "hi", "to": ["text_cleaner"], "next": ["beta[text]"]}),
            "mallory", "beta")
    # the hybrid chain of the READMEs holds (text_cleaner states no policy)
    answer = call(on, "text_cleaner", {"text": "hi #yes"}, **{"X-Pipe-Next": "beta[text]"})
    assert answer.status_code == 200, answer.text
    assert [h["service"] for h in answer.json()["metadata"]["hops"]] == ["text_cleaner", "beta"]


def test_a_forbidden_pipeline_step_is_a_403(on):
    error = refused(call(on, "pipe_bad", {"text": "Sooo happy!!"}), "pipe_bad", "beta")
    assert error["details"]["stage"] == "beta"


def test_a_pipeline_whose_step_is_forbidden_does_not_turn_ready(on):
    deadline, ready = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        ready = requests.get(f"{on['pipe_cold']}/readyz", timeout=10)
        if ready.json()["error"]["details"].get("load_error"):
            break
        time.sleep(0.5)
    assert ready.status_code == 503
    details = ready.json()["error"]["details"]
    assert details["load_error"] == "Forbidden"
    assert details["message"] == ("beta refuses calls from pipe_cold: the registry lets "
                                  "pipe_cold call text_cleaner only.")


def test_a_forbidden_co_located_call_is_refused_in_process(on):
    refused(call(on, "relay_in", {"text": "hi", "to": ["beta"]}), "relay_in", "beta")
    answer = call(on, "relay_in", {"text": "hi", "to": ["gamma"]})
    assert answer.status_code == 200 and answer.json()["result"]["reached"] == ["gamma"]
    metrics = requests.get(f"{on['beta']}/metrics", timeout=10).text
    assert 'modelchain_colocated_requests_total{service="beta",status="403"' in metrics


def test_an_outside_key_is_limited_to_some_services(on):
    assert call(on, "text_cleaner", {"text": "hi"}, key=TEXT_KEY).status_code == 200
    answer = call(on, "alpha", {"text": "hi"}, key=TEXT_KEY)
    error = refused(answer, "api_key", "alpha")
    assert error["message"] == ("This API key may not call alpha: it is limited to beta, "
                                "text_cleaner.")
    assert TEXT_KEY not in answer.text
    # nor can it reach gamma by asking text_cleaner to forward there
    refused(call(on, "text_cleaner", {"text": "hi"}, key=TEXT_KEY,
                 **{"X-Pipe-Next": "gamma"}), "api_key", "gamma")
    answer = call(on, "text_cleaner", {"text": "hi"}, key=TEXT_KEY,
                  **{"X-Pipe-Next": "beta[text]"})
    assert answer.status_code == 200, answer.text


def test_a_service_cannot_pass_for_another_over_http(on):
    # mallory's own key, claiming to be alpha (whom beta lets in): refused
    forged = identity.Signer("alpha", (Path(on["keys"]) / "mallory.key").read_text())
    headers = {identity.IDENTITY_HEADER: forged.header("beta", "POST", "/predict", "r-9"),
               "X-Request-ID": "r-9"}
    answer = requests.post(f"{on['beta']}/predict", json={"text": "hi"}, headers=headers,
                           timeout=30)
    assert answer.status_code == 401 and "does not verify" in answer.text
    # alpha's key does it (and only once)
    genuine = identity.Signer("alpha", (Path(on["keys"]) / "alpha.key").read_text())
    headers[identity.IDENTITY_HEADER] = genuine.header("beta", "POST", "/predict", "r-9")
    assert requests.post(f"{on['beta']}/predict", json={"text": "hi"}, headers=headers,
                         timeout=30).status_code == 200
    again = requests.post(f"{on['beta']}/predict", json={"text": "hi"}, headers=headers,
                          timeout=30)
    assert again.status_code == 401 and "already used" in again.text


def test_metadata_states_what_a_service_may_call(on):
    meta = requests.get(f"{on['alpha']}/metadata", timeout=10,
                        headers={"Authorization": f"Bearer {ALL_KEY}"}).json()
    assert meta["permissions"] == {"enforced": True, "identity": "alpha",
                                   "may_call": ["text_cleaner", "beta"]}


def run_algorithmia(url: str, key: str, *names: str) -> dict:
    if not ALGORITHMIA_PYTHON.exists():
        pytest.fail("the algorithmia environment is missing: run `make algorithmia` "
                    "(make test does)")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ALGORITHMIA_")}
    done = subprocess.run([str(ALGORITHMIA_PYTHON), str(SCRIPT), url, key, *names],
                          capture_output=True, text=True, timeout=180, env=environ)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_an_outside_key_is_limited_through_the_gateway(on):
    seen = run_algorithmia(on["gateway"], TEXT_KEY, "modelchain/text_cleaner",
                           "modelchain/alpha")
    assert seen["modelchain/text_cleaner"]["result"]["text"].endswith("Best Day Ever")
    assert seen["modelchain/alpha"] == {
        "raised": "AlgorithmException", "error_type": "AuthorizationError",
        "message": "This API key may not call alpha: it is limited to beta, text_cleaner."}
    # the key with every service reaches alpha, whose calls are its own
    seen = run_algorithmia(on["gateway"], ALL_KEY, "modelchain/alpha")
    assert seen["modelchain/alpha"]["result"]["reached"] == []


# ------------------------------------------------------------------ no policy
def test_without_a_policy_every_call_goes_through_as_before(off):
    for name, body, headers in (
            ("mallory", {"text": "hi", "to": ["beta"]}, {}),
            ("relay_in", {"text": "hi", "to": ["beta"]}, {}),
            ("pipe_bad", {"text": "Sooo happy!!"}, {}),
            ("beta", {"text": "hi"}, {"X-Pipe-Next": "gamma"}),
            ("mallory", {"text": "hi", "to": ["text_cleaner"], "next": ["beta[text]"]}, {})):
        answer = call(off, name, body, **headers)
        assert answer.status_code == 200, (name, answer.text)
    meta = requests.get(f"{off['mallory']}/metadata", timeout=10,
                        headers={"Authorization": f"Bearer {ALL_KEY}"}).json()
    assert meta["permissions"] == {"enforced": False, "identity": "mallory",
                                   "may_call": None}
    # API keys hold as before
    assert call(off, "beta", {"text": "hi"}, key="wrong").status_code == 401
