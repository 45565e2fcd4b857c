"""The model's own throughput, with no HTTP at all: the ceiling of every service figure.

Run in a subprocess (``python -m bench.raw --batch 32 --seconds 5``) so the measuring
process shares its GIL and its TensorFlow thread pools with nothing else; it prints one
JSON line. :func:`measure` starts it and returns that line decoded.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from tools.launcher import service_environment
from common.core.registry import ROOT

from .texts import load_texts


def measure(batches: list[int], seconds: float, artifact: str = "") -> dict[int, dict]:
    """items/s of ``SentimentClassifier.predict`` per batch size, measured in a subprocess."""
    command = [sys.executable, "-m", "bench.raw", "--batch", ",".join(map(str, batches)),
               "--seconds", str(seconds)] + (["--artifact", artifact] if artifact else [])
    env = service_environment({})  # the project on the path
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=seconds + 300)
    if done.returncode != 0:
        raise RuntimeError(f"bench.raw failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {int(batch): figures for batch, figures in found.items()}


def load_classifier(artifact: str = ""):
    """The service's own classifier (TensorFlow is imported here, in the subprocess)."""
    from services.sentiment.classifier import DEFAULT_ARTIFACT, SentimentClassifier

    return SentimentClassifier.load(artifact or DEFAULT_ARTIFACT)


def run(classifier, batch: int, seconds: float) -> dict:
    """Warm up, then call predict on rotating batches of ``batch`` until ``seconds`` pass."""
    texts = load_texts()
    batches = [[texts[(i * batch + j) % len(texts)] for j in range(batch)] for i in range(16)]
    for chunk in batches[:4]:  # tracing and thread pools warm up outside the figures
        classifier.predict(chunk)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        classifier.predict(batches[calls % len(batches)])
        calls += 1
    elapsed = time.perf_counter() - started
    return {"batch": batch, "calls": calls, "seconds": round(elapsed, 3),
            "items_per_s": round(calls * batch / elapsed, 1),
            "ms_per_call": round(elapsed / calls * 1000, 3)}


def main(argv: list[str] | None = None) -> None:
    """Print one JSON line with the raw throughput."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--batch", default="32", help="comma-separated batch sizes")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--artifact", default="")
    args = parser.parse_args(argv)
    classifier = load_classifier(args.artifact)
    sizes = [int(b) for b in args.batch.split(",") if b]
    print(json.dumps({size: run(classifier, size, args.seconds) for size in sizes}), flush=True)


if __name__ == "__main__":
    main()
