"""Text cleaning for tweet-like input: the library behind the ``text_cleaner`` service.

:func:`clean` turns raw social-media text into a readable sentence (so a
downstream sentiment model can still score it) plus tokens and lemmas.

Processing order:

1. ``html.unescape`` (``&amp;`` -> ``&``), Unicode NFC normalisation.
2. URLs (``http://``, ``https://``, ``www.``), ``@mentions`` and ``#hashtags``
   are found in one pass and removed / kept / replaced by ``<url>``/``<user>``
   (hashtags: ``word`` drops the ``#`` and splits CamelCase, ``#MondayMotivation``
   -> ``Monday Motivation``).
3. Elongated words are shortened: a letter repeated 3+ times is capped at 2
   (``soooo`` -> ``soo``, ``yessss`` -> ``yess``); digits, punctuation
   (``!!!``) and URLs kept verbatim are not touched.
4. Emoji are kept, converted to words (``😂`` -> ``face with tears of joy``) or
   removed. Multi-codepoint emoji (flags, skin tones, ZWJ sequences) count as
   one emoji.
5. Whitespace is collapsed and stripped; optional lowercasing.

Tokens come from ``simplemma``'s regex tokenizer (which drops emoji, so emoji
are split out first and become tokens of their own; ``<url>``/``<user>`` are
kept as single tokens). ``lemmas`` is aligned 1:1 with ``tokens``: word tokens
go through ``simplemma.lemmatize`` (lowercased when ``lowercase`` is set); kept
URLs, punctuation, numbers, emoji and
placeholders are their own lemma.

Everything is pure Python with module-level precompiled regexes and no
mutable shared state of our own, so :func:`clean` is safe to call from many
threads. simplemma loads a language's bundled dictionary lazily on first use
(from the installed package; nothing is downloaded).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

import emoji as _emoji
import simplemma

__all__ = [
    "CleanOptions",
    "clean",
    "URL_MODES",
    "MENTION_MODES",
    "HASHTAG_MODES",
    "EMOJI_MODES",
    "SUPPORTED_LANGUAGES",
    "URL_TOKEN",
    "USER_TOKEN",
    "preload_languages",
    "split_camel_case",
]

URL_MODES = ("remove", "keep", "token")
MENTION_MODES = ("remove", "keep", "token")
HASHTAG_MODES = ("word", "keep", "remove")
EMOJI_MODES = ("keep", "text", "remove")
# simplemma language codes checked to lemmatize correctly with simplemma 2.0.0
SUPPORTED_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")

URL_TOKEN = "<url>"
USER_TOKEN = "<user>"

# Characters that usually end a sentence rather than a URL ("see http://x.com.").
_URL_TRAILING = ".,;:!?'\"’”)]}>"

# One pass over the text: URL | @mention | #hashtag.
# - mention: not preceded by a word char or '@' (so e-mail addresses are left alone),
#   up to 50 word chars (Twitter allows 15; be lenient), with its possessive ("'s"),
#   which goes with it when the mention is removed ("@acme's support" -> "support").
# - hashtag: not preceded by a word char or '#'/'&' and must contain a letter
#   ("#1" is not a hashtag).
_ENTITY_RE = re.compile(
    r"(?P<url>(?:https?://|www\.)\S+)"
    r"|(?<![\w@])@(?P<mention>\w{1,50})(?P<possessive>['\u2019]s\b)?"
    r"|(?<![\w#&])#(?P<hashtag>\w*[^\W\d_]\w*)",
    re.IGNORECASE,
)
_ELONGATION_RE = re.compile(r"([^\W\d_])\1{2,}")
_WS_RE = re.compile(r"\s+")
# Pieces the word tokenizer must not split: placeholders and kept URLs
# (a URL's trailing sentence punctuation is left out, as in _ENTITY_RE).
_PROTECTED_RE = re.compile(
    rf"({re.escape(URL_TOKEN)}|{re.escape(USER_TOKEN)}"
    rf"|(?:https?://|www\.)\S*[^\s{re.escape(_URL_TRAILING)}])",
    re.IGNORECASE,
)
# "word ." left behind when a URL/mention between them was removed.
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+(?=[.,;:!?]+(?:\s|$))")


@dataclass(frozen=True)
class CleanOptions:
    lowercase: bool = False
    urls: str = "remove"  # remove | keep | token  (token -> "<url>")
    mentions: str = "remove"  # remove | keep | token  (token -> "<user>")
    hashtags: str = "word"  # word | keep | remove
    emoji: str = "keep"  # keep | text | remove
    language: str = "en"  # simplemma language code for lemmas

    def __post_init__(self) -> None:
        for name, allowed in (
            ("urls", URL_MODES),
            ("mentions", MENTION_MODES),
            ("hashtags", HASHTAG_MODES),
            ("emoji", EMOJI_MODES),
            ("language", SUPPORTED_LANGUAGES),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


_DEFAULT_OPTIONS = CleanOptions()


def split_camel_case(word: str) -> str:
    """``MondayMotivation`` -> ``Monday Motivation``, ``NASAGoals`` -> ``NASA Goals``,
    ``snake_case`` -> ``snake case``. A single leading lowercase letter stays
    attached (``iPhone`` -> ``iPhone``). Works on any cased script."""
    parts = [p for p in word.split("_") if p]
    out = []
    for part in parts:
        buf = [part[0]] if part else []
        for i in range(1, len(part)):
            prev, ch = part[i - 1], part[i]
            nxt = part[i + 1] if i + 1 < len(part) else ""
            boundary = (prev.islower() and ch.isupper() and not (i == 1)) or (
                prev.isupper() and ch.isupper() and nxt.islower()
            )
            if boundary:
                buf.append(" ")
            buf.append(ch)
        out.append("".join(buf))
    return " ".join(out)


def _shorten_elongations(text: str) -> str:
    return _ELONGATION_RE.sub(r"\1\1", text)


def _emoji_to_words(chars: str, data: dict) -> str:
    name = data.get("en", "").strip(":").replace("_", " ")
    return f" {name} " if name else " "


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for i, piece in enumerate(_PROTECTED_RE.split(text)):
        if not piece:
            continue
        if i % 2:  # a captured protected piece
            tokens.append(piece)
            continue
        pos = 0
        for found in _emoji.emoji_list(piece):
            start, end = found["match_start"], found["match_end"]
            tokens.extend(simplemma.simple_tokenizer(piece[pos:start]))
            tokens.append(found["emoji"])
            pos = end
        tokens.extend(simplemma.simple_tokenizer(piece[pos:]))
    return tokens


def _lemma(token: str, language: str, lowercase: bool) -> str:
    if (
        not any(ch.isalpha() for ch in token)
        or token in (URL_TOKEN, USER_TOKEN)
        or _PROTECTED_RE.fullmatch(token)
    ):
        return token
    # simplemma tries the token as written and lowercased itself ("Mice" -> "mouse",
    # German "Häuser" -> "Haus"), so the original casing is the best input.
    lemma = simplemma.lemmatize(token, lang=language)
    return lemma.lower() if lowercase else lemma


def preload_languages(languages=SUPPORTED_LANGUAGES) -> None:
    """Load simplemma's bundled dictionaries now (about 0.3-1.7 s per language on
    first use, from the installed package) so the first request for a language
    is not slow. Optional: call it at service start-up."""
    for lang in languages:
        if lang not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}")
        simplemma.lemmatize("test", lang=lang)


def clean(text: str, options: CleanOptions = _DEFAULT_OPTIONS) -> dict:
    """Clean tweet-like ``text``.

    Returns ``{"text": str, "tokens": [...], "lemmas": [...], "urls": [...],
    "mentions": [...], "hashtags": [...], "emoji": [...]}``. ``lemmas`` has the
    same length as ``tokens``. ``urls``/``mentions``/``hashtags``/``emoji`` list
    what was found in the input, in order (mentions and hashtags without their
    ``@``/``#``; emoji as the emoji characters). If nothing remains (e.g. the
    input was only a URL), ``text`` is ``""`` and ``tokens``/``lemmas`` are empty.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    text = unicodedata.normalize("NFC", html.unescape(text))

    urls: list[str] = []
    mentions: list[str] = []
    hashtags: list[str] = []
    parts: list[str] = []
    pos = 0
    for m in _ENTITY_RE.finditer(text):
        parts.append(_shorten_elongations(text[pos : m.start()]))
        pos = m.end()
        if m.group("url") is not None:
            url = m.group("url")
            stripped = url.rstrip(_URL_TRAILING)
            if stripped.lower() in ("www.", "http://", "https://", "www"):
                # "www." followed by nothing useful: not a URL, leave it.
                parts.append(url)
                continue
            trailing = url[len(stripped) :]
            urls.append(stripped)
            repl = {"remove": " ", "keep": stripped, "token": f" {URL_TOKEN} "}[options.urls]
            parts.append(repl + trailing)
        elif m.group("mention") is not None:
            name = m.group("mention")
            mentions.append(name)
            possessive = m.group("possessive") or ""
            parts.append({"remove": " ", "keep": m.group(0),
                          "token": f" {USER_TOKEN}{possessive} "}[options.mentions])
        else:
            tag = m.group("hashtag")
            hashtags.append(tag)
            if options.hashtags == "word":
                parts.append(split_camel_case(tag))
            elif options.hashtags == "keep":
                parts.append(m.group(0))
            else:
                parts.append(" ")
    parts.append(_shorten_elongations(text[pos:]))
    text = "".join(parts)

    found_emoji = [e["emoji"] for e in _emoji.emoji_list(text)]
    if found_emoji:
        if options.emoji == "text":
            text = _emoji.replace_emoji(text, replace=_emoji_to_words)
        elif options.emoji == "remove":
            text = _emoji.replace_emoji(text, replace=" ")

    text = _WS_RE.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT_RE.sub("", text)
    if options.lowercase:
        text = text.lower()

    tokens = _tokenize(text) if text else []
    if not tokens:
        text = ""
    lemmas = [_lemma(t, options.language, options.lowercase) for t in tokens]
    return {
        "text": text,
        "tokens": tokens,
        "lemmas": lemmas,
        "urls": urls,
        "mentions": mentions,
        "hashtags": hashtags,
        "emoji": found_emoji,
    }
