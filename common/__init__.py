"""modelchain's shared library, in rooms that each know only the rooms below them:

- ``common.core``: errors, request context, configuration, the registry;
- ``common.client``: the pipe client, next stages, ``pipe_many`` (knows core);
- ``common.media``: image decoding and limits, SSRF-safe fetching (knows core);
- ``common.serving``: the app factory, the model base, runner, batcher, cache,
  validation, OpenAPI, metrics, auth, forwarding (knows core and client);
- ``common.pipeline``: declarative pipelines, served as models (knows the above);
- ``common.alexa``: the Alexa request verifier and skill adapter (knows core);
- ``common.batch``: batch jobs, the queue worker and the Spark job (knows core, client).

This module is the small public face a service's code imports from.
"""
from __future__ import annotations

import importlib
from typing import Any

#: name -> the module that defines it; imported on first use, so a command that needs
#: only the registry (the launcher, deploy.serve, the healthcheck) starts fast.
_EXPORTS = {
    "Client": "common.client",
    **dict.fromkeys(["DeadlineExceeded", "Forbidden", "InternalError", "InvalidInput",
                     "MethodNotAllowed",
                     "NotFound", "NotReady", "PayloadTooLarge", "ServiceError",
                     "Unauthorized", "UnsupportedMediaType", "UpstreamError"],
                    "common.core.errors"),
    **dict.fromkeys(["ANY_SERVICE", "Failed", "Function", "Model", "create_service_app",
                     "start_model"], "common.serving"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """The public names, imported when first asked for (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'common' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
