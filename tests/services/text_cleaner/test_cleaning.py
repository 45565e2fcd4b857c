"""Tests for services.text_cleaner.cleaning (pure Python, no model, no network)."""

import threading

import pytest

from services.text_cleaner.cleaning import (
    EMOJI_MODES,
    HASHTAG_MODES,
    MENTION_MODES,
    SUPPORTED_LANGUAGES,
    URL_MODES,
    CleanOptions,
    clean,
    preload_languages,
    split_camel_case,
)

KEYS = {"text", "tokens", "lemmas", "urls", "mentions", "hashtags", "emoji"}


def test_exported_modes():
    assert URL_MODES == ("remove", "keep", "token")
    assert MENTION_MODES == ("remove", "keep", "token")
    assert HASHTAG_MODES == ("word", "keep", "remove")
    assert EMOJI_MODES == ("keep", "text", "remove")
    assert {"en", "de", "fr", "es", "it", "nl", "pt"} <= set(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize(
    "field,value",
    [("urls", "drop"), ("mentions", "x"), ("hashtags", "token"), ("emoji", "words"), ("language", "xx")],
)
def test_invalid_options_rejected(field, value):
    with pytest.raises(ValueError):
        CleanOptions(**{field: value})


def test_result_shape():
    out = clean("Hello world")
    assert set(out) == KEYS
    assert out["text"] == "Hello world"
    assert out["tokens"] == ["Hello", "world"]


# ---------------------------------------------------------------- URLs
@pytest.mark.parametrize(
    "text,url",
    [
        ("look http://example.com/a?b=1 now", "http://example.com/a?b=1"),
        ("look https://t.co/AbC123 now", "https://t.co/AbC123"),
        ("look www.example.org/path now", "www.example.org/path"),
        ("look HTTPS://Example.com now", "HTTPS://Example.com"),
    ],
)
@pytest.mark.parametrize(
    "mode,expected_text,url_token",
    [("remove", "look now", None), ("token", "look <url> now", "<url>"), ("keep", None, "URL")],
)
def test_urls(text, url, mode, expected_text, url_token):
    out = clean(text, CleanOptions(urls=mode))
    assert out["urls"] == [url]
    if mode == "keep":
        assert out["text"] == text
        assert out["tokens"] == ["look", url, "now"]
        assert out["lemmas"][1] == url
    else:
        assert out["text"] == expected_text
        assert (url_token in out["tokens"]) if url_token else (url not in out["text"])


def test_url_trailing_punctuation_not_part_of_url():
    out = clean("see https://x.com/a. Great!")
    assert out["urls"] == ["https://x.com/a"]
    assert out["text"] == "see. Great!"
    out = clean("see (https://x.com/a), ok", CleanOptions(urls="keep"))
    assert out["urls"] == ["https://x.com/a"]
    assert "https://x.com/a" in out["tokens"]


# ---------------------------------------------------------------- mentions
@pytest.mark.parametrize(
    "mode,expected_text,expected_tokens",
    [
        ("remove", "thanks for the help!", ["thanks", "for", "the", "help", "!"]),
        ("token", "<user> thanks <user> for the help!", ["<user>", "thanks", "<user>", "for", "the", "help", "!"]),
        ("keep", "@alice thanks @Bob_2 for the help!", ["@alice", "thanks", "@Bob_2", "for", "the", "help", "!"]),
    ],
)
def test_mentions(mode, expected_text, expected_tokens):
    out = clean("@alice thanks @Bob_2 for the help!", CleanOptions(mentions=mode))
    assert out["mentions"] == ["alice", "Bob_2"]
    assert out["text"] == expected_text
    assert out["tokens"] == expected_tokens
    assert len(out["lemmas"]) == len(out["tokens"])


def test_email_is_not_a_mention():
    out = clean("mail me at joe@example.com")
    assert out["mentions"] == []
    assert "joe@example.com" in out["text"]


# ---------------------------------------------------------------- hashtags
@pytest.mark.parametrize(
    "mode,expected_text",
    [
        ("word", "Monday Motivation is here, love NASA Goals and sun"),
        ("keep", "#MondayMotivation is here, love #NASAGoals and #sun"),
        ("remove", "is here, love and"),
    ],
)
def test_hashtags(mode, expected_text):
    out = clean("#MondayMotivation is here, love #NASAGoals and #sun", CleanOptions(hashtags=mode))
    assert out["hashtags"] == ["MondayMotivation", "NASAGoals", "sun"]
    assert out["text"] == expected_text


@pytest.mark.parametrize(
    "tag,words",
    [
        ("MondayMotivation", "Monday Motivation"),
        ("ThrowbackThursday", "Throwback Thursday"),
        ("NASAGoals", "NASA Goals"),
        ("iPhone", "iPhone"),
        ("sunny", "sunny"),
        ("snake_case_tag", "snake case tag"),
        ("ÉtéChaud", "Été Chaud"),
        ("COVID19", "COVID19"),
    ],
)
def test_split_camel_case(tag, words):
    assert split_camel_case(tag) == words


def test_hashtag_requires_a_letter():
    out = clean("we are #1 again")
    assert out["hashtags"] == []
    assert out["text"] == "we are #1 again"


# ---------------------------------------------------------------- emoji
@pytest.mark.parametrize(
    "text,found",
    [
        ("so funny 😂", ["😂"]),
        ("go team 🇺🇸 🇫🇷", ["🇺🇸", "🇫🇷"]),  # flags: two regional indicators each
        ("nice 👍🏽", ["👍🏽"]),  # skin tone modifier
        ("family 👨‍👩‍👧 time", ["👨‍👩‍👧"]),  # ZWJ sequence
        ("love❤️it", ["❤️"]),  # variation selector, glued to words
    ],
)
def test_emoji_keep_are_single_tokens(text, found):
    out = clean(text)
    assert out["emoji"] == found
    for e in found:
        assert e in out["tokens"]
        assert e in out["text"]
    for tok, lem in zip(out["tokens"], out["lemmas"]):
        if tok in found:
            assert lem == tok


@pytest.mark.parametrize(
    "text,expected",
    [
        ("so funny 😂", "so funny face with tears of joy"),
        ("nice 👍🏽", "nice thumbs up medium skin tone"),
        ("go 🇺🇸", "go United States"),
        ("great😂game", "great face with tears of joy game"),
    ],
)
def test_emoji_text(text, expected):
    out = clean(text, CleanOptions(emoji="text"))
    assert out["text"] == expected
    assert out["tokens"] == expected.split()
    assert out["emoji"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("so funny 😂", "so funny"),
        ("nice 👍🏽 one 🇺🇸", "nice one"),
        ("family 👨‍👩‍👧 time", "family time"),
        ("great😂game", "great game"),
    ],
)
def test_emoji_remove(text, expected):
    out = clean(text, CleanOptions(emoji="remove"))
    assert out["text"] == expected
    assert out["emoji"]  # still reported as found


