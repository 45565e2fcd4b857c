"""``python -m tools.batch_bench``: batch throughput against a service's single calls.

    python -m tools.batch_bench                              # text_cleaner, 10,000 inputs
    python -m tools.batch_bench --service sentiment --items 10000 --workers 4

Starts the service under gunicorn on a free port (as ``make run`` does; or uses
``--url``), then scores the same inputs five ways, in one run:

- *single calls*: the pipe client, one input per call, one at a time, nothing stored:
  the service's own single-call throughput, the baseline of the ratio column;
- *list calls*: the pipe client, ``max_batch_size`` inputs per call, nothing stored;
- the batch job (``run_job``: datastore, one transaction per chunk, JSONL export) in
  ``serial``, ``parallel`` (N threads) and ``chunked`` (list calls on N threads) modes.

Inputs are real tweets from ``../shared/data/sentiment`` when present, else fixed
sentences, cycled to ``--items``. The machine may be busy: compare ratios, not items/s.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common.client.client import Client
from tools.launcher import ROOT, start_services, stop_services, wait_ready
from common.core.registry import load_registry
from common.batch.job import JobOptions, run_job

DATA = ROOT.parent / "shared" / "data" / "sentiment" / "tweets_GroundTruth.tsv"
FALLBACK = ("What a lovely day!", "Sooo happy with @acme's support!! #BestDayEver",
            "@bob this is the worst service ever, I hate waiting #fail",
            "The meeting is at 3pm in room 4 http://example.com/agenda")
LOG_DIR = ROOT / ".run" / "batch-bench-logs"


@dataclass
class Row:
    """One measured way of scoring the inputs."""

    name: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.items / self.seconds if self.seconds else 0.0


def texts(count: int) -> list[str]:
    """``count`` texts: the shared tweets (cycled) or the fallback sentences."""
    pool = list(FALLBACK)
    if DATA.exists():
        lines = (line.split("\t") for line in DATA.read_text(encoding="utf-8").splitlines())
        pool = [parts[2].strip()[:280] for parts in lines
                if len(parts) == 3 and parts[2].strip()] or pool
    return [pool[i % len(pool)] for i in range(count)]


def measure_single(client: Client, service: str, inputs: list[dict]) -> Row:
    """One input per call, one call at a time, nothing stored."""
    algo, started = client.algo(service), time.monotonic()
    for item in inputs:
        algo.pipe(item)
    return Row("single calls (pipe client, no store)", len(inputs), time.monotonic() - started)


def measure_lists(client: Client, service: str, inputs: list[dict]) -> Row:
    """``max_batch_size`` inputs per call, one call at a time, nothing stored."""
    algo = client.algo(service)
    size = int(algo.metadata().get("limits", {}).get("max_batch_size") or 32)
    started = time.monotonic()
    for start in range(0, len(inputs), size):
        algo.pipe(inputs[start:start + size])
    return Row(f"list calls of {size} (pipe client, no store)", len(inputs),
               time.monotonic() - started)


def measure_job(service: str, url: str, source: Path, folder: Path, mode: str,
                workers: int) -> Row:
    """The batch job in ``mode``: scoring, commits and the JSONL export, timed whole."""
    output = folder / f"{mode}.jsonl"
    started = time.monotonic()
    summary = run_job(JobOptions(service=service, input=source, output=output, url=url,
                                 db_url=f"sqlite:///{folder / (mode + '.db')}", mode=mode,
                                 workers=workers, job_id=f"bench-{mode}", progress=False))
    if summary.done != summary.total:
        raise RuntimeError(f"{mode}: {summary.failed} items failed; {summary.aborted or ''}")
    threads = "1 thread" if mode == "serial" else f"{workers} threads"
    return Row(f"batch job --mode {mode} ({threads})", summary.total,
               time.monotonic() - started)


def run(service: str, url: str, count: int, workers: int) -> list[Row]:
    """All five measurements on the same ``count`` inputs."""
    inputs = [{"text": t} for t in texts(count)]
    client = Client(urls={service: url}, timeout=60)
    client.algo(service).pipe(inputs[:8])  # warm the connection and the model
    rows = [measure_single(client, service, inputs), measure_lists(client, service, inputs)]
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        folder = Path(tmp)
        source = folder / "inputs.jsonl"
        source.write_text("".join(json.dumps(i) + "\n" for i in inputs))
        rows += [measure_job(service, url, source, folder, mode, workers)
                 for mode in ("serial", "parallel", "chunked")]
    return rows


def render(rows: list[Row]) -> str:
    """The results table; ratios against the single-call baseline."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'way':<{width}}  {'items':>6}  {'seconds':>8}  {'items/s':>8}  "
             f"{'x single':>8}"]
    lines += [f"{r.name:<{width}}  {r.items:>6}  {r.seconds:>8.1f}  {r.rate:>8.1f}  "
              f"{r.rate / rows[0].rate:>8.2f}" for r in rows]
    return "\n".join(lines)


def serve(service: str):
    """Start the registered service on a free port; returns (processes, url)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    processes = start_services([load_registry()[service]], ports={service: port},
                               log_dir=LOG_DIR)
    wait_ready(processes, timeout=300)
    return processes, processes[0].url


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table (``--url`` skips starting the service)."""
    parser = argparse.ArgumentParser(prog="python -m tools.batch_bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--service", default="text_cleaner")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--url", help="a running service (default: start one)")
    args = parser.parse_args(argv)
    processes, url = ([], args.url) if args.url else serve(args.service)
    try:
        print(f"# {args.service} at {url}: {args.items} inputs; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
              flush=True)
        print(render(run(args.service, url, args.items, args.workers)))
    finally:
        stop_services(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
