"""Scenario ``pipes``: what a pipe hop costs, and the three sequencing patterns, with the
services apart (one process each, hops over HTTP) and co-located (one process group,
hops in-process).

Three no-op services (``bench.apps``, built with the project's factory) and a pipeline
service chaining them run under gunicorn from a temporary registry, once in each
layout. Each row also gives the CPU the serving processes spent per request (from
/proc, masters and workers; the driver's own CPU is not in it). Per-hop overhead:
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
from typing import Callable

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


LAYOUTS = ("apart", "co-located")
GROUP = "noop_group"


def run(options: Options) -> list[Table]:
    """Start the no-op services and the chain in each layout, measure, return two
    tables."""
    concurrencies = (1, 8)
    hops, chains = [], []
    with tempfile.TemporaryDirectory(prefix="bench-pipes-") as tmp:
        for layout in LAYOUTS:
            registry = _registry(Path(tmp) / layout, grouped=layout != "apart")
            env = {"MODELCHAIN_REGISTRY": str(registry),
                   "MODELCHAIN_CONTRACTS": str(contracts_for_stages(Path(tmp) / "contracts"))}
            entries = servers.entries([*STAGES, CHAIN], registry, threads=options.threads)
            with servers.serve(entries, env, tag=f"pipes-{layout}") as svc:
                measure = _Measure(svc, layout, options)
                hops += [r for c in concurrencies for r in _hop_runs(measure, c)]
                chains += [r for c in concurrencies for r in _chain_runs(measure, c)]
    write_json("pipes", {"options": vars(options), "hop": [r.to_dict() for r in hops],
                         "chain": [r.to_dict() for r in chains]})
    return [_hop_table(hops), _chain_table(chains)]


class _Measure:
    """Runs of one layout: each warmed up, then measured with the servers' CPU."""

    def __init__(self, services, layout: str, options: Options):
        self.urls = {name: process.url for name, process in services.items()}
        self.pids = servers.server_pids(services.values())
        self.layout, self.options = layout, options

    def run(self, load: Callable[[float], LoadResult]) -> LoadResult:
        """Warm up (``load(WARMUP_S)``), then measure ``load(seconds)`` and its CPU."""
        load(WARMUP_S)
        before = servers.cpu_seconds(self.pids)
        result = load(self.options.seconds)
        spent = servers.cpu_seconds(self.pids) - before
        result.name = f"{result.name} [{self.layout}]"
        result.cpu_ms = spent * 1000 / result.requests if result.requests else None
        return result

    def wrk(self, name: str, target: str, concurrency: int, pipe_next: str = "") -> LoadResult:
        headers = {"X-Pipe-Next": pipe_next} if pipe_next else None
        return self.run(lambda seconds: run_wrk(
            self.urls[target] + "/predict", [json.dumps(BODY)], name=name,
            concurrency=concurrency, seconds=max(1, int(seconds)), headers=headers))

    def drive(self, name: str, make, concurrency: int) -> LoadResult:
        return self.run(lambda seconds: drive(lambda: make(self.urls), name=name,
                                              concurrency=concurrency, seconds=seconds))


def contracts_for_stages(folder: Path) -> Path:
    """The no-op stages' published contracts, where the pipeline reads its steps'
    (``MODELCHAIN_CONTRACTS``): they are not registered services of the project."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in STAGES:
        client = create_noop_app(name, {"LOAD_MODEL": "off"}).test_client()
        contract = contract_of(client.get("/metadata").get_json())
        (folder / f"{name}.json").write_text(json.dumps(contract))
    return folder


def _registry(folder: Path, grouped: bool) -> Path:
    """A registry with the three stages and the pipeline that chains them (in one
    process group when ``grouped``)."""
    folder.mkdir(parents=True, exist_ok=True)
    pipeline = folder / "pipeline.yaml"
    pipeline.write_text(json.dumps({"name": CHAIN, "version": "1.0.0",
                                    "steps": [{"service": s} for s in STAGES]}))
    extra = {name: {"app": f"bench.apps:create_noop_app({name!r})", "port": 1}
             for name in STAGES}
    extra[CHAIN] = {"app": f"common.pipeline:create_pipeline_app({str(pipeline)!r})",
                    "port": 1}
    for spec in extra.values():
        spec.update({"group": GROUP} if grouped else {})
    return servers.write_registry(folder / "registry.yaml", extra)


def _hop_runs(measure: _Measure, concurrency: int) -> list[LoadResult]:
    return [measure.wrk("direct: noop_a", "noop_a", concurrency),
            measure.wrk("one hop: noop_a -> noop_b", "noop_a", concurrency, "noop_b")]


def _chain_runs(measure: _Measure, concurrency: int) -> list[LoadResult]:
    calls = {"1 service (driver baseline)": _single, "client sequencing": _client_seq,
             "server sequencing": _server_seq, "hybrid sequencing": _hybrid_seq}
    results = [measure.drive(name, make, concurrency) for name, make in calls.items()]
    if concurrency > 1:  # at 1 the driver's own cost is small: its rows say enough
        results.append(measure.wrk("server sequencing", CHAIN, concurrency))
        results.append(measure.wrk("hybrid sequencing", "noop_a", concurrency,
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
                  ["case", "conc", "req/s", "p50 ms", "p99 ms", "+p50 ms/hop",
                   "CPU ms/req", "p50 ÷ direct", "CPU ÷ direct"])
    base = {r.concurrency: r for r in runs if r.name.startswith("direct") and "apart" in r.name}
    for direct, hop in zip(runs[::2], runs[1::2]):
        for result in (direct, hop):
            first = base[result.concurrency]
            table.add(result.name, result.concurrency, result.rps, result.p50_ms,
                      result.p99_ms, hop.p50_ms - direct.p50_ms if result is hop else None,
                      result.cpu_ms, ratio(result.p50_ms, first.p50_ms),
                      ratio(result.cpu_ms, first.cpu_ms))
    table.notes.append("a hop = the first service calls the second with the pipe client and "
                       "relays its answer: over HTTP [apart], in-process [co-located]. "
                       "Ratios against the direct call to a service apart. CPU: the serving "
                       "processes' user+system time per request; all share the 2 cores.")
    return table


def _chain_table(runs: list[LoadResult]) -> Table:
    table = Table("pipes: 3-stage chain noop_a -> noop_b -> noop_c",
                  ["pattern", "driver", "conc", "req/s", "p50 ms", "p99 ms", "CPU ms/req",
                   "p50 ÷ 1 service", "CPU ÷ 1 service"])
    baselines = {r.concurrency: r for r in runs
                 if r.name.startswith("1 service") and "apart" in r.name}
    for result in runs:
        base = baselines[result.concurrency] if result.driver == "python" else None
        table.add(result.name, result.driver, result.concurrency, result.rps, result.p50_ms,
                  result.p99_ms, result.cpu_ms,
                  ratio(result.p50_ms, base.p50_ms) if base else None,
                  ratio(result.cpu_ms, base.cpu_ms) if base else None)
    table.notes.append("python = N threads with one pipe client each; its "
                       "'1 service [apart]' row is one direct call to noop_a with the same "
                       "driver, the baseline of the ratios. Client sequencing's CPU leaves "
                       "out the caller's own (three client calls). wrk rows: same calls "
                       "driven by wrk.")
    return table
