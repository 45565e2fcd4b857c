"""Scenario ``warm``: the first call after a restart, with and without warm dependents.

The chain tweet_sentiment -> text_cleaner + sentiment runs under gunicorn, each service
in its own process, on free ports. Each round restarts sentiment (the dependent, a
TensorFlow model) and tweet_sentiment (its caller) together, waits for the caller's
``/readyz`` as a load balancer would (polled every ``POLL_S``), then sends the first
call. A caller that gets an error tries again every ``RETRY_S`` until it is answered:
"first answer" is the time from the first call to the first good answer, which is what
the first caller after a restart waits. Both modes run in the same run, alternating
rounds, so that a busy machine weighs on both alike: ``MODELCHAIN_WAIT_FOR_DEPENDENTS``
on (the default: the caller is ready once sentiment is ready and warmed) and off (the
caller is ready once it is up; its pipeline warm-up tries once).
"""
from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass, field

import requests

from common.core.registry import ServiceEntry
from tools.launcher import ServiceProcess, start_services, stop_services, wait_ready

from .. import servers
from ..report import Table, ratio, write_json
from . import Options

NAMES = ("text_cleaner", "sentiment", "tweet_sentiment")
RESTARTED = ("sentiment", "tweet_sentiment")   # the dependent, then its caller
CALLER = "tweet_sentiment"
MODES = {"waits for dependents": "1", "does not wait": "0"}
POLL_S = 0.1
RETRY_S = 0.1
READY_TIMEOUT_S = 300.0
TEXTS = ("What a lovely day", "I hate waiting in line #fail", "Sooo happy with @acme!!",
         "The meeting is at 3pm", "Worst. Service. Ever.", "not bad at all, thanks")


@dataclass
class Chain:
    """The three services of one mode, on fixed ports, restartable."""

    mode: str
    env: dict[str, str]
    entries: dict[str, ServiceEntry]
    ports: dict[str, int]
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self, names=NAMES) -> None:
        """Start ``names`` on their ports (not waited)."""
        for name in names:
            process, = start_services([self.entries[name]], ports=self.ports, env=self.env,
                                      log_dir=servers.LOG_DIR / f"warm-{self.slug}")
            self.processes[name] = process

    @property
    def slug(self) -> str:
        """The mode as a folder name."""
        return "wait" if self.env["MODELCHAIN_WAIT_FOR_DEPENDENTS"] == "1" else "no-wait"

    def url(self, name: str) -> str:
        """Where ``name`` answers."""
        return self.processes[name].url

    def stop(self, names=NAMES) -> None:
        """Stop ``names`` (gunicorn's graceful stop), in parallel."""
        stop_services([self.processes[n] for n in names if n in self.processes])


def run(options: Options) -> list[Table]:
    """Every mode, ``rounds`` restarts each (alternating), one table."""
    rounds = 2 if options.quick else 5
    chains = [_chain(mode, flag) for mode, flag in MODES.items()]
    results: dict[str, list[dict]] = {c.mode: [] for c in chains}
    try:
        for chain in chains:
            chain.start()
            wait_ready(list(chain.processes.values()), READY_TIMEOUT_S)
            _call(chain.url(CALLER), TEXTS[0])   # connections and caches: not measured
        for index in range(rounds):
            for chain in chains:
                results[chain.mode].append(restart_round(chain, TEXTS[index % len(TEXTS)]))
    finally:
        for chain in chains:
            chain.stop()
    summaries = [summarise(mode, rows) for mode, rows in results.items()]
    write_json("warm", {"options": vars(options), "rounds": results,
                        "summaries": summaries})
    return [_table(summaries)]


def _chain(mode: str, flag: str) -> Chain:
    # ungrouped: each service its own process, so one restarts without the others
    entries = {e.name: dataclasses.replace(e, group="") for e in servers.entries(list(NAMES))}
    ports = {name: servers.free_port() for name in NAMES}
    env = {"MODELCHAIN_WAIT_FOR_DEPENDENTS": flag,   # and every peer's URL (started apart)
           **{f"MODELCHAIN_URL_{n.upper()}": f"http://127.0.0.1:{p}" for n, p in ports.items()}}
    return Chain(mode, env, entries, ports)


