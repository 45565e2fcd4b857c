"""Alexa custom-skill adapter: request verification, parsing, responses, dispatch.

Typical use in a skill endpoint, on the raw request::

    verifier = RequestVerifier(["amzn1.ask.skill.<id>"])
    skill = Skill("my-skill")

    @skill.intent("AMAZON.HelpIntent")
    def help_(request: AlexaRequest) -> ResponseBuilder:
        return ask("You can ask me ...", "What would you like to do?")

    document = verifier.verify(headers, raw_body)   # InvalidInput (400) if not Amazon's
    response_json = skill.handle(document)
"""
from __future__ import annotations

from .skill import (
    DEFAULT_APOLOGY,
    MAX_RESPONSE_BYTES,
    MAX_SPEECH_CHARS,
    AlexaRequest,
    ResponseBuilder,
    SessionEndedError,
    Skill,
    ask,
    empty_response,
    output_speech,
    parse_request,
    response_size,
    ssml_escape,
    tell,
    truncate_words,
)
from .verify import (
    CERT_URL_HEADER,
    SIGNATURE_HEADER,
    CertCache,
    NoVerification,
    RequestVerifier,
    Verifier,
    default_fetcher,
    normalize_cert_url,
    system_trust_roots,
)

__all__ = [
    "AlexaRequest", "CERT_URL_HEADER", "CertCache", "DEFAULT_APOLOGY",
    "MAX_RESPONSE_BYTES", "MAX_SPEECH_CHARS", "NoVerification", "RequestVerifier",
    "ResponseBuilder", "SIGNATURE_HEADER", "SessionEndedError", "Skill", "Verifier", "ask",
    "default_fetcher", "empty_response", "normalize_cert_url", "output_speech",
    "parse_request", "response_size", "ssml_escape", "system_trust_roots", "tell",
    "truncate_words",
]
