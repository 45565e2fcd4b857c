"""Alexa custom-skill requests in, responses out: parsing, a response builder, a dispatcher.

Framework-agnostic: :meth:`Skill.handle` takes the request JSON (as returned by
:meth:`~common.alexa.verify.RequestVerifier.verify`) and returns the response JSON.

Response limits (Alexa refuses responses over them, and the user hears an error):

* output speech and reprompt: at most 8,000 characters each (SSML counted with its
  markup); longer text is cut at a word boundary and ends with an ellipsis;
* a Simple card: title and content together at most 8,000 characters;
* the whole response: at most 24,000 bytes as JSON. When over, parts are shrunk in this
  order until it fits: card content, then the whole card, then the session attributes
  (dropped, with a warning: state that big is a bug), then the reprompt (cut, then
  dropped), then the output speech (cut). The size is measured with ASCII-escaped JSON,
  the largest common serialisation, so any JSON encoder stays within the bound.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union
from xml.sax.saxutils import escape

from common.core.errors import InvalidInput

log = logging.getLogger(__name__)

VERSION = "1.0"
MAX_SPEECH_CHARS = 8000
MAX_CARD_CHARS = 8000
MAX_RESPONSE_BYTES = 24_000
ELLIPSIS = "\u2026"
DEFAULT_APOLOGY = "Sorry, something went wrong. Please try again later."
DEFAULT_FALLBACK = "Sorry, I can't help with that. Please try something else."
DEFAULT_FALLBACK_REPROMPT = "What would you like to do?"

LAUNCH_REQUEST = "LaunchRequest"
INTENT_REQUEST = "IntentRequest"
SESSION_ENDED_REQUEST = "SessionEndedRequest"


# --- requests --------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionEndedError:
    """Why Alexa ended a session with reason ERROR (``type`` and ``message``)."""

    type: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class AlexaRequest:
    """The parts of an Alexa request envelope a handler needs.

    ``slots`` maps slot name to the spoken value (None when the slot was not filled),
    for every slot type including ``AMAZON.SearchQuery``; entity resolutions are not
    kept. ``reason``/``error`` are set for SessionEndedRequest only. ``raw`` is the
    whole request JSON, for anything else.
    """

    type: str
    request_id: str | None = None
    locale: str | None = None
    timestamp: str | None = None
    new_session: bool = False
    session_id: str | None = None
    user_id: str | None = None
    application_id: str | None = None
    session_attributes: dict[str, Any] = field(default_factory=dict)
    intent: str | None = None
    slots: dict[str, str | None] = field(default_factory=dict)
    dialog_state: str | None = None
    reason: str | None = None
    error: SessionEndedError | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _dig(node: Any, *keys: str) -> Any:
    """``node[k1][k2]...``, or None as soon as a level is missing or not an object."""
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_slots(intent: Any) -> dict[str, str | None]:
    """Slot name -> spoken value from an intent object (resolutions ignored)."""
    slots = _dig(intent, "slots")
    if not isinstance(slots, Mapping):
        return {}
    parsed = {}
    for key, slot in slots.items():
        name = _str_or_none(_dig(slot, "name")) or str(key)
        # multi-value slots carry no top-level value, only slotValue.value
        value = _dig(slot, "value") or _dig(slot, "slotValue", "value")
        parsed[name] = _str_or_none(value)
    return parsed


def parse_request(document: Mapping[str, Any]) -> AlexaRequest:
    """An :class:`AlexaRequest` from the request JSON; InvalidInput if it is no envelope."""
    request = _dig(document, "request")
    request_type = _dig(request, "type")
    if not isinstance(request_type, str) or not request_type:
        raise InvalidInput("The body is not an Alexa request (no request.type).",
                           {"reason": "bad_request_envelope"})
    session = _dig(document, "session")
    attributes = _dig(session, "attributes")
    error = _dig(request, "error")
    return AlexaRequest(
        type=request_type,
        request_id=_str_or_none(_dig(request, "requestId")),
        locale=_str_or_none(_dig(request, "locale")),
        timestamp=_str_or_none(_dig(request, "timestamp")),
        new_session=_dig(session, "new") is True,
        session_id=_str_or_none(_dig(session, "sessionId")),
        user_id=_str_or_none(_dig(document, "context", "System", "user", "userId")
                             or _dig(session, "user", "userId")),
        application_id=_application_id(document),
        session_attributes=dict(attributes) if isinstance(attributes, Mapping) else {},
        intent=_str_or_none(_dig(request, "intent", "name")),
        slots=parse_slots(_dig(request, "intent")),
        dialog_state=_str_or_none(_dig(request, "dialogState")),
        reason=_str_or_none(_dig(request, "reason")),
        error=(SessionEndedError(_str_or_none(_dig(error, "type")),
                                 _str_or_none(_dig(error, "message")))
               if isinstance(error, Mapping) else None),
        raw=document,
    )


def _application_id(document: Mapping[str, Any]) -> str | None:
    return _str_or_none(_dig(document, "context", "System", "application", "applicationId")
                        or _dig(document, "session", "application", "applicationId"))


# --- text limits -----------------------------------------------------------------------

# characters XML 1.0 forbids; one of them would make the whole SSML document invalid
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s")


def ssml_escape(text: str) -> str:
    """Text made safe inside SSML: markup characters escaped, XML-invalid ones removed."""
    return escape(_XML_INVALID.sub("", text), {'"': "&quot;", "'": "&apos;"})


def truncate_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, plus an ellipsis.

    A text without any whitespace to cut at (one huge token) is cut mid-word.
    """
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ""
    cut = text[:limit - len(ELLIPSIS)]
    if not _WHITESPACE.match(text, len(cut)):  # the cut falls inside a word
        last_space = max((m.start() for m in _WHITESPACE.finditer(cut)), default=0)
        cut = cut[:last_space] if last_space > 0 else cut
    return cut.rstrip(" \t\r\n,;:") + ELLIPSIS


