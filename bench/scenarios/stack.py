"""Scenario ``stack``: the memory of the whole ``make run`` stack, every registered
service in a process of its own against the registry's process groups.

Each layout is started on free ports (the registry's own are left to ``make run``),
waited for until every service is ready, and its RSS added up: every gunicorn master
and worker, from ``/proc/<pid>/status``, a few seconds after the last one was ready
(background loads done). The model-less text_cleaner's own worker is given as well.
"""
from __future__ import annotations

import dataclasses
import time

from common.core.registry import ServiceEntry, load_registry
from tools.launcher import stop_services, wait_ready

from .. import servers
from ..report import Table, ratio, write_json
from . import Options

SETTLE_S = 3
MODEL_LESS = "text_cleaner"


def run(options: Options) -> list[Table]:
    """Both layouts in turn; one table."""
    registry = list(load_registry(environ={}).values())
    layouts = {"one process per service": [dataclasses.replace(e, group="") for e in registry],
               "the registry's process groups": registry}
    rows = [dict(layout=name, **_measure(entries, name)) for name, entries in layouts.items()]
    write_json("stack", {"options": vars(options), "layouts": rows})
    return [_table(rows)]


def _measure(entries: list[ServiceEntry], name: str) -> dict:
    group = servers.Group(entries, {}, f"stack-{len(name)}")
    group.start()
    try:
        wait_ready(group.processes, 600)
        time.sleep(SETTLE_S)
        pids = servers.server_pids(group.processes)
        rss = {pid: servers.memory_kb(pid).get("rss_kb", 0) for pid in pids}
        lone = group.by_name()[MODEL_LESS]
        workers = servers.children(lone.process.pid)
        shared = any(p.process is lone.process for p in group.processes if p is not lone)
        return {"services": len(entries), "processes": len(pids),
                "rss_mib": round(sum(rss.values()) / 1024, 1),
                "model_less_worker_mib": None if shared else
                round(sum(rss.get(w, 0) for w in workers) / 1024, 1)}
    finally:
        stop_services(group.processes)


def _table(rows: list[dict]) -> Table:
    table = Table("stack: RSS of every registered service, as `make run` starts them",
                  ["layout", "services", "processes", "RSS MiB", "÷ one per service",
                   f"{MODEL_LESS} worker MiB"])
    base = rows[0]["rss_mib"]
    for row in rows:
        table.add(row["layout"], row["services"], row["processes"], row["rss_mib"],
                  ratio(row["rss_mib"], base), row["model_less_worker_mib"])
    table.notes.append("RSS of every gunicorn master and worker (shared pages counted in "
                       "each process), after all were ready; the model-less worker only "
                       "where it has a process of its own.")
    return table
