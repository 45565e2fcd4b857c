"""Run by .venv-algorithmia's python (the unmodified `algorithmia` client, 2.0.5):
the seeds' Algorithmia patterns against the gateway, each outcome printed as JSON.

usage: algorithmia_calls.py <gateway url> <key> [env]
With ``env`` the client is built from ``ALGORITHMIA_API`` and ``ALGORITHMIA_API_KEY``
(set by the caller) instead of arguments.
"""
import json
import sys

import Algorithmia
from Algorithmia.errors import AlgorithmException

TEXTS = ["I love it", "This is the worst thing I have ever bought.", "The train leaves at 9."]


def outcome(call):
    """A call's result, or the exception the client raised (type, message, error_type)."""
    try:
        return {"result": call()}
    except AlgorithmException as e:
        return {"raised": "AlgorithmException", "message": e.message,
                "error_type": e.error_type, "str": str(e)}
    except Exception as e:  # noqa: BLE001  what the client raises for other statuses
        return {"raised": type(e).__name__, "str": str(e)}


def response(algo, data):
    """Result, content type and the full metadata of one pipe."""
    answer = algo.pipe(data)
    return {"value": answer.result, "content_type": answer.metadata.content_type,
            "duration": answer.metadata.duration, "stdout": answer.metadata.stdout,
            "metadata": answer.metadata.full_metadata}


def seeds(client):
    """Every pattern, by name."""
    cleaner = client.algo("modelchain/text_cleaner/1")
    sentiment = client.algo("modelchain/sentiment/2.0.0")
    out = {
        "texts": TEXTS,
        "json": outcome(lambda: client.algo("modelchain/sentiment/2.0.0")
                        .pipe({"text": "I love it"}).result),
        "full": outcome(lambda: response(sentiment, {"text": "I love it"})),
        "text": outcome(lambda: client.algo("modelchain/sentiment").pipe("I love it").result),
        "chain": outcome(lambda: sentiment.pipe(
            cleaner.pipe("Sooo happy with @acme's support!! #BestDayEver").result).result),
        "serial": outcome(lambda: [client.algo("modelchain/sentiment").pipe(t).result
                                   for t in TEXTS]),
        "batch": outcome(lambda: sentiment.pipe([{"text": t} for t in TEXTS]).result),
        "cleaner_text": outcome(lambda: response(cleaner, "Sooo happy!! #BestDayEver")),
        "error": outcome(lambda: sentiment.pipe({"text": ""}).result),
        "not_json_input": outcome(lambda: sentiment.pipe(["not", "objects"]).result),
        "binary_refused": outcome(lambda: sentiment.pipe(b"\x89PNG").result),
        "other_owner": outcome(lambda: client.algo("nlp/SentimentAnalysis/1.0.5")
                               .pipe({"text": "I love it"}).result),
        "unknown_service": outcome(lambda: client.algo("modelchain/nope").pipe("x").result),
        "wrong_version": outcome(lambda: client.algo("modelchain/sentiment/3")
                                 .pipe("I love it").result),
        # the seeds' own call: a pinned version, served beside the newest
        "seed_pinned": outcome(lambda: response(client.algo("modelchain/sentiment/1.0.0"),
                                                {"text": "I love it"})),
        "major_one": outcome(lambda: response(client.algo("modelchain/sentiment/1"),
                                              "I love it")),
        "newest": outcome(lambda: response(client.algo("modelchain/sentiment"),
                                           "I love it")),
        "prefix_version": outcome(lambda: response(client.algo("modelchain/sentiment/2.0"),
                                                   "I love it")),
        "options": outcome(lambda: response(client.algo("modelchain/sentiment").set_options(
            timeout=20, stdout=True), "I love it")),
        "raw": outcome(lambda: client.algo("modelchain/sentiment").set_options(
            output=Algorithmia.algorithm.OutputType.raw).pipe("I love it")),
        "void": outcome(lambda: repr(client.algo("modelchain/sentiment").set_options(
            output=Algorithmia.algorithm.OutputType.void).pipe("I love it"))),
        "tiny_timeout": outcome(lambda: client.algo("modelchain/sentiment").set_options(
            timeout=0.0001).pipe("I love it").result),
    }
    return out


def refusals(url):
    """A wrong key, and no key, as the client sends them."""
    return {"wrong_key": outcome(lambda: Algorithmia.client("wrong-key", api_address=url)
                                 .algo("modelchain/sentiment").pipe("I love it").result),
            "bearer": outcome(lambda: Algorithmia.client(api_address=url, bearer_token="nope")
                              .algo("modelchain/sentiment").pipe("I love it").result)}


def main():
    url, key = sys.argv[1], sys.argv[2]
    if sys.argv[3:] == ["env"]:   # ALGORITHMIA_API and ALGORITHMIA_API_KEY from the caller
        out = {"env": outcome(lambda: Algorithmia.client().algo(
            "modelchain/sentiment/2").pipe("I love it").result),
            "default_client": outcome(lambda: Algorithmia.algo(
                "modelchain/sentiment").pipe({"text": "I love it"}).result)}
    else:
        out = {**seeds(Algorithmia.client(key, api_address=url)), **refusals(url)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
