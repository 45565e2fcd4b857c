"""Service identities (common/core/identity.py): a signed call verifies only for the
callee, route, request and moment it was signed for, once, with the caller's key."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.core import identity
from common.core.errors import Unauthorized
from common.core.identity import (IdentityError, ReplayGuard, Signer, Verifier,
                                  load_private_key, new_private_key, parse_public_keys,
                                  public_key_text)

NOW = 1_750_000_000.0
ALPHA, MALLORY = new_private_key(), new_private_key()
PUBLIC = parse_public_keys(f"alpha={public_key_text(ALPHA)}\n"
                           f"mallory={public_key_text(MALLORY)}")


def signer(name="alpha", key=ALPHA, at=NOW) -> Signer:
    return Signer(name, key, clock=lambda: at)


def verifier(at=NOW, names=("beta",), window=30.0) -> Verifier:
    return Verifier(PUBLIC, names, window, clock=lambda: at)


def header(**kwargs) -> str:
    return signer(**kwargs).header("beta", "POST", "/predict", "req-1")


def test_a_signed_call_verifies_as_its_caller():
    assert verifier().verify(header(), "POST", "/predict", "req-1") == "alpha"


def test_a_deployment_name_of_the_callee_is_accepted():
    token = signer().header("beta_v1_0_0", "POST", "/predict", "req-1")
    assert verifier(names=("beta", "beta_v1_0_0")).verify(
        token, "POST", "/predict", "req-1") == "alpha"


def _reason(call) -> str:
    with pytest.raises(IdentityError) as error:
        call()
    assert isinstance(error.value, Unauthorized) and error.value.status == 401
    return error.value.details["reason"]


@pytest.mark.parametrize("method, path, request_id", [
    ("GET", "/predict", "req-1"),          # another method
    ("POST", "/metadata", "req-1"),        # another route
    ("POST", "/predict", "req-2"),         # another request
])
def test_a_signature_moved_to_another_call_does_not_verify(method, path, request_id):
    reason = _reason(lambda: verifier().verify(header(), method, path, request_id))
    assert reason == "the signature does not verify"


def test_a_service_cannot_pass_for_another_without_its_key():
    # mallory signs as alpha with its own key: alpha's public key refuses it
    forged = header(name="alpha", key=MALLORY)
    assert _reason(lambda: verifier().verify(forged, "POST", "/predict", "req-1")) \
        == "the signature does not verify"


@pytest.mark.parametrize("tamper", [
    lambda h: h[:-2] + ("AA" if not h.endswith("AA") else "BB"),     # the signature
    lambda h: h.replace(".alpha.", ".mallory."),                     # the caller
    lambda h: h.replace(f".{int(NOW)}.", f".{int(NOW) + 1}."),       # the time
    lambda h: h[:h.rindex(".")] + ".",                               # no signature
])
def test_a_tampered_header_does_not_verify(tamper):
    reason = _reason(lambda: verifier().verify(tamper(header()), "POST", "/predict", "req-1"))
    assert reason == "the signature does not verify"


def test_a_call_signed_for_another_callee_is_refused():
    token = signer().header("gamma", "POST", "/predict", "req-1")
    assert "signed for gamma" in _reason(
        lambda: verifier().verify(token, "POST", "/predict", "req-1"))


def test_an_unknown_caller_is_refused():
    stranger = Signer("stranger", new_private_key(), clock=lambda: NOW)
    token = stranger.header("beta", "POST", "/predict", "req-1")
    assert "no public key" in _reason(lambda: verifier().verify(token, "POST", "/predict",
                                                                 "req-1"))


@pytest.mark.parametrize("signed_at", [NOW - 31, NOW + 31, NOW - 3600, 0])
def test_a_call_signed_outside_the_clock_window_is_refused(signed_at):
    token = header(at=signed_at)
    assert "the window is 30 s" in _reason(
        lambda: verifier().verify(token, "POST", "/predict", "req-1"))


@pytest.mark.parametrize("signed_at", [NOW - 29, NOW + 29])
def test_a_call_signed_within_the_window_is_accepted(signed_at):
    assert verifier().verify(header(at=signed_at), "POST", "/predict", "req-1") == "alpha"


def test_a_replayed_header_is_refused_within_the_window_and_expired_after_it():
    token, guard = header(), ReplayGuard()
    first = Verifier(PUBLIC, ["beta"], 30.0, clock=lambda: NOW, guard=guard)
    assert first.verify(token, "POST", "/predict", "req-1") == "alpha"
    assert "already used" in _reason(lambda: first.verify(token, "POST", "/predict", "req-1"))
    later = Verifier(PUBLIC, ["beta"], 30.0, clock=lambda: NOW + 29, guard=guard)
    assert "already used" in _reason(lambda: later.verify(token, "POST", "/predict", "req-1"))
    after = Verifier(PUBLIC, ["beta"], 30.0, clock=lambda: NOW + 31, guard=guard)
    assert "the window" in _reason(lambda: after.verify(token, "POST", "/predict", "req-1"))
    # each call is signed with a fresh nonce, so two calls in one second both pass
    assert first.verify(header(), "POST", "/predict", "req-1") == "alpha"


def test_the_replay_guard_forgets_what_has_expired_and_stays_bounded():
    guard = ReplayGuard(limit=3)
    for index in range(5):
        assert guard.first_time("alpha", f"n{index}", until=NOW + 30, now=NOW)
    assert len(guard._seen) == 3
    assert guard.first_time("alpha", "fresh", until=NOW + 90, now=NOW + 60)
    assert list(guard._seen) == [("alpha", "fresh")]   # the expired ones are gone


@pytest.mark.parametrize("token", [
    "", "v1", "v2.alpha.beta.1.0123456789abcdef01234567.sig",
    "v1.Alpha.beta.1.0123456789abcdef01234567.sig", "v1.alpha.beta.x.0123456789abcdef01234567.s",
    "v1.alpha.beta.1.short.sig", "v1.alpha.beta.1.0123456789abcdef01234567",
    "v1.alpha.beta.1.0123456789abcdef01234567.sig.extra",
])
def test_a_malformed_header_is_refused(token):
    assert _reason(lambda: verifier().verify(token, "POST", "/predict", "req-1")) == "malformed"


def test_a_rotated_key_verifies_with_either_published_key():
    new = new_private_key()
    public = parse_public_keys(f"alpha={public_key_text(ALPHA)}, alpha={public_key_text(new)}")
    check = Verifier(public, ["beta"], clock=lambda: NOW)
    for key in (ALPHA, new):
        assert check.verify(header(key=key), "POST", "/predict", "req-1") == "alpha"


def test_private_keys_load_from_base64_or_pem():
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    import base64
    for text in (pem, base64.b64encode(raw).decode() + "\n",
                 base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert public_key_text(load_private_key(text)) == public_key_text(key)


@pytest.mark.parametrize("text, message", [
    ("not base64!", "not base64"), ("AAAA", "is 3 bytes"),
])
def test_a_bad_private_key_says_why(text, message):
    with pytest.raises(ValueError, match=message):
        load_private_key(text)


@pytest.mark.parametrize("text", ["alpha", "Alpha=AAAA", f"alpha={public_key_text(ALPHA)[:-4]}"])
def test_a_bad_public_key_list_says_why(text):
    with pytest.raises(ValueError):
        parse_public_keys(text)


def test_public_key_lists_take_comments_and_blank_lines():
    text = f"# the services\n\nalpha={public_key_text(ALPHA)}  # rotated 2025\n"
    assert list(parse_public_keys(text)) == ["alpha"]


def test_calls_are_signed_only_for_an_acting_service_that_holds_a_key():
    identity.register_signer(Signer("alpha", ALPHA))
    try:
        assert identity.call_signer("beta", "POST", "/predict") is None    # nobody acts
        token = identity.act_as("alpha")
        try:
            sign = identity.call_signer("beta", "POST", "/predict")
            assert Verifier(PUBLIC, ["beta"]).verify(sign("r"), "POST", "/predict", "r") \
                == "alpha"
            assert identity.call_signer("http://not.a.name", "POST", "/") is None
        finally:
            identity.stop_acting(token)
        token = identity.act_as("keyless")
        try:
            assert identity.call_signer("beta", "POST", "/predict") is None
        finally:
            identity.stop_acting(token)
    finally:
        identity.forget_signer("alpha")
