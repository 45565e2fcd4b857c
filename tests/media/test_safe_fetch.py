"""The safe fetcher: address checks, the allow-list, pinning, redirects and limits,
against a real local HTTP server."""
from __future__ import annotations

import ipaddress

import pytest

from common.core.errors import DeadlineExceeded, InvalidInput, PayloadTooLarge, UpstreamError
from common.media.safe_fetch import (FetchPolicy, SafeFetcher, classify, parse_allow_list,
                                       parse_allow_rule, system_resolver)
from tests.conftest import free_port
from tests.helpers.image_server import image_server, scene_bytes


@pytest.fixture(scope="module")
def server():
    return image_server()


@pytest.fixture
def fetcher(server):
    """Allowed to fetch from the test server only: its address *and* port."""
    return SafeFetcher(FetchPolicy(allow=parse_allow_list(server.allow_rule)))


@pytest.mark.parametrize("address,reason", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("169.254.169.254", "metadata"),
    ("169.254.1.1", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "shared"), ("100.100.100.200", "metadata"),
    ("::1", "loopback"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("ff02::1", "multicast"), ("::", "unspecified"), ("fd00:ec2::254", "metadata"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"), ("2002:7f00:1::", "loopback"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
])
def test_addresses_are_classified(address, reason):
    assert classify(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("url,reason", [
    ("http://127.0.0.1/x.png", "loopback"),
    ("http://10.0.0.1/x.png", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[::1]/x.png", "loopback"),
    ("http://[::ffff:127.0.0.1]/x.png", "loopback"),
    ("http://localhost/x.png", "loopback"),
    ("http://2130706433/x.png", "loopback"),           # 127.0.0.1 as one number
    ("http://metadata.google.internal/", "metadata"),
    ("ftp://example.com/x.png", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("http://user:secret@example.com/x.png", "credentials"),
    ("http://example.com:99999/x.png", "bad_url"),
])
def test_refused_destinations_name_the_reason(url, reason):
    with pytest.raises(InvalidInput) as caught:
        SafeFetcher().fetch(url)
    assert caught.value.status == 400
    assert caught.value.details["reason"] == reason, caught.value.message
    assert "Refused" in caught.value.message


def test_a_name_resolving_to_loopback_is_refused():
    resolver = lambda host, port: ["127.0.0.1"] if host == "evil.test" else []  # noqa: E731
    with pytest.raises(InvalidInput) as caught:
        SafeFetcher(resolver=resolver).fetch("http://evil.test/cat.png")
    assert caught.value.details["reason"] == "loopback"
    assert "evil.test resolves to 127.0.0.1" in caught.value.message


def test_every_resolved_address_must_be_public():
    resolver = lambda host, port: ["93.184.215.14", "10.0.0.7"]  # noqa: E731
    with pytest.raises(InvalidInput) as caught:
        SafeFetcher(resolver=resolver).fetch("http://mixed.test/cat.png")
    assert caught.value.details == {"url": "http://mixed.test/cat.png", "reason": "private",
                                    "address": "10.0.0.7"}


def test_the_system_resolver_finds_localhost():
    assert {"127.0.0.1", "::1"} & set(system_resolver("localhost", 80))


@pytest.mark.parametrize("entry,host,address,port,allowed", [
    ("10.0.0.0/8", "x", "10.2.3.4", 80, True),
    ("10.0.0.0/8", "x", "11.0.0.1", 80, False),
    ("127.0.0.1:8080", "x", "127.0.0.1", 8080, True),
    ("127.0.0.1:8080", "x", "127.0.0.1", 8081, False),
    ("[::1]:8080", "x", "::1", 8080, True),
    ("::1", "x", "::1", 9, True),
    ("images.internal", "images.internal", "10.0.0.5", 80, True),
    ("images.internal:8080", "images.internal", "10.0.0.5", 80, False),
    ("images.internal", "other.internal", "10.0.0.5", 80, False),
])
def test_allow_rules(entry, host, address, port, allowed):
    rule = parse_allow_rule(entry)
    assert rule.matches(host, ipaddress.ip_address(address), port) is allowed


def test_a_malformed_allow_rule_is_an_error():
    with pytest.raises(ValueError):
        parse_allow_rule("10.0.0.0/99:x")


def test_the_allowed_server_is_fetched(server, fetcher):
    for extension, kind in (("png", "image/png"), ("jpg", "image/jpeg"), ("gif", "image/gif")):
        fetched = fetcher.fetch(server.url(f"/scene/1.{extension}"))
        assert fetched.content_type == kind
        assert fetched.data == scene_bytes(1, extension)


def test_without_the_allow_list_the_local_server_is_refused(server):
    with pytest.raises(InvalidInput) as caught:
        SafeFetcher().fetch(server.url("/scene/1.png"))
    assert caught.value.details["reason"] == "loopback"


def test_allow_private_lets_the_local_server_through(server):
    fetched = SafeFetcher(FetchPolicy(allow_private=True)).fetch(server.url("/scene/1.png"))
    assert fetched.content_type == "image/png"


def test_allow_private_still_refuses_metadata():
    with pytest.raises(InvalidInput) as caught:
        SafeFetcher(FetchPolicy(allow_private=True)).fetch("http://169.254.169.254/")
    assert caught.value.details["reason"] == "metadata"


def test_the_connection_is_pinned_to_the_checked_address(server):
    """The name is resolved once per hop and the connection goes to that address with
    the original Host header (images.test has no DNS entry: only pinning reaches it)."""
    calls = []

    def resolver(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    policy = FetchPolicy(allow=parse_allow_list(server.allow_rule))
    fetched = SafeFetcher(policy, resolver).fetch(f"http://images.test:{server.port}/whoami.png")
    assert calls == ["images.test"]
    assert fetched.headers["X-Seen-Host"] == f"images.test:{server.port}"


@pytest.mark.parametrize("target,reason", [
    (f"http://127.0.0.1:{free_port()}/x.png", "loopback"),   # same host, another port
    ("http://localhost/x.png", "loopback"),
    ("http://10.0.0.1/x.png", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[::1]/x.png", "loopback"),
    ("http://[::ffff:127.0.0.1]:81/x.png", "loopback"),
])
def test_a_redirect_to_a_refused_address_is_refused(server, fetcher, target, reason):
    """The test server is allowed for the first hop only (its address and port); the
    redirect's target is checked like any URL and refused."""
    with pytest.raises(InvalidInput) as caught:
        fetcher.fetch(server.url(f"/redirect?to={target}"))
    assert caught.value.details["reason"] == reason
    assert caught.value.details["url"] == target


def test_a_redirect_location_with_spaces_and_unicode_is_quoted(server, fetcher):
    location = "/scene/0.png?note=a b ü"
    fetched = fetcher.fetch(server.url(f"/redirect?to={location}"))
    assert fetched.content_type == "image/png" and fetched.redirects == 1


def test_an_international_host_name_is_resolved_in_idna_form():
    seen = []
    resolver = lambda host, port: seen.append(host) or ["10.0.0.1"]  # noqa: E731
    with pytest.raises(InvalidInput):
        SafeFetcher(resolver=resolver).fetch("http://bücher.example/x.png")
    assert seen == ["xn--bcher-kva.example"]


def test_redirects_are_followed_up_to_the_limit(server, fetcher):
    fetched = fetcher.fetch(server.url("/hops/3"))
    assert fetched.redirects == 3 and fetched.url.endswith("/scene/0.png")
    with pytest.raises(InvalidInput) as caught:
        fetcher.fetch(server.url("/hops/4"))
    assert caught.value.details["reason"] == "too_many_redirects"


@pytest.mark.parametrize("path,error,reason", [
    ("/big.png", PayloadTooLarge, "too_large"),          # announced by Content-Length
    ("/endless.png", PayloadTooLarge, "too_large"),      # chunked: stopped while streaming
    ("/text", InvalidInput, "content_type"),
    ("/liar.png", InvalidInput, "not_an_image"),
    ("/missing.png", InvalidInput, "http_status"),
    ("/server-error.png", UpstreamError, "http_status"),
])
def test_limits_and_wrong_content_are_refused(server, path, error, reason):
    policy = FetchPolicy(allow=parse_allow_list(server.allow_rule), max_bytes=1_000_000)
    with pytest.raises(error) as caught:
        SafeFetcher(policy).fetch(server.url(path))
    assert caught.value.details["reason"] == reason


@pytest.mark.parametrize("path", ["/slow.png", "/trickle.png"])
def test_slow_answers_are_cut_off(server, path):
    policy = FetchPolicy(allow=parse_allow_list(server.allow_rule), read_timeout=0.5,
                         deadline=1.0)
    with pytest.raises(DeadlineExceeded) as caught:
        SafeFetcher(policy).fetch(server.url(path))
    assert caught.value.details["reason"] == "timeout"


def test_a_closed_port_is_unreachable(server):
    port = free_port()
    policy = FetchPolicy(allow=parse_allow_list(f"127.0.0.1:{port}"))
    with pytest.raises(UpstreamError) as caught:
        SafeFetcher(policy).fetch(f"http://127.0.0.1:{port}/x.png")
    assert caught.value.details["reason"] == "unreachable"


def test_the_policy_comes_from_configuration():
    policy = FetchPolicy.from_config({"ALLOW_PRIVATE": True, "ALLOW_LIST": "10.0.0.0/8, a.b:81",
                                      "FETCH_MAX_BYTES": 10, "FETCH_MAX_REDIRECTS": 1})
    assert policy.allow_private and len(policy.allow) == 2
    assert (policy.max_bytes, policy.max_redirects) == (10, 1)


def test_with_public_fetching_off_only_the_allow_list_is_fetched_and_nothing_resolved():
    from common.core.errors import InvalidInput
    from common.media.safe_fetch import FetchPolicy, SafeFetcher
    asked: list[str] = []
    fetcher = SafeFetcher(FetchPolicy.from_config({"ALLOW_PUBLIC": False,
                                                   "ALLOW_LIST": "images.internal:9"}),
                          resolver=lambda host, port: asked.append(host) or ["93.184.216.34"])
    for url in ("http://example.com/a.png", "http://93.184.216.34/a.png"):
        with pytest.raises(InvalidInput) as info:
            fetcher.check(url)
        assert info.value.details["reason"] == "not_allowed"
    assert asked == []  # with host rules only, no other name is even resolved
    by_address = SafeFetcher(FetchPolicy.from_config({"ALLOW_PUBLIC": False,
                                                      "ALLOW_LIST": "127.0.0.1:9"}))
    assert by_address.check("http://127.0.0.1:9/x.png").port == 9


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/x", "http://10.1.2.3:8101/predict",
                                 "http://[::ffff:10.0.0.1]/", "http://img.corp/a.png"])
def test_with_public_fetching_off_private_addresses_need_the_allow_list_too(url):
    from common.core.errors import InvalidInput
    from common.media.safe_fetch import FetchPolicy, SafeFetcher
    fetcher = SafeFetcher(FetchPolicy.from_config({
        "ALLOW_PUBLIC": False, "ALLOW_PRIVATE": True, "ALLOW_LIST": "images.internal"}),
        resolver=lambda host, port: ["10.1.1.1"])
    with pytest.raises(InvalidInput) as info:
        fetcher.check(url)
    assert info.value.details["reason"] == "not_allowed"


def test_with_public_fetching_off_a_network_rule_lets_a_name_in_its_network_through():
    from common.media.safe_fetch import FetchPolicy, SafeFetcher
    fetcher = SafeFetcher(FetchPolicy.from_config({"ALLOW_PUBLIC": False,
                                                   "ALLOW_LIST": "10.0.0.0/8"}),
                          resolver=lambda host, port: ["10.1.1.1"])
    assert str(fetcher.check("http://img.corp/a.png").address) == "10.1.1.1"
