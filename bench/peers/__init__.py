"""``python -m bench.peers`` (``make bench-peers``): our services against BentoML and
Ray Serve doing the same work, measured alternately in one script.

Everything is started once and kept up; then, at each concurrency, 3 rounds each load
every case in turn: ours, then BentoML's, then Ray's. Each figure printed is the median
over the rounds; each ratio is the median of the per-round ratios against our own
baseline of the same round (our single no-op service for the no-op rows, our sentiment
service for the sentiment rows). Load: wrk, as in ``make bench``.

This module runs in the project's environment (it starts our services with the
launcher and drives wrk); the peers run in ``.venv-bench-peers`` (``bento_services``,
``ray_app``), which it starts as subprocesses. It does not import them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import requests

from common.core.registry import ROOT

from .. import servers, texts
from ..load import LoadError, LoadResult, run_wrk
from ..report import Table, ratio, write_json

PEERS_DIR = Path(__file__).resolve().parent
PEERS_VENV = ROOT / ".venv-bench-peers"
LOG_DIR = servers.LOG_DIR / "peers"
SYSTEMS = ("ours", "bentoml", "ray")
#: Environment of every peer process: no telemetry, the peers' own modules importable.
PEER_ENV = {"BENTOML_DO_NOT_TRACK": "True", "RAY_USAGE_STATS_ENABLED": "0",
            "BENTOML_HOME": str(ROOT / ".run" / "bentoml-home"),
            "PYTHONPATH": str(PEERS_DIR), "RAY_ADDRESS": "local"}
NOOP = "noop"
SENTIMENT = "sentiment"


@dataclasses.dataclass
class Case:
    """One thing to load: a URL, the bodies to send, and the processes whose CPU counts."""

    system: str
    kind: str               # NOOP or SENTIMENT: which table, which baseline
    name: str
    url: str
    pids: Callable[[], list[int]]
    bodies: Sequence[str]
    headers: dict[str, str] | None = None
    baseline: bool = False  # our baseline of its kind


@dataclasses.dataclass
class Measured:
    """One case's runs at one concurrency, one per round."""

    case: Case
    concurrency: int
    runs: list[LoadResult] = dataclasses.field(default_factory=list)


# ------------------------------------------------------------------ processes


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Ray's raylet starts its workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(servers.children(current))
    return found