def _ssml_text_within(text: str, limit: int) -> str:
    """``text`` cut so that, escaped and wrapped in <speak>, it is within ``limit``."""
    budget = limit - len("<speak></speak>")
    if len(ssml_escape(text)) <= budget:
        return text
    # the longest prefix whose escaped form, plus the ellipsis, fits (escaping is
    # per character, so prefix lengths add up); word-boundary cutting only shortens it
    used, fits = len(ELLIPSIS), 0
    for char in text:
        used += len(ssml_escape(char))
        if used > budget:
            break
        fits += 1
    return truncate_words(text, fits + len(ELLIPSIS))


def fit_speech_text(text: str, *, ssml: bool = False, limit: int = MAX_SPEECH_CHARS) -> str:
    """``text`` cut so its outputSpeech (plain, or escaped SSML) is within ``limit``."""
    return _ssml_text_within(text, limit) if ssml else truncate_words(text, limit)


def output_speech(text: str, *, ssml: bool = False, limit: int = MAX_SPEECH_CHARS) -> dict:
    """A PlainText or SSML ``outputSpeech`` object, within ``limit`` characters."""
    fitted = fit_speech_text(text, ssml=ssml, limit=limit)
    if ssml:
        return {"type": "SSML", "ssml": f"<speak>{ssml_escape(fitted)}</speak>"}
    return {"type": "PlainText", "text": fitted}


def response_size(response: Mapping[str, Any]) -> int:
    """Bytes of the response as ASCII-escaped JSON (an upper bound for any encoder)."""
    return len(json.dumps(response, ensure_ascii=True))


# --- responses -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Speech:
    text: str
    ssml: bool = False

    def fitted(self) -> _Speech:
        """This speech cut to the 8,000-character limit (so later cuts work on that)."""
        return _Speech(fit_speech_text(self.text, ssml=self.ssml), self.ssml)


_UNSET: Any = object()


class ResponseBuilder:
    """Builds one response; every setter returns the builder, so calls chain.

    ``ResponseBuilder().speak("Hi!").reprompt("Still there?").build()``. Unless set
    with :meth:`end_session`, ``shouldEndSession`` is False when there is a reprompt
    and True otherwise.
    """

    def __init__(self) -> None:
        self._speech: _Speech | None = None
        self._reprompt: _Speech | None = None
        self._card: tuple[str, str] | None = None
        self._attributes: dict[str, Any] | None = None
        self._end_session: bool | None = _UNSET

    def speak(self, text: str, *, ssml: bool = False) -> ResponseBuilder:
        """Set the output speech; ``ssml=True`` escapes ``text`` and wraps it in <speak>."""
        self._speech = _Speech(text, ssml)
        return self

    def reprompt(self, text: str, *, ssml: bool = False) -> ResponseBuilder:
        """Set what Alexa says if the user does not answer (keeps the session open)."""
        self._reprompt = _Speech(text, ssml)
        return self

    def card(self, title: str, content: str) -> ResponseBuilder:
        """Set a Simple card for the Alexa app (title and content, plain text)."""
        self._card = (title, content)
        return self

    def attributes(self, attributes: Mapping[str, Any]) -> ResponseBuilder:
        """Set the session attributes Alexa sends back with the next request."""
        self._attributes = dict(attributes)
        return self

    def end_session(self, end: bool | None = True) -> ResponseBuilder:
        """Set ``shouldEndSession``; None leaves it out (the device decides)."""
        self._end_session = end
        return self

    def build(self) -> dict:
        """The response JSON, within Alexa's size limits (see the module docstring)."""
        draft = _Draft(self._speech and self._speech.fitted(),
                       self._reprompt and self._reprompt.fitted(),
                       self._card and _fitted_card(*self._card), self._attributes,
                       self._resolved_end_session())
        response = draft.render()
        for shrink in _SHRINK_STEPS:
            excess = response_size(response) - MAX_RESPONSE_BYTES
            if excess <= 0:
                break
            log.warning("Alexa response is %d bytes over the limit; %s.", excess,
                        shrink.__doc__)
            shrink(draft, excess)
            response = draft.render()
        return response

    def _resolved_end_session(self) -> bool | None:
        if self._end_session is _UNSET:
            return self._reprompt is None
        return self._end_session


