"""Verifying that a request to our Alexa skill endpoint really comes from Amazon.

Amazon certifies a self-hosted (non-Lambda) skill endpoint only if it checks every
request before acting on it. :class:`RequestVerifier` does those checks on the raw body,
in this order, cheapest and download-free first:

1. both headers present (``SignatureCertChainUrl``, ``Signature-256``);
2. the certificate URL: ``https`` on ``s3.amazonaws.com`` (port 443 if any), path under
   ``/echo.api/`` after removing dot segments; refused before anything is downloaded;
3. the signature header is base64;
4. the certificate chain at that URL (cached per URL): the signing certificate is in
   date and names ``echo-api.amazon.com``; the chain leads to a trusted root;
5. the signature: RSA PKCS#1 v1.5 with SHA-256 over the raw body;
6. the body is a JSON object whose ``request.timestamp`` is within the tolerance;
7. its application id is one of ours.

Every failure is an :class:`~common.core.errors.InvalidInput` (HTTP 400) with a ``reason``.

Chain building uses ``cryptography.x509.verification`` (the web-PKI verifier: signatures,
validity dates of every certificate on the path, CA basic constraints and key usage,
path length, SAN match). The leaf's dates and SAN are also checked by hand first, so
the two commonest failures get their own clear message.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import ssl
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Protocol
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from common.core.errors import InvalidInput

log = logging.getLogger(__name__)

CERT_URL_HEADER = "SignatureCertChainUrl"
SIGNATURE_HEADER = "Signature-256"
CERT_HOST = "s3.amazonaws.com"
CERT_PATH_PREFIX = "/echo.api/"
ECHO_API_DOMAIN = "echo-api.amazon.com"
DEFAULT_TOLERANCE_S = 150
DEFAULT_CACHE_MAX_AGE_S = 3600
DEFAULT_CACHE_MAX_ENTRIES = 16
MAX_CERT_BYTES = 64 * 1024  # Amazon's chain is ~5 KB; anything far bigger is not it
FETCH_TIMEOUT_S = (3.05, 5.0)  # (connect, read): Alexa waits only ~8 s for our answer

Clock = Callable[[], datetime]
Fetcher = Callable[[str], bytes]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(moment: datetime) -> datetime:
    """An aware datetime; a naive one is taken as UTC (comparisons need one kind)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _refuse(message: str, reason: str, **details: Any) -> InvalidInput:
    """The InvalidInput for one failed check (the caller raises it, chaining the cause)."""
    log.info("Alexa request refused: %s (%s)", reason, message)
    return InvalidInput(message, {"reason": reason, **details})


# --- the certificate URL ---------------------------------------------------------------

def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: resolve ``.`` and ``..`` segments of a URL path."""
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/./") or path == "/.":
            path = "/" + path[3:]
        elif path.startswith("/../") or path == "/..":
            path = "/" + path[4:]
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            # move the first segment (with its leading "/", up to the next "/") over
            end = path.find("/", 1)
            end = len(path) if end == -1 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


# %2E is an unreserved character in disguise (RFC 3986 6.2.2.2): decode it before
# resolving dot segments, or "/echo.api/%2e%2e/x" would slip past the prefix check.
_ENCODED_DOT = re.compile("%2e", re.IGNORECASE)


def normalize_cert_url(url: str) -> str:
    """The canonical form of a ``SignatureCertChainUrl``, or InvalidInput if not Amazon's.

    Scheme and host compare case-insensitively, the path prefix ``/echo.api/``
    case-sensitively after dot segments are removed. The canonical URL (lower-case
    scheme and host, no port, resolved path) is what gets downloaded and cached.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # ValueError for a non-numeric or out-of-range port
    except ValueError as e:
        raise _refuse("The certificate URL is malformed.", "bad_cert_url") from e
    if parts.scheme.lower() != "https":
        raise _refuse("The certificate URL must use https.", "bad_cert_url")
    if (parts.hostname or "") != CERT_HOST or parts.username is not None:
        raise _refuse(f"The certificate URL must be on {CERT_HOST}.", "bad_cert_url")
    if port is not None and port != 443:
        raise _refuse("The certificate URL must use port 443.", "bad_cert_url")
    path = remove_dot_segments(_ENCODED_DOT.sub(".", parts.path))
    if not path.startswith(CERT_PATH_PREFIX):
        raise _refuse(f"The certificate URL path must start with {CERT_PATH_PREFIX}.",
                      "bad_cert_url")
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{CERT_HOST}{path}{query}"


