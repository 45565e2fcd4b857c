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
from .client import Client
from .core.errors import (DeadlineExceeded, InternalError, InvalidInput, MethodNotAllowed,
                          NotFound, NotReady, PayloadTooLarge, ServiceError, Unauthorized,
                          UnsupportedMediaType, UpstreamError)
from .serving import ANY_SERVICE, Failed, Function, Model, create_service_app, start_model

__all__ = ["ANY_SERVICE", "Client", "Failed", "Function", "Model", "create_service_app",
           "start_model", "ServiceError", "InvalidInput", "Unauthorized", "NotFound",
           "MethodNotAllowed", "PayloadTooLarge", "UnsupportedMediaType", "NotReady",
           "UpstreamError", "DeadlineExceeded", "InternalError"]