@dataclass
class _Draft:
    """A response's parts while it is being fitted into the size limit."""

    speech: _Speech | None
    reprompt: _Speech | None
    card: tuple[str, str] | None
    attributes: dict[str, Any] | None
    end_session: bool | None

    def render(self) -> dict:
        body: dict[str, Any] = {}
        if self.speech is not None:
            body["outputSpeech"] = output_speech(self.speech.text, ssml=self.speech.ssml)
        if self.reprompt is not None:
            body["reprompt"] = {"outputSpeech": output_speech(self.reprompt.text,
                                                               ssml=self.reprompt.ssml)}
        if self.card is not None:
            body["card"] = _simple_card(*self.card)
        if self.end_session is not None:
            body["shouldEndSession"] = self.end_session
        response: dict[str, Any] = {"version": VERSION}
        if self.attributes:
            response["sessionAttributes"] = self.attributes
        response["response"] = body
        return response


def _fitted_card(title: str, content: str) -> tuple[str, str]:
    """Title and content cut to 8,000 characters together (the title wins)."""
    title = truncate_words(title, MAX_CARD_CHARS)
    return title, truncate_words(content, MAX_CARD_CHARS - len(title))


def _simple_card(title: str, content: str) -> dict:
    title, content = _fitted_card(title, content)
    return {"type": "Simple", "title": title, "content": content}


# Cutting n characters saves at least n bytes (each is >= 1 byte in JSON); the slack
# pays for the ellipsis the cut adds (6 bytes as the JSON escape \u2026).
_CUT_SLACK = 8


def _shorter(text: str, excess: int) -> str:
    return truncate_words(text, len(text) - excess - _CUT_SLACK)


def _shrink_card(draft: _Draft, excess: int) -> None:
    """cutting the card content"""
    if draft.card is not None:
        draft.card = (draft.card[0], _shorter(draft.card[1], excess))


def _drop_card(draft: _Draft, excess: int) -> None:
    """dropping the card"""
    draft.card = None


def _drop_attributes(draft: _Draft, excess: int) -> None:
    """dropping the session attributes"""
    draft.attributes = None


def _shrink_reprompt(draft: _Draft, excess: int) -> None:
    """cutting the reprompt"""
    if draft.reprompt is not None:
        draft.reprompt = _Speech(_shorter(draft.reprompt.text, excess), draft.reprompt.ssml)


def _drop_reprompt(draft: _Draft, excess: int) -> None:
    """dropping the reprompt"""
    draft.reprompt = None


def _shrink_speech(draft: _Draft, excess: int) -> None:
    """cutting the output speech"""
    if draft.speech is not None:
        draft.speech = _Speech(_shorter(draft.speech.text, excess), draft.speech.ssml)


_SHRINK_STEPS: tuple[Callable[[_Draft, int], None], ...] = (
    _shrink_card, _drop_card, _drop_attributes, _shrink_reprompt, _drop_reprompt,
    _shrink_speech)


def tell(text: str, *, ssml: bool = False) -> ResponseBuilder:
    """A builder that says ``text`` and ends the session."""
    return ResponseBuilder().speak(text, ssml=ssml).end_session(True)


def ask(text: str, reprompt: str, *, ssml: bool = False) -> ResponseBuilder:
    """A builder that says ``text``, keeps listening, and reprompts with ``reprompt``."""
    return (ResponseBuilder().speak(text, ssml=ssml).reprompt(reprompt, ssml=ssml)
            .end_session(False))


