"""Scenario ``batching`` (issue 9): many clients sending one input each.

At 1, 8, 32 and 128 concurrent connections, single-input requests go to (b) the no-op
service (the HTTP ceiling of our stack), (c) the classic Flask way (development server,
Keras ``model.predict`` per request), (d) the sentiment service without and (e) with
dynamic batching, all under the same gunicorn configuration. (a) is the raw model on
batches of 32 in its own process. Targets are interleaved per concurrency so that the
ratios compare runs taken close together in time. The ``tune`` scenario sweeps the
batching settings.
"""
from __future__ import annotations

import math
import time

from .. import raw, servers, texts
from ..load import LoadResult, run_wrk
from ..report import Table, ratio, write_json
from . import Options

CONCURRENCIES = (1, 8, 32, 128)
QUICK_CONCURRENCIES = (1, 32)
TARGET_CONCURRENCY = 32
RSS_TARGET_MB = 700
SETTLE_S = 0.5
CLASSIC_MAX_S = 45
CLASSIC_MAX_S_QUICK = 10
P99_TARGET_MS = 50.0

NOOP, CLASSIC, PLAIN, BATCHED = "no-op service", "classic Flask", "sentiment", \
    "sentiment+batching"


def run(options: Options) -> list[Table]:
    """Ceiling, the four targets at each concurrency, memory; optionally the sweep."""
    ceiling = raw.measure([32], options.seconds, options.artifact)[32]
    concurrencies = QUICK_CONCURRENCIES if options.quick else CONCURRENCIES
    noop, plain, batched = _groups(options)
    classic = servers.Classic(options.artifact)
    with servers.running(noop, plain, batched, classic):
        urls = {NOOP: url(noop), PLAIN: url(plain), BATCHED: url(batched)}
        runs = []
        for concurrency in concurrencies:
            runs += [load(address, t, concurrency, options) for t, address in urls.items()]
            runs.append(_load_classic(classic, concurrency, runs, options))
        memory = _memory(noop, plain, batched, classic)
    write_json("batching", {"options": vars(options), "raw": ceiling,
                            "runs": [r.to_dict() for r in runs], "memory": memory})
    return [_main_table(runs, ceiling, options), _memory_table(memory),
            _targets_table(runs, memory)]


def url(group: servers.Group) -> str:
    """The /predict URL of a group's (first) service."""
    return group.processes[0].url + "/predict"


def load(url: str, name: str, concurrency: int, options: Options) -> LoadResult:
    """One wrk run of single-input requests, then a moment for stragglers to finish."""
    result = run_wrk(url, texts.single_bodies(), name=name, concurrency=concurrency,
                     seconds=options.seconds, warmup_s=options.warmup_s)
    time.sleep(SETTLE_S)  # requests wrk left in flight finish before the next run
    return result


def _groups(options: Options) -> tuple[servers.Group, ...]:
    sentiment = servers.entries(["sentiment"], threads=options.threads)
    return (servers.Group([servers.noop_entry("noop", options.threads)], {}, "batching-noop"),
            servers.Group(sentiment, options.sentiment_env(False), "batching-plain"),
            servers.Group(sentiment, options.sentiment_env(True), "batching-batched"))


def _load_classic(classic: servers.Classic, concurrency: int, earlier: list[LoadResult],
                  options: Options) -> LoadResult:
    """The classic server is slow enough that its latency at high concurrency is
    seconds: the run lasts several latencies (estimated from the last classic run), and
    starts and ends with no request left in flight."""
    previous = next((r for r in reversed(earlier) if r.name == CLASSIC), None)
    seconds = classic_seconds(concurrency, previous, options)
    # Warm-up on one connection only: it traces Keras' predict function without leaving
    # a backlog of abandoned requests behind.
    run_wrk(classic.url + "/predict", texts.single_bodies(), name=CLASSIC, concurrency=1,
            seconds=options.warmup_s)
    classic.wait_idle()
    result = run_wrk(classic.url + "/predict", texts.single_bodies(), name=CLASSIC,
                     concurrency=concurrency, seconds=seconds)
    classic.wait_idle()
    return result