# ---------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    "text,expected",
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("5 &lt; 6 &gt; 4", "5 < 6 > 4"),
        ("&quot;quoted&quot; &#39;x&#39;", "\"quoted\" 'x'"),
        ("  lots   of \t\n space  ", "lots of space"),
        ("\u00a0nbsp\u2003em space ", "nbsp em space"),
        ("sooooo goooood", "soo good"),
        ("yesssss!!!!", "yess!!!!"),
        ("1000000 is fine", "1000000 is fine"),
        ("cafe\u0301", "café"),  # NFC
    ],
)
def test_normalisation(text, expected):
    assert clean(text)["text"] == expected


def test_elongation_not_applied_to_kept_url():
    out = clean("wooow http://aaaa.com/xxxx", CleanOptions(urls="keep"))
    assert out["text"] == "woow http://aaaa.com/xxxx"


def test_lowercase():
    out = clean("Hello WORLD #BigNews @Bob 😂", CleanOptions(lowercase=True, emoji="text"))
    assert out["text"] == "hello world big news face with tears of joy"
    assert all(t == t.lower() for t in out["tokens"])
    assert all(lem == lem.lower() for lem in out["lemmas"])
    assert out["hashtags"] == ["BigNews"]  # found items keep their original form


def test_not_lowercased_by_default():
    assert clean("Hello WORLD")["text"] == "Hello WORLD"


