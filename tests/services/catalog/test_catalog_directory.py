"""The directory: concurrent fetches, timeouts, the cache, and untrusted metadata."""
from __future__ import annotations

import threading
import time

import pytest

from common.client import Client
from common.core.errors import (DeadlineExceeded, InvalidInput, ServiceError, Unauthorized,
                                UpstreamError)
from common.core.registry import ServiceEntry
from services.catalog.directory import (DOWN, READY, STARTING, Directory, ServiceInfo,
                                        describe_failure, matches, step_services)
from tests.services.catalog.conftest import barrier_app, odd_app, slow_app


def directory_of(apps, **kwargs) -> Directory:
    entries = {n: ServiceEntry(n, f"x:{n}", 9000 + i, f"http://{n}.invalid")
               for i, n in enumerate(apps)}
    client = Client(urls={n: e.url for n, e in entries.items()}, local=apps, retries=0)
    return Directory(entries, client, **{"ttl": 0, **kwargs})


def test_services_are_fetched_concurrently():
    barrier = threading.Barrier(3, timeout=2)
    apps = {f"s{i}": barrier_app(barrier) for i in range(3)}
    infos = directory_of(apps).snapshot()
    assert [i.status for i in infos] == [READY] * 3   # a serial fetch would break the barrier


def test_a_slow_service_is_down_after_the_timeout_and_the_others_are_shown():
    directory = directory_of({"slow": slow_app(1.5), "odd": odd_app()}, timeout=0.2)
    started = time.monotonic()
    slow, odd = directory.snapshot()
    assert time.monotonic() - started < 1.2
    assert slow.status == DOWN and "No answer within 0.2s" in slow.error
    assert odd.status == STARTING


def test_malformed_metadata_is_normalised():
    odd = directory_of({"odd": odd_app()}).get("odd")
    assert odd.summary() | {"error": ""} == {
        "name": "odd", "kind": "model", "version": "", "description": "123", "tags": [],
        "status": STARTING, "healthy": False, "error": "", "page": "/services/odd",
        "service": "odd", "versions": [{"name": "odd", "version": "", "page": "/services/odd"}]}
    assert odd.steps == [] and odd.sample_input == {}


def test_answers_are_cached_for_the_ttl():
    calls = []
    app = odd_app()
    app.before_request(lambda: calls.append(1))
    directory = directory_of({"odd": app}, ttl=60)
    directory.snapshot(), directory.snapshot(), directory.get("odd")
    assert len(calls) == 1


def test_an_unknown_name_is_a_404():
    with pytest.raises(ServiceError) as caught:
        directory_of({"odd": odd_app()}).get("nope")
    assert caught.value.status == 404 and caught.value.details == {"known": ["odd"]}


def test_the_catalog_excludes_itself():
    directory = Directory({"catalog": ServiceEntry("catalog", "x", 1, "http://c"),
                           "a": ServiceEntry("a", "x", 2, "http://a")},
                          Client(urls={}), exclude=["catalog"])
    assert directory.names() == ["a"]


@pytest.mark.parametrize("error,expected", [
    (Unauthorized("no"), "a refused the catalog's API key; set CATALOG_API_KEY"),
    # as the pipe client raises them when the service never answered
    (UpstreamError("Could not reach a at http://10.0.0.1:1",
                   {"url": "http://10.0.0.1:1", "reached": False}), "a could not be reached."),
    (DeadlineExceeded("slow", {"url": "http://10.0.0.1:1", "reached": False}),
     "a did not answer in time."),
    (UpstreamError("Stage b failed"), "a answered 502 upstream_error: Stage b failed"),
    # the service's own answer, naming a URL it refused
    (InvalidInput("Refused http://x/", {"url": "http://x/", "reason": "unresolvable"}),
     "a answered 400 invalid_input: Refused http://x/"),
])
def test_failures_are_described_without_internal_urls(error, expected):
    assert describe_failure("a", error).startswith(expected)


@pytest.mark.parametrize("query,found", [("", True), ("Mood", True), ("mood fast", False),
                                         ("step_b", True), ("pipeline", True)])
def test_matches_every_word_in_name_description_tags_and_steps(query, found):
    info = ServiceInfo("a", "http://a", READY, {
        "description": "Finds the mood", "tags": ["nlp"],
        "pipeline": {"steps": [{"service": "step_a"},
                               {"parallel": {"x": {"service": "step_b"}}}]}})
    assert matches(info, query) is found


def test_step_services_walks_parallel_branches_and_ignores_junk():
    steps = [{"service": "a"}, {"parallel": {"x": {"service": "b"}, "y": {"parallel": {
        "z": {"service": "c"}}}}}, "junk", {"other": 1}]
    assert step_services(steps) == ["a", "b", "c"]


def test_each_deployment_lists_every_version_of_its_service():
    entries = {"a": ServiceEntry("a", "x:a", 9000, "http://a.invalid", version="2.0.0"),
               "a_v1_0_0": ServiceEntry("a_v1_0_0", "x:a", 9001, "http://a1.invalid",
                                        service="a", version="1.0.0")}
    apps = {name: odd_app() for name in entries}
    client = Client(urls={n: e.url for n, e in entries.items()}, local=apps, retries=0)
    infos = Directory(entries, client, ttl=0).snapshot()
    expected = [{"name": "a", "version": "2.0.0", "page": "/services/a"},
                {"name": "a_v1_0_0", "version": "1.0.0", "page": "/services/a_v1_0_0"}]
    assert [(i.summary()["service"], i.summary()["versions"]) for i in infos] == [
        ("a", expected), ("a", expected)]
