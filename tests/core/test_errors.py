"""The error root and the envelope round trip the pipe client relies on."""
import pytest

from common.core.errors import (DeadlineExceeded, InvalidInput, NotFound, PayloadTooLarge,
                           ServiceError, UpstreamError, error_from_envelope)


@pytest.mark.parametrize("cls", [InvalidInput, NotFound, PayloadTooLarge, DeadlineExceeded])
def test_an_envelope_rebuilds_the_same_typed_error(cls):
    original = cls("what went wrong", {"field": ["bad"]})
    rebuilt = error_from_envelope(cls.status, original.to_dict(), service="svc",
                                  request_id="r1")
    assert type(rebuilt) is cls
    assert (rebuilt.message, rebuilt.details) == ("what went wrong", {"field": ["bad"]})
    assert (rebuilt.service, rebuilt.request_id, rebuilt.status) == ("svc", "r1", cls.status)


def test_an_unknown_code_keeps_the_remote_code_and_status():
    error = error_from_envelope(418, {"error": {"code": "teapot", "message": "short"}})
    assert type(error) is ServiceError and (error.code, error.status) == ("teapot", 418)


@pytest.mark.parametrize("body", [None, "oops", {"result": 1}, {"error": "flat"}])
def test_a_body_without_an_envelope_is_an_upstream_error(body):
    error = error_from_envelope(500, body, service="svc")
    assert isinstance(error, UpstreamError) and "svc" in error.message
