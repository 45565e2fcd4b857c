"""Service identities: a callee can tell which service is calling it, and no service can
pass for another without holding that service's secret.

Each service holds an Ed25519 private key (its ``IDENTITY_KEY``, from the environment or
a mounted secret file) and signs every call it makes over HTTP. Every service holds the
public keys of all of them (``IDENTITY_PUBLIC_KEYS``: ``name=key,...``, from the
environment or a ConfigMap; public keys are not secrets). A signed call carries one
header::

    X-Modelchain-Identity: v1.<caller>.<callee>.<unix seconds>.<nonce>.<signature>

and the signature covers the caller, the callee, the method and path, the request id,
the time and the nonce. A callee accepts it only if the signature verifies with one of
the caller's public keys, the callee named is itself, the time is within the clock
window (``IDENTITY_WINDOW_S``, 30 s either way) and the nonce was not seen in that
window. So a captured header cannot be replayed, sent to another service, or moved to
another route; the body is not covered (see the README's "Permissions" for why that is
the transport's job).

What signs a call is the service *acting* on the calling thread (:func:`act_as`): the
serving hooks make the service a request is served by the acting one, and a model's
load and warmup act as the model, so the pipe client signs each call as the service on
whose behalf it is made. This room knows nothing of serving; it holds the keys, the
signing and the checking.
"""
from __future__ import annotations

import base64
import binascii
import contextvars
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

from .errors import Unauthorized

IDENTITY_HEADER = "X-Modelchain-Identity"
SCHEME = "v1"
DEFAULT_WINDOW_S = 30.0
#: Nonces remembered at once (per process): past it the oldest are forgotten first.
MAX_REMEMBERED = 200_000
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_NONCE = re.compile(r"^[0-9a-f]{24}$")


class IdentityError(Unauthorized):
    """A signed call whose signature, callee, time or nonce does not hold (a 401)."""


# ------------------------------------------------------------------ keys
def new_private_key() -> str:
    """A fresh private key, as the text ``IDENTITY_KEY`` takes (base64 of 32 bytes)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A private key from base64 of its 32 raw bytes, or from a PKCS#8 PEM block."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM private key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw_bytes(text, "private key"))


def public_key_text(private: Ed25519PrivateKey | str) -> str:
    """The public half of a private key, as ``IDENTITY_PUBLIC_KEYS`` lists it."""
    key = load_private_key(private) if isinstance(private, str) else private
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def parse_public_keys(text: str) -> dict[str, tuple[Ed25519PublicKey, ...]]:
    """``name=key`` pairs, separated by commas or new lines (``#`` starts a comment);
    a name listed twice has both keys (while one is being replaced by the other)."""
    found: dict[str, list[Ed25519PublicKey]] = {}
    for part in re.split(r"[,\n]", "\n".join(l.split("#")[0] for l in text.splitlines())):
        if not part.strip():
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not _NAME.match(name):
            raise ValueError(f"public keys: {part.strip()[:40]!r} is not name=<base64 key>")
        found.setdefault(name, []).append(
            Ed25519PublicKey.from_public_bytes(_raw_bytes(value, f"public key of {name}")))
    return {name: tuple(keys) for name, keys in found.items()}


def read_setting(value: str, file: str) -> str:
    """A setting given as itself or, for a mounted secret or ConfigMap, as a file."""
    if value.strip():
        return value
    return Path(file).read_text() if file.strip() else ""


def _raw_bytes(text: str, what: str) -> bytes:
    """32 key bytes from base64, standard or URL-safe, padded or not."""
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"the {what} is not base64") from e
    if len(raw) != 32:
        raise ValueError(f"the {what} is {len(raw)} bytes; an Ed25519 key is 32")
    return raw


# ------------------------------------------------------------------ signing
def statement(caller: str, callee: str, method: str, path: str, request_id: str,
              timestamp: int, nonce: str) -> bytes:
    """What a signature covers, one field a line (no field holds a new line)."""
    fields = (SCHEME, caller, callee, method.upper(), path.partition("?")[0],
              request_id.replace("\n", ""), str(timestamp), nonce)
    return "\n".join(fields).encode()


class Signer:
    """Signs the calls one service makes."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey | str,
                 clock: Callable[[], float] = time.time):
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a service name")
        self.name = name
        self.key = load_private_key(private_key) if isinstance(private_key, str) \
            else private_key
        self.public_key = public_key_text(self.key)
        self.clock = clock

    def header(self, callee: str, method: str, path: str, request_id: str) -> str:
        """The :data:`IDENTITY_HEADER` value for one call (a fresh nonce each time)."""
        timestamp, nonce = int(self.clock()), secrets.token_hex(12)
        signature = self.key.sign(statement(self.name, callee, method, path, request_id,
                                            timestamp, nonce))
        encoded = base64.urlsafe_b64encode(signature).decode().rstrip("=")
        return f"{SCHEME}.{self.name}.{callee}.{timestamp}.{nonce}.{encoded}"


