"""The calls policy in the registry and the deploy files: every call a service's code
makes is allowed where the registry states a policy, and compose and Kubernetes pass
the identity keys (optional, none committed) and the policy to every process."""
from __future__ import annotations

import pytest

from common.serving import ANY_SERVICE
from common.serving.permissions import Rules
from deploy import generate
from tests.deploy.test_consistency import (REGISTERED, compose_service, container,
                                           expected_calls, unit)

#: Services whose callees are not fixed in their code: the catalog and the gateway call
#: any service, and these are the first stages of the documented X-Pipe-Next chains.
NO_POLICY = {"catalog", "gateway", "text_cleaner", "downloader", "image_preprocessor"}


def declared_calls(name: str, source) -> set[str]:
    """What a service's code says it calls: ``Model.calls``, and, for a model that
    may call any service (``ANY_SERVICE``), the names its own files give."""
    model = generate.model_class(source[name])
    declared = set(model.calls) - {ANY_SERVICE}
    if ANY_SERVICE in model.calls:
        declared |= expected_calls(name, source)
    return declared


def test_the_registry_states_a_policy_for_every_service_with_fixed_callees(source):
    stated = {n for n, e in source.items() if e.calls is not None}
    assert set(source) - stated == NO_POLICY
    # a service that calls nothing in its code is forbidden to call out at all
    assert source["sentiment"].calls == () and source["image_classifier"].calls == ()


@pytest.mark.parametrize("name", sorted(n for n in REGISTERED if n not in NO_POLICY))
def test_each_models_declared_calls_are_allowed_by_the_registry(name, source):
    rules = Rules(source)
    declared = declared_calls(name, source)
    refused = sorted(c for c in declared if not rules.allows(name, c))
    assert refused == [], f"{name}'s code calls {refused}; add them to its calls: in " \
                          "deploy/registry.yaml"
    # and the policy names nothing the code never calls
    assert set(source[name].calls) == declared, name


def test_the_declared_calls_are_read_where_the_code_names_any_service(source):
    assert declared_calls("alexa_skill", source) == {"chatbot", "sentiment"}
    assert declared_calls("tweet_sentiment", source) == {"text_cleaner", "sentiment"}


def test_a_version_deployment_has_its_services_policy(source):
    assert source["sentiment_v1_0_0"].calls == source["sentiment"].calls


@pytest.mark.parametrize("name", REGISTERED)
def test_compose_passes_the_identity_keys_from_the_host_and_holds_none(name, source, compose):
    environment = compose_service(compose, name)["environment"]
    own = f"{source[name].service_name.upper()}_IDENTITY_KEY"
    assert own in environment and generate.PUBLIC_KEYS_ENV in environment
    keys = {k: v for k, v in environment.items() if "IDENTITY" in k}
    assert set(keys.values()) == {None}
    # a process holds only the keys of the services it serves
    served = {f"{m.service_name.upper()}_IDENTITY_KEY" for m in unit(name).members}
    assert set(keys) - {generate.PUBLIC_KEYS_ENV} == served


@pytest.mark.parametrize("name", REGISTERED)
def test_pods_read_their_identity_key_and_the_public_keys_optionally(name, source, k8s):
    env = {e["name"]: e for e in container(k8s, name)["env"]}
    secret = env[f"{source[name].service_name.upper()}_IDENTITY_KEY"]["valueFrom"]
    assert secret == {"secretKeyRef": {
        "name": f"{generate.dns_name(source[name].service_name)}-identity",
        "key": generate.IDENTITY_SECRET_KEY, "optional": True}}
    public = env[generate.PUBLIC_KEYS_ENV]["valueFrom"]["configMapKeyRef"]
    assert (public["name"], public["key"]) == generate.PUBLIC_KEYS_CONFIG
    assert public["optional"] is True and "value" not in env[generate.PUBLIC_KEYS_ENV]
    secrets = [e for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})]
    assert len(secrets) == len({m.service_name for m in unit(name).members})


def test_the_cluster_registry_carries_the_policy_and_the_versions(source, k8s, tmp_path):
    from common.core.registry import load_registry
    path = tmp_path / "registry.yaml"
    path.write_text(k8s[("ConfigMap", "modelchain-registry")]["data"]["registry.yaml"])
    cluster = load_registry(path, environ={})
    assert list(cluster) == list(source)
    for name, entry in source.items():
        seen = cluster[name]
        assert (seen.calls, seen.service_name, seen.version) == \
            (entry.calls, entry.service_name, entry.version), name