# ---------------------------------------------------------------- tokens / lemmas
@pytest.mark.parametrize(
    "text",
    [
        "The mice were running, and it was great!!! 😂",
        "@bob check https://x.com #CoolStuff &amp; more...",
        "Don't stop... I'm 100% sure 👍🏽🇫🇷",
        "",
        "?!",
    ],
)
@pytest.mark.parametrize(
    "options",
    [CleanOptions(), CleanOptions(urls="token", mentions="token", emoji="text", lowercase=True),
     CleanOptions(urls="keep", mentions="keep", hashtags="keep", emoji="remove")],
)
def test_tokens_lemmas_aligned(text, options):
    out = clean(text, options)
    assert len(out["tokens"]) == len(out["lemmas"])
    assert all(isinstance(t, str) and t and not t.isspace() for t in out["tokens"])


def test_punctuation_lemma_is_itself():
    out = clean("Wait, what?! ...")
    for tok, lem in zip(out["tokens"], out["lemmas"]):
        if not any(c.isalpha() for c in tok):
            assert lem == tok
    assert "," in out["tokens"] and "..." in out["tokens"]


@pytest.mark.parametrize(
    "word,lemma",
    [("running", "run"), ("mice", "mouse"), ("was", "be"), ("cats", "cat"), ("Running", "run"), ("better", "good")],
)
def test_english_lemmas(word, lemma):
    out = clean(word)
    assert out["tokens"] == [word]
    assert out["lemmas"] == [lemma]


def test_lemmas_in_sentence():
    out = clean("The mice were running")
    assert out["lemmas"] == ["the", "mouse", "be", "run"]


@pytest.mark.parametrize(
    "lang,word,lemma",
    [("de", "Häuser", "Haus"), ("fr", "chevaux", "cheval"), ("es", "corriendo", "correr"),
     ("it", "cani", "cane"), ("nl", "huizen", "huis"), ("pt", "casas", "casa")],
)
def test_other_languages(lang, word, lemma):
    assert lang in SUPPORTED_LANGUAGES
    out = clean(f"{word} 😂", CleanOptions(language=lang))
    assert out["lemmas"] == [lemma, "😂"]


def test_german_sentence():
    out = clean("Die Kinder gingen nach Hause", CleanOptions(language="de"))
    assert out["lemmas"][1:3] == ["Kind", "gehen"]


# ---------------------------------------------------------------- empty results / unicode
@pytest.mark.parametrize(
    "text,options",
    [
        ("https://example.com/only", CleanOptions()),
        ("www.example.com", CleanOptions()),
        ("@someone", CleanOptions()),
        ("#tag", CleanOptions(hashtags="remove")),
        ("😂🇺🇸", CleanOptions(emoji="remove")),
        ("   ", CleanOptions()),
        ("", CleanOptions()),
        ("&nbsp;", CleanOptions()),
    ],
)
def test_empty_result(text, options):
    out = clean(text, options)
    assert out["text"] == ""
    assert out["tokens"] == []
    assert out["lemmas"] == []


def test_only_url_still_reports_url():
    out = clean("https://example.com/only")
    assert out == {"text": "", "tokens": [], "lemmas": [], "urls": ["https://example.com/only"],
                   "mentions": [], "hashtags": [], "emoji": []}


@pytest.mark.parametrize(
    "text,tokens",
    [
        ("Ça va très bien", ["Ça", "va", "très", "bien"]),
        ("Привет мир", ["Привет", "мир"]),
        ("naïve café", ["naïve", "café"]),
        ("Straße #Größe", ["Straße", "Größe"]),
    ],
)
def test_unicode(text, tokens):
    assert clean(text)["tokens"] == tokens


def test_unicode_mentions_and_hashtags():
    out = clean("@José loves #ÉtéChaud")
    assert out["mentions"] == ["José"]
    assert out["hashtags"] == ["ÉtéChaud"]
    assert out["text"] == "loves Été Chaud"


def test_non_str_rejected():
    with pytest.raises(TypeError):
        clean(None)  # type: ignore[arg-type]


def test_thread_safe_and_deterministic():
    text = "@bob The mice were running sooo fast 😂 #GreatDay https://x.com &amp; more"
    expected = clean(text)
    results, errors = [], []

    def work():
        try:
            for _ in range(50):
                results.append(clean(text))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results)


def test_preload_languages():
    preload_languages(("en", "fr"))
    with pytest.raises(ValueError):
        preload_languages(("xx",))
