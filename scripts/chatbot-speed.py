"""Chatbot answer speed, before and after a change, measured in one run.

    PYTHONPATH=$PWD .venv/bin/python scripts/chatbot-speed.py [--base COMMIT] [--rounds 3]

The base commit's whole tree (code and committed artifacts) is extracted with
`git archive` into a temporary folder, so that an old chatbot runs with the shared code
of its own day, which later layouts moved; each side then runs in its own subprocess
(`Answerer.load`, warm-up, then timed calls), alternating base / current `--rounds`
times so that a change in the machine's load hits both alike. Timed: one question
(median of 40 calls) and a batch of the 25 default-context questions (median of 15
calls), both about context.txt, through `Answerer.answer` (what the service calls).
Prints the medians over rounds of each run's median and fastest call, and the ratios
current / base. On a loaded machine the fastest call is the steadier figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, statistics, time
from services.chatbot.answerer import Answerer
from services.chatbot.data import DEFAULT_CONTEXT_QA
answerer = Answerer.load()
questions = [q for q, _ in DEFAULT_CONTEXT_QA]
for q in questions[:5]:
    answerer.answer([q], None)
answerer.answer(questions, None)
def timed(batch, n):
    out = []
    for i in range(n):
        began = time.perf_counter()
        answerer.answer(batch(i), None)
        out.append(time.perf_counter() - began)
    return statistics.median(out) * 1000, min(out) * 1000
single, single_min = timed(lambda i: [questions[i % len(questions)]], 40)
batch, batch_min = timed(lambda i: questions, 15)
print(json.dumps({"single_ms": single, "batch25_ms": batch, "single_min_ms": single_min,
                  "batch25_min_ms": batch_min}))
"""


def extract_base(commit: str, into: Path) -> None:
    """The tree of `commit`, under `into`."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def measure(pythonpath: str) -> dict:
    """One subprocess's timings with `pythonpath` first on the path."""
    env = {**os.environ, "PYTHONPATH": pythonpath, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=pythonpath,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the timing run under {pythonpath} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="8530233", help="commit measured as the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"base": [], "current": []}
    with tempfile.TemporaryDirectory() as tmp:
        extract_base(args.base, Path(tmp))
        for _ in range(args.rounds):
            runs["base"].append(measure(tmp))
            runs["current"].append(measure(str(ROOT)))
    result = {side: {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}
              for side, rows in runs.items()}
    result["ratio"] = {k: round(result["current"][k] / result["base"][k], 3)
                       for k in result["base"]}
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
