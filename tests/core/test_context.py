"""Request id, trace context and deadline parsing and propagation."""
import time

from common.core import context as ctx


def test_incoming_headers_are_kept_when_well_formed():
    trace = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    context = ctx.from_headers({"X-Request-ID": "abc-1", "traceparent": trace,
                                "X-Deadline-Ms": "1500"}, default_timeout_s=30)
    assert context.request_id == "abc-1" and context.trace_id == "1" * 32
    assert context.span_id != "2" * 16  # this hop is a new span
    assert 1.0 < context.remaining() <= 1.5


def test_malformed_headers_are_replaced():
    context = ctx.from_headers({"X-Request-ID": "bad id\n!", "traceparent": "garbage",
                                "X-Deadline-Ms": "soon"}, default_timeout_s=2)
    assert context.request_id != "bad id\n!" and len(context.trace_id) == 32
    assert 1.5 < context.remaining() <= 2


def test_the_service_timeout_caps_a_longer_budget():
    context = ctx.from_headers({"X-Deadline-Ms": "999999"}, default_timeout_s=1)
    assert context.remaining() <= 1


def test_outgoing_headers_carry_what_is_left():
    context = ctx.RequestContext(deadline=time.monotonic() + 2)
    time.sleep(0.05)
    headers = context.outgoing_headers()
    assert headers["X-Request-ID"] == context.request_id
    assert int(headers["X-Deadline-Ms"]) < 2000
    assert headers["traceparent"].split("-")[1] == context.trace_id
    assert headers["traceparent"].split("-")[2] != context.span_id


def test_an_expired_deadline_sends_zero():
    context = ctx.RequestContext(deadline=time.monotonic() - 1)
    assert context.expired() and context.outgoing_headers()["X-Deadline-Ms"] == "0"


import pytest  # noqa: E402


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "1e15"])
def test_absurd_deadlines_fall_back_to_the_service_timeout(value):
    context = ctx.from_headers({"X-Deadline-Ms": value}, default_timeout_s=2)
    assert 1.5 < context.remaining() <= 2
    unbounded = ctx.from_headers({"X-Deadline-Ms": value}, default_timeout_s=0)
    assert unbounded.remaining() is None or 0 < unbounded.remaining() <= 86_400
