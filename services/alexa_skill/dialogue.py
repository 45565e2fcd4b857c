"""The skill's dialogue: built-in intents, and intents that pipe to a service.

Everything the skill says and which service answers which intent comes from
``intents.yaml``; this module only turns that into :class:`~common.alexa.Skill`
handlers. A failing or slow backend becomes a spoken apology, never an error status.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from common.alexa import AlexaRequest, ResponseBuilder, Skill, ask, tell
from common.client import Algo
from common.core.errors import ServiceError

log = logging.getLogger(__name__)
DEFAULT_INTENTS = Path(__file__).with_name("intents.yaml")
BUILT_IN = {"AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.CancelIntent",
            "AMAZON.FallbackIntent", "AMAZON.NavigateHomeIntent"}


@dataclass(frozen=True)
class ServiceIntent:
    """An intent answered by a service: slots in, the service's output spoken."""

    name: str
    service: str
    inputs: Mapping[str, str]      # service input field -> slot name
    say: str
    missing: str

    def service_input(self, slots: Mapping[str, str | None]) -> dict[str, str] | None:
        """The service's input from the slots, or None when a slot is empty."""
        values = {field: (slots.get(slot) or "").strip() for field, slot in self.inputs.items()}
        return values if all(values.values()) else None


def load_dialogue(path: str | Path = DEFAULT_INTENTS) -> dict[str, Any]:
    """The parsed intents file, with each service intent as a :class:`ServiceIntent`."""
    document = yaml.safe_load(Path(path).read_text())
    document["intents"] = {name: ServiceIntent(name, spec["service"], spec["input"],
                                               spec["say"], spec["missing"])
                           for name, spec in (document.get("intents") or {}).items()}
    return document


def build_skill(dialogue: Mapping[str, Any], algo: Callable[[str], Algo],
                timeout_s: float) -> Skill:
    """The :class:`Skill` answering every built-in and configured intent; ``algo``
    gives a handle on a backend service by name."""
    skill = Skill("alexa_skill", apology=dialogue["apology"])
    reprompt = dialogue["help"]
    skill.launch(lambda _r: ask(dialogue["welcome"], reprompt))
    skill.intent("AMAZON.NavigateHomeIntent")(lambda _r: ask(dialogue["welcome"], reprompt))
    skill.intent("AMAZON.HelpIntent")(lambda _r: ask(dialogue["help"], reprompt))
    skill.intent("AMAZON.StopIntent", "AMAZON.CancelIntent")(
        lambda _r: tell(dialogue["goodbye"]))
    skill.fallback(lambda _r: ask(dialogue["fallback"], reprompt))
    skill.session_ended(lambda _r: None)
    for intent in dialogue["intents"].values():
        skill.intent(intent.name)(_service_handler(intent, algo, timeout_s,
                                                   dialogue["apology"], reprompt))
    return skill


def _service_handler(intent: ServiceIntent, algo: Callable[[str], Algo], timeout_s: float,
                     apology: str, reprompt: str):
    def handle(request: AlexaRequest) -> ResponseBuilder:
        data = intent.service_input(request.slots)
        if data is None:
            return ask(intent.missing, intent.missing)
        try:
            result = algo(intent.service).pipe(data, timeout=timeout_s).result
        except ServiceError as e:  # a failed backend is spoken, never an error status
            log.warning("intent %s: %s failed: %s", intent.name, intent.service, e)
            return ask(apology, reprompt)
        spoken = intent.say.format_map(_Fields(result))
        return ask(spoken, reprompt).card(intent.name, card_text(spoken, result))
    return handle


def card_text(spoken: str, result: Any) -> str:
    """The Alexa app card of an answer: what was said, then the answer's fields as
    ``Name: value`` lines a person reads (never a Python dict printout)."""
    fields = result.items() if isinstance(result, Mapping) else [("result", result)]
    # a field that only repeats what was said (the chatbot's reply) is left off the card
    lines = [f"{key.replace('_', ' ').capitalize()}: {_readable(value)}"
             for key, value in fields if value != spoken]
    return "\n".join([spoken, "", *lines]) if lines else spoken


def _readable(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {_readable(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_readable(v) for v in value)
    return str(value)


class _Fields(dict):
    """Output fields for ``str.format_map``; a missing field reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""
