"""The pipe client's own CPU per call, against bare requests and bare urllib3, in one run.

    python scripts/pipe-client-cpu.py [--calls 2000] [--rounds 2]

A no-op service runs under gunicorn; each client posts the same small JSON body to its
``/predict``; ``time.process_time`` counts this process's CPU only (the server's is not
in it). A machine shared with other load inflates every figure alike.
"""
from __future__ import annotations

import argparse
import time

import orjson
import requests
import urllib3

from bench import servers
from common.client import Client

BODY = {"text": "hello there"}
HEADERS = {"Content-Type": "application/json"}


def clients(url: str) -> dict:
    """name -> a function making one call."""
    algo = Client(urls={"noop_a": url}).algo("noop_a")
    session = requests.Session()
    session.trust_env = False
    pool = urllib3.HTTPConnectionPool("127.0.0.1", int(url.rsplit(":", 1)[1]), maxsize=4)
    return {"pipe client (ours)": lambda: algo.pipe(BODY),
            "bare requests": lambda: session.post(url + "/predict", data=orjson.dumps(BODY),
                                                  headers=HEADERS).content,
            "bare urllib3": lambda: pool.urlopen("POST", "/predict", body=orjson.dumps(BODY),
                                                 headers=HEADERS).data}


def main() -> None:
    """Print the client CPU per call of each, per round."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with servers.serve([servers.noop_entry("noop_a")], {}, tag="client-cpu") as svc:
        calls = clients(svc["noop_a"].url)
        for round_ in range(args.rounds):
            for name, call in calls.items():
                for _ in range(200):
                    call()
                began = time.process_time()
                for _ in range(args.calls):
                    call()
                spent = (time.process_time() - began) / args.calls * 1e6
                print(f"round {round_}: {name}: {spent:.0f} us client CPU per call", flush=True)


if __name__ == "__main__":
    main()
