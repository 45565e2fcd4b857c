"""modelchain's shared library: the service factory, the model base class, errors,
configuration and, in later modules, the pipe client and pipelines."""
from .errors import (DeadlineExceeded, InternalError, InvalidInput, MethodNotAllowed,
                     NotFound, NotReady, PayloadTooLarge, ServiceError, Unauthorized,
                     UnsupportedMediaType, UpstreamError)
from .model import Model
from .service import create_service_app, start_model

__all__ = ["Model", "create_service_app", "start_model", "ServiceError", "InvalidInput",
           "Unauthorized", "NotFound", "MethodNotAllowed", "PayloadTooLarge",
           "UnsupportedMediaType", "NotReady", "UpstreamError", "DeadlineExceeded",
           "InternalError"]
