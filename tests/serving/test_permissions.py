"""Who may call whom (common/serving/permissions.py), on apps in this process: the
registry's calls: enforced by the callee for signed and co-located callers, API keys
limited to some services, X-Pipe-Next escalation, and no policy = as before. The same
rules on real gunicorn processes: tests/integration/test_calls_policy.py."""
from __future__ import annotations

import re

import pytest
import yaml

from bench.apps import create_noop_app
from common.client import Client
from common.core import identity
from common.core.errors import Forbidden, InvalidInput, Unauthorized, UpstreamError
from common.serving.group import GroupApp
from common.serving.hooks import as_seen_by
from common.serving.permissions import Caller, Permissions, Rules

SERVICES = {"alpha": ["beta"], "beta": [], "gamma": None, "delta": ["gamma", "beta"]}
KEYS = {name: identity.new_private_key() for name in SERVICES}


@pytest.fixture
def registry_file(tmp_path):
    services = {name: {"app": f"bench.apps:create_noop_app({name!r})", "port": 9000 + i,
                       **({} if calls is None else {"calls": calls})}
                for i, (name, calls) in enumerate(SERVICES.items())}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"services": services}))
    return path


PUBLIC = ",".join(f"{n}={identity.public_key_text(k)}" for n, k in KEYS.items())


@pytest.fixture
def make(registry_file):
    """``make("beta", policy=True, API_KEYS=...)``: a noop service named so."""
    made = []

    def build(name, policy=True, **config):
        settings = {"LOAD_MODEL": "sync", "REGISTRY": str(registry_file),
                    "IDENTITY_KEY": KEYS[name], **config}
        if policy:
            settings["IDENTITY_PUBLIC_KEYS"] = PUBLIC
        made.append(name)
        return create_noop_app(name, settings)
    yield build
    for name in made:
        identity.forget_signer(name)


def signed(caller, callee="beta", method="POST", path="/predict", request_id="r-1",
           key=None, **headers):
    token = identity.Signer(caller, key or KEYS[caller]).header(callee, method, path,
                                                                 request_id)
    return {identity.IDENTITY_HEADER: token, "X-Request-ID": request_id, **headers}


def post(app, headers=None, body=None):
    return app.test_client().post("/predict", json=body or {"text": "hi"},
                                  headers=headers or {})


def error_of(response):
    return response.get_json()["error"]


# ------------------------------------------------------------------ calls policy
def test_a_signed_caller_the_policy_allows_is_served(make):
    assert post(make("beta"), signed("alpha")).status_code == 200


def test_a_signed_caller_the_policy_forbids_gets_a_403_naming_caller_and_callee(make):
    response = post(make("gamma"), signed("alpha", callee="gamma"))
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert error["message"] == ("gamma refuses calls from alpha: the registry lets alpha "
                                "call beta only.")
    assert error["details"] == {"caller": "alpha", "callee": "gamma", "allowed": ["beta"],
                                "forward": False}


def test_a_service_forbidden_to_call_out_is_refused_everywhere(make):
    response = post(make("gamma"), signed("beta", callee="gamma"))
    assert response.status_code == 403
    assert "the registry lets beta call no service" in error_of(response)["message"]


def test_a_caller_with_no_policy_stated_may_call_any(make):
    assert post(make("alpha"), signed("gamma", callee="alpha")).status_code == 200


@pytest.mark.parametrize("tamper, reason", [
    (lambda h: {**h, "X-Request-ID": "r-2"}, "does not verify"),
    (lambda h: {**h, identity.IDENTITY_HEADER: h[identity.IDENTITY_HEADER] + "x"},
     "does not verify"),
    (lambda h: signed("alpha", key=KEYS["delta"]), "does not verify"),   # impersonation
    (lambda h: signed("alpha", callee="gamma"), "signed for gamma"),
    (lambda h: {**h, identity.IDENTITY_HEADER: "v1.alpha"}, "malformed"),
])
def test_a_signature_that_does_not_hold_is_a_json_401(make, tamper, reason):
    response = post(make("beta"), tamper(signed("alpha")))
    assert response.status_code == 401
    assert reason in str(error_of(response))


def test_a_replayed_signature_is_refused(make):
    app, headers = make("beta"), signed("alpha")
    assert post(app, headers).status_code == 200
    response = post(app, headers)
    assert response.status_code == 401 and "already used" in error_of(response)["message"]


def test_an_unsigned_caller_is_an_outside_caller(make):
    # no API keys configured: outside callers are open, as before (README)
    assert post(make("gamma")).status_code == 200
    locked = make("beta", API_KEYS="k-out")
    assert post(locked).status_code == 401
    assert post(locked, {"Authorization": "Bearer k-out"}).status_code == 200
    # a verified service needs no API key
    assert post(locked, signed("alpha")).status_code == 200