def empty_response() -> dict:
    """The response to requests Alexa wants no speech for (e.g. SessionEndedRequest)."""
    return {"version": VERSION, "response": {}}


# --- the dispatcher --------------------------------------------------------------------

Response = Union[ResponseBuilder, Mapping[str, Any]]
Handler = Callable[[AlexaRequest], Response]


class Skill:
    """Routes Alexa requests to registered handlers and turns their results into JSON.

    Register with decorators: ``@skill.launch``, ``@skill.intent("AMAZON.HelpIntent")``
    (several names allowed), ``@skill.session_ended``, ``@skill.fallback`` (intents
    without a handler, and LaunchRequest if there is no launch handler) and
    ``@skill.request("AudioPlayer.PlaybackStarted")`` for other request types. A
    handler takes an :class:`AlexaRequest` and returns a :class:`ResponseBuilder` or a
    response dict. Request types nobody handles get an empty response.
    """

    def __init__(self, name: str = "alexa-skill", *, apology: str = DEFAULT_APOLOGY):
        self.name = name
        self.apology = apology
        self._intents: dict[str, Handler] = {}
        self._requests: dict[str, Handler] = {}
        self._fallback: Handler = _default_fallback

    def launch(self, handler: Handler) -> Handler:
        """Decorator: the handler for LaunchRequest ("Alexa, open <skill>")."""
        self._requests[LAUNCH_REQUEST] = handler
        return handler

    def session_ended(self, handler: Handler) -> Handler:
        """Decorator: called on SessionEndedRequest; its result is ignored (no speech)."""
        self._requests[SESSION_ENDED_REQUEST] = handler
        return handler

    def intent(self, *names: str) -> Callable[[Handler], Handler]:
        """Decorator: the handler for the intents ``names``."""
        if not names:
            raise ValueError("intent() needs at least one intent name.")

        def register(handler: Handler) -> Handler:
            for name in names:
                self._intents[name] = handler
            return handler
        return register

    def fallback(self, handler: Handler) -> Handler:
        """Decorator: the handler for intents (and a launch) without their own handler."""
        self._fallback = handler
        return handler

    def request(self, request_type: str) -> Callable[[Handler], Handler]:
        """Decorator: the handler for another request type, by its ``request.type``."""
        def register(handler: Handler) -> Handler:
            self._requests[request_type] = handler
            return handler
        return register

    def handle(self, document: Mapping[str, Any]) -> dict:
        """The response JSON for one request JSON.

        Never raises for a handler's failure: an exception (or a result that is not a
        response) is logged and answered with a spoken apology. Raises InvalidInput
        only when ``document`` is not an Alexa request envelope at all.
        """
        request = parse_request(document)
        if request.type == SESSION_ENDED_REQUEST:
            return self._session_ended(request)
        handler = self._route(request)
        if handler is None:
            return empty_response()
        try:
            return _as_response(handler(request))
        except Exception:  # a handler bug must not turn into an HTTP 500 for Alexa
            log.exception("%s: handler for %s failed (request %s).", self.name,
                          request.intent or request.type, request.request_id)
            return tell(self.apology).build()

    def _route(self, request: AlexaRequest) -> Handler | None:
        if request.type == INTENT_REQUEST:
            return self._intents.get(request.intent or "", self._fallback)
        if request.type == LAUNCH_REQUEST:
            return self._requests.get(LAUNCH_REQUEST, self._fallback)
        return self._requests.get(request.type)

    def _session_ended(self, request: AlexaRequest) -> dict:
        """Run the session-ended handler for its side effects; answer with no speech."""
        if request.reason == "ERROR":
            log.warning("%s: session ended with an error: %s", self.name, request.error)
        handler = self._requests.get(SESSION_ENDED_REQUEST)
        if handler is not None:
            try:
                handler(request)
            except Exception:  # nothing to say to the user any more; just record it
                log.exception("%s: session-ended handler failed.", self.name)
        return empty_response()


def _as_response(result: Any) -> dict:
    """A handler's result as response JSON; TypeError if it is not a response."""
    if isinstance(result, ResponseBuilder):
        return result.build()
    if isinstance(result, Mapping) and "response" in result:
        return dict(result)
    raise TypeError(f"A handler returned {type(result).__name__}, not a response.")


def _default_fallback(request: AlexaRequest) -> ResponseBuilder:
    return ask(DEFAULT_FALLBACK, DEFAULT_FALLBACK_REPROMPT)
