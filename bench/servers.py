"""Starting what the benchmarks measure, on free 127.0.0.1 ports, and stopping it.

Services run under gunicorn through the project's own launcher (the same commands as
``make run``), from a temporary registry file when the benchmark adds its own services.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import requests
import yaml

from tools.launcher import (ServiceProcess, service_environment, start_services,
                             stop_services, wait_ready)
from common.core.registry import DEFAULT_REGISTRY, ROOT, ServiceEntry, load_registry

LOG_DIR = ROOT / ".run" / "bench-logs"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_registry(path: Path, extra: Mapping[str, Mapping]) -> Path:
    """The project's registry plus ``extra`` services, written to ``path``."""
    document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    document["services"].update({name: dict(spec) for name, spec in extra.items()})
    path.write_text(yaml.safe_dump(document))
    return path


def entries(names: list[str], registry_file: Path | None = None, *, threads: int | None = None,
            workers: int | None = None) -> list[ServiceEntry]:
    """Registry entries for ``names``, with gunicorn's threads and workers overridden."""
    registry = load_registry(registry_file, {})
    changes = {k: v for k, v in (("threads", threads), ("workers", workers)) if v}
    return [dataclasses.replace(registry[name], **changes) for name in names]


def noop_entry(name: str = "noop", threads: int = 8) -> ServiceEntry:
    """A registry entry for a no-op service of ``bench.apps`` (port chosen at start)."""
    return ServiceEntry(name=name, app=f"bench.apps:create_noop_app({name!r})", port=0,
                        url="", threads=threads)


@dataclasses.dataclass
class Group:
    """Services to start together with one environment (one gunicorn master each)."""

    entries: list[ServiceEntry]
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tag: str = "services"
    processes: list[ServiceProcess] = dataclasses.field(default_factory=list)

    def start(self) -> None:
        """Start every entry on a free port; does not wait."""
        ports = {e.name: free_port() for e in self.entries}
        self.processes = start_services(self.entries, ports=ports, env=self.env,
                                        log_dir=LOG_DIR / self.tag)

    def by_name(self) -> dict[str, ServiceProcess]:
        """The started services by name."""
        return {p.entry.name: p for p in self.processes}


class Classic:
    """The classic Flask development server, in a subprocess (``bench.apps classic``)."""

    def __init__(self, artifact: str = ""):
        self.artifact = artifact
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server; does not wait."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "bench.apps", "classic", "--port", str(self.port)]
        command += ["--artifact", self.artifact] if self.artifact else []
        env = service_environment({})  # the project on the path
        with open(LOG_DIR / "classic.log", "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float) -> None:
        """Block until ``/readyz`` answers 200; raise if the server dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the classic server exited with code "
                                   f"{self.process.returncode}; see {LOG_DIR}/classic.log")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the classic server was not ready after {timeout:.0f}s")

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Block until no request is being computed (wrk leaves some behind at the end
        of a run, and this server finishes them, slowly)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A busy server may take seconds to answer even this: its threads share a GIL.
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(f"{self.url}/inflight", timeout=30)
                if answer.json()["inflight"] == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the classic server was still busy after {timeout:.0f}s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running(*servers: Group | Classic, timeout: float = 300.0) -> Iterator[None]:
    """Start every group and server at once (startup overlaps), wait until all are
    ready, and stop them all when the block ends."""
    groups = [s for s in servers if isinstance(s, Group)]
    classics = [s for s in servers if isinstance(s, Classic)]
    try:
        for server in servers:
            server.start()
        wait_ready([p for g in groups for p in g.processes], timeout)
        for classic in classics:
            classic.wait(timeout)
        yield
    finally:
        stop_services([p for g in groups for p in g.processes])
        for classic in classics:
            classic.stop()


@contextlib.contextmanager
def serve(service_entries: list[ServiceEntry], env: Mapping[str, str] | None = None,
          timeout: float = 300.0, tag: str = "") -> Iterator[dict[str, ServiceProcess]]:
    """Serve the entries under gunicorn on free ports until the block ends; by name."""
    group = Group(service_entries, env or {}, tag or "services")
    with running(group, timeout=timeout):
        yield group.by_name()


# ------------------------------------------------------------------ memory


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (gunicorn's workers, for its master)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if _parent_pid(Path("/proc", entry, "stat").read_text()) == pid:
                    found.append(int(entry))
    return sorted(found)


def _parent_pid(stat: str) -> int:
    # The command name (field 2) may hold spaces and parentheses; ppid follows the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of ``pid`` in kB, from /proc/<pid>/status."""
    return parse_status(Path("/proc", str(pid), "status").read_text())


def parse_status(text: str) -> dict[str, int]:
    """The VmRSS and VmHWM fields of a /proc/<pid>/status text, in kB."""
    wanted = {"VmRSS": "rss_kb", "VmHWM": "peak_rss_kb"}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            found[wanted[key]] = int(value.split()[0])
    return found


def worker_memory(service: ServiceProcess) -> list[dict[str, int]]:
    """Memory of each gunicorn worker of a service (children of its master)."""
    return [{"pid": pid, **memory_kb(pid)} for pid in children(service.process.pid)]


# ------------------------------------------------------------------ CPU


def server_pids(services: Iterable[ServiceProcess]) -> list[int]:
    """Every gunicorn process of ``services`` (masters and workers), each once: the
    members of a process group share theirs."""
    masters = sorted({s.process.pid for s in services})
    return masters + [pid for master in masters for pid in children(master)]


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU seconds ``pids`` have used so far (/proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime
    return total / ticks