# ------------------------------------------------------------------ X-Pipe-Next
def test_a_forward_the_forwarders_policy_forbids_is_refused_before_anything_runs(make):
    # beta may call no one: asking it to forward to gamma is refused up front, with a
    # 403 naming the hop (beta -> gamma), whoever asks
    response = post(make("beta"), {"X-Pipe-Next": "gamma"})
    assert response.status_code == 403
    error = error_of(response)
    assert error["message"] == ("X-Pipe-Next asks beta to forward to gamma, but the "
                                "registry lets beta call no service.")
    assert error["details"]["caller"] == "beta" and error["details"]["callee"] == "gamma"
    assert error["details"]["forward"] is True


def test_a_caller_may_name_only_stages_it_may_call_itself(make):
    # alpha may call beta, and gamma (no policy) may call anyone: alpha asking gamma...
    app = make("gamma")
    response = post(app, signed("delta", callee="gamma", **{"X-Pipe-Next": "alpha"}))
    # delta may call gamma and beta, not alpha: it cannot reach alpha through gamma
    assert response.status_code == 403
    assert error_of(response)["details"] == {"caller": "delta", "callee": "alpha",
                                             "allowed": ["gamma", "beta"], "forward": False}


def test_every_forwarder_of_a_chain_is_checked(make):
    # gamma -> alpha -> gamma: alpha may call only beta
    response = post(make("gamma"), {"X-Pipe-Next": "alpha, delta"})
    assert response.status_code == 403
    assert error_of(response)["details"]["caller"] == "alpha"
    assert error_of(response)["details"]["callee"] == "delta"


def test_a_malformed_forwarding_header_is_still_a_400(make):
    assert post(make("gamma"), {"X-Pipe-Next": "Not A Stage!"}).status_code == 400


# ------------------------------------------------------------------ outside keys
@pytest.fixture
def keyed(make):
    return make("gamma", policy=False, API_KEYS="k-all, k-some:gamma+beta, k-other:alpha")


@pytest.mark.parametrize("key, status", [("k-all", 200), ("k-some", 200), ("k-other", 403),
                                         ("k-nope", 401)])
def test_an_outside_key_reaches_only_the_services_of_its_scope(keyed, key, status):
    response = post(keyed, {"Authorization": f"Bearer {key}"})
    assert response.status_code == status
    if status == 403:
        error = error_of(response)
        assert error["message"] == "This API key may not call gamma: it is limited to alpha."
        assert error["details"] == {"caller": "api_key", "callee": "gamma",
                                    "scope": ["alpha"], "forward": False}
        assert key not in response.get_data(as_text=True)   # never echoed


def test_a_scoped_key_cannot_escalate_through_x_pipe_next(keyed):
    response = post(keyed, {"Authorization": "Bearer k-some", "X-Pipe-Next": "alpha"})
    assert response.status_code == 403
    assert error_of(response)["message"] == ("This API key may not call alpha (named in "
                                             "X-Pipe-Next): it is limited to beta, gamma.")
    assert "k-some" not in response.get_data(as_text=True)


def test_a_scoped_key_is_refused_on_metadata_too_but_not_on_health(keyed):
    client = keyed.test_client()
    headers = {"Authorization": "Bearer k-other"}
    assert client.get("/metadata", headers=headers).status_code == 403
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("value, scopes", [
    ("k1", [None]), ("k1:a", [{"a"}]), ("k1:a+b_c, k2", [{"a", "b_c"}, None]),
    ("http://x:8080", [None]),              # not a list of names: the whole is the key
    ("k:Not+Names", [None]),
])
def test_key_scopes_parse(value, scopes):
    from common.serving.auth import parse_keys
    assert [k.scope and set(k.scope) for k in parse_keys(value)] == scopes


# ------------------------------------------------------------------ no policy
def test_without_public_keys_nothing_changes(make):
    app = make("gamma", policy=False)
    # signed or not, allowed or not by the registry: served, as before
    assert post(app, signed("alpha", callee="gamma")).status_code == 200
    assert post(app, {identity.IDENTITY_HEADER: "garbage"}).status_code == 200
    assert post(make("beta", policy=False), {"X-Pipe-Next": "not_registered"}
                ).status_code == 400   # the registry's own rule, as before
    meta = app.test_client().get("/metadata").get_json()["permissions"]
    assert meta == {"enforced": False, "identity": "gamma", "may_call": None}


def test_metadata_states_the_policy(make):
    meta = make("alpha").test_client().get("/metadata").get_json()["permissions"]
    assert meta == {"enforced": True, "identity": "alpha", "may_call": ["beta"]}
    assert make("gamma").test_client().get("/metadata").get_json()["permissions"][
        "may_call"] is None


# ------------------------------------------------------------------ callers' side
def test_the_pipe_client_signs_as_the_acting_service_and_rebuilds_the_403(make):
    beta, gamma = make("beta"), make("gamma")
    make("alpha")                                   # registers alpha's key
    client = Client(urls={}, local={"beta": beta, "gamma": gamma})
    token = identity.act_as("alpha")
    try:
        assert client.algo("beta").pipe({"text": "hi"}).result == {"text": "hi"}
        with pytest.raises(Forbidden) as error:
            client.algo("gamma").pipe({"text": "hi"})
    finally:
        identity.stop_acting(token)
    assert error.value.status == 403 and error.value.service == "gamma"
    assert error.value.details["caller"] == "alpha"
    # no acting service: an outside caller (open here)
    assert client.algo("gamma").pipe({"text": "hi"}).result == {"text": "hi"}