def restart_round(chain: Chain, text: str) -> dict:
    """Restart the dependent and its caller; wait for the caller's readiness; call."""
    chain.stop(RESTARTED)
    restarted = time.monotonic()
    chain.start(RESTARTED)
    url = chain.url(CALLER)
    _wait_ready(url)
    ready_s = time.monotonic() - restarted
    first_status, first_ms, answer_ms, tries = first_answer(url, text)
    _, warm_ms = _call(url, text)
    return {"ready_after_restart_s": round(ready_s, 3),
            "answered_after_restart_s": round(ready_s + answer_ms / 1000, 3),
            "first_status": first_status,
            "first_call_ms": round(first_ms, 2), "first_answer_ms": round(answer_ms, 2),
            "tries": tries, "warm_call_ms": round(warm_ms, 2)}


def first_answer(url: str, text: str) -> tuple[int, float, float, int]:
    """The first call's status and milliseconds, then the milliseconds until a good
    answer (trying again every ``RETRY_S``) and the number of tries."""
    started = time.perf_counter()
    first_status, first_ms = _call(url, text)
    status, tries = first_status, 1
    while status != 200 and time.perf_counter() - started < READY_TIMEOUT_S:
        time.sleep(RETRY_S)
        status, _ = _call(url, text)
        tries += 1
    return first_status, first_ms, (time.perf_counter() - started) * 1000, tries


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(POLL_S)
    raise TimeoutError(f"{url} not ready within {READY_TIMEOUT_S:.0f}s")


def _call(url: str, text: str) -> tuple[int, float]:
    """One call: its status (0: no answer) and milliseconds."""
    started = time.perf_counter()
    try:
        status = requests.post(f"{url}/predict", json={"text": text}, timeout=60).status_code
    except requests.RequestException:
        status = 0
    return status, (time.perf_counter() - started) * 1000


def summarise(mode: str, rows: list[dict]) -> dict:
    """Medians of a mode's rounds, and how many first calls were answered at once."""
    def median(key: str) -> float | None:
        values = [r[key] for r in rows]
        return round(statistics.median(values), 2) if values else None
    return {"mode": mode, "rounds": len(rows),
            "first_call_ok": sum(r["first_status"] == 200 for r in rows),
            "first_statuses": sorted({r["first_status"] for r in rows}),
            "ready_after_restart_s": median("ready_after_restart_s"),
            "first_call_ms": median("first_call_ms"),
            "first_answer_ms": median("first_answer_ms"),
            "answered_after_restart_s": median("answered_after_restart_s"),
            "warm_call_ms": median("warm_call_ms")}


def _table(summaries: list[dict]) -> Table:
    table = Table("The first call after restarting sentiment and tweet_sentiment (medians)",
                  ["tweet_sentiment", "rounds", "first call ok (status)", "ready after restart s",
                   "first call ms", "first answer ms", "answered after restart s",
                   "warm call ms"])
    for s in summaries:
        statuses = "/".join(str(c) for c in s["first_statuses"])
        table.add(s["mode"], s["rounds"], f"{s['first_call_ok']}/{s['rounds']} ({statuses})",
                  s["ready_after_restart_s"], s["first_call_ms"], s["first_answer_ms"],
                  s["answered_after_restart_s"], s["warm_call_ms"])
    waits, not_waits = summaries[0], summaries[1]
    first = ratio(not_waits["first_answer_ms"], waits["first_answer_ms"])
    table.notes += [
        "first call: the first request after the caller's /readyz turned 200 (an error "
        "answer counts: its own time); first answer: until the first good answer, "
        f"retrying every {RETRY_S:g} s; warm call: the next request",
        f"first answer without / with warm dependents: {first:.1f}x" if first else
        "first answer ratio: not measured",
        f"readiness polled every {POLL_S:g} s, as a load balancer would (Kubernetes: 5 s)"]
    return table
