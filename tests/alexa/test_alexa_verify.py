"""Alexa request verification: what is accepted, what is refused and why, the cache."""
from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

import pytest
from cryptography import x509

from common.alexa.verify import (
    CERT_URL_HEADER,
    SIGNATURE_HEADER,
    CertCache,
    NoVerification,
    RequestVerifier,
    normalize_cert_url,
    remove_dot_segments,
)
from common.core.errors import InvalidInput


def refused(verifier, headers, body, reason: str) -> InvalidInput:
    """Assert verify() raises InvalidInput (400) with ``reason``; return the error."""
    with pytest.raises(InvalidInput) as info:
        verifier.verify(headers, body)
    assert info.value.status == 400
    assert info.value.details["reason"] == reason, info.value.message
    return info.value


# --- accepted --------------------------------------------------------------------------

def test_valid_launch_request_is_accepted(verifier, make_signed_request, alexa_bodies):
    body = alexa_bodies.launch()
    headers, raw = make_signed_request(body)
    assert verifier.verify(headers, raw) == body


def test_valid_intent_request_with_slots_is_accepted(verifier, make_signed_request,
                                                     alexa_bodies):
    body = alexa_bodies.intent("SearchIntent", {"query": "sentiment of cats", "n": None})
    headers, raw = make_signed_request(body)
    document = verifier.verify(headers, raw)
    assert document["request"]["intent"]["slots"]["query"]["value"] == "sentiment of cats"


def test_valid_session_ended_request_is_accepted(verifier, make_signed_request,
                                                 alexa_bodies):
    headers, raw = make_signed_request(alexa_bodies.session_ended("EXCEEDED_MAX_REPROMPTS"))
    assert verifier.verify(headers, raw)["request"]["type"] == "SessionEndedRequest"


def test_headers_are_matched_case_insensitively(verifier, make_signed_request, alexa_bodies):
    headers, raw = make_signed_request(alexa_bodies.launch())
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verifier.verify(lowered, raw)["request"]["type"] == "LaunchRequest"


def test_application_id_falls_back_to_the_session(verifier, make_signed_request,
                                                  alexa_bodies, test_pki):
    body = alexa_bodies.launch()
    del body["context"]
    headers, raw = make_signed_request(body)
    assert verifier.verify(headers, raw)["session"]["application"]["applicationId"] \
        == test_pki.skill_id


def test_timestamp_at_the_edge_of_the_tolerance_is_accepted(verifier, make_signed_request,
                                                            alexa_bodies, fake_clock):
    headers, raw = make_signed_request(alexa_bodies.launch())
    fake_clock.advance(150)
    assert verifier.verify(headers, raw)


# --- refused: body and signature -------------------------------------------------------

def test_tampered_body_is_refused(verifier, make_signed_request, alexa_bodies):
    headers, raw = make_signed_request(alexa_bodies.intent("AMAZON.HelpIntent"))
    tampered = raw.replace(b"AMAZON.HelpIntent", b"AMAZON.StopIntent")
    refused(verifier, headers, tampered, "bad_signature")


def test_signature_by_another_key_is_refused(verifier, make_signed_request, alexa_bodies,
                                             test_pki):
    headers, raw = make_signed_request(alexa_bodies.launch(), key=test_pki.other_key)
    refused(verifier, headers, raw, "bad_signature")


@pytest.mark.parametrize("signature", ["not base64!!", "AAA", "QUJD\nREVG", "%%%%"],
                         ids=["punctuation", "bad-padding", "newline", "percent"])
def test_non_base64_signature_is_refused(verifier, make_signed_request, alexa_bodies,
                                         cert_fetcher, signature):
    headers, raw = make_signed_request(alexa_bodies.launch())
    headers[SIGNATURE_HEADER] = signature
    refused(verifier, headers, raw, "bad_signature")
    assert cert_fetcher.calls == []


def test_empty_signature_is_refused(verifier, make_signed_request, alexa_bodies):
    headers, raw = make_signed_request(alexa_bodies.launch())
    headers[SIGNATURE_HEADER] = base64.b64encode(b"").decode() + " "
    refused(verifier, headers, raw, "missing_header")


@pytest.mark.parametrize("header", [CERT_URL_HEADER, SIGNATURE_HEADER])
def test_missing_header_is_refused(verifier, make_signed_request, alexa_bodies,
                                   cert_fetcher, header):
    headers, raw = make_signed_request(alexa_bodies.launch())
    del headers[header]
    error = refused(verifier, headers, raw, "missing_header")
    assert error.details["header"] == header
    assert cert_fetcher.calls == []


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"no": "request"}',
                                 b'{"request": "LaunchRequest"}'],
                         ids=["text", "not-utf8", "list", "no-request", "request-not-object"])
