"""The Alexa test PKI and request builders (from tests/helpers/alexa.py) for the skill."""
from tests.helpers.alexa import (  # noqa: F401  fixtures re-exported by name
    SKILL_ID, _alexa_bodies, _make_signed_request, _test_pki)
