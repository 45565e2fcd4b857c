"""What recording a pipe call costs the caller: ``Client.call`` in-process, with and
without a service's recorder current, in one run.

    python scripts/call-recording-cpu.py [--calls 100000] [--rounds 3]

The callee is an in-process endpoint that answers at once, so the figure is the pipe
client's own CPU per call (headers, deadline, transport choice) plus, with a recorder,
what ``common/client/calls.py`` and the metrics add (two clock reads, a counter and a
histogram). ``time.process_time`` counts this process's CPU; rounds alternate.
"""
from __future__ import annotations

import argparse
import time

from common.client import Client, calls, local
from common.serving.callgraph import CallRecorder
from common.serving.metrics import ServiceMetrics

ANSWER = (200, {"result": {"ok": True}, "metadata": {}}, "request-id")


class Instant:
    """A co-located endpoint that answers at once."""

    def call(self, method, path, body, headers, budget):
        return ANSWER


def per_call_us(client: Client, calls_made: int, recorder: CallRecorder | None) -> float:
    """CPU microseconds per ``client.call`` (a recorder current, or none)."""
    token = calls.attribute_to(recorder)
    try:
        started = time.process_time()
        for _ in range(calls_made):
            client.call("instant", "POST", "/predict", {"text": "hi"})
        return (time.process_time() - started) / calls_made * 1e6
    finally:
        calls.release(token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    local.register("instant", Instant())
    client = Client(urls={})
    recorder = CallRecorder(ServiceMetrics("caller"), frozenset({"instant"}))
    figures: dict[str, list[float]] = {"not recorded": [], "recorded": []}
    for _ in range(args.rounds):
        figures["not recorded"].append(per_call_us(client, args.calls, None))
        figures["recorded"].append(per_call_us(client, args.calls, recorder))
    best = {name: min(values) for name, values in figures.items()}
    for name, value in best.items():
        print(f"{name:>13}: {value:6.2f} us CPU per call (best of {args.rounds} rounds "
              f"of {args.calls})")
    print(f"recorded / not recorded: {best['recorded'] / best['not recorded']:.2f}x, "
          f"+{best['recorded'] - best['not recorded']:.2f} us per call")


if __name__ == "__main__":
    main()
