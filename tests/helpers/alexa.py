"""Fixtures for Alexa request verification: a test PKI, a local fetcher, signed requests.

Reusable for an end-to-end test of a skill service: build the service's verifier as
``RequestVerifier([SKILL_ID], trust_roots=[test_pki.root], fetcher=cert_fetcher,
clock=fake_clock)`` and send what ``make_signed_request(body)`` returns.

No network: certificates are made here with ``cryptography`` (EC P-256 CAs, an RSA-2048
signing key as Amazon uses), once per session, valid around the real current time so a
verifier with the real clock accepts them too.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.alexa.verify import CERT_URL_HEADER, SIGNATURE_HEADER, RequestVerifier

SKILL_ID = "amzn1.ask.skill.00000000-test-skill"
OTHER_SKILL_ID = "amzn1.ask.skill.11111111-other-skill"
CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-test.pem"
EXPIRED_URL = "https://s3.amazonaws.com/echo.api/expired.pem"
WRONG_SAN_URL = "https://s3.amazonaws.com/echo.api/wrong-san.pem"
UNTRUSTED_URL = "https://s3.amazonaws.com/echo.api/untrusted.pem"
ECHO_API = "echo-api.amazon.com"

# the moment the test PKI is built around (second precision, like certificates)
EPOCH = datetime.now(timezone.utc).replace(microsecond=0)

AnyKey = Any  # an EC or RSA private key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelchain tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=not ca, data_encipherment=False,
                         key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def make_cert(subject: str, key: AnyKey, issuer: x509.Certificate | None, issuer_key: AnyKey,
              *, ca: bool, san: str | None = None, valid_from: datetime | None = None,
              valid_days: float = 365) -> x509.Certificate:
    """A certificate with web-PKI extensions (self-signed if ``issuer`` is None)."""
    start = valid_from or EPOCH - timedelta(days=30)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer.subject if issuer else _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_key_usage(ca=ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_key.public_key()), critical=False))
    if not ca:
        builder = (builder
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]),
                                  critical=False)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(san or ECHO_API)]),
                                  critical=False))
    return builder.sign(issuer_key, hashes.SHA256())


def to_pem(*certs: x509.Certificate) -> bytes:
    """A PEM bundle of ``certs`` in order."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class AlexaTestPKI:
    """A root CA, an intermediate, the signing certificate and bad variants.

    ``chains`` maps each test URL to its PEM bundle (signing certificate first). The
    URLs, skill ids and the epoch are attributes too, so tests need not import conftest.
    """

    url: ClassVar[str] = CERT_URL
    expired_url: ClassVar[str] = EXPIRED_URL
    wrong_san_url: ClassVar[str] = WRONG_SAN_URL
    untrusted_url: ClassVar[str] = UNTRUSTED_URL
    skill_id: ClassVar[str] = SKILL_ID
    other_skill_id: ClassVar[str] = OTHER_SKILL_ID
    epoch: ClassVar[datetime] = EPOCH

    root: x509.Certificate
    intermediate: x509.Certificate
    signing_cert: x509.Certificate
    signing_key: rsa.RSAPrivateKey
    other_key: rsa.RSAPrivateKey
    chains: dict[str, bytes] = field(default_factory=dict)

    def sign(self, body: bytes, key: rsa.RSAPrivateKey | None = None) -> str:
        """The base64 Signature-256 of ``body`` (by the signing key unless ``key``)."""
        signature = (key or self.signing_key).sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def verifying_env(self, folder: Path) -> dict[str, str]:
        """Write the root and every chain into ``folder``; return the environment that
        makes an alexa_skill under gunicorn verify with this PKI, offline (its
        certificate URLs are read from that folder)."""
        from cryptography.hazmat.primitives.serialization import Encoding
        (folder / "roots.pem").write_bytes(self.root.public_bytes(Encoding.PEM))
        for url, chain in self.chains.items():
            (folder / url.rsplit("/", 1)[-1]).write_bytes(chain)
        return {"ALEXA_SKILL_VERIFY": "true", "ALEXA_SKILL_SKILL_IDS": self.skill_id,
                "ALEXA_SKILL_TRUST_ROOTS": str(folder / "roots.pem"),
                "ALEXA_SKILL_CERT_FILES": str(folder)}


def build_test_pki() -> AlexaTestPKI:
    """Make every certificate the tests need (about 0.1 s)."""
    root_key, inter_key = ec.generate_private_key(ec.SECP256R1()), \
        ec.generate_private_key(ec.SECP256R1())
    rogue_key, rogue_inter_key = ec.generate_private_key(ec.SECP256R1()), \
        ec.generate_private_key(ec.SECP256R1())
    signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = make_cert("Test Root CA", root_key, None, root_key, ca=True, valid_days=3650)
    inter = make_cert("Test Intermediate CA", inter_key, root, root_key, ca=True,
                      valid_days=1825)
    signing = make_cert("echo-api test", signing_key, inter, inter_key, ca=False)
    expired = make_cert("echo-api expired", signing_key, inter, inter_key, ca=False,
                        valid_from=EPOCH - timedelta(days=400), valid_days=365)
    wrong_san = make_cert("elsewhere", signing_key, inter, inter_key, ca=False,
                          san="echo-api.example.com")
    # same names as the real chain, but under a root nobody trusts
    rogue_root = make_cert("Test Root CA", rogue_key, None, rogue_key, ca=True)
    rogue_inter = make_cert("Test Intermediate CA", rogue_inter_key, rogue_root, rogue_key,
                            ca=True)
    rogue_signing = make_cert("echo-api test", signing_key, rogue_inter, rogue_inter_key,
                              ca=False)
    pki = AlexaTestPKI(root, inter, signing, signing_key, other_key)
    pki.chains = {CERT_URL: to_pem(signing, inter), EXPIRED_URL: to_pem(expired, inter),
                  WRONG_SAN_URL: to_pem(wrong_san, inter),
                  UNTRUSTED_URL: to_pem(rogue_signing, rogue_inter, rogue_root)}
    return pki


