"""Slow clients against a service, straight and through the HTTPS front.

``python scripts/slow-clients-probe.py [--sockets 1000] [--window 10]``

It starts text_cleaner under gunicorn (deploy/gunicorn.conf.py, the project's worker,
the registry's threads) and the front (Debian's nginx, the checked-in files) before
it, both on free 127.0.0.1 ports. Then, for each target in turn, (a) the service
itself and (b) the same service through the front:

1. idle: normal requests (POST /predict, a new connection each, over TLS for the
   front), one every ``--interval`` seconds, timed;
2. loaded: ``--sockets`` connections (TLS for the front) each sending a request's
   headers one byte a second and never finishing them; one the server closes is opened
   again, so that many stay open. Once they are open, the same normal requests again,
   for ``--window`` seconds;
3. the slow connections are closed, and the target is given time to recover.

It prints, per target, the normal request's latency idle and loaded (median, p95,
max), how many were answered 200, the slow sockets held, and the delay (loaded minus
idle, in the same run) and ratio. Every request has a timeout, and the whole run an
alarm (``--max-seconds``): its time is bounded. A figure, not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.core.registry import load_registry  # noqa: E402
from deploy.front.tls import ensure_self_signed  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tools import front  # noqa: E402
from tools.launcher import start_services, stop_services, wait_ready  # noqa: E402

SERVICE = "text_cleaner"
BODY = {"text": "Sooo happy with @acme!! #BestDayEver"}


@dataclass
class Target:
    """Where normal requests and slow sockets go."""

    name: str
    url: str            # the normal request's URL
    port: int
    path: str           # the slow sockets' request path
    tls: ssl.SSLContext | None = None
    cert: str | None = None


@dataclass
class Held:
    """The slow sockets: open now, opened in all, closed by the server."""

    open: int = 0
    opened: int = 0
    closed_by_server: int = 0
    failed_opens: int = 0
    samples: list[int] = field(default_factory=list)


def raise_fd_limit(needed: int) -> int:
    """The soft limit on open files, raised to ``needed`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------------ normal requests
def one_request(target: Target, timeout: float) -> tuple[float, str]:
    """Seconds and outcome (the status, or the error) of one normal request."""
    started = time.perf_counter()
    try:
        response = requests.post(target.url, json=BODY, timeout=timeout,
                                 verify=target.cert or True)
        outcome = str(response.status_code)
    except requests.RequestException as e:
        outcome = type(e).__name__
    return time.perf_counter() - started, outcome


def timed_requests(target: Target, seconds: float, interval: float,
                   timeout: float) -> list[tuple[float, str]]:
    """Normal requests started every ``interval`` s for ``seconds`` s, each on its own
    thread, so one that hangs does not delay the next one's start."""
    count = max(1, int(seconds / interval))
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = []
        for index in range(count):
            futures.append(pool.submit(one_request, target, timeout))
            time.sleep(interval)
        return [f.result() for f in futures]


# ------------------------------------------------------------------ slow sockets
def slow_head(path: str) -> bytes:
    """A request whose headers never end: a header value trickled forever."""
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode() + b"a" * 100000


async def slow_client(target: Target, held: Held, stop: asyncio.Event) -> None:
    """One connection sending a byte a second; opened again when the server closes it."""
    head = slow_head(target.path)
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", target.port, ssl=target.tls,
                server_hostname="127.0.0.1" if target.tls else None), 10)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            held.failed_opens += 1
            await asyncio.sleep(1)
            continue
        held.open += 1
        held.opened += 1
        try:
            await _trickle(reader, writer, head, held, stop)
        finally:
            held.open -= 1
            writer.close()


async def _trickle(reader, writer, head: bytes, held: Held, stop: asyncio.Event) -> None:
    """A byte a second until the server closes the connection (or answers, which the
    probe counts as closing) or the probe stops. One read waits all along, so a
    second costs the probe a write and a sleep."""
    answered = asyncio.ensure_future(reader.read(1024))
    try:
        for byte in head:
            if stop.is_set():
                return
            if answered.done():
                held.closed_by_server += 1
                return
            try:
                writer.write(bytes([byte]))
            except (OSError, RuntimeError):
                held.closed_by_server += 1
                return
            await asyncio.sleep(1.0)
    finally:
        answered.cancel()


async def under_load(target: Target, args) -> tuple[list[tuple[float, str]], Held]:
    """The normal requests while ``args.sockets`` slow ones are held open."""
    held, stop = Held(), asyncio.Event()
    clients = []
    for index in range(args.sockets):   # spread over the ramp: no SYN storm
        clients.append(asyncio.create_task(slow_client(target, held, stop)))
        await asyncio.sleep(args.ramp / args.sockets)
    ramp_end = time.monotonic() + args.ramp
    while held.open < args.sockets * 0.98 and time.monotonic() < ramp_end:
        await asyncio.sleep(0.1)
    sampler = asyncio.create_task(_sample(held, stop))
    results = await asyncio.get_running_loop().run_in_executor(
        None, timed_requests, target, args.window, args.interval, args.timeout)
    stop.set()
    await asyncio.wait(clients + [sampler], timeout=5)
    for task in clients:
        task.cancel()
    return results, held


async def _sample(held: Held, stop: asyncio.Event) -> None:
    while not stop.is_set():
        held.samples.append(held.open)
        await asyncio.sleep(0.5)


# ------------------------------------------------------------------ the run
@contextmanager
def stack(folder: Path):
    """text_cleaner under gunicorn, and the front before it (every other registered
    service at a port nobody listens on)."""
    registry = load_registry()
    services = start_services([registry[SERVICE]], ports={SERVICE: free_port()},
                              log_dir=folder / "logs")
    try:
        wait_ready(services, 180)
        with socket.socket() as holder:   # bound, never listening: refuses
            holder.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{holder.getsockname()[1]}"
            cert = ensure_self_signed(folder / "tls")
            proxy = front.start_front(registry, port=free_port(), run_dir=folder / "front",
                                      log_path=folder / "logs" / "front.log",
                                      urls={**{n: dead for n in registry},
                                            SERVICE: services[0].url}, cert=cert)
            try:
                proxy.wait_ready()
                yield services[0].url, proxy, cert[0]
            finally:
                proxy.stop()
    finally:
        stop_services(services)


def targets(service_url: str, proxy, cert: Path) -> list[Target]:
    port = int(service_url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(cert))
    return [Target("gunicorn", f"{service_url}/predict", port, "/predict"),
            Target("front", f"{proxy.url}/{SERVICE}/predict", proxy.port,
                   f"/{SERVICE}/predict", context, str(cert))]


def summary(results: list[tuple[float, str]]) -> dict:
    """Median, p95 and max in ms, and how many were answered 200."""
    ms = sorted(s * 1000 for s, _ in results)
    return {"median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
            "max_ms": round(ms[-1], 1), "ok": sum(o == "200" for _, o in results),
            "count": len(results),
            "outcomes": {o: sum(x == o for _, x in results) for _, o in results}}


def recover(target: Target, seconds: float = 60.0) -> float:
    """Seconds until the target answers a normal request again (bounded)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if one_request(target, 5)[1] == "200":
            break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def probe(target: Target, args) -> dict:
    """Idle, loaded, recovered: one target's figures."""
    idle = timed_requests(target, args.idle, args.interval, args.timeout)
    loaded, held = asyncio.run(under_load(target, args))
    result = {"idle": summary(idle), "loaded": summary(loaded),
              "slow_sockets": {k: v for k, v in asdict(held).items() if k != "samples"},
              "held_during_window": {"min": min(held.samples, default=0),
                                     "mean": round(statistics.mean(held.samples or [0]))},
              "recovered_after_s": recover(target)}
    result["delay_ms"] = {q: round(result["loaded"][q] - result["idle"][q], 1)
                          for q in ("median_ms", "p95_ms")}
    result["ratio_median"] = round(result["loaded"]["median_ms"] /
                                   max(result["idle"]["median_ms"], 0.001), 2)
    return result


def report(results: dict, args) -> None:
    for name, r in results.items():
        print(f"{name}: idle median {r['idle']['median_ms']} ms, p95 {r['idle']['p95_ms']} ms "
              f"({r['idle']['ok']}/{r['idle']['count']} ok); with {args.sockets} slow "
              f"sockets (held {r['held_during_window']['min']}..{r['held_during_window']['mean']}"
              f" open) median {r['loaded']['median_ms']} ms, p95 {r['loaded']['p95_ms']} ms, "
              f"max {r['loaded']['max_ms']} ms ({r['loaded']['ok']}/{r['loaded']['count']} ok,"
              f" {r['loaded']['outcomes']}); delay median {r['delay_ms']['median_ms']} ms, "
              f"p95 {r['delay_ms']['p95_ms']} ms; ratio {r['ratio_median']}x; recovered "
              f"after {r['recovered_after_s']} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the probe and print its figures (``--json``: write them too)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="loaded seconds")
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds")
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds to open them")
    parser.add_argument("--timeout", type=float, default=5.0, help="per normal request")
    parser.add_argument("--max-seconds", type=int, default=300, help="the whole run")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    signal.alarm(args.max_seconds)   # bounded, whatever happens
    limit = raise_fd_limit(2 * args.sockets + 512)
    print(f"# {args.sockets} slow sockets, open-file limit {limit}", flush=True)
    with tempfile.TemporaryDirectory(prefix="slow-clients-") as scratch, \
            stack(Path(scratch)) as (service_url, proxy, cert):
        results = {t.name: probe(t, args) for t in targets(service_url, proxy, cert)}
    report(results, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