def test_a_forbidden_downstream_hop_stays_a_403_naming_its_caller_and_callee():
    refused = Forbidden("gamma refuses calls from alpha: ...",
                        {"caller": "alpha", "callee": "gamma", "allowed": ["beta"]},
                        service="gamma", request_id="r")
    seen = as_seen_by(refused, "alpha")
    assert type(seen) is Forbidden and seen.status == 403
    assert seen.message == refused.message
    assert seen.details["caller"] == "alpha" and seen.details["callee"] == "gamma"
    assert seen.details["stage"] == "gamma"
    # and two hops up, still the same refused hop
    again = as_seen_by(Forbidden(seen.message, seen.details, service="alpha"), "front")
    assert type(again) is Forbidden and again.details["stage"] == "gamma"
    # a signature a callee refused is a misconfigured service: upstream, as before
    assert type(as_seen_by(Unauthorized("bad", service="gamma"), "alpha")) is UpstreamError


# ------------------------------------------------------------------ in-process
@pytest.fixture
def group(make):
    built = GroupApp("g", {n: (9100 + i, make(n)) for i, n in enumerate(SERVICES)})
    built.register()
    yield built
    built.unregister()


def _in_process(caller, callee, **options):
    token = identity.act_as(caller)
    try:
        return Client(urls={}).algo(callee).pipe({"text": "hi"}, **options)
    finally:
        identity.stop_acting(token)


def test_a_co_located_call_the_policy_allows_is_served_in_process(group):
    assert _in_process("alpha", "beta").result == {"text": "hi"}
    metrics = group.by_name["beta"].test_client().get("/metrics").get_data(as_text=True)
    assert re.search(r'modelchain_colocated_requests_total\{service="beta",status="200"'
                     r'[^}]*\} 1\.0', metrics)


def test_a_co_located_call_the_policy_forbids_is_refused_in_process(group):
    with pytest.raises(Forbidden) as error:
        _in_process("alpha", "gamma")
    assert error.value.details["caller"] == "alpha"
    assert error.value.details["callee"] == "gamma"
    assert "gamma refuses calls from alpha" in error.value.message
    metrics = group.by_name["gamma"].test_client().get("/metrics").get_data(as_text=True)
    assert re.search(r'modelchain_colocated_requests_total\{service="gamma",status="403"'
                     r'[^}]*\} 1\.0', metrics)


def test_a_co_located_forward_is_checked_hop_by_hop(group):
    # gamma -> beta is fine, beta may forward to no one
    with pytest.raises(Forbidden) as error:
        _in_process("gamma", "beta", next=["alpha"])
    assert (error.value.details["caller"], error.value.details["callee"]) == ("beta", "alpha")
    # gamma -> alpha -> beta: each hop allowed; the callee acts as itself when it forwards
    answer = _in_process("gamma", "alpha", next=["beta"])
    assert [h["service"] for h in answer.metadata["hops"]] == ["alpha", "beta"]


def test_a_co_located_metadata_call_knows_its_caller(group):
    token = identity.act_as("alpha")
    try:
        with pytest.raises(Forbidden):
            Client(urls={}).call("gamma", "GET", "/metadata")
        assert Client(urls={}).call("beta", "GET", "/metadata")["name"] == "beta"
    finally:
        identity.stop_acting(token)


# ------------------------------------------------------------------ the rules
def test_rules_treat_a_version_deployment_as_its_service(registry_file):
    from common.core.registry import load_registry
    document = yaml.safe_load(registry_file.read_text())
    document["services"]["beta"]["versions"] = {"1.0.0": {"port": 9999}}
    registry_file.write_text(yaml.safe_dump(document))
    rules = Rules(load_registry(registry_file, environ={}))
    assert rules.allows("alpha", "beta_v1_0_0")
    assert not rules.allows("beta_v1_0_0", "gamma")
    assert rules.may_call("beta_v1_0_0") == ()


def test_the_outside_caller_reaches_every_service_without_a_scope(registry_file):
    permissions = Permissions("gamma", {"API_KEYS": "", "IDENTITY_KEY": "",
                                        "IDENTITY_KEY_FILE": "", "IDENTITY_PUBLIC_KEYS": PUBLIC,
                                        "IDENTITY_PUBLIC_KEYS_FILE": "",
                                        "IDENTITY_WINDOW_S": 30.0,
                                        "REGISTRY": str(registry_file)})
    permissions.check_reach(Caller(), "beta")
    with pytest.raises(Forbidden):
        permissions.check_reach(Caller(scope=frozenset({"alpha"})), "beta")
    with pytest.raises(InvalidInput):
        permissions.admit("POST", "/predict", {"X-Pipe-Next": "Bad!"})