class FakeClock:
    """A settable clock for the verifier (timezone-aware UTC)."""

    def __init__(self, now: datetime = EPOCH):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value)."""
        self.now += timedelta(seconds=seconds)


class CountingFetcher:
    """A certificate fetcher serving PEM bundles from a dict and recording each URL."""

    def __init__(self, chains: dict[str, bytes]):
        self.chains = dict(chains)
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.chains:
            raise LookupError(f"404 for {url}")  # like a missing S3 object
        return self.chains[url]


def alexa_envelope(request: dict, *, timestamp: datetime | None = None,
                   application_id: str = SKILL_ID, attributes: dict | None = None,
                   new: bool = True) -> dict:
    """A full Alexa request envelope around ``request`` (type, intent, ... fields)."""
    stamp = (timestamp or EPOCH).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    application = {"applicationId": application_id}
    user = {"userId": "amzn1.ask.account.TESTUSER"}
    return {
        "version": "1.0",
        "session": {"new": new, "sessionId": "amzn1.echo-api.session.TEST",
                    "application": application, "attributes": attributes or {},
                    "user": user},
        "context": {"System": {"application": application, "user": user,
                               "device": {"deviceId": "amzn1.ask.device.TEST"}}},
        "request": {"requestId": f"amzn1.echo-api.request.{uuid.uuid4()}",
                    "timestamp": stamp, "locale": "en-US", **request},
    }


def launch_body(**kwargs: Any) -> dict:
    """A LaunchRequest envelope (keyword arguments as for :func:`alexa_envelope`)."""
    return alexa_envelope({"type": "LaunchRequest"}, **kwargs)


def intent_body(name: str, slots: dict[str, str | None] | None = None, **kwargs: Any) -> dict:
    """An IntentRequest envelope with ``slots`` (name -> spoken value, None if unfilled)."""
    slot_objects = {slot: ({"name": slot, "value": value, "confirmationStatus": "NONE"}
                           if value is not None else {"name": slot,
                                                      "confirmationStatus": "NONE"})
                    for slot, value in (slots or {}).items()}
    return alexa_envelope({"type": "IntentRequest", "dialogState": "COMPLETED",
                           "intent": {"name": name, "confirmationStatus": "NONE",
                                      "slots": slot_objects}}, **kwargs)


def session_ended_body(reason: str = "USER_INITIATED", error: dict | None = None,
                       **kwargs: Any) -> dict:
    """A SessionEndedRequest envelope."""
    request: dict[str, Any] = {"type": "SessionEndedRequest", "reason": reason}
    if error is not None:
        request["error"] = error
    return alexa_envelope(request, new=False, **kwargs)


class AlexaBodies:
    """The request-body builders, handed to tests as the ``alexa_bodies`` fixture."""

    envelope = staticmethod(alexa_envelope)
    launch = staticmethod(launch_body)
    intent = staticmethod(intent_body)
    session_ended = staticmethod(session_ended_body)


SignedRequest = Callable[..., "tuple[dict[str, str], bytes]"]


@pytest.fixture(scope="session", name="test_pki")
def _test_pki() -> AlexaTestPKI:
    """The session's test PKI (see :class:`AlexaTestPKI`)."""
    return build_test_pki()


@pytest.fixture(name="fake_clock")
def _fake_clock() -> FakeClock:
    """A clock standing at :data:`EPOCH`, the time the test certificates are built around."""
    return FakeClock()


@pytest.fixture(name="cert_fetcher")
def _cert_fetcher(test_pki: AlexaTestPKI) -> CountingFetcher:
    """A fetcher serving every test chain by URL, counting calls."""
    return CountingFetcher(test_pki.chains)


@pytest.fixture(name="verifier")
def _verifier(test_pki: AlexaTestPKI, cert_fetcher: CountingFetcher,
              fake_clock: FakeClock) -> RequestVerifier:
    """A verifier trusting only the test root, with the local fetcher and fake clock."""
    return RequestVerifier([SKILL_ID], trust_roots=[test_pki.root], fetcher=cert_fetcher,
                           clock=fake_clock)


@pytest.fixture(name="make_signed_request")
def _make_signed_request(test_pki: AlexaTestPKI) -> SignedRequest:
    """``make_signed_request(body_dict, url=CERT_URL, key=None) -> (headers, body_bytes)``.

    The body is serialised once and signed with the test signing key (or ``key``).
    """
    def make(body: dict, *, url: str = CERT_URL,
             key: rsa.RSAPrivateKey | None = None) -> tuple[dict[str, str], bytes]:
        raw = json.dumps(body).encode("utf-8")
        headers = {CERT_URL_HEADER: url, SIGNATURE_HEADER: test_pki.sign(raw, key),
                   "Content-Type": "application/json"}
        return headers, raw
    return make


@pytest.fixture(name="alexa_bodies")
def _alexa_bodies() -> type[AlexaBodies]:
    """Builders for request envelopes: ``.launch()``, ``.intent(name, slots)``, ..."""
    return AlexaBodies
