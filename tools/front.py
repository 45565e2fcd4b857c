"""Run the HTTPS front (nginx, from Debian's package) on 127.0.0.1 before services.

``make run FRONT=1`` starts it with the services (``tools/launcher.py``) and prints
``front https://127.0.0.1:8443``; ``python -m tools.front`` starts it alone, before
services already running where the registry says (``make run`` in another terminal),
until Ctrl-C. The certificate is ``MODELCHAIN_FRONT_CERT`` and ``MODELCHAIN_FRONT_KEY``
(paths) when set, else a self-signed one made in ``.run/front/tls/``
(``python -m tools.front cert`` makes it alone). ``MODELCHAIN_FRONT_PORT`` (8443)
moves it. The tests and ``scripts/slow-clients-probe.py`` start it through
:func:`start_front` too.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from common.core.registry import DEFAULT_REGISTRY, ROOT, ServiceEntry, load_registry, \
    registry_path
from deploy.front import config
from deploy.front.tls import ensure_self_signed

RUN_DIR = ROOT / ".run" / "front"
TLS_DIR = RUN_DIR / "tls"
DEFAULT_PORT = 8443
CERT_ENV, KEY_ENV, PORT_ENV = ("MODELCHAIN_FRONT_CERT", "MODELCHAIN_FRONT_KEY",
                               "MODELCHAIN_FRONT_PORT")
NGINX_HINT = ("nginx is not installed: apt-get install nginx (`make system-deps` does it "
              "as root)")


def nginx_binary() -> str:
    """Debian's nginx (in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise FileNotFoundError(NGINX_HINT)
    return found


def certificate(environ: Mapping[str, str] | None = None,
                tls_dir: Path = TLS_DIR) -> tuple[Path, Path]:
    """The deployer's certificate and key from the environment, else a self-signed
    pair in ``tls_dir`` (made when missing or about to end)."""
    environ = os.environ if environ is None else environ
    cert, key = environ.get(CERT_ENV, "").strip(), environ.get(KEY_ENV, "").strip()
    if bool(cert) != bool(key):
        raise ValueError(f"set both {CERT_ENV} and {KEY_ENV}, or neither")
    if cert:
        return Path(cert).resolve(), Path(key).resolve()
    return ensure_self_signed(tls_dir)


def upstreams(registry: Mapping[str, ServiceEntry],
              urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """``host:port`` of every registered service: its URL in ``urls`` (the ones just
    started), else the registry's."""
    urls = urls or {}
    return {name: urlsplit(urls.get(name, entry.url)).netloc
            for name, entry in registry.items()}


def write_config(run_dir: Path, targets: Mapping[str, str], port: int, cert: Path,
                 key: Path, shared_dir: Path | None = None) -> Path:
    """The main nginx file for a local front in ``run_dir``, listening on 127.0.0.1
    only; ``shared_dir`` holds ``http.conf`` and ``server.conf`` (the checked-in ones
    by default)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    limits = config.gunicorn_limits()
    # Its workers run as whoever started it, as the services do: started by root,
    # nginx would hand them to `nobody`, who may not write buffered bodies under a
    # private run folder.
    place = config.Place(upstreams=targets, listen=f"127.0.0.1:{port}",
                         conf_dir=str(shared_dir or config.FRONT_DIR), cert=str(cert),
                         key=str(key), keepalive_s=config.keepalive_for(limits),
                         user="root" if os.geteuid() == 0 else None)
    path = run_dir / "nginx.conf"
    path.write_text(config.render_main(place))
    return path


def shared_config(registry: Mapping[str, ServiceEntry], run_dir: Path,
                  settings: config.Settings | None = None, contracts=None) -> Path:
    """Where ``http.conf`` and ``server.conf`` for ``registry`` are: the checked-in files
    for the project's registry, else files rendered into ``run_dir`` (another registry,
    other settings or other contracts, as tests use)."""
    if settings is None and contracts is None and registry_path() == DEFAULT_REGISTRY:
        return config.FRONT_DIR
    from common.pipeline.contracts import contracts_in
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in config.shared_files(registry, contracts or contracts_in(),
                                          settings or config.Settings()).items():
        (run_dir / name).write_text(text)
    return run_dir


def check_config(main: Path, run_dir: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on ``main``, with ``run_dir`` as its prefix."""
    return subprocess.run([nginx_binary(), "-t", "-q", "-p", f"{run_dir}/", "-c", str(main)],
                          capture_output=True, text=True, timeout=60)


