"""The Alexa test PKI and request builders (from tests/common/alexa) for the skill."""
from tests.common.alexa.conftest import (  # noqa: F401  fixtures re-exported by name
    SKILL_ID, _alexa_bodies, _make_signed_request, _test_pki)
