"""Run by .venv-algorithmia's python (the unmodified `algorithmia` client, 2.0.5): calls
through the gateway with one API key, each outcome printed as JSON.

usage: algorithmia_scoped.py <gateway url> <key> <algo> [<algo> ...]
"""
import json
import sys

import Algorithmia
from Algorithmia.errors import AlgorithmException


def outcome(client, name):
    """The result of piping a text to ``name``, or what the client raised."""
    try:
        return {"result": client.algo(name).pipe("Sooo happy!! #BestDayEver").result}
    except AlgorithmException as e:
        return {"raised": "AlgorithmException", "message": e.message,
                "error_type": e.error_type}
    except Exception as e:  # noqa: BLE001  what the client raises for other statuses
        return {"raised": type(e).__name__, "str": str(e)}


def main():
    url, key, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = Algorithmia.client(key, api_address=url)
    print(json.dumps({name: outcome(client, name) for name in names}))


if __name__ == "__main__":
    main()