def test_body_that_is_not_an_alexa_envelope_is_refused(verifier, test_pki, raw):
    headers = {CERT_URL_HEADER: test_pki.url, SIGNATURE_HEADER: test_pki.sign(raw)}
    refused(verifier, headers, raw, "bad_json")


# --- refused: the certificate URL, before any download ---------------------------------

BAD_URLS = {
    "http-scheme": "http://s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "other-host": "https://notamazon.com/echo.api/echo-api-cert.pem",
    "host-suffix": "https://s3.amazonaws.com.evil.com/echo.api/echo-api-cert.pem",
    "userinfo": "https://evil@s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "upper-path": "https://s3.amazonaws.com/ECHO.API/echo-api-cert.pem",
    "dot-dot-out": "https://s3.amazonaws.com/echo.api/../x",
    "encoded-dot-dot": "https://s3.amazonaws.com/echo.api/%2E%2e/x",
    "port-563": "https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem",
    "bad-port": "https://s3.amazonaws.com:abc/echo.api/echo-api-cert.pem",
    "no-prefix-slash": "https://s3.amazonaws.com/echo.api",
    "other-path": "https://s3.amazonaws.com/invalid.path/echo-api-cert.pem",
    "not-a-url": "echo.api/cert",
}


@pytest.mark.parametrize("url", list(BAD_URLS.values()), ids=list(BAD_URLS))
def test_bad_certificate_url_is_refused_without_download(verifier, make_signed_request,
                                                         alexa_bodies, cert_fetcher, url):
    headers, raw = make_signed_request(alexa_bodies.launch(), url=url)
    refused(verifier, headers, raw, "bad_cert_url")
    assert cert_fetcher.calls == []


GOOD_URLS = {
    "upper-scheme-host": "HTTPS://S3.AMAZONAWS.COM/echo.api/cert",
    "port-443": "https://s3.amazonaws.com:443/echo.api/cert",
    "dot-dot-back-in": "https://s3.amazonaws.com/echo.api/../echo.api/cert",
    "dot": "https://s3.amazonaws.com/echo.api/./cert",
}


@pytest.mark.parametrize("url", list(GOOD_URLS.values()), ids=list(GOOD_URLS))
def test_equivalent_certificate_urls_are_accepted(verifier, make_signed_request,
                                                  alexa_bodies, cert_fetcher, test_pki, url):
    cert_fetcher.chains["https://s3.amazonaws.com/echo.api/cert"] = test_pki.chains[test_pki.url]
    headers, raw = make_signed_request(alexa_bodies.launch(), url=url)
    assert verifier.verify(headers, raw)
    assert cert_fetcher.calls == ["https://s3.amazonaws.com/echo.api/cert"]  # canonical form


@pytest.mark.parametrize("path, expected", [
    ("/a/b/c/./../../g", "/a/g"), ("mid/content=5/../6", "mid/6"), ("/..", "/"),
    ("/echo.api/../../echo.api/x", "/echo.api/x"), ("/a/.", "/a/"), ("", "")])
def test_remove_dot_segments_follows_rfc_3986(path, expected):
    assert remove_dot_segments(path) == expected


def test_normalized_url_keeps_the_query():
    assert normalize_cert_url("https://s3.amazonaws.com/echo.api/c.pem?v=2") \
        == "https://s3.amazonaws.com/echo.api/c.pem?v=2"


# --- refused: the certificate chain ----------------------------------------------------

@pytest.mark.parametrize("url_attr, reason", [
    ("expired_url", "cert_not_in_date"),
    ("wrong_san_url", "bad_cert_san"),
    ("untrusted_url", "untrusted_cert_chain"),
])
def test_bad_certificate_chain_is_refused(verifier, make_signed_request, alexa_bodies,
                                          test_pki, url_attr, reason):
    headers, raw = make_signed_request(alexa_bodies.launch(), url=getattr(test_pki, url_attr))
    refused(verifier, headers, raw, reason)


def test_chain_without_its_intermediate_is_refused(verifier, make_signed_request,
                                                   alexa_bodies, cert_fetcher, test_pki):
    from cryptography.hazmat.primitives.serialization import Encoding
    cert_fetcher.chains[test_pki.url] = test_pki.signing_cert.public_bytes(Encoding.PEM)
    headers, raw = make_signed_request(alexa_bodies.launch())
    refused(verifier, headers, raw, "untrusted_cert_chain")


def test_signing_cert_not_yet_valid_is_refused(verifier, make_signed_request, alexa_bodies,
                                               fake_clock):
    fake_clock.advance(-31 * 86400)  # the test certificates start 30 days before EPOCH
    body = alexa_bodies.launch(timestamp=fake_clock.now)
    headers, raw = make_signed_request(body)
    refused(verifier, headers, raw, "cert_not_in_date")