@dataclass
class FrontProcess:
    """One nginx master (and its workers) serving the front."""

    port: int
    cert: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"https://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """Whether the nginx master is still running."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The end of its log (nginx's errors and the access log)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until it answers its own health route over TLS; raise if it exits."""
        deadline = time.monotonic() + timeout
        while not _answers(self.port, self.cert):
            if not self.alive():
                raise RuntimeError(f"nginx exited with code {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the front did not answer in {timeout:.0f}s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """nginx's fast shutdown (SIGTERM), then SIGKILL to the whole group."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # workers left by a master that was killed (they share its group)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


def _answers(port: int, cert: Path) -> bool:
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # a deployer's certificate names their host
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                context.wrap_socket(raw) as tls:
            tls.sendall(f"GET {config.HEALTH_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Connection: close\r\n\r\n".encode())
            return tls.recv(64).startswith(b"HTTP/1.1 200")
    except (OSError, ssl.SSLError):
        return False


def start_front(registry: Mapping[str, ServiceEntry], *, port: int, run_dir: Path,
                log_path: Path, urls: Mapping[str, str] | None = None,
                cert: tuple[Path, Path] | None = None,
                settings: config.Settings | None = None, contracts=None) -> FrontProcess:
    """Start nginx for ``registry`` (services at ``urls``, else where the registry
    says) on 127.0.0.1:``port``; not waited. The configuration is checked first.
    ``settings`` and ``contracts`` (name -> contract) replace the front's own numbers
    and the services' limits (tests)."""
    cert_path, key_path = cert or certificate()
    shared = shared_config(registry, run_dir, settings, contracts)
    main = write_config(run_dir, upstreams(registry, urls), port, cert_path, key_path,
                        shared)
    checked = check_config(main, run_dir)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused {main}:\n{checked.stderr}")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen([nginx_binary(), "-p", f"{run_dir}/", "-c", str(main)],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # Ctrl-C reaches us, not it
    return FrontProcess(port, cert_path, log_path, process)


def front_port(environ: Mapping[str, str] | None = None) -> int:
    """``MODELCHAIN_FRONT_PORT``, else 8443."""
    environ = os.environ if environ is None else environ
    return int(environ.get(PORT_ENV) or DEFAULT_PORT)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port`` (as nginx binds: TIME_WAIT is free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def serve(front: FrontProcess, stopping: Callable[[], bool]) -> int:
    """Wait until ``stopping()`` or the front exits; 0 when asked to stop."""
    while not stopping():
        if not front.alive():
            print(f"error: the front stopped (exit code {front.process.returncode}):\n"
                  f"{front.log_tail()}", file=sys.stderr, flush=True)
            return 1
        time.sleep(0.2)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve the front before the services the registry lists, until Ctrl-C
    (``cert``: only make the self-signed certificate)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", nargs="?", choices=["serve", "cert"], default="serve")
    parser.add_argument("--port", type=int, default=None, help="default 8443 "
                        f"(or ${PORT_ENV})")
    args = parser.parse_args(argv)
    if args.command == "cert":
        cert, key = ensure_self_signed(TLS_DIR)
        print(f"{cert}\n{key}")
        return 0
    port = args.port or front_port()
    if not port_free(port):
        print(f"error: port {port} is in use (set {PORT_ENV})", file=sys.stderr)
        return 1
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    front = start_front(load_registry(), port=port, run_dir=RUN_DIR,
                        log_path=ROOT / ".run" / "logs" / "front.log")
    try:
        front.wait_ready()
        print(f"front {front.url}", flush=True)
        return serve(front, lambda: bool(stopping))
    finally:
        front.stop()


if __name__ == "__main__":
    sys.exit(main())
