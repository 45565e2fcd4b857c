"""API keys: with keys configured, a service refuses calls without a valid one.

Accepted forms are ``Authorization: Bearer <key>`` and ``Authorization: Simple <key>``
(Algorithmia's). Every configured key is compared in constant time, so neither the
result nor the timing tells how much of a guess was right.

A key may be limited to some services: ``key:sentiment+text_cleaner`` in
``MODELCHAIN_API_KEYS`` (a bare ``key`` reaches every service). The scope is the
callee's to enforce (:mod:`.permissions`); a key itself never appears in an answer.
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Iterable

from common.core.errors import Unauthorized

SCHEMES = ("bearer", "simple")
_SCOPE = re.compile(r"^[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$")


@dataclass(frozen=True)
class ApiKey:
    """One configured key and the services it may call (None: every one)."""

    secret: bytes
    scope: frozenset[str] | None = None


def parse_keys(value: str | Iterable[str]) -> tuple[ApiKey, ...]:
    """Configured keys from a comma-separated string (empty: authentication off);
    ``key:a+b`` limits a key to services ``a`` and ``b``."""
    keys = value.split(",") if isinstance(value, str) else value
    return tuple(_parse_key(k.strip()) for k in keys if k.strip())


def _parse_key(text: str) -> ApiKey:
    secret, sep, scope = text.rpartition(":")
    if not sep or not _SCOPE.match(scope.strip()) or not secret.strip():
        return ApiKey(text.encode())
    return ApiKey(secret.strip().encode(), frozenset(scope.strip().split("+")))


def check_authorization(header: str | None, keys: tuple[ApiKey, ...]) -> ApiKey:
    """The key ``header`` carries; :class:`Unauthorized` unless it is one of ``keys``."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise Unauthorized("Send an API key: 'Authorization: Bearer <key>'.")
    presented = token.strip().encode()
    matches = [hmac.compare_digest(presented, key.secret) for key in keys]  # no early exit
    if not any(matches):
        raise Unauthorized("The API key is not valid.")
    return keys[matches.index(True)]
