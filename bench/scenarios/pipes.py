"""Scenario ``pipes`` (issue 3): what a pipe hop costs, and the three sequencing patterns.

Three no-op services (``bench.apps``, built with the project's factory) and a pipeline
service chaining them run under gunicorn from a temporary registry. Per-hop overhead:
``noop_a`` called directly vs with ``X-Pipe-Next: noop_b``, with wrk. The 3-stage chain:
client sequencing (the bench pipes to the three services in turn), server sequencing
(the pipeline service) and hybrid sequencing (``X-Pipe-Next: noop_b, noop_c``). wrk
cannot sequence on the client, so these three are all driven by the same threaded
Python driver, whose own cost is measured by driving the single no-op with it; wrk
figures for server and hybrid sequencing are given beside them.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from common.client import Client
from common.pipeline.contracts import contract_of

from .. import servers
from ..apps import create_noop_app
from ..load import LoadResult, run_wrk
from ..pydriver import drive
from ..report import Table, ratio, write_json
from . import Options

STAGES = ("noop_a", "noop_b", "noop_c")
CHAIN = "noop_chain"
BODY = {"text": "Sooo happy with @acme's support!! #BestDayEver"}
WARMUP_S = 1  # no model to warm: a second opens the connections and fills the caches


def run(options: Options) -> list[Table]:
    """Start the no-op services and the chain, measure, return two tables."""
    concurrencies = (1, 8)
    with tempfile.TemporaryDirectory(prefix="bench-pipes-") as tmp:
        registry = _registry(Path(tmp))
        env = {"MODELCHAIN_REGISTRY": str(registry),
               "MODELCHAIN_CONTRACTS": str(contracts_for_stages(Path(tmp) / "contracts"))}
        entries = servers.entries([*STAGES, CHAIN], registry, threads=options.threads)
        with servers.serve(entries, env, tag="pipes") as svc:
            urls = {name: process.url for name, process in svc.items()}
            hops = [r for c in concurrencies for r in _hop_runs(urls, c, options)]
            chains = [r for c in concurrencies for r in _chain_runs(urls, c, options)]
    write_json("pipes", {"options": vars(options), "hop": [r.to_dict() for r in hops],
                         "chain": [r.to_dict() for r in chains]})
    return [_hop_table(hops), _chain_table(chains)]


def contracts_for_stages(folder: Path) -> Path:
    """The no-op stages' published contracts, where the pipeline reads its steps'
    (``MODELCHAIN_CONTRACTS``): they are not registered services of the project."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in STAGES:
        client = create_noop_app(name, {"LOAD_MODEL": "off"}).test_client()
        contract = contract_of(client.get("/metadata").get_json())
        (folder / f"{name}.json").write_text(json.dumps(contract))
    return folder


def _registry(folder: Path) -> Path:
    """A registry with the three stages and the pipeline that chains them."""
    pipeline = folder / "pipeline.yaml"
    pipeline.write_text(json.dumps({"name": CHAIN, "version": "1.0.0",
                                    "steps": [{"service": s} for s in STAGES]}))
    extra = {name: {"app": f"bench.apps:create_noop_app({name!r})", "port": 1}
             for name in STAGES}
    extra[CHAIN] = {"app": f"common.pipeline:create_pipeline_app({str(pipeline)!r})",
                    "port": 1}
    return servers.write_registry(folder / "registry.yaml", extra)


def _wrk(url: str, name: str, concurrency: int, options: Options,
         pipe_next: str = "") -> LoadResult:
    headers = {"X-Pipe-Next": pipe_next} if pipe_next else None
    return run_wrk(url + "/predict", [json.dumps(BODY)], name=name, concurrency=concurrency,
                   seconds=options.seconds, warmup_s=WARMUP_S, headers=headers)


def _hop_runs(urls: dict[str, str], concurrency: int, options: Options) -> list[LoadResult]:
    return [_wrk(urls["noop_a"], "direct: noop_a", concurrency, options),
            _wrk(urls["noop_a"], "one hop: noop_a -> noop_b", concurrency, options,
                 "noop_b")]


def _chain_runs(urls: dict[str, str], concurrency: int, options: Options) -> list[LoadResult]:
    calls = {"1 service (driver baseline)": _single, "client sequencing": _client_seq,
             "server sequencing": _server_seq, "hybrid sequencing": _hybrid_seq}
    results = [drive(lambda make=make: make(urls), name=name, concurrency=concurrency,
                     seconds=options.seconds, warmup_s=WARMUP_S)
               for name, make in calls.items()]
    if concurrency > 1:  # at 1 the driver's own cost is small: its rows say enough
        results.append(_wrk(urls[CHAIN], "server sequencing", concurrency, options))
        results.append(_wrk(urls["noop_a"], "hybrid sequencing", concurrency, options,
                            "noop_b, noop_c"))
    return results


# Each factory runs once per driver thread: one pipe client (one session) per thread.

def _single(urls):
    algo = Client(urls=urls).algo("noop_a")
    return lambda: algo.pipe(BODY)


def _client_seq(urls):
    client = Client(urls=urls)
    stages = [client.algo(name) for name in STAGES]

    def call():
        value = BODY
        for stage in stages:
            value = stage.pipe(value).result
    return call


def _server_seq(urls):
    algo = Client(urls=urls).algo(CHAIN)
    return lambda: algo.pipe(BODY)


def _hybrid_seq(urls):
    algo = Client(urls=urls).algo("noop_a")
    return lambda: algo.pipe(BODY, next=["noop_b", "noop_c"])


def _hop_table(runs: list[LoadResult]) -> Table:
    table = Table("pipes: one hop (X-Pipe-Next) vs a direct call, no-op services, wrk",
                  ["case", "conc", "req/s", "p50 ms", "p99 ms", "+p50 ms/hop", "p50 ÷ direct",
                   "req/s ÷ direct"])
    for direct, hop in zip(runs[::2], runs[1::2]):
        for result in (direct, hop):
            table.add(result.name, result.concurrency, result.rps, result.p50_ms,
                      result.p99_ms, hop.p50_ms - direct.p50_ms if result is hop else None,
                      ratio(result.p50_ms, direct.p50_ms), ratio(result.rps, direct.rps))
    table.notes.append("a hop = the first service calls the second over HTTP with the pipe "
                       "client and relays its answer; all processes share the 2 cores.")
    return table


def _chain_table(runs: list[LoadResult]) -> Table:
    table = Table("pipes: 3-stage chain noop_a -> noop_b -> noop_c",
                  ["pattern", "driver", "conc", "req/s", "p50 ms", "p99 ms",
                   "p50 ÷ 1 service", "req/s ÷ 1 service"])
    baselines = {r.concurrency: r for r in runs if r.name.startswith("1 service")}
    for result in runs:
        base = baselines[result.concurrency] if result.driver == "python" else None
        table.add(result.name, result.driver, result.concurrency, result.rps, result.p50_ms,
                  result.p99_ms, ratio(result.p50_ms, base.p50_ms) if base else None,
                  ratio(result.rps, base.rps) if base else None)
    table.notes.append("python = N threads with one pipe client each (requests); its "
                       "'1 service' row is one direct call to noop_a with the same driver, "
                       "the baseline of the ratios. wrk rows: same calls driven by wrk.")
    return table
