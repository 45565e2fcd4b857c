"""The Alexa skill endpoint: verified Alexa requests in, speech out.

``POST /alexa`` is the HTTPS endpoint a custom skill points at: every request is
verified on its raw body (certificate chain, signature, timestamp, skill id) before any
handler runs. ``POST /predict`` runs the same dialogue for one intent without Alexa's
envelope, which is how the skill is tried and tested by hand.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema, fields, validate

from common import ANY_SERVICE, Function, NotReady, create_service_app
from common.alexa import AlexaRequest, RequestVerifier, Verifier, default_fetcher
from common.alexa.verify import load_pem_certificates
from common.serving.app import request_body, state

from .dialogue import BUILT_IN, DEFAULT_INTENTS, build_skill, load_dialogue


class IntentInput(Schema):
    """One intent as Alexa would resolve it: its name and slot values."""

    intent = fields.String(required=True, validate=validate.Length(min=1, max=100),
                           metadata={"example": "SentimentIntent"})
    slots = fields.Dict(keys=fields.String(validate=validate.Length(max=100)),
                        values=fields.String(allow_none=True), load_default=dict)


class SpeechOutput(Schema):
    """What the skill would say, and whether it keeps listening."""

    speech = fields.String(required=True)
    end_session = fields.Boolean(required=True)
    card = fields.String(metadata={"description": "The Alexa app card's text, if any."})


class AlexaSkill(Function):
    """The dialogue of ``intents.yaml`` behind a verified Alexa endpoint."""

    name = "alexa_skill"
    version = "1.0.0"
    description = ("Alexa custom-skill endpoint: questions go to the chatbot, 'how does … "
                   "sound' goes to sentiment. POST /alexa takes signed Alexa requests.")
    tags = ("alexa", "voice", "adapter")
    input_schema = IntentInput
    output_schema = SpeechOutput
    sample_input = {"intent": "AMAZON.HelpIntent"}
    deterministic = False
    calls = (ANY_SERVICE,)  # whichever services intents.yaml names

    def load(self) -> None:
        """Read the dialogue and build the verifier; misconfiguration keeps it unready."""
        self.dialogue = load_dialogue(self.config["INTENTS"] or DEFAULT_INTENTS)
        self.skill = build_skill(self.dialogue, self.algo, self.config["BACKEND_TIMEOUT_S"])
        self.verifier = make_verifier(self.config)

    def intents(self) -> set[str]:
        """Every intent name the skill answers (built-in and configured)."""
        return BUILT_IN | set(self.dialogue["intents"])

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run each intent through the dialogue, as an IntentRequest would."""
        return [_speech(self.skill.handle(_intent_document(i))) for i in inputs]


def _intent_document(item: Mapping[str, Any]) -> dict[str, Any]:
    slots = {name: {"name": name, "value": value} for name, value in item["slots"].items()}
    return {"version": "1.0", "request": {"type": "IntentRequest", "intent": {
        "name": item["intent"], "slots": slots}}}


def _speech(envelope: Mapping[str, Any]) -> dict[str, Any]:
    response = envelope.get("response", {})
    speech = response.get("outputSpeech", {})
    card = response.get("card") or {}
    return {"speech": speech.get("text") or speech.get("ssml") or "",
            "end_session": bool(response.get("shouldEndSession", True)),
            **({"card": card["content"]} if card.get("content") else {})}


def make_verifier(config: Mapping[str, Any]) -> Verifier:
    """The request verifier the configuration asks for; only ``VERIFY=false`` (with a
    logged warning) turns verification off."""
    skill_ids = [s.strip() for s in config["SKILL_IDS"].split(",") if s.strip()]
    if not config["VERIFY"]:
        return RequestVerifier.disabled(skill_ids or None)
    if not skill_ids:
        raise NotReady("ALEXA_SKILL_SKILL_IDS is not set: no request could be verified.")
    roots = load_pem_certificates(Path(config["TRUST_ROOTS"]).read_bytes()) \
        if config["TRUST_ROOTS"] else None
    return RequestVerifier(skill_ids, trust_roots=roots, fetcher=_fetcher(config))


def _fetcher(config: Mapping[str, Any]):
    """Certificates from Amazon over HTTPS, or, for offline tests, from a folder
    holding each chain under its URL's file name (the URL is still checked first)."""
    folder = config["CERT_FILES"]
    if not folder:
        return default_fetcher
    return lambda url: (Path(folder) / url.rsplit("/", 1)[-1]).read_bytes()


def alexa_blueprint() -> Blueprint:
    """``POST /alexa``: the verified skill endpoint."""
    bp = Blueprint("alexa", __name__)

    @bp.post("/alexa")
    def alexa() -> Response:
        model = state().model
        if not model.ready:
            raise NotReady()
        document = model.verifier.verify(request.headers, request_body())
        return jsonify(model.skill.handle(document))

    return bp


DEFAULTS = {"SKILL_IDS": "", "VERIFY": True, "TRUST_ROOTS": "", "CERT_FILES": "",
            "INTENTS": "", "BACKEND_TIMEOUT_S": 6.0, "DEFAULT_TIMEOUT_S": 7.0,
            "MAX_CONTENT_LENGTH": 256 * 1024}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The skill's app (environment prefix ``ALEXA_SKILL_``)."""
    return create_service_app(AlexaSkill, defaults=DEFAULTS,
                              config=config, blueprints=[alexa_blueprint()])