class Peer:
    """A peer server (``bentoml serve`` or ``ray_app.py``) in the peers' environment."""

    def __init__(self, tag: str, command: list[str]):
        self.tag, self.command = tag, command
        self.port = servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = LOG_DIR / f"{tag}.log"

    def start(self) -> None:
        """Start it on its port; does not wait."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **PEER_ENV}
        env.pop("VIRTUAL_ENV", None)
        command = [part.format(port=self.port) for part in self.command]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=PEERS_DIR, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def pids(self) -> list[int]:
        """The peer's whole process tree, now."""
        return descendants(self.process.pid) if self.process else []

    def wait(self, path: str, body: str, timeout: float) -> None:
        """Block until ``POST path`` with ``body`` answers 200; raise if it dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.tag} exited with {self.process.returncode}:\n"
                                   f"{self.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                answer = requests.post(self.url + path, data=body, timeout=10,
                                       headers={"Content-Type": "application/json"})
                if answer.status_code == 200:
                    return
            time.sleep(1)
        raise TimeoutError(f"{self.tag} did not answer {path} within {timeout:.0f}s; "
                           f"see {self.log}")

    def stop(self) -> None:
        """SIGTERM to the tree's root; then SIGKILL to what is left of that same tree
        (each pid checked against its start time, so no reused pid is hit)."""
        if self.process is None:
            return
        tree = {pid: started(pid) for pid in self.pids()}
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(40)
        for pid, start in tree.items():
            if start is not None and started(pid) == start:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def started(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), None when it is gone."""
    try:
        return int(Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def peer_python() -> Path:
    """The peers' interpreter; SystemExit naming ``make bench-peers`` when missing."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no {python}: run `make bench-peers` (it builds the environment)")
    return python


def bentoml_peer(service: str) -> Peer:
    """``bentoml serve bento_services:<service>`` on 127.0.0.1."""
    command = [str(PEERS_VENV / "bin" / "bentoml"), "serve", f"bento_services:{service}",
               "--host", "127.0.0.1", "--port", "{port}", "--working-dir", str(PEERS_DIR)]
    return Peer(f"bentoml-{service}", command)


def ray_peer() -> Peer:
    """``ray_app.py``: a local Ray instance with the three Serve applications."""
    return Peer("ray", [str(peer_python()), str(PEERS_DIR / "ray_app.py"), "--port", "{port}"])


# ------------------------------------------------------------------ our services


STAGES = ("noop_a", "noop_b", "noop_c")
CHAIN = "noop_chain"
NOOP_BODY = json.dumps({"text": "Sooo happy with @acme's support!! #BestDayEver"})


def our_groups(folder: Path, threads: int) -> dict[str, servers.Group]:
    """Our sides: the no-op stages and pipeline apart, the same co-located, and the
    sentiment service alone without dynamic batching (no peer batches here)."""
    from ..scenarios import pipes

    contracts = str(pipes.contracts_for_stages(folder / "contracts"))
    groups = {}
    for layout in pipes.LAYOUTS:
        registry = pipes._registry(folder / layout, grouped=layout != "apart")
        env = {"MODELCHAIN_REGISTRY": str(registry), "MODELCHAIN_CONTRACTS": contracts}
        groups[layout] = servers.Group(servers.entries([*STAGES, CHAIN], registry,
                                                       threads=threads), env,
                                       f"peers-ours-{layout}")
    sentiment = [dataclasses.replace(e, group="")
                 for e in servers.entries(["sentiment"], threads=threads)]
    groups["sentiment"] = servers.Group(sentiment, {"SENTIMENT_BATCHING": "0"},
                                        "peers-ours-sentiment")
    return groups


def our_cases(groups: dict[str, servers.Group], sentiment_bodies: list[str]) -> list[Case]:
    """Ours: the single no-op (baseline), server and hybrid sequencing in both layouts,
    and the sentiment service (baseline of its table)."""
    apart, together = groups["apart"].by_name(), groups["co-located"].by_name()
    hybrid = {"X-Pipe-Next": "noop_b, noop_c"}

    def pids(*services):
        return lambda: servers.server_pids(services)
    cases = [Case("ours", NOOP, "1 no-op service", apart["noop_a"].url,
                  pids(apart["noop_a"]), [NOOP_BODY], baseline=True)]
    for layout, found in (("apart", apart), ("co-located", together)):
        every = pids(*found.values())
        cases += [Case("ours", NOOP, f"3 stages, pipeline service [{layout}]",
                       found[CHAIN].url, every, [NOOP_BODY]),
                  Case("ours", NOOP, f"3 stages, X-Pipe-Next [{layout}]",
                       found["noop_a"].url, every, [NOOP_BODY], hybrid)]
    service = groups["sentiment"].by_name()["sentiment"]
    cases.append(Case("ours", SENTIMENT, "sentiment service", service.url, pids(service),
                      sentiment_bodies, baseline=True))
    return cases


def peer_cases(bento: dict[str, Peer], ray: Peer, sentiment_bodies: list[str]) -> list[Case]:
    """BentoML's and Ray's cases, in that order."""
    return [
        Case("bentoml", NOOP, "1 no-op service", bento["Noop"].url, bento["Noop"].pids,
             [NOOP_BODY]),
        Case("bentoml", NOOP, "3 services, depends", bento["NoopA"].url,
             bento["NoopA"].pids, [NOOP_BODY]),
        Case("bentoml", SENTIMENT, "sentiment service", bento["Sentiment"].url,
             bento["Sentiment"].pids, sentiment_bodies),
        Case("ray", NOOP, "1 deployment", ray.url + "/noop", ray.pids, [NOOP_BODY]),
        Case("ray", NOOP, "3 deployments, handles", ray.url + "/chain", ray.pids,
             [NOOP_BODY]),
        Case("ray", SENTIMENT, "sentiment deployment", ray.url + "/sentiment", ray.pids,
             sentiment_bodies),
    ]


# ------------------------------------------------------------------ running


@contextlib.contextmanager
def everything(threads: int, timeout: float = 600.0) -> Iterator[list[Case]]:
    """Start ours and the peers at once, wait until all answer, yield every case in
    the order of a round (ours, BentoML, Ray); stop them all at the end."""
    peer_python()
    bodies = texts.single_bodies()
    bento = {name: bentoml_peer(name) for name in ("Noop", "NoopA", "Sentiment")}
    ray = ray_peer()
    peers = [*bento.values(), ray]
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        groups = our_groups(Path(tmp), threads)
        try:
            for peer in peers:
                peer.start()
            with servers.running(*groups.values(), timeout=timeout):
                for peer in bento.values():
                    peer.wait("/predict", NOOP_BODY, timeout)
                for path in ("/noop", "/chain", "/sentiment"):
                    ray.wait(path, NOOP_BODY, timeout)
                yield our_cases(groups, bodies) + peer_cases(bento, ray, bodies)
        finally:
            for peer in peers:
                peer.stop()


def measure(case: Case, concurrency: int, seconds: int, warmup_s: float) -> LoadResult:
    """Warm up, then one measured wrk run of ``case`` with its processes' CPU."""
    url = case.url if case.system == "ray" else case.url + "/predict"

    warm_up(url, case, warmup_s)
    pids = case.pids()
    before = servers.cpu_seconds(pids)
    result = run_wrk(url, case.bodies, name=f"{case.system}: {case.name}",
                     concurrency=concurrency, seconds=seconds, headers=case.headers)
    spent = servers.cpu_seconds(pids) - before
    result.cpu_ms = spent * 1000 / result.requests if result.requests else None
    return result


def warm_up(url: str, case: Case, seconds: float) -> None:
    """Unmeasured requests, one at a time, for ``seconds`` (at least one, however long
    it takes: on a loaded machine a replica's first call after a pause can take longer
    than a short wrk run, which would then count no request at all)."""
    headers = {"Content-Type": "application/json", **(case.headers or {})}
    deadline, index = time.monotonic() + seconds, 0
    while index == 0 or time.monotonic() < deadline:
        body = case.bodies[index % len(case.bodies)]
        answer = requests.post(url, data=body.encode(), headers=headers, timeout=120)
        if answer.status_code != 200:
            raise LoadError(f"{case.system}: {case.name} (warm-up): {answer.status_code} "
                            f"{answer.text[:300]}")
        index += 1


def run_rounds(cases: list[Case], concurrencies: Sequence[int], rounds: int, seconds: int,
               warmup_s: float) -> list[Measured]:
    """At each concurrency, ``rounds`` times every case in turn."""
    measured = []
    for concurrency in concurrencies:
        row = [Measured(case, concurrency) for case in cases]
        for _ in range(rounds):
            for entry in row:
                entry.runs.append(measure(entry.case, concurrency, seconds, warmup_s))
        measured += row
    return measured


# ------------------------------------------------------------------ figures


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that are there; None when none is."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def round_ratios(runs: Sequence[LoadResult], bases: Sequence[LoadResult],
                 metric: str) -> list[float | None]:
    """Per round, ``metric`` of the run over that of the same round's baseline."""
    return [ratio(getattr(run, metric), getattr(base, metric))
            for run, base in zip(runs, bases)]


