"""``python -m bench.pressure``: does a service keep answering under pressure?

The Done-when probe of the hardening issue, one script, two worker classes in turn:
gunicorn's own ``gthread`` (the baseline) and ``deploy.worker.ServiceWorker``. Each
serves the slow service of ``bench.apps`` with 8 threads. Then, at once:

- 8 requests without a deadline that take 6 s each (every thread held),
- then, at the same moment, a request whose ``X-Pipe-Next`` names the service itself
  12 times, a plain request, and a request with ``X-Deadline-Ms: 500``,

and it reports the status and seconds of the last three, each timed from its own start. Last, 20,000 requests with
random methods, and the ``/metrics`` series count before and after.
"""
from __future__ import annotations

import random
import threading
import time

import requests

from common.core.registry import ServiceEntry

from . import servers

SLOW = ServiceEntry(name="slow", app="bench.apps:create_slow_app()", port=0, url="",
                    threads=8)
HOLD_S = 6.0


def timed(method: str, url: str, **kwargs) -> tuple[int, float]:
    """Status and seconds of one request (0 for no answer within 30 s)."""
    started = time.monotonic()
    try:
        status = requests.request(method, url, timeout=30, **kwargs).status_code
    except requests.RequestException:
        status = 0
    return status, time.monotonic() - started


def under_pressure(url: str) -> dict[str, tuple[int, float]]:
    """The three answers that matter while every thread is held."""
    holders = [threading.Thread(target=timed, args=("POST", f"{url}/predict"),
                                kwargs={"json": {"seconds": HOLD_S}}) for _ in range(8)]
    for holder in holders:
        holder.start()
    time.sleep(0.5)
    probes = {"12-stage self-loop": {"X-Pipe-Next": ", ".join(["slow"] * 12)},
              "plain request": {}, "X-Deadline-Ms: 500": {"X-Deadline-Ms": "500"}}
    results: dict[str, tuple[int, float]] = {}

    def probe(what: str) -> None:
        results[what] = timed("POST", f"{url}/predict", json={}, headers=probes[what])
    threads = [threading.Thread(target=probe, args=(what,)) for what in probes]
    for thread in threads:
        thread.start()
    for thread in threads + holders:
        thread.join()
    return {what: results[what] for what in probes}


def series(url: str) -> int:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def metrics_growth(url: str, count: int = 20000) -> tuple[int, int]:
    """Series before and after ``count`` requests with random eight-letter methods (one
    such request, and one /metrics read, first: each adds its series once)."""
    requests.request("BREWCOFF", f"{url}/predict", timeout=10)
    series(url)
    before = series(url)
    rng = random.Random(7)
    with requests.Session() as session:
        for _ in range(count):
            method = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
            session.request(method, f"{url}/predict", timeout=10)
    return before, series(url)


def main() -> None:
    """Run both worker classes and print one line per measurement."""
    for worker in ("gthread", "deploy.worker.ServiceWorker"):
        group = servers.Group([SLOW], env={"MODELCHAIN_WORKER_CLASS": worker}, tag=worker)
        with servers.running(group):
            url = group.by_name()["slow"].url
            for what, (status, seconds) in under_pressure(url).items():
                print(f"{worker:30} {what:22} status {status}  {seconds:6.2f} s", flush=True)
            if worker != "gthread":
                before, after = metrics_growth(url)
                print(f"{worker:30} /metrics series after 20,000 random methods: "
                      f"{before} -> {after}", flush=True)


if __name__ == "__main__":
    main()