# --- trust roots and fetching ----------------------------------------------------------

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, skipping blocks that do not parse."""
    certs = []
    for block in _PEM_CERT.findall(data):
        try:
            with warnings.catch_warnings():  # some CA bundles hold quirky old roots
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                certs.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            log.debug("Skipping a certificate that does not parse.")
    return certs


def _system_bundle_paths() -> list[Path]:
    """certifi's bundle if installed, else the ssl module's default CA file and folder."""
    try:
        import certifi  # optional; requests depends on it, so it is normally there
        return [Path(certifi.where())]
    except ImportError:
        defaults = ssl.get_default_verify_paths()
    paths = [Path(defaults.cafile)] if defaults.cafile else []
    if defaults.capath and Path(defaults.capath).is_dir():
        paths += sorted(p for p in Path(defaults.capath).iterdir() if p.is_file())
    return paths


@lru_cache(maxsize=1)
def system_trust_roots() -> tuple[x509.Certificate, ...]:
    """The system's trusted root certificates (read once per process)."""
    roots: list[x509.Certificate] = []
    for path in _system_bundle_paths():
        try:
            roots += load_pem_certificates(path.read_bytes())
        except OSError:
            log.warning("Cannot read CA bundle %s.", path)
    return tuple(roots)


def default_fetcher(url: str) -> bytes:
    """Download a certificate chain with a timeout, no redirects and a size limit."""
    with requests.get(url, timeout=FETCH_TIMEOUT_S, stream=True,
                      allow_redirects=False) as response:
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code} for the certificate chain")
        data = b""
        for chunk in response.iter_content(chunk_size=16384):
            data += chunk
            if len(data) > MAX_CERT_BYTES:
                raise ValueError(f"certificate chain larger than {MAX_CERT_BYTES} bytes")
        return data


# --- the certificate cache -------------------------------------------------------------

@dataclass(frozen=True)
class VerifiedChain:
    """A certificate chain that passed verification, and when to stop trusting it."""

    signing_cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    expires_at: datetime


class CertCache:
    """Verified chains by canonical URL, thread-safe, bounded, each with an expiry.

    An entry expires at the earliest ``not_valid_after`` on its path, or ``max_age_s``
    after it was fetched, whichever comes first; so a cached chain is never used past
    a certificate's validity, and a replaced chain is picked up within ``max_age_s``.
    """

    def __init__(self, max_age_s: float = DEFAULT_CACHE_MAX_AGE_S,
                 max_entries: int = DEFAULT_CACHE_MAX_ENTRIES):
        self.max_age = timedelta(seconds=max_age_s)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, VerifiedChain] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str, now: datetime) -> VerifiedChain | None:
        """The live entry for ``url``, or None (an expired entry is dropped)."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None and now >= entry.expires_at:
                del self._entries[url]
                entry = None
            return entry

    def put(self, url: str, chain: list[x509.Certificate], now: datetime) -> VerifiedChain:
        """Store a verified path (signing certificate first) and return the entry."""
        expires = min([now + self.max_age] + [c.not_valid_after_utc for c in chain])
        entry = VerifiedChain(chain[0], tuple(chain), expires)
        with self._lock:
            self._entries[url] = entry
            self._entries.move_to_end(url)
            while len(self._entries) > self.max_entries:  # URLs vary per attacker whim
                self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


# --- the verifiers ---------------------------------------------------------------------

class Verifier(Protocol):
    """What a skill endpoint calls on every request: raw request in, request JSON out."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict:
        """The parsed request JSON, or InvalidInput."""


