"""Start registered services under gunicorn, wait until each is ready, stop them cleanly.

``python -m tools.launcher`` is what ``make run`` runs: it prints ``<name> <url>`` per
service once all are ready and stops them all on Ctrl-C. The integration tests start
their services through the same :func:`start_services`.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import requests

from common.core.registry import ROOT, ServiceEntry, load_registry

GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
LOG_DIR = ROOT / ".run" / "logs"


@dataclass
class ServiceProcess:
    """One gunicorn master serving one registered service."""

    entry: ServiceEntry
    url: str
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def alive(self) -> bool:
        """Whether the gunicorn master is still running."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of this service's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL if it does not end in time."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def gunicorn_command(entry: ServiceEntry, bind: str) -> list[str]:
    """The command line that serves ``entry`` on ``bind``."""
    return [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF),
            "--bind", bind, "--workers", str(entry.workers),
            "--threads", str(entry.threads), "--chdir", str(ROOT), entry.app]


def service_environment(urls: Mapping[str, str], extra: Mapping[str, str] | None = None,
                        base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a service process: every peer's URL, the project on the path."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update({f"MODELCHAIN_URL_{name.upper()}": url for name, url in urls.items()})
    env.update(extra or {})
    return env


def start_services(entries: Iterable[ServiceEntry], *, ports: Mapping[str, int] | None = None,
                   env: Mapping[str, str] | None = None, log_dir: Path = LOG_DIR,
                   host: str = "127.0.0.1") -> list[ServiceProcess]:
    """Start every entry under gunicorn (ports default to the registry's); not waited."""
    entries = list(entries)
    ports = {e.name: (ports or {}).get(e.name, e.port) for e in entries}
    urls = {name: f"http://{host}:{port}" for name, port in ports.items()}
    log_dir.mkdir(parents=True, exist_ok=True)
    return [_spawn(e, f"{host}:{ports[e.name]}", urls[e.name],
                   service_environment(urls, {**e.local_env, **(env or {})}), log_dir)
            for e in entries]


def _spawn(entry: ServiceEntry, bind: str, url: str, env: dict[str, str],
           log_dir: Path) -> ServiceProcess:
    log_path = log_dir / f"{entry.name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(gunicorn_command(entry, bind), cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # Ctrl-C reaches us, not them
    return ServiceProcess(entry, url, log_path, process)


def wait_ready(services: Iterable[ServiceProcess], timeout: float = 180.0) -> None:
    """Block until every service's ``/readyz`` answers 200; raise if one dies or times out."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        pending = [s for s in pending if not _is_ready(s)]
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.entry.name for s in pending)
            raise TimeoutError(f"not ready after {timeout:.0f}s: {names}\n"
                               f"{pending[0].log_tail()}")
        if pending:
            time.sleep(0.2)


def _is_ready(service: ServiceProcess) -> bool:
    if not service.alive():
        raise RuntimeError(f"{service.entry.name} exited with code "
                           f"{service.process.returncode}:\n{service.log_tail()}")
    try:
        return requests.get(f"{service.url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def stop_services(services: Iterable[ServiceProcess]) -> None:
    """Stop every service, in parallel (each may take its graceful timeout)."""
    threads = [threading.Thread(target=s.stop) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main(argv: list[str] | None = None) -> int:
    """Serve every registered service (or those named) until Ctrl-C."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("names", nargs="*", help="services to start (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to get ready")
    args = parser.parse_args(argv)
    registry = load_registry()
    unknown = sorted(set(args.names) - set(registry))
    if unknown:
        parser.error(f"not in the registry: {', '.join(unknown)}")
    entries = [registry[n] for n in (args.names or registry)]
    return _serve(entries, args.timeout)


def _serve(entries: list[ServiceEntry], timeout: float) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    services = start_services(entries)
    try:
        wait_ready(services, timeout)
        for service in services:
            print(f"{service.entry.name} {service.url}", flush=True)
        print(f"# logs in {LOG_DIR}; Ctrl-C stops all", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            dead = [s for s in services if not s.alive()]
            if dead:
                raise RuntimeError(f"{dead[0].entry.name} stopped:\n{dead[0].log_tail()}")
        return 0
    except (RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        stop_services(services)


if __name__ == "__main__":
    sys.exit(main())
