"""Scenario ``serving`` (issue 2): the sentiment service against the model's own ceiling,
and its Open Inference Protocol route against its JSON one.

32 connections send single texts, then batches of 32 texts, to the sentiment service
under gunicorn (1 worker, ``--threads`` threads), without and with dynamic batching.
The ceiling is the raw throughput of ``SentimentClassifier.predict`` on batches of 32 in
a separate process, measured in the same run; the ratio service items/s ÷ raw items/s
is what the service keeps of it.
"""
from __future__ import annotations

from .. import raw, servers, texts
from ..load import LoadResult, run_wrk
from ..report import Table, ratio, write_json
from . import Options

CONCURRENCY = 32
BATCH = 32


def run(options: Options) -> list[Table]:
    """Measure the raw ceiling, then single and batched requests, each without and with
    dynamic batching; one table."""
    ceiling = raw.measure([1, BATCH], options.seconds, options.artifact)
    entry = servers.entries(["sentiment"], threads=options.threads)
    groups = {"no batching": servers.Group(entry, options.sentiment_env(False),
                                           "serving-plain"),
              "dynamic batching": servers.Group(entry, options.sentiment_env(True),
                                                "serving-batching")}
    with servers.running(*groups.values()):
        runs = [_load(group, f"{items} text{'s' if items > 1 else ''}/request, {mode}",
                      bodies, items, options)
                for bodies, items in ((texts.single_bodies(), 1),
                                      (texts.batch_bodies(BATCH), BATCH))
                for mode, group in groups.items()]
        runs.append(run_wrk(groups["dynamic batching"].processes[0].url
                            + "/v2/models/sentiment/infer", texts.oip_bodies(),
                            name="OIP infer, 1 text/request, dynamic batching",
                            concurrency=CONCURRENCY, seconds=options.seconds,
                            warmup_s=options.warmup_s))
    write_json("serving", {"options": vars(options), "raw": ceiling,
                           "runs": [r.to_dict() for r in runs]})
    return [_table(ceiling, runs, options)]


def _load(group: servers.Group, name: str, bodies: list[str], items: int,
          options: Options) -> LoadResult:
    return run_wrk(group.processes[0].url + "/predict", bodies, name=name,
                   concurrency=CONCURRENCY, seconds=options.seconds,
                   warmup_s=options.warmup_s, items_per_request=items)


def _table(ceiling: dict[int, dict], runs: list[LoadResult], options: Options) -> Table:
    table = Table(f"serving: sentiment, gunicorn 1 worker x {options.threads} threads, "
                  f"{CONCURRENCY} connections; dynamic batching {options.batch_size} items / "
                  f"{options.batch_latency_ms:g} ms",
                  ["case", "req/s", "items/s", "p50 ms", "p99 ms", "items/s ÷ raw"])
    top = ceiling[BATCH]["items_per_s"]
    table.add(f"raw predict, batch {BATCH} (ceiling)", None, top, None, None, 1.0)
    table.add("raw predict, batch 1", None, ceiling[1]["items_per_s"], None, None,
              ratio(ceiling[1]["items_per_s"], top))
    for result in runs:
        table.add(f"service, {result.name}", result.rps, result.items_per_s, result.p50_ms,
                  result.p99_ms, ratio(result.items_per_s, top))
    table.notes.append("raw = SentimentClassifier.predict in its own process, no HTTP; "
                       "ratios are against the raw batch-32 figure of this same run.")
    json_run = next(r for r in runs if r.name == "1 text/request, dynamic batching")
    oip_run = runs[-1]
    share = ratio(oip_run.rps, json_run.rps)
    table.notes.append("OIP infer ÷ JSON /predict (same texts, service, load): "
                       + (f"{share:.2f}x req/s." if share else "not measured."))
    return table