_signers: dict[str, Signer] = {}
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "modelchain_acting_service", default=None)


def register_signer(signer: Signer) -> None:
    """Let this process sign calls made on behalf of ``signer.name``."""
    _signers[signer.name] = signer


def forget_signer(name: str) -> None:
    """Stop signing calls made on behalf of ``name`` (tests)."""
    _signers.pop(name, None)


def act_as(name: str | None) -> contextvars.Token:
    """Make ``name`` the service calls on this thread are made for; returns the token
    for :func:`stop_acting`."""
    return _acting.set(name)


def stop_acting(token: contextvars.Token) -> None:
    """Restore the service that acted before :func:`act_as`."""
    _acting.reset(token)


def acting() -> str | None:
    """The service the calls made on this thread are made for, if any."""
    return _acting.get()


def call_signer(callee: str, method: str, path: str) -> Callable[[str], str] | None:
    """For a call about to be made: a function of the request id giving the identity
    header (fresh for each attempt), or None when the acting service holds no key."""
    signer = _signers.get(_acting.get() or "")
    if signer is None or not _NAME.match(callee):
        return None
    return lambda request_id: signer.header(callee, method, path, request_id)


# ------------------------------------------------------------------ checking
class ReplayGuard:
    """The nonces seen within the clock window; a nonce seen again is a replay."""

    def __init__(self, limit: int = MAX_REMEMBERED):
        self.limit = limit
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, caller: str, nonce: str, until: float, now: float) -> bool:
        """Remember ``(caller, nonce)`` until ``until``; False if it was already seen."""
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now
                                  or len(self._seen) >= self.limit):
                self._seen.popitem(last=False)
            if (caller, nonce) in self._seen:
                return False
            self._seen[(caller, nonce)] = until
            return True


class Verifier:
    """Checks the identity header of calls to one service (any of ``names``: its own
    name and its deployments' names)."""

    def __init__(self, public_keys: Mapping[str, Iterable[Ed25519PublicKey]],
                 names: Iterable[str], window_s: float = DEFAULT_WINDOW_S,
                 clock: Callable[[], float] = time.time, guard: ReplayGuard | None = None):
        self.public_keys = {n: tuple(k) for n, k in public_keys.items()}
        self.names = frozenset(names)
        self.window_s = window_s
        self.clock = clock
        self.guard = guard or ReplayGuard()

    def verify(self, header: str, method: str, path: str, request_id: str) -> str:
        """The name of the service that signed ``header`` for this call; an
        :class:`IdentityError` saying why otherwise."""
        caller, callee, timestamp, nonce, signature = _fields(header)
        if callee not in self.names:
            raise _refused(caller, f"it was signed for {callee}, not for this service")
        keys = self.public_keys.get(caller)
        if not keys:
            raise _refused(caller, "no public key is configured for that service")
        now = self.clock()
        if abs(now - timestamp) > self.window_s:
            raise _refused(caller, f"it was signed {now - timestamp:.0f} s from now; the "
                           f"window is {self.window_s:.0f} s (are the clocks in step?)")
        message = statement(caller, callee, method, path, request_id, timestamp, nonce)
        if not any(_valid(key, signature, message) for key in keys):
            raise _refused(caller, "the signature does not verify")
        if not self.guard.first_time(caller, nonce, timestamp + self.window_s, now):
            raise _refused(caller, "it was already used (a replay)")
        return caller


def _fields(header: str) -> tuple[str, str, int, str, bytes]:
    parts = header.strip().split(".")
    if len(parts) != 6 or parts[0] != SCHEME or not all(map(_NAME.match, parts[1:3])) \
            or not parts[3].isdigit() or not _NONCE.match(parts[4]):
        raise IdentityError(f"{IDENTITY_HEADER} is malformed; expected "
                            f"{SCHEME}.<caller>.<callee>.<time>.<nonce>.<signature>.",
                            {"reason": "malformed"})
    try:
        signature = base64.urlsafe_b64decode(parts[5] + "=" * (-len(parts[5]) % 4))
    except (binascii.Error, ValueError):
        signature = b""
    return parts[1], parts[2], int(parts[3]), parts[4], signature


def _valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
        return True
    except InvalidSignature:
        return False


def _refused(caller: str, reason: str) -> IdentityError:
    return IdentityError(f"The call claims to come from {caller}, but {reason}.",
                         {"caller": caller, "reason": reason})


def same_key(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    """Whether two public keys are the same key."""
    raw = [k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
           for k in (a, b)]
    return hmac.compare_digest(*raw)
