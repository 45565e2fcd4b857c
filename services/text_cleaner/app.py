"""The text_cleaner utility service: tweet-like text in, clean text, tokens, lemmas out."""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, fields, validate

from common import Function, create_service_app
from common.serving.validation import Flag, Text

from .cleaning import (EMOJI_MODES, HASHTAG_MODES, MENTION_MODES, SUPPORTED_LANGUAGES,
                       URL_MODES, CleanOptions, clean, preload_languages)


def _choice(choices: tuple[str, ...], default: str, description: str) -> fields.String:
    return fields.String(load_default=default, validate=validate.OneOf(choices),
                         metadata={"description": description})


class CleanInput(Schema):
    """One text and how to clean it; every option has a default."""

    text = Text(metadata={"description": "Raw text, e.g. a tweet.",
                          "example": "Sooo happy with @acme's support!! #BestDayEver"})
    lowercase = Flag(load_default=False)
    urls = _choice(URL_MODES, "remove", "remove, keep, or replace by <url>")
    mentions = _choice(MENTION_MODES, "remove", "remove, keep, or replace by <user>")
    hashtags = _choice(HASHTAG_MODES, "word", "word (drop '#', split CamelCase), keep, remove")
    emoji = _choice(EMOJI_MODES, "keep", "keep, text (to words), or remove")
    language = _choice(SUPPORTED_LANGUAGES, "en", "language of the lemmas")


class CleanOutput(Schema):
    """The cleaned text, its tokens and lemmas (aligned), and what was taken out."""

    text = fields.String(required=True)
    tokens = fields.List(fields.String(), required=True)
    lemmas = fields.List(fields.String(), required=True)
    urls = fields.List(fields.String(), required=True)
    mentions = fields.List(fields.String(), required=True)
    hashtags = fields.List(fields.String(), required=True)
    emoji = fields.List(fields.String(), required=True)


_OPTION_NAMES = tuple(f.name for f in dataclass_fields(CleanOptions))


class TextCleaner(Function):
    """No model: regular expressions, the ``emoji`` package and ``simplemma``."""

    name = "text_cleaner"
    version = "1.0.0"
    description = ("Cleans tweet-like text (URLs, mentions, hashtags, emoji, HTML entities, "
                   "whitespace) and returns the clean text, tokens and lemmas.")
    tags = ("nlp", "text", "utility")
    input_schema = CleanInput
    output_schema = CleanOutput
    sample_input = {"text": "Sooo happy with @acme's support!! #BestDayEver https://t.co/x"}

    def load(self) -> None:
        """Load the lemma dictionaries of ``PRELOAD_LANGUAGES`` now, so no request for
        them pays for the first use; the others load on their first request."""
        languages = [lang.strip() for lang in self.config["PRELOAD_LANGUAGES"].split(",")
                     if lang.strip()]
        preload_languages(languages)

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Clean each text with its own options."""
        return [clean(item["text"], CleanOptions(**{k: item[k] for k in _OPTION_NAMES}))
                for item in inputs]


#: All seven dictionaries take 483 MiB of memory, English alone 69 MiB (measured: RSS of
#: a fresh process after preload_languages), so only English is loaded at start-up; a
#: first request in another language waits about 0.3-1.7 s for its dictionary.
DEFAULTS = {"PRELOAD_LANGUAGES": "en"}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The text_cleaner service app (environment prefix ``TEXT_CLEANER_``)."""
    return create_service_app(TextCleaner, defaults=DEFAULTS, config=config)
