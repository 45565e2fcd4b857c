"""Fixtures shared by the whole suite.

``live_services`` starts registered services as real gunicorn processes on free loopback
ports (through the same launcher as ``make run``), once per distinct set and
environment, and stops them all at the end of the session.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
from pathlib import Path
from typing import Callable, Mapping

import pytest

from tools.launcher import ServiceProcess, start_services, stop_services, wait_ready
from common.core.registry import ROOT, ServiceEntry, load_registry

ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now.

    Chosen below the kernel's ephemeral range (32768+ on Linux): a port the kernel hands
    out for port 0 may be taken by an outgoing connection before gunicorn binds it.
    """
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def free_ports(entries) -> dict[str, int]:
    """A distinct free port for each entry."""
    ports: dict[str, int] = {}
    for entry in entries:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[entry.name] = port
    return ports


class ServicePool:
    """Starts sets of services on demand and keeps them for the session."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: dict[tuple, dict[str, str]] = {}
        self.processes: list[ServiceProcess] = []

    def start(self, entries: list[ServiceEntry], env: Mapping[str, str] | None = None,
              timeout: float = 240.0) -> dict[str, str]:
        """URLs by name of ``entries`` served with ``env``, started once per combination."""
        key = (tuple(sorted((e.name, e.app, e.group) for e in entries)),
               tuple(sorted((env or {}).items())))
        if key not in self.started:
            for attempt in range(3):
                log_dir = self.log_dir / f"set{len(self.started)}-{attempt}"
                processes = start_services(entries, ports=free_ports(entries), env=env,
                                           log_dir=log_dir)
                self.processes += processes
                try:
                    wait_ready(processes, timeout)
                    break
                except RuntimeError as e:
                    # Another test run on this machine took a port between our check
                    # and gunicorn's bind (a group binds several): new ports, again.
                    stop_services(processes)
                    if "Address already in use" not in str(e) or attempt == 2:
                        raise
            self.started[key] = {p.entry.name: p.url for p in processes}
        return self.started[key]

    def stop(self) -> None:
        """Stop every service this pool started."""
        stop_services(self.processes)


@pytest.fixture(scope="session")
def service_pool(tmp_path_factory) -> ServicePool:
    """The session's :class:`ServicePool`."""
    pool = ServicePool(tmp_path_factory.mktemp("service-logs"))
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def registry() -> dict[str, ServiceEntry]:
    """The project's service registry."""
    return load_registry()


@pytest.fixture(scope="session")
def live_services(service_pool, registry) -> Callable[..., dict[str, str]]:
    """``live_services("sentiment", "text_cleaner", env={...})`` -> URLs by name."""
    def start(*names: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
        return service_pool.start([registry[n] for n in names], env)
    return start


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files worth keeping (screenshots, logs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium tries to reach Google's hosts at start and on a closed network
# its connections are refused many at a time.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (installed by `make test`; in CI
    a missing browser fails the run instead of skipping it)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make test` installs it "
                        "(scripts/install-system-deps.sh)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def _fresh_default_client():
    """Each test gets a new process-wide pipe client, so the registry and URLs a test
    sets (``MODELCHAIN_REGISTRY``, ``MODELCHAIN_URL_*``) are the ones it reads."""
    from common.client import reset_default_client
    reset_default_client()
    yield
    reset_default_client()