class RequestVerifier:
    """Checks signature, certificate chain, timestamp and skill id of Alexa requests.

    ``skill_ids``: the application ids we accept. ``trust_roots``: root certificates
    (None: the system store). ``fetcher``: URL -> PEM bytes (default: HTTPS download).
    ``clock``: returns the current time, timezone-aware. ``tolerance_s``: how far the
    request timestamp may be from now, either way. ``cache``: a :class:`CertCache`.
    """

    def __init__(self, skill_ids: Collection[str], *,
                 trust_roots: list[x509.Certificate] | None = None,
                 fetcher: Fetcher | None = None, clock: Clock | None = None,
                 tolerance_s: int = DEFAULT_TOLERANCE_S, cache: CertCache | None = None):
        self.skill_ids = frozenset(skill_ids)
        if not self.skill_ids:
            raise ValueError("RequestVerifier needs at least one skill id.")
        roots = list(system_trust_roots() if trust_roots is None else trust_roots)
        if not roots:
            raise ValueError("RequestVerifier needs at least one trusted root certificate.")
        self._store = Store(roots)
        self.fetcher = fetcher or default_fetcher
        self.clock = clock or _utcnow
        self.tolerance = timedelta(seconds=tolerance_s)
        self.cache = cache if cache is not None else CertCache()

    @staticmethod
    def disabled(skill_ids: Collection[str] | None = None) -> NoVerification:
        """A verifier that checks nothing (local testing only); it logs a warning."""
        return NoVerification(skill_ids)

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict:
        """Verify one raw request; return its parsed JSON, or raise InvalidInput."""
        cert_url = _required_header(headers, CERT_URL_HEADER)
        signature_b64 = _required_header(headers, SIGNATURE_HEADER)
        url = normalize_cert_url(cert_url)
        signature = _decode_signature(signature_b64)
        now = _as_utc(self.clock())
        signing_cert = self._signing_cert(url, now)
        _check_signature(signing_cert, signature, body)
        document = parse_request_json(body)
        self._check_timestamp(document, now)
        _check_skill_id(document, self.skill_ids)
        return document

    def _signing_cert(self, url: str, now: datetime) -> x509.Certificate:
        """The verified signing certificate for ``url``: from the cache, else downloaded."""
        entry = self.cache.get(url, now)
        if entry is None:
            pem = self._fetch(url)
            entry = self.cache.put(url, self._verify_chain(pem, now), now)
        return entry.signing_cert

    def _fetch(self, url: str) -> bytes:
        try:
            pem = self.fetcher(url)
        except InvalidInput:
            raise
        except Exception as e:  # any fetcher failure means we cannot verify: refuse
            raise _refuse("Could not download the certificate chain.",
                          "cert_fetch_failed") from e
        if not isinstance(pem, bytes) or len(pem) > MAX_CERT_BYTES:
            raise _refuse("The certificate chain download is not usable.", "bad_cert_chain")
        return pem

    def _verify_chain(self, pem: bytes, now: datetime) -> list[x509.Certificate]:
        """The verified path (signing certificate first) for a downloaded PEM chain."""
        certs = load_pem_certificates(pem)
        if not certs:
            raise _refuse("The certificate chain holds no certificate.", "bad_cert_chain")
        signing, intermediates = certs[0], certs[1:]
        _check_signing_cert(signing, now)
        policy = PolicyBuilder().store(self._store).time(now)
        verifier = policy.build_server_verifier(x509.DNSName(ECHO_API_DOMAIN))
        try:
            return verifier.verify(signing, intermediates)
        except VerificationError as e:
            log.info("Certificate chain rejected: %s", e)
            raise _refuse("The certificate chain does not lead to a trusted root.",
                          "untrusted_cert_chain") from e

    def _check_timestamp(self, document: dict, now: datetime) -> None:
        stamp = _parse_timestamp(document["request"].get("timestamp"))
        if abs(now - stamp) > self.tolerance:
            raise _refuse(f"The request timestamp is more than "
                          f"{int(self.tolerance.total_seconds())} seconds from now.",
                          "bad_timestamp")


