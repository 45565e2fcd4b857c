"""Who calls whom: the pipe calls this process makes, as the serving room records them.

Every call goes through :meth:`~common.client.Client.call`. While a service serves a
request, it makes its :class:`CallRecorder` current (:func:`attribute_to`); a pipe call
(``POST /predict``) made then is timed and handed to that recorder with its callee and
outcome. This room knows only the shape of a recorder, not the metrics behind it (the
serving room implements it), and records nothing when no recorder is current: a script
calling a service has no caller to name, and a model's warm-up, on its loading thread,
is not traffic.
"""
from __future__ import annotations

import contextvars
import time
from typing import Any, Callable, Mapping, Protocol

from common.core.errors import ServiceError

#: The path whose calls are pipe calls; metadata, readiness and metrics reads are not.
PIPE_PATH = "/predict"
#: Outcomes: the callee answered 2xx/3xx, it answered an error, or it never answered
#: (refused, reset, timed out; see :func:`~common.client.unreached`).
OK, ERROR, UNREACHED = "ok", "error", "unreached"
OUTCOMES = (OK, ERROR, UNREACHED)


class CallRecorder(Protocol):
    """What records a service's outgoing pipe calls (the serving room has one per app)."""

    def record(self, callee: str, outcome: str, seconds: float) -> None:
        """One finished call to ``callee``: its outcome and how long it took."""


_current: contextvars.ContextVar[CallRecorder | None] = contextvars.ContextVar(
    "modelchain_call_recorder", default=None)


def attribute_to(recorder: CallRecorder | None) -> contextvars.Token:
    """Make ``recorder`` receive the pipe calls made from here on (in this context and
    the threads it is copied into); returns the token for :func:`release`."""
    return _current.set(recorder)


def release(token: contextvars.Token) -> None:
    """Restore the recorder that was current before :func:`attribute_to`."""
    _current.reset(token)


def recorder_for(method: str, path: str) -> CallRecorder | None:
    """The recorder a call of ``method path`` goes to: the current one for a pipe call,
    None for any other call or when no service is serving."""
    if method != "POST" or path != PIPE_PATH:
        return None
    return _current.get()


def timed(recorder: CallRecorder, callee: str, send: Callable[..., tuple],
          *args: Any) -> tuple:
    """``send(*args)`` (a transport: status, document, request id), recorded."""
    started = time.perf_counter()
    try:
        answer = send(*args)
    except ServiceError as error:
        recorder.record(callee, outcome_of(error), time.perf_counter() - started)
        raise
    recorder.record(callee, OK if answer[0] < 400 else ERROR, time.perf_counter() - started)
    return answer


def outcome_of(error: ServiceError) -> str:
    """A transport's error as an outcome: never answered, or answered with an error."""
    details = error.details if isinstance(error.details, Mapping) else {}
    return UNREACHED if details.get("reached") is False else ERROR
