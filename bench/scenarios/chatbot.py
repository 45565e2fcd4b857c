"""Scenario ``chatbot`` (issue 4): answer latency for single questions and throughput for
batches of 16, without and with dynamic batching.

Questions are the default context's question set (services/chatbot/data.py), sent in
turn. Single questions run at 1 and 16 connections; batches of 16 questions at 2.
"""
from __future__ import annotations

import json

from .. import servers
from ..load import LoadResult, run_wrk
from ..report import Table, ratio, write_json
from . import Options

BATCH = 16
SINGLE_CLIENTS = (1, 16)
BATCH_CLIENTS = 2


def _questions() -> list[str]:
    from services.chatbot.data import DEFAULT_CONTEXT_QA
    return [qa[0] for qa in DEFAULT_CONTEXT_QA]


def _bodies(batch: int) -> list[str]:
    questions = _questions()
    if batch == 1:
        return [json.dumps({"question": q}) for q in questions]
    return [json.dumps([{"question": questions[(i + k) % len(questions)]}
                        for k in range(batch)]) for i in range(len(questions))]


def run(options: Options) -> list[Table]:
    """Single questions and batches of 16, each mode in its own gunicorn service."""
    entry = servers.entries(["chatbot"], threads=options.threads)
    groups = {"no batching": servers.Group(entry, {"CHATBOT_BATCHING": "0"}, "chat-plain"),
              "dynamic batching": servers.Group(entry, {"CHATBOT_BATCHING": "1"},
                                                "chat-batching")}
    with servers.running(*groups.values()):
        runs = [_load(group, f"1 question, {clients} clients, {mode}", _bodies(1), 1,
                      clients, options)
                for clients in SINGLE_CLIENTS for mode, group in groups.items()]
        runs.append(_load(groups["no batching"], f"{BATCH} questions/request, "
                          f"{BATCH_CLIENTS} clients", _bodies(BATCH), BATCH, BATCH_CLIENTS,
                          options))
    write_json("chatbot", {"options": vars(options), "runs": [r.to_dict() for r in runs]})
    return [_table(runs, options)]


def _load(group: servers.Group, name: str, bodies: list[str], items: int, clients: int,
          options: Options) -> LoadResult:
    return run_wrk(group.processes[0].url + "/predict", bodies, name=name,
                   concurrency=clients, seconds=options.seconds, warmup_s=options.warmup_s,
                   items_per_request=items)


def _table(runs: list[LoadResult], options: Options) -> Table:
    table = Table(f"chatbot: gunicorn 1 worker x {options.threads} threads; dynamic "
                  "batching at the service's defaults (16 questions / 5 ms)",
                  ["case", "req/s", "items/s", "p50 ms", "p99 ms", "items/s ÷ first row"])
    base = runs[0].items_per_s
    for result in runs:
        table.add(result.name, result.rps, result.items_per_s, result.p50_ms,
                  result.p99_ms, ratio(result.items_per_s, base))
    table.notes.append("first row = one client sending single questions, no batching; "
                       "all rows from this same run.")
    return table