class NoVerification:
    """Switched-off verification: parses the JSON and checks nothing else.

    Only for local testing with hand-made requests; Amazon will not certify an endpoint
    running with it. Logs a WARNING when created and on every request. If ``skill_ids``
    is given, the application id is still checked (it costs nothing).
    """

    def __init__(self, skill_ids: Collection[str] | None = None):
        self.skill_ids = frozenset(skill_ids) if skill_ids else None
        log.warning("Alexa request verification is DISABLED; do not run this in production.")

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict:
        """Parse the request JSON without verifying its origin (logs a warning)."""
        log.warning("Alexa request accepted WITHOUT verification.")
        document = parse_request_json(body)
        if self.skill_ids is not None:
            _check_skill_id(document, self.skill_ids)
        return document


# --- single checks ---------------------------------------------------------------------

def _required_header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, looked up case-insensitively; InvalidInput if missing or empty."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if not value or not value.strip():
        raise _refuse(f"The {name} header is missing.", "missing_header", header=name)
    return value.strip()


def _decode_signature(value: str) -> bytes:
    try:
        signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise _refuse(f"The {SIGNATURE_HEADER} header is not base64.", "bad_signature") from e
    if not signature:
        raise _refuse(f"The {SIGNATURE_HEADER} header is empty.", "bad_signature")
    return signature


def _check_signing_cert(cert: x509.Certificate, now: datetime) -> None:
    """The signing certificate is in date and names echo-api.amazon.com exactly."""
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise _refuse("The signing certificate is expired or not yet valid.",
                      "cert_not_in_date")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as e:
        raise _refuse("The signing certificate has no subject alternative name.",
                      "bad_cert_san") from e
    names = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    if ECHO_API_DOMAIN not in names:  # exact name: a wildcard would not do
        raise _refuse(f"The signing certificate is not for {ECHO_API_DOMAIN}.",
                      "bad_cert_san")


def _check_signature(cert: x509.Certificate, signature: bytes, body: bytes) -> None:
    """RSA PKCS#1 v1.5 over SHA-256 of the raw body, by the signing certificate's key."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise _refuse("The signing certificate does not hold an RSA key.", "bad_signature")
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as e:
        raise _refuse("The request signature does not match the body.",
                      "bad_signature") from e


def parse_request_json(body: bytes) -> dict:
    """The request JSON: an object with a ``request`` object; InvalidInput otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise _refuse("The request body is not valid JSON.", "bad_json") from e
    if not isinstance(document, dict) or not isinstance(document.get("request"), dict):
        raise _refuse("The request body is not an Alexa request envelope.", "bad_json")
    return document


def _parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (no zone given: UTC)."""
    if not isinstance(value, str):
        raise _refuse("The request has no timestamp.", "bad_timestamp")
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise _refuse("The request timestamp is not ISO 8601.", "bad_timestamp") from e
    return _as_utc(stamp)


def application_id(document: Mapping[str, Any]) -> str | None:
    """``context.System.application.applicationId``, else ``session.application...``."""
    for path in (("context", "System", "application", "applicationId"),
                 ("session", "application", "applicationId")):
        node: Any = document
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node:
            return node
    return None


def _check_skill_id(document: Mapping[str, Any], skill_ids: frozenset[str]) -> None:
    if application_id(document) not in skill_ids:
        raise _refuse("The request is not for this skill.", "wrong_application_id")
