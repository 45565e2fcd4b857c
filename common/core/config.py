"""Configuration: defaults, then prefixed environment variables, then a test mapping.

Keys are upper-case. Environment variables are read under two prefixes: ``MODELCHAIN_``
for settings shared by every service, then the service's own prefix (``SENTIMENT_``), so
``SENTIMENT_MAX_BATCH_SIZE=8`` wins over ``MODELCHAIN_MAX_BATCH_SIZE=16``. A value from the
environment is converted to the type of the key's default.
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping

SHARED_PREFIX = "MODELCHAIN_"

#: Settings every service has; a service's own defaults extend and override these.
BASE_DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,  # bytes of request body
    "MAX_BATCH_SIZE": 64,                    # items in one /predict call
    "MAX_TEXT_LENGTH": 5000,                 # characters in one text field
    "LOAD_MODEL": "background",              # background | sync | off
    "WARMUP": True,
    "DEFAULT_TIMEOUT_S": 30.0,               # deadline given to a request that brings none
    "API_KEYS": "",                          # comma-separated; empty means no auth
    # Service identities and the calls policy (common/core/identity.py): this service's
    # private key (a secret, or the file holding it), every service's public key (name=key,
    # not secrets) and the clock window of a signed call. No public keys: no policy.
    "IDENTITY_KEY": "",
    "IDENTITY_KEY_FILE": "",
    "IDENTITY_PUBLIC_KEYS": "",
    "IDENTITY_PUBLIC_KEYS_FILE": "",
    "IDENTITY_WINDOW_S": 30.0,
    "REGISTRY": "",                          # path of the service registry file
    "BATCHING": False,                       # dynamic batching of concurrent requests
    "BATCH_MAX_SIZE": 32,
    "BATCH_MAX_LATENCY_MS": 5.0,
    "CACHE_SIZE": 0,                         # result cache entries; 0 disables it
    "CORS_ORIGINS": "",                      # comma-separated origins (or *); none by default
}


def _convert(raw: str, default: Any) -> Any:
    """Convert an environment string to the type of its default."""
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw


def from_environment(defaults: Mapping[str, Any], prefix: str,
                     environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The values of the known keys that the environment sets, shared prefix first."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key, default in defaults.items():
        for name in (SHARED_PREFIX + key, prefix + key):
            if name in environ:
                try:
                    found[key] = _convert(environ[name], default)
                except ValueError as e:
                    raise ValueError(f"{name}={environ[name]!r} is not a valid "
                                     f"{type(default).__name__}") from e
    return found


def load_config(prefix: str, defaults: Mapping[str, Any] | None = None,
                overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge base defaults, service defaults, the environment and explicit overrides."""
    merged = {**BASE_DEFAULTS, **(defaults or {})}
    merged.update(from_environment(merged, prefix, environ))
    merged.update(overrides or {})
    return merged
