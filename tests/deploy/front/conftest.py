"""The front's fixtures: Debian's nginx (missing: a skip that says what to install, and a
failure in CI), fronts started on free ports before real gunicorn services, and raw
TLS connections for what ``requests`` will not send."""
from __future__ import annotations

import os
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from deploy.front.tls import ensure_self_signed
from tests.conftest import free_port
from tests.helpers.chain import until
from tests.helpers.alexa import (  # noqa: F401  fixtures re-exported by name
    SKILL_ID, _alexa_bodies, _make_signed_request, _test_pki)
from tools import front

#: The services the live front tests run behind it, in one process group.
LIVE = ["catalog", "text_cleaner", "gateway", "alexa_skill", "sentiment"]


@pytest.fixture(scope="session")
def nginx() -> str:
    """Debian's nginx; skips (fails in CI) when it is not installed."""
    try:
        return front.nginx_binary()
    except FileNotFoundError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and key for the session's fronts."""
    return ensure_self_signed(tmp_path_factory.mktemp("front-tls"))


@pytest.fixture(scope="module")
def refused():
    """``http://127.0.0.1:<port>`` of a port bound by nobody's listener: a connection
    there is refused for as long as the fixture holds it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


@dataclass
class LiveFront:
    """A front on 127.0.0.1 and what it stands before."""

    process: front.FrontProcess
    cert: Path
    services: Mapping[str, str]

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def port(self) -> int:
        return self.process.port

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def logged(self, text: str, seconds: float = 5.0) -> bool:
        """Whether ``text`` reaches the access log within ``seconds``: nginx writes a
        request's line after it has sent the answer, so a client can read first."""
        return bool(until(lambda: text in self.log(), seconds, f"{text!r} logged"))


def start(registry, folder: Path, cert: tuple[Path, Path], urls: Mapping[str, str],
          **kwargs) -> front.FrontProcess:
    """A ready front on a free port (another port when one was taken meanwhile)."""
    for attempt in range(3):
        process = front.start_front(registry, port=free_port(), run_dir=folder / "run",
                                    log_path=folder / f"front-{attempt}.log", urls=urls,
                                    cert=cert, **kwargs)
        try:
            process.wait_ready()
            return process
        except RuntimeError:
            process.stop()
            if "Address already in use" not in process.log_tail() or attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def live(nginx, service_pool, registry, tmp_path_factory, test_pki, tls_pair,
         refused) -> Iterator[LiveFront]:
    """The project's front (the checked-in files) before catalog, text_cleaner, the
    gateway, the Alexa skill (verifying with the test PKI) and sentiment under gunicorn;
    every other registered service is at a port that refuses connections."""
    folder = tmp_path_factory.mktemp("front-live")
    env = test_pki.verifying_env(folder)
    urls = service_pool.start([registry[n] for n in LIVE], env)
    process = start(registry, folder, tls_pair,
                    {**{name: refused for name in registry}, **urls})
    yield LiveFront(process, tls_pair[0], urls)
    process.stop()


def tls_context(cert: Path, **versions) -> ssl.SSLContext:
    """A client context trusting ``cert``; ``minimum``/``maximum``: TLS versions."""
    context = ssl.create_default_context(cafile=str(cert))
    if "minimum" in versions:
        context.minimum_version = versions["minimum"]
    if "maximum" in versions:
        context.maximum_version = versions["maximum"]
    return context


@contextmanager
def tls_socket(port: int, cert: Path, timeout: float = 10.0, **versions):
    """A TLS connection to the front, for requests written by hand."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with tls_context(cert, **versions).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        yield tls


def exchange(port: int, cert: Path, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` as it is and read until the front closes the connection."""
    with tls_socket(port, cert, timeout) as tls:
        tls.sendall(request)
        return read_all(tls)


def read_all(sock) -> bytes:
    """Everything until the peer closes (or the socket times out)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError, ssl.SSLError):
        pass
    return data
