"""Scenario ``tune`` (``--tune``): which dynamic batching settings suit sentiment best.

One sentiment service per ``BATCH_MAX_SIZE`` x ``BATCH_MAX_LATENCY_MS`` setting (plus
one without batching, for reference) and the no-op service all run at once. The
differences between settings are smaller than the swings of a shared machine, so the
candidates are loaded in rounds: every round loads the no-op service and then each
candidate for a short run, and a candidate's figure is the median over the rounds of
its req/s divided by the no-op's req/s of the same round. The best setting has the
highest median ratio among those whose median p99 is under 50 ms (or the highest
ratio, if none is).
"""
from __future__ import annotations

import dataclasses
import statistics

from .. import servers
from ..load import LoadResult
from ..report import Table, write_json
from . import Options
from .batching import NOOP, P99_TARGET_MS, TARGET_CONCURRENCY, load, url

SIZES = (16, 32, 64)
LATENCIES_MS = (0.0, 2.0, 5.0)   # 0: take whatever is queued, never wait for more
CONCURRENCIES = (32, 128)
ROUNDS = 3
NO_BATCHING = "no batching"


@dataclasses.dataclass
class Candidate:
    """One setting's figures at one concurrency: medians over the rounds."""

    name: str
    concurrency: int
    ratios: list[float]
    rps: float
    p50_ms: float
    p99_ms: float

    @property
    def ratio(self) -> float:
        """Median of req/s ÷ the same round's no-op req/s."""
        return statistics.median(self.ratios)


def run(options: Options) -> list[Table]:
    """Sweep the settings; one table, its notes naming the best."""
    runs = sweep(options)
    candidates = summarise(runs)
    best = {c: best_setting(candidates, c) for c in CONCURRENCIES}
    write_json("tune", {"options": vars(options), "runs": [r.to_dict() for r in runs],
                        "candidates": [dataclasses.asdict(c) for c in candidates],
                        "best": {c: b.name if b else None for c, b in best.items()}})
    return [_table(candidates, options)]


def settings(options: Options) -> dict[str, dict[str, str | int]]:
    """Candidate name -> gunicorn threads and service environment.

    A batch fills only with requests that are in the worker at once, so a candidate
    gets at least ``max size`` gunicorn threads.
    """
    found: dict[str, dict] = {f"{NO_BATCHING}, {threads} threads": {
        "threads": threads, "env": options.sentiment_env(False)}
        for threads in sorted({8, options.threads})}
    for size in SIZES:
        for latency in LATENCIES_MS:
            threads = max(options.threads, size)
            found[f"{size} items / {latency:g} ms, {threads} threads"] = {
                "threads": threads, "env": options.sentiment_env(True, size, latency)}
    return found


def sweep(options: Options) -> list[LoadResult]:
    """Every candidate, in rounds, beside the no-op service; all runs, in order."""
    groups = {name: servers.Group(servers.entries(["sentiment"], threads=spec["threads"]),
                                  spec["env"], f"tune-{index}")
              for index, (name, spec) in enumerate(settings(options).items())}
    groups = {NOOP: servers.Group([servers.noop_entry("noop", options.threads)], {},
                                  "tune-noop"), **groups}
    short = dataclasses.replace(options, seconds=max(2, options.seconds // 2),
                                warmup_s=1)
    runs = []
    with servers.running(*groups.values()):
        for concurrency in CONCURRENCIES:
            for _ in range(ROUNDS):
                runs += [load(url(group), name, concurrency, short)
                         for name, group in groups.items()]
    return runs


def summarise(runs: list[LoadResult]) -> list[Candidate]:
    """Per (setting, concurrency): median figures and the per-round ratios to no-op."""
    rounds, noop = {}, None
    for result in runs:
        if result.name == NOOP:
            noop = result  # every round starts with the no-op service
        rounds.setdefault((result.name, result.concurrency), []).append(
            (result, result.rps / noop.rps))
    return [Candidate(name, concurrency, [r for _, r in pairs],
                      statistics.median(x.rps for x, _ in pairs),
                      statistics.median(x.p50_ms for x, _ in pairs),
                      statistics.median(x.p99_ms for x, _ in pairs))
            for (name, concurrency), pairs in rounds.items()]


def best_setting(candidates: list[Candidate], concurrency: int = TARGET_CONCURRENCY,
                 p99_limit: float = P99_TARGET_MS) -> Candidate | None:
    """The highest median ratio among batching settings within the p99 limit (or among
    all of them, if none is)."""
    pool = [c for c in candidates if c.concurrency == concurrency
            and c.name != NOOP and not c.name.startswith(NO_BATCHING)]
    within = [c for c in pool if c.p99_ms < p99_limit] or pool
    return max(within, key=lambda c: c.ratio, default=None)


def _table(candidates: list[Candidate], options: Options) -> Table:
    table = Table(f"tune: sentiment dynamic batching (max size / max latency); medians of "
                  f"{ROUNDS} rounds of {max(2, options.seconds // 2)} s",
                  ["clients", "setting", "req/s", "p50 ms", "p99 ms", "÷ no-op",
                   "÷ no-op range"])
    for c in candidates:
        spread = f"{min(c.ratios):.2f}-{max(c.ratios):.2f}" if c.name != NOOP else None
        table.add(c.concurrency, c.name, c.rps, c.p50_ms, c.p99_ms,
                  c.ratio if c.name != NOOP else None, spread)
    for concurrency in CONCURRENCIES:
        best = best_setting(candidates, concurrency)
        if best is not None:
            table.notes.append(f"best at {concurrency} clients: {best.name} (÷ no-op "
                               f"{best.ratio:.2f}, p99 {best.p99_ms:.1f} ms)")
    return table
