"""API keys: with keys configured, a service refuses calls without a valid one.

Accepted forms are ``Authorization: Bearer <key>`` and ``Authorization: Simple <key>``
(Algorithmia's). Every configured key is compared in constant time, so neither the
result nor the timing tells how much of a guess was right.
"""
from __future__ import annotations

import hmac
from typing import Iterable

from common.core.errors import Unauthorized

SCHEMES = ("bearer", "simple")


def parse_keys(value: str | Iterable[str]) -> tuple[bytes, ...]:
    """Configured keys from a comma-separated string (empty: authentication off)."""
    keys = value.split(",") if isinstance(value, str) else value
    return tuple(k.strip().encode() for k in keys if k.strip())


def check_authorization(header: str | None, keys: tuple[bytes, ...]) -> None:
    """Raise :class:`Unauthorized` unless ``header`` carries one of ``keys``."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise Unauthorized("Send an API key: 'Authorization: Bearer <key>'.")
    presented = token.strip().encode()
    matches = [hmac.compare_digest(presented, key) for key in keys]  # no early exit
    if not any(matches):
        raise Unauthorized("The API key is not valid.")