@pytest.mark.parametrize("pem", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                 b"-----END CERTIFICATE-----\n"], ids=["empty", "text", "bad"])
def test_unparseable_chain_is_refused(verifier, make_signed_request, alexa_bodies,
                                      cert_fetcher, test_pki, pem):
    cert_fetcher.chains[test_pki.url] = pem
    headers, raw = make_signed_request(alexa_bodies.launch())
    refused(verifier, headers, raw, "bad_cert_chain")


def test_failed_download_is_refused(verifier, make_signed_request, alexa_bodies):
    url = "https://s3.amazonaws.com/echo.api/missing.pem"
    headers, raw = make_signed_request(alexa_bodies.launch(), url=url)
    error = refused(verifier, headers, raw, "cert_fetch_failed")
    assert isinstance(error.__cause__, LookupError)  # chained, not leaked


def test_real_system_store_does_not_trust_the_test_root(make_signed_request, alexa_bodies,
                                                       cert_fetcher, fake_clock, test_pki):
    verifier = RequestVerifier([test_pki.skill_id], fetcher=cert_fetcher, clock=fake_clock)
    headers, raw = make_signed_request(alexa_bodies.launch())
    refused(verifier, headers, raw, "untrusted_cert_chain")


# --- refused: timestamp and application id ---------------------------------------------

@pytest.mark.parametrize("offset_s", [-151, 151, -3600, 86400], ids=[
    "stale", "future", "an-hour-old", "a-day-ahead"])
def test_timestamp_out_of_tolerance_is_refused(verifier, make_signed_request, alexa_bodies,
                                               test_pki, offset_s):
    body = alexa_bodies.launch(timestamp=test_pki.epoch + timedelta(seconds=offset_s))
    headers, raw = make_signed_request(body)
    refused(verifier, headers, raw, "bad_timestamp")


@pytest.mark.parametrize("stamp", [None, 1700000000000, "yesterday"],
                         ids=["missing", "number", "not-iso"])
def test_bad_timestamp_is_refused(verifier, make_signed_request, alexa_bodies, stamp):
    body = alexa_bodies.launch()
    body["request"]["timestamp"] = stamp
    headers, raw = make_signed_request(body)
    refused(verifier, headers, raw, "bad_timestamp")


def test_wrong_application_id_is_refused(verifier, make_signed_request, alexa_bodies,
                                         test_pki):
    headers, raw = make_signed_request(
        alexa_bodies.launch(application_id=test_pki.other_skill_id))
    refused(verifier, headers, raw, "wrong_application_id")


def test_missing_application_id_is_refused(verifier, make_signed_request, alexa_bodies):
    body = alexa_bodies.launch()
    del body["context"], body["session"]
    headers, raw = make_signed_request(body)
    refused(verifier, headers, raw, "wrong_application_id")


# --- the certificate cache -------------------------------------------------------------

def test_second_request_uses_the_cached_chain(verifier, make_signed_request, alexa_bodies,
                                              cert_fetcher):
    for _ in range(3):
        headers, raw = make_signed_request(alexa_bodies.launch())
        verifier.verify(headers, raw)
    assert len(cert_fetcher.calls) == 1


def test_cache_entry_expires_after_max_age(make_signed_request, alexa_bodies, cert_fetcher,
                                           fake_clock, test_pki):
    verifier = RequestVerifier([test_pki.skill_id], trust_roots=[test_pki.root],
                               fetcher=cert_fetcher, clock=fake_clock,
                               cache=CertCache(max_age_s=600))
    verifier.verify(*make_signed_request(alexa_bodies.launch()))
    fake_clock.advance(599)
    verifier.verify(*make_signed_request(alexa_bodies.launch(timestamp=fake_clock.now)))
    assert len(cert_fetcher.calls) == 1
    fake_clock.advance(1)
    verifier.verify(*make_signed_request(alexa_bodies.launch(timestamp=fake_clock.now)))
    assert len(cert_fetcher.calls) == 2


def test_cache_entry_never_outlives_the_signing_certificate(test_pki, fake_clock):
    cache = CertCache(max_age_s=10 * 365 * 86400)
    chain = [test_pki.signing_cert, test_pki.intermediate, test_pki.root]
    entry = cache.put(test_pki.url, chain, fake_clock.now)
    assert entry.expires_at == test_pki.signing_cert.not_valid_after_utc
    assert cache.get(test_pki.url, entry.expires_at - timedelta(seconds=1)) is entry
    assert cache.get(test_pki.url, entry.expires_at) is None


