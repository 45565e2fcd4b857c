"""The chatbot service: a desk assistant answering questions about a context paragraph,
with a chat page at ``GET /``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Blueprint, Flask, Response, send_from_directory
from marshmallow import Schema, fields, validate

from common import Model, create_service_app
from common.serving.validation import Text

from .answerer import MAX_CONTEXT_CHARS, MAX_QUESTION_CHARS

STATIC = Path(__file__).with_name("static")
DEFAULT_CONTEXT = Path(__file__).with_name("context.txt")


class QuestionInput(Schema):
    """A question, optionally about a context paragraph of the caller's."""

    question = Text(MAX_QUESTION_CHARS, metadata={"example": "When do you open on Monday?"})
    context = fields.String(validate=validate.Length(min=1, max=MAX_CONTEXT_CHARS),
                            metadata={"description": "The paragraph to answer from "
                                      "(about the first 250 words are read); default: the "
                                      "desk's own context file."})
    session_id = fields.String(validate=validate.Length(max=100),
                               metadata={"description": "Echoed in logs; optional."})


class AnswerOutput(Schema):
    """The answer span copied from the context (null when the context does not hold it),
    a sentence to show or speak, and the model's confidence."""

    answer = fields.String(required=True, allow_none=True,
                           metadata={"description": "The exact span of the context; null "
                                     "when the context does not hold the answer."})
    answerable = fields.Boolean(required=True, metadata={
        "description": "False when the assistant abstains: the context does not say."})
    confidence = fields.Float(required=True, validate=validate.Range(0, 1), metadata={
        "description": "For an answer, the model's confidence in the span; for an "
                       "abstention, its probability that the context does not say."})
    reply = fields.String(required=True, metadata={
        "description": "A short sentence for the chat page or a voice assistant: the "
                       "answer said back (\"We open at 9:00 on Monday.\") or an apology."})


class Chatbot(Model):
    """Seq2seq LSTM with attention and a copy mechanism, decoded in a compiled function;
    abstains when the context does not hold the answer."""

    name = "chatbot"
    version = "1.3.0"   # retrained: written notices round 8, abstention thresholds 0.45/0.7
    description = ("Desk assistant: answers questions about opening hours, rooms, phone "
                   "numbers, people and prices from a context paragraph, with a reply "
                   "sentence; says so when the context does not hold the answer.")
    tags = ("nlp", "seq2seq", "chatbot", "tensorflow")
    input_schema = QuestionInput
    output_schema = AnswerOutput
    sample_input = {"question": "When do you open on Monday?"}

    def __init__(self, config: Mapping[str, Any] | None = None):
        super().__init__(config)
        context = Path(self.config.get("CONTEXT_FILE") or DEFAULT_CONTEXT)
        self.desk = desk_summary(context.read_text(encoding="utf-8"))

    def metadata(self) -> dict[str, Any]:
        """What the desk knows, for the chat page's greeting."""
        return {"desk": self.desk}

    def load(self) -> None:
        """Load the SavedModel and the deployer's context file (after the fork)."""
        from .answerer import DEFAULT_ARTIFACT, DEFAULT_CONTEXT, Answerer
        self.answerer = Answerer.load(self.config["ARTIFACT_DIR"] or DEFAULT_ARTIFACT,
                                      self.config["CONTEXT_FILE"] or DEFAULT_CONTEXT)

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One compiled decode for the whole batch."""
        return self.answerer.answer([item["question"] for item in inputs],
                                    [item.get("context") for item in inputs])


def desk_summary(context: str) -> dict[str, Any]:
    """The context file's first line (its welcome) and its headings (the topics: a
    line with no colon or full stop, followed by a line of content)."""
    lines = [line.strip() for line in context.splitlines()]
    filled = [line for line in lines if line]
    topics = [line for line, after in zip(lines, lines[1:] + [""])
              if line and after and ":" not in line and not line.endswith((".", "?", "!"))]
    return {"welcome": filled[0] if filled else "", "topics": topics}


def page_blueprint() -> Blueprint:
    """``GET /``: the chat page, and its static files."""
    bp = Blueprint("chat_page", __name__)

    @bp.get("/")
    def page() -> Response:
        return send_from_directory(STATIC, "index.html", max_age=0)

    @bp.get("/static/<path:filename>")
    def static_file(filename: str) -> Response:
        return send_from_directory(STATIC, filename, max_age=300)

    return bp


# Dynamic batching on by default: with 16 concurrent single questions it served 3.2x the
# requests/s of unbatched calls (31.5 -> 101.6) and cut p50 from 500 to 141 ms; alone, a
# question waits up to 5 ms for company. CHATBOT_BATCHING=false turns it off.
DEFAULTS = {"ARTIFACT_DIR": "", "CONTEXT_FILE": "", "MAX_TEXT_LENGTH": MAX_CONTEXT_CHARS,
            "MAX_BATCH_SIZE": 32, "BATCHING": True, "BATCH_MAX_SIZE": 16,
            "BATCH_MAX_LATENCY_MS": 5.0}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The chatbot app (environment prefix ``CHATBOT_``)."""
    return create_service_app(Chatbot, defaults=DEFAULTS, config=config,
                              blueprints=[page_blueprint()])