def classic_seconds(concurrency: int, previous: LoadResult | None, options: Options) -> int:
    """At least ``options.seconds`` and about 3 expected latencies (c / req/s), capped."""
    cap = CLASSIC_MAX_S_QUICK if options.quick else CLASSIC_MAX_S
    if previous is None or previous.rps <= 0:
        return options.seconds
    expected_latency = concurrency / previous.rps
    return int(min(max(options.seconds, math.ceil(3 * expected_latency)), cap))


def _memory(noop: servers.Group, plain: servers.Group, batched: servers.Group,
            classic: servers.Classic) -> dict[str, dict]:
    """RSS of each gunicorn worker (children of the master) and of the classic server."""
    found = {name: servers.worker_memory(group.processes[0])[0]
             for name, group in ((NOOP, noop), (PLAIN, plain), (BATCHED, batched))}
    found[CLASSIC] = {"pid": classic.process.pid, **servers.memory_kb(classic.process.pid)}
    return found


def _main_table(runs: list[LoadResult], ceiling: dict, options: Options) -> Table:
    table = Table(f"batching: single-input clients; gunicorn 1 worker x {options.threads} "
                  f"threads; batching max {options.batch_size} items / "
                  f"{options.batch_latency_ms:g} ms",
                  ["clients", "target", "req/s", "p50 ms", "p99 ms", "÷ no-op", "÷ classic",
                   "run s"])
    table.add("-", "raw model, batch 32 (items/s)", ceiling["items_per_s"], None, None, None,
              None, round(ceiling["seconds"]))
    by_key = {(r.concurrency, r.name): r for r in runs}
    for result in runs:
        ours = result.name in (PLAIN, BATCHED)
        noop, classic = by_key[(result.concurrency, NOOP)], by_key[(result.concurrency, CLASSIC)]
        table.add(result.concurrency, result.name, result.rps, result.p50_ms, result.p99_ms,
                  ratio(result.rps, noop.rps) if ours else None,
                  ratio(result.rps, classic.rps) if ours else None, round(result.duration_s))
    table.notes += ["÷ = requests/s against the no-op service and the classic server at "
                    "the same concurrency, in this same run.",
                    "classic runs last about 3 of its latencies (at most "
                    f"{CLASSIC_MAX_S} s) and start and end with nothing in flight."]
    return table


def _memory_table(memory: dict[str, dict]) -> Table:
    table = Table("batching: memory per serving process (after the load)",
                  ["process", "RSS MB", "peak RSS MB"])
    for name, figures in memory.items():
        table.add(name, figures.get("rss_kb", 0) / 1024, figures.get("peak_rss_kb", 0) / 1024)
    table.notes.append("gunicorn worker processes (children of the master); the classic row "
                       "is the whole development server process.")
    return table


def _targets_table(runs: list[LoadResult], memory: dict[str, dict]) -> Table:
    """The issue's targets at 32 clients, for the better of our two configurations."""
    at = {r.name: r for r in runs if r.concurrency == TARGET_CONCURRENCY}
    table = Table(f"batching: targets at {TARGET_CONCURRENCY} clients",
                  ["target", "wanted", PLAIN, BATCHED])
    if not at:
        return table
    checks = [("req/s ÷ no-op", ">= 0.5", lambda r: ratio(r.rps, at[NOOP].rps), 0.5, True),
              ("req/s ÷ classic", ">= 50", lambda r: ratio(r.rps, at[CLASSIC].rps), 50, True),
              ("p99 ms", f"< {P99_TARGET_MS:g}", lambda r: r.p99_ms, P99_TARGET_MS, False)]
    for label, wanted, value, limit, higher in checks:
        table.add(label, wanted, *[_verdict(value(at[n]), limit, higher) for n in
                                   (PLAIN, BATCHED)])
    table.add("worker RSS MB", f"< {RSS_TARGET_MB}",
              *[_verdict(memory[n]["rss_kb"] / 1024, RSS_TARGET_MB, False)
                for n in (PLAIN, BATCHED)])
    return table


def _verdict(value: float | None, limit: float, higher_is_better: bool) -> str:
    if value is None:
        return "-"
    met = value >= limit if higher_is_better else value < limit
    return f"{value:.2f} {'ok' if met else 'MISSED'}"
