"""What travels with every request and every pipe call: id, trace context, deadline.

The deadline travels as the remaining budget in milliseconds (``X-Deadline-Ms``), not as
a wall-clock instant, so hops with skewed clocks still agree. Each hop converts it to a
monotonic instant on arrival and sends on what is left.
"""
from __future__ import annotations

import contextvars
import math
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Mapping

REQUEST_ID_HEADER = "X-Request-ID"
TRACEPARENT_HEADER = "traceparent"
DEADLINE_HEADER = "X-Deadline-Ms"

MAX_BUDGET_MS = 86_400_000  # a day: any longer budget is taken as a day
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
#: A request id a caller may choose; any other is replaced (the front, deploy/front, agrees).
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class RequestContext:
    """One request's identity, trace position and deadline (a monotonic instant)."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    span_id: str = field(default_factory=lambda: secrets.token_hex(8))
    trace_flags: str = "01"
    deadline: float | None = None

    @property
    def traceparent(self) -> str:
        """This hop's W3C traceparent value."""
        return f"00-{self.trace_id}-{self.span_id}-{self.trace_flags}"

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be negative), or None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        left = self.remaining()
        return left is not None and left <= 0

    def child(self) -> "RequestContext":
        """The context for an outgoing call: same trace and request, a new span."""
        # Built directly: dataclasses.replace took a tenth of an in-process hop.
        return RequestContext(self.request_id, self.trace_id, secrets.token_hex(8),
                              self.trace_flags, self.deadline)

    def outgoing_headers(self) -> dict[str, str]:
        """Headers that carry this context to the next hop (a child span)."""
        span = self.child()
        headers = {REQUEST_ID_HEADER: self.request_id, TRACEPARENT_HEADER: span.traceparent}
        left = self.remaining()
        if left is not None:
            headers[DEADLINE_HEADER] = str(max(int(left * 1000), 0))
        return headers


def from_headers(headers: Mapping[str, str], default_timeout_s: float | None,
                 started: float | None = None) -> RequestContext:
    """The context of an incoming request; a missing or malformed value is replaced.
    The deadline counts from ``started`` (a ``time.monotonic()`` reading: when the
    request arrived), by default from now."""
    kwargs: dict = {}
    request_id = headers.get(REQUEST_ID_HEADER, "")
    if SAFE_REQUEST_ID.match(request_id):
        kwargs["request_id"] = request_id
    match = _TRACEPARENT.match(headers.get(TRACEPARENT_HEADER, "").strip().lower())
    if match and match.group(1) != "0" * 32:
        kwargs["trace_id"], kwargs["trace_flags"] = match.group(1), match.group(3)
    kwargs["deadline"] = _deadline(headers.get(DEADLINE_HEADER), default_timeout_s, started)
    return RequestContext(**kwargs)


def _deadline(budget_ms: str | None, default_timeout_s: float | None,
              started: float | None = None) -> float | None:
    """A monotonic deadline from a budget header, capped by this service's own timeout."""
    budgets = [default_timeout_s] if default_timeout_s else []
    try:
        value = float(budget_ms)
    except (TypeError, ValueError):
        value = math.nan  # absent or garbage: only this service's default applies
    if math.isfinite(value):  # nan, inf and 1e400 are garbage too
        budgets.append(min(max(value, 0.0), MAX_BUDGET_MS) / 1000.0)
    start = started if started is not None and started <= time.monotonic() else None
    return (start or time.monotonic()) + min(budgets) if budgets else None


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "modelchain_request_context", default=None)


def current() -> RequestContext | None:
    """The context of the request being served on this thread, if any."""
    return _current.get()


def activate(ctx: RequestContext | None) -> contextvars.Token:
    """Make ``ctx`` current; returns the token for :func:`deactivate`."""
    return _current.set(ctx)


def deactivate(token: contextvars.Token) -> None:
    """Restore the context that was current before :func:`activate`."""
    _current.reset(token)


_extras: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "modelchain_response_extras", default=None)


def open_response_extras() -> contextvars.Token:
    """Start collecting extra answer metadata for the request on this thread."""
    return _extras.set({})


def close_response_extras(token: contextvars.Token) -> None:
    """Stop collecting (restores the previous collector)."""
    _extras.reset(token)


def add_response_metadata(**values) -> None:
    """Add fields to the current answer's ``metadata`` (a pipeline adds its steps)."""
    extras = _extras.get()
    if extras is not None:
        extras.update(values)


def response_extras() -> dict:
    """The extra metadata collected for the current request."""
    return dict(_extras.get() or {})


def bind_context(function):
    """``function`` wrapped to run in a copy of the caller's context, so a worker thread
    keeps the request id, trace and deadline of the request that submitted it."""
    captured = contextvars.copy_context()

    def run(*args, **kwargs):
        return captured.copy().run(function, *args, **kwargs)
    return run
