"""One error root for every service, and the JSON envelope it renders to.

Every error a caller can see is a :class:`ServiceError` subclass with its HTTP status
as a class attribute. The service factory renders any of them as
``{"error": {"code", "message", "details"}}``; the pipe client turns such an envelope
back into the same typed exception on the caller's side (:func:`error_from_envelope`).
"""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Root of all errors that cross a service boundary."""

    status: int = 500
    code: str = "internal_error"
    default_message: str = "Internal server error."

    def __init__(self, message: str | None = None, details: Any = None, *,
                 service: str | None = None, request_id: str | None = None):
        self.message = message or self.default_message
        self.details = details if details is not None else {}
        self.service = service
        self.request_id = request_id
        super().__init__(self.message)

    def to_dict(self) -> dict:
        """The error envelope body for this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __str__(self) -> str:
        where = f" [service={self.service}]" if self.service else ""
        return f"{self.code}: {self.message}{where}"


class InvalidInput(ServiceError):
    """The request body or a field of it is not acceptable."""

    status, code, default_message = 400, "invalid_input", "Invalid input."


class Unauthorized(ServiceError):
    """No valid API key came with the request."""

    status, code, default_message = 401, "unauthorized", "A valid API key is required."


class Forbidden(ServiceError):
    """The caller is known, and the policy does not let it make this call: a service
    the registry's ``calls:`` does not let call this one, or an API key limited to
    other services. ``details`` name the caller and the callee."""

    status, code, default_message = 403, "forbidden", "This call is not permitted."


class NotFound(ServiceError):
    """No such route or resource."""

    status, code, default_message = 404, "not_found", "Not found."


class MethodNotAllowed(ServiceError):
    """The route exists but not for this HTTP method."""

    status, code, default_message = 405, "method_not_allowed", "Method not allowed."


class PayloadTooLarge(ServiceError):
    """The body, the batch or an image is over its configured limit."""

    status, code, default_message = 413, "payload_too_large", "Payload too large."


class UnsupportedMediaType(ServiceError):
    """The body is not declared as JSON."""

    status, code, default_message = 415, "unsupported_media_type", \
        "The body must be JSON (Content-Type: application/json)."


class VersionMismatch(ServiceError):
    """The service's version does not meet the caller's requirement (``name@1``)."""

    status, code, default_message = 409, "version_mismatch", \
        "The service's version does not meet the requirement."


class NotReady(ServiceError):
    """The model is still loading or warming up."""

    status, code, default_message = 503, "not_ready", "The model is not loaded yet."


class UpstreamError(ServiceError):
    """A service this one called failed or answered nonsense."""

    status, code, default_message = 502, "upstream_error", "An upstream service failed."


class DeadlineExceeded(ServiceError):
    """The request's time budget ran out, here or upstream."""

    status, code, default_message = 504, "deadline_exceeded", "The request's deadline passed."


class InternalError(ServiceError):
    """An unexpected failure inside this service (never shows a traceback)."""


class RequestTimeout(ServiceError):
    """The client stopped sending its request body part-way."""

    status, code, default_message = 408, "request_timeout", "The body did not arrive in time."


_BY_CODE = {cls.code: cls for cls in (
    InvalidInput, Unauthorized, Forbidden, NotFound, MethodNotAllowed, PayloadTooLarge,
    UnsupportedMediaType, VersionMismatch, NotReady, UpstreamError, DeadlineExceeded,
    InternalError, RequestTimeout)}
_BY_STATUS = {cls.status: cls for cls in reversed(list(_BY_CODE.values()))}


def error_class_for(code: str | None = None, status: int | None = None) -> type[ServiceError]:
    """The error class for a remote code, else for an HTTP status, else ServiceError."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServiceError


def error_from_envelope(status: int, body: Any, *, service: str | None = None,
                        request_id: str | None = None) -> ServiceError:
    """Rebuild the typed error a remote service rendered, keeping its code and message."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return UpstreamError(f"{service or 'upstream'} answered HTTP {status} without an error "
                             "envelope.", {"status": status}, service=service,
                             request_id=request_id)
    cls = error_class_for(error.get("code"), status)
    exc = cls(str(error.get("message") or cls.default_message), error.get("details"),
              service=service, request_id=request_id)
    if cls is ServiceError:  # an unknown code keeps the remote code and status
        exc.code, exc.status = str(error.get("code")), status
    return exc


# ------------------------------------------------------------------ per-item errors
#: The ``metadata`` key of a batch answer that holds its items' errors.
ITEM_ERRORS_KEY = "errors"


def stage_of(error: ServiceError) -> str | None:
    """The stage (service) an error comes from: the deepest one its details name."""
    details = error.details if isinstance(error.details, dict) else {}
    return details.get("stage") or error.service


def item_error_document(error: ServiceError) -> dict[str, Any]:
    """One item's error as a batch answer carries it in ``metadata.errors``: the
    envelope body plus the stage that refused the item."""
    return {**error.to_dict()["error"], "stage": stage_of(error)}


def item_error_from_document(document: Any, *, request_id: str | None = None) -> ServiceError:
    """The typed error of one ``metadata.errors`` entry (the inverse of the above)."""
    document = document if isinstance(document, dict) else {}
    cls = error_class_for(document.get("code"))
    details = document.get("details")
    details = {**details, "stage": document.get("stage")} if isinstance(details, dict) \
        and document.get("stage") else details
    return cls(str(document.get("message") or cls.default_message), details,
               service=document.get("stage"), request_id=request_id)