def test_expired_certificate_is_refused_once_the_cache_entry_expires(
        verifier, make_signed_request, alexa_bodies, cert_fetcher, fake_clock, test_pki):
    verifier.verify(*make_signed_request(alexa_bodies.launch()))
    fake_clock.now = test_pki.signing_cert.not_valid_after_utc + timedelta(seconds=1)
    body = alexa_bodies.launch(timestamp=fake_clock.now)
    refused(verifier, *make_signed_request(body), "cert_not_in_date")
    assert len(cert_fetcher.calls) == 2


def test_refused_chain_is_not_cached(verifier, make_signed_request, alexa_bodies,
                                     cert_fetcher, test_pki):
    for _ in range(2):
        headers, raw = make_signed_request(alexa_bodies.launch(), url=test_pki.wrong_san_url)
        refused(verifier, headers, raw, "bad_cert_san")
    assert len(cert_fetcher.calls) == 2


def test_cache_is_bounded(test_pki, fake_clock):
    cache = CertCache(max_entries=2)
    chain = [test_pki.signing_cert, test_pki.intermediate]
    for name in ("a", "b", "c"):
        cache.put(name, chain, fake_clock.now)
    assert cache.get("a", fake_clock.now) is None
    assert cache.get("c", fake_clock.now) is not None


# --- switched off ----------------------------------------------------------------------

def test_disabled_verification_warns_and_still_parses(caplog, alexa_bodies):
    caplog.set_level(logging.WARNING, logger="common.alexa.verify")
    verifier = RequestVerifier.disabled()
    assert isinstance(verifier, NoVerification)
    assert "DISABLED" in caplog.text
    caplog.clear()
    body = alexa_bodies.launch()
    assert verifier.verify({}, json.dumps(body).encode()) == body
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    with pytest.raises(InvalidInput):
        verifier.verify({}, b"not json")


def test_disabled_verification_can_still_check_the_skill_id(alexa_bodies, test_pki):
    verifier = NoVerification([test_pki.skill_id])
    body = alexa_bodies.launch(application_id=test_pki.other_skill_id)
    with pytest.raises(InvalidInput):
        verifier.verify({}, json.dumps(body).encode())


def test_verifier_needs_skill_ids_and_roots(test_pki):
    with pytest.raises(ValueError):
        RequestVerifier([], trust_roots=[test_pki.root])
    with pytest.raises(ValueError):
        RequestVerifier(["x"], trust_roots=[])


def test_system_trust_roots_are_loaded():
    from common.alexa.verify import system_trust_roots
    roots = system_trust_roots()
    assert roots and all(isinstance(root, x509.Certificate) for root in roots)


def test_concurrent_requests_all_verify(verifier, make_signed_request, alexa_bodies,
                                        cert_fetcher):
    from concurrent.futures import ThreadPoolExecutor
    requests_ = [make_signed_request(alexa_bodies.launch()) for _ in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda args: verifier.verify(*args), requests_))
    assert len(results) == 16 and 1 <= len(cert_fetcher.calls) <= 4


# --- the default fetcher (requests.get patched: no network) ----------------------------

class FakeResponse:
    """Just enough of requests.Response for default_fetcher."""

    def __init__(self, status_code: int, chunks: list[bytes]):
        self.status_code, self.chunks = status_code, chunks

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def iter_content(self, chunk_size: int):
        return iter(self.chunks)


def patch_get(monkeypatch, response: FakeResponse) -> list[dict]:
    calls: list[dict] = []

    def fake_get(url, **kwargs):
        calls.append({"url": url, **kwargs})
        return response
    monkeypatch.setattr("common.alexa.verify.requests.get", fake_get)
    return calls


def test_default_fetcher_downloads_without_redirects_and_with_timeout(monkeypatch):
    from common.alexa.verify import default_fetcher
    calls = patch_get(monkeypatch, FakeResponse(200, [b"PEM ", b"DATA"]))
    assert default_fetcher("https://s3.amazonaws.com/echo.api/c.pem") == b"PEM DATA"
    assert calls[0]["allow_redirects"] is False and calls[0]["timeout"]
    assert "verify" not in calls[0]  # TLS verification stays on


@pytest.mark.parametrize("response", [FakeResponse(404, []), FakeResponse(302, []),
                                      FakeResponse(200, [b"x" * 40_000] * 2)],
                         ids=["not-found", "redirect", "too-big"])
def test_default_fetcher_failures_become_invalid_input(monkeypatch, make_signed_request,
                                                       alexa_bodies, test_pki, fake_clock,
                                                       response):
    patch_get(monkeypatch, response)
    verifier = RequestVerifier([test_pki.skill_id], trust_roots=[test_pki.root],
                               clock=fake_clock)
    refused(verifier, *make_signed_request(alexa_bodies.launch()), "cert_fetch_failed")
