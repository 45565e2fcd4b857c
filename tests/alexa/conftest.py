"""The Alexa test PKI, clock, fetcher and request builders (tests/helpers/alexa.py)."""
from tests.helpers.alexa import (  # noqa: F401  fixtures re-exported by name
    _alexa_bodies, _cert_fetcher, _fake_clock, _make_signed_request, _test_pki, _verifier)