def summary(entry: Measured, base: Measured) -> dict:
    """Medians over the rounds of one case, and of its per-round ratios to ``base``."""
    runs = entry.runs
    return {"system": entry.case.system, "case": entry.case.name,
            "concurrency": entry.concurrency, "rounds": len(runs),
            "rps": median([r.rps for r in runs]), "p50_ms": median([r.p50_ms for r in runs]),
            "p99_ms": median([r.p99_ms for r in runs]),
            "cpu_ms": median([r.cpu_ms for r in runs]),
            "p50_ratio": median(round_ratios(runs, base.runs, "p50_ms")),
            "cpu_ratio": median(round_ratios(runs, base.runs, "cpu_ms")),
            "rps_ratio": median(round_ratios(runs, base.runs, "rps"))}


def summaries(measured: list[Measured], kind: str) -> list[dict]:
    """The summaries of ``kind``'s cases, each against our baseline of its concurrency."""
    bases = {m.concurrency: m for m in measured if m.case.kind == kind and m.case.baseline}
    return [summary(m, bases[m.concurrency]) for m in measured if m.case.kind == kind]


TITLES = {NOOP: "peers: no-op, one service and a 3-stage chain (wrk, medians of the rounds)",
          SENTIMENT: "peers: the sentiment SavedModel, one text per request (wrk, medians "
                     "of the rounds)"}
BASELINE = {NOOP: "our single no-op service", SENTIMENT: "our sentiment service"}


def table(rows: list[dict], kind: str, rounds: int) -> Table:
    """One kind's rows as a printed table."""
    result = Table(TITLES[kind], ["system", "case", "conc", "req/s", "p50 ms", "p99 ms",
                                  "CPU ms/req", "p50 ÷ ours", "CPU ÷ ours", "req/s ÷ ours"])
    for row in rows:
        result.add(row["system"], row["case"], row["concurrency"], row["rps"],
                   row["p50_ms"], row["p99_ms"], row["cpu_ms"], row["p50_ratio"],
                   row["cpu_ratio"], row["rps_ratio"])
    result.notes.append(f"{rounds} rounds, each loading ours, then BentoML, then Ray; ratios "
                        f"= median of the per-round ratios against {BASELINE[kind]} in the "
                        "same round. CPU: user+system time per request of the serving "
                        "processes (ours: gunicorn masters and workers of the case; BentoML: "
                        "the `bentoml serve` process tree; Ray: every process of the local "
                        "Ray instance, which also hosts the other applications).")
    return result


def report(measured: list[Measured], options: dict) -> list[Table]:
    """Both tables, and bench-results/peers.json with every run."""
    rows = {kind: summaries(measured, kind) for kind in (SENTIMENT, NOOP)}
    write_json("peers", {"options": options, "versions": versions(), "summary": rows,
                         "runs": [{"system": m.case.system, "case": m.case.name,
                                   "concurrency": m.concurrency,
                                   "runs": [r.to_dict() for r in m.runs]}
                                  for m in measured]})
    return [table(rows[kind], kind, options["rounds"]) for kind in (SENTIMENT, NOOP)]


def versions() -> dict[str, str]:
    """The peers' versions, as their environment has them."""
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p "
            "in ('bentoml', 'ray', 'tensorflow-cpu')}))")
    done = subprocess.run([str(peer_python()), "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)
