"""Start registered services under gunicorn, wait until each is ready, stop them cleanly.

``python -m tools.launcher`` is what ``make run`` runs: it checks that every port is
free, starts the services, prints ``<name> <url>`` per service once each is ready, keeps
serving the others when one stops (and says so), and stops them all on Ctrl-C. Each
gunicorn master writes ``.run/<name>.pid``: ``kill -HUP`` on it restarts that service's
workers with fresh code (``make restart SERVICE=<name>``). With ``--front``
(``make run FRONT=1``) it also starts the HTTPS front (nginx, ``tools/front.py``) on
127.0.0.1, prints ``front https://127.0.0.1:8443`` after the services and stops it with
them. The integration tests start their services through the same
:func:`start_services`. ``MODELCHAIN_POLICY=1`` turns the calls policy on: every
service gets an identity key (kept in ``.run/identity``, ``tools/identity.py``), and
each process only its own members' keys.
"""
from __future__ import annotations

import signal
import sys

#: Stop signals received so far. Run as a program, a stop that arrives while this module
#: still loads (timeout(1) and make both send SIGTERM to a run cut short at once) is kept
#: and honoured before anything starts, instead of killing the launcher mid-import.
STOPPING: list[int] = []
if __name__ == "__main__":
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, lambda number, _frame: STOPPING.append(number))

import argparse  # noqa: E402  (after the handlers: each import takes time)
import difflib  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import requests

from common.core.registry import (GROUP_MEMBERS_ENV, ROOT, ProcessUnit, ServiceEntry,
                                  load_registry, process_units)

if TYPE_CHECKING:  # annotations only: tools.identity loads cryptography, which a plain
    from tools.identity import Identities  # `make run` does not need to start

    from .front import FrontProcess

GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
RUN_DIR = ROOT / ".run"
LOG_DIR = RUN_DIR / "logs"
#: Local runs log every request unless MODELCHAIN_ACCESS_LOG says otherwise.
LOCAL_DEFAULTS = {"MODELCHAIN_ACCESS_LOG": "1"}


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
            # a killed master leaves its pid file, and the pid may be reused
            self.log_path.with_suffix(".pid").unlink(missing_ok=True)


def process_setting(entry: ServiceEntry | ProcessUnit, key: str,
                    environ: Mapping[str, str]) -> int:
    """``WORKERS`` or ``THREADS`` of a service (or process group): ``<NAME>_<KEY>``,
    else ``MODELCHAIN_<KEY>``, else the registry's (a group: its members' together)."""
    for name in (f"{entry.name.upper()}_{key}", f"MODELCHAIN_{key}"):
        if environ.get(name, "").strip():
            value = int(environ[name])
            if value < 1:
                raise ValueError(f"{name}={value}: must be at least 1")
            return value
    return int(getattr(entry, key.lower()))


def gunicorn_command(entry: ServiceEntry | ProcessUnit, bind: str | list[str],
                     environ: Mapping[str, str] | None = None,
                     pid_file: Path | None = None) -> list[str]:
    """The command line that serves ``entry`` (a service or a process group) on
    ``bind`` (a group binds each member's address)."""
    environ = os.environ if environ is None else environ
    binds = [bind] if isinstance(bind, str) else list(bind)
    command = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF),
               *[arg for address in binds for arg in ("--bind", address)],
               "--workers", str(process_setting(entry, "WORKERS", environ)),
               "--threads", str(process_setting(entry, "THREADS", environ)),
               "--chdir", str(ROOT)]
    return command + (["--pid", str(pid_file)] if pid_file else []) + [entry.app]


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
                   host: str = "127.0.0.1",
                   identities: Identities | None = None) -> list[ServiceProcess]:
    """Start every entry under gunicorn (ports default to the registry's); not waited.
    Services of one process group (``group:`` in the registry) share one process. With
    ``identities``, each process gets its members' identity keys (the policy is on)."""
    entries = list(entries)
    ports = {e.name: (ports or {}).get(e.name, e.port) for e in entries}
    urls = {name: f"http://{host}:{port}" for name, port in ports.items()}
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[ServiceProcess] = []
    try:
        for unit in process_units(entries):
            local_env = {k: v for m in unit.members for k, v in m.local_env.items()}
            keys = identities.environment(unit) if identities else {}
            environment = service_environment(urls, {**unit.env, **local_env, **keys,
                                                     **(env or {})})
            started.extend(_spawn(unit, host, ports, urls, environment, log_dir))
    except BaseException:  # none may outlive a failed start: each is its own session
        stop_services(started)
        raise
    # In the order asked for (the registry's), not the processes': a version deployment
    # runs apart from its service's group, but is listed beside it.
    order = {entry.name: index for index, entry in enumerate(entries)}
    return sorted(started, key=lambda service: order[service.entry.name])


def _spawn(unit: ProcessUnit, host: str, ports: Mapping[str, int], urls: Mapping[str, str],
           env: dict[str, str], log_dir: Path) -> list[ServiceProcess]:
    """One gunicorn for ``unit``; a :class:`ServiceProcess` per member, sharing it."""
    log_path = log_dir / f"{unit.name}.log"
    binds = [f"{host}:{ports[m.name]}" for m in unit.members]
    if unit.grouped:
        env = {**env, GROUP_MEMBERS_ENV: unit.members_value(ports)}
    command = gunicorn_command(unit if unit.grouped else unit.members[0], binds, env,
                               log_dir / f"{unit.name}.pid")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # Ctrl-C reaches us, not them
    return [ServiceProcess(m, urls[m.name], log_path, process) for m in unit.members]


def wait_ready(services: Iterable[ServiceProcess], timeout: float = 180.0,
               stop: Callable[[], bool] = lambda: False) -> None:
    """Block until every service's ``/readyz`` answers 200 (or ``stop()`` says to give
    up); raise if one dies or times out."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending and not stop():
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


def parse_names(words: Iterable[str], known: Iterable[str]) -> list[str]:
    """Service names from words separated by spaces or commas, checked against ``known``;
    a name that is not known raises ``ValueError`` listing the valid ones."""
    known = list(known)
    names = [n for word in words for n in re.split(r"[,\s]+", word) if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = [f"{n} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(
            n, known, n=1)) else n for n in unknown]
        raise ValueError(f"not in the registry: {', '.join(hints)}. Services: "
                         f"{', '.join(known)}")
    return list(dict.fromkeys(names))


def ports_taken(entries: Iterable[ServiceEntry], host: str = "127.0.0.1") -> list[str]:
    """``name (host:port)`` of each entry whose port something already listens on."""
    taken = []
    for entry in entries:
        with socket.socket() as sock:
            # As gunicorn binds: a port left in TIME_WAIT by a service just stopped is
            # free; only one something listens on is taken.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, entry.port))
            except OSError:
                taken.append(f"{entry.name} ({host}:{entry.port})")
    return taken


def restart(name: str, log_dir: Path = LOG_DIR, group: str = "") -> int:
    """Ask one running service's gunicorn master for fresh workers (SIGHUP): they load
    the code anew, then the old ones finish their requests and go. A service of a
    process group restarts with its group (one process serves them all)."""
    pid_file = log_dir / f"{name}.pid"
    if group and not pid_file.exists():
        pid_file = log_dir / f"{group}.pid"
    try:
        pid = int(pid_file.read_text().strip())
        if b"gunicorn" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            raise ProcessLookupError(pid)  # a stale pid file: that pid is someone else's
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        print(f"error: {name} is not running under `make run` (no live pid in "
              f"{pid_file})", file=sys.stderr)
        return 1
    together = f" (with process group {group})" if pid_file.stem == group else ""
    print(f"{name}: workers restarting with fresh code{together}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve every registered service (or those named) until Ctrl-C."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("names", nargs="*",
                        help="services to start, by spaces or commas (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to get ready")
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR,
                        help=f"logs and pid files (default {LOG_DIR.relative_to(ROOT)})")
    parser.add_argument("--restart", metavar="NAME",
                        help="restart one service a running launcher serves, and exit")
    parser.add_argument("--front", action="store_true",
                        help="also serve the HTTPS front (nginx) on 127.0.0.1:8443 "
                        "(MODELCHAIN_FRONT_PORT)")
    args = parser.parse_args(argv)
    registry = load_registry()
    try:
        names = parse_names([args.restart] if args.restart else args.names, registry) \
            or list(registry)
    except ValueError as e:
        parser.error(str(e))
    if args.restart:
        return restart(names[0], args.log_dir, registry[names[0]].group)
    entries = [registry[n] for n in names]
    try:
        for entry in entries:
            process_setting(entry, "WORKERS", os.environ)
            process_setting(entry, "THREADS", os.environ)
    except ValueError as e:
        parser.error(str(e))
    taken = ports_taken(entries)
    front_port = _front_port() if args.front else None
    if front_port and not _front().port_free(front_port):
        taken.append(f"front (127.0.0.1:{front_port})")
    if taken:
        print(f"error: ports already in use: {', '.join(taken)}. Another `make run` may "
              "be serving them; stop it, or start other services.", file=sys.stderr)
        return 1
    if args.front and not _front_can_start():
        return 1
    return _serve(entries, args.timeout, args.log_dir, front_port)


def _front():
    """tools/front.py, imported only for ``--front`` (it brings nginx's configuration
    and the certificate code; a plain `make run` needs neither)."""
    from . import front
    return front


def _front_port() -> int:
    """The front's port (``MODELCHAIN_FRONT_PORT``, else 8443)."""
    try:
        return _front().front_port()
    except ValueError:
        raise SystemExit(f"error: {_front().PORT_ENV} must be a port number")


def _front_can_start() -> bool:
    """Whether nginx and a certificate are there; says why not."""
    try:
        _front().nginx_binary()
        _front().certificate()
    except (FileNotFoundError, ValueError) as e:
        print(f"error: the front cannot start: {e}", file=sys.stderr)
        return False
    return True


def _serve(entries: list[ServiceEntry], timeout: float, log_dir: Path,
           front_port: int | None = None) -> int:
    # A plain flag, not a threading.Event: a handler runs between two bytecodes of the
    # main thread, and a second signal arriving inside Event.set() would wait forever
    # on the lock the first one holds (timeout and make both send SIGTERM).
    stopping = STOPPING
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    if stopping:   # asked to stop before anything started
        return 0
    services = start_services(entries, env={**LOCAL_DEFAULTS, **_own(LOCAL_DEFAULTS)},
                              log_dir=log_dir, identities=_policy_identities())
    proxy = None
    try:
        running = _report_ready(services, timeout, log_dir, stopping)
        if front_port and running and not stopping:
            proxy = _start_front(running, front_port, log_dir)
            if proxy is None:
                return 1
        while running and not stopping:
            time.sleep(0.2)
            running = _report_stopped(running)
            proxy = _front_still_up(proxy)
        return 0 if running or stopping else 1
    finally:
        if proxy is not None:
            proxy.stop()
        stop_services(services)


def _start_front(services: list[ServiceProcess], port: int,
                 log_dir: Path) -> FrontProcess | None:
    """The front before the services just started (the others where the registry
    says), ready; prints ``front <url>``, or why it did not start. Its files go beside
    the logs (``.run/front/`` for ``make run``)."""
    try:
        proxy = _front().start_front(load_registry(), port=port,
                                     run_dir=log_dir.parent / "front",
                                     log_path=log_dir / "front.log",
                                     urls={s.entry.name: s.url for s in services})
    except (OSError, RuntimeError, ValueError) as e:
        print(f"error: the front did not start: {e}", file=sys.stderr, flush=True)
        return None
    try:
        proxy.wait_ready()
    except (RuntimeError, TimeoutError) as e:
        proxy.stop()
        print(f"error: the front did not start: {e}", file=sys.stderr, flush=True)
        return None
    print(f"front {proxy.url}", flush=True)
    return proxy


def _front_still_up(proxy: FrontProcess | None) -> FrontProcess | None:
    """The front, or None once it has stopped (said once; the services keep running)."""
    if proxy is not None and not proxy.alive():
        print(f"error: the front stopped; the services keep running. Its log:\n"
              f"{proxy.log_tail()}", file=sys.stderr, flush=True)
        return None
    return proxy


def _policy_identities() -> Identities | None:
    """With ``MODELCHAIN_POLICY`` on, the local run's identity keys (made once)."""
    if os.environ.get("MODELCHAIN_POLICY", "").strip().lower() not in ("1", "true", "yes", "on"):
        return None
    from tools.identity import dev_identities
    identities = dev_identities()
    print(f"# calls policy on: identity keys in {identities.folder} (the registry's "
          "calls: is enforced by every callee)", file=sys.stderr, flush=True)
    return identities


def _own(defaults: Mapping[str, str]) -> dict[str, str]:
    """The caller's own values of ``defaults``' keys (they win)."""
    return {k: os.environ[k] for k in defaults if k in os.environ}


def _report_ready(services: list[ServiceProcess], timeout: float, log_dir: Path,
                  stopping: list[int]) -> list[ServiceProcess]:
    """Wait for each service (a signal in ``stopping`` ends the wait); print
    ``<name> <url>`` for the ready ones and say why the others did not start. Returns
    the ready ones."""
    ready, deadline = [], time.monotonic() + timeout
    for service in services:
        try:
            wait_ready([service], deadline - time.monotonic(), lambda: bool(stopping))
            if stopping:
                return []
            ready.append(service)
        except (RuntimeError, TimeoutError) as e:
            print(f"error: {service.entry.name} did not start: {e}", file=sys.stderr)
    for service in ready:
        print(f"{service.entry.name} {service.url}", flush=True)
    if ready:
        print(f"# logs and pid files in {log_dir}; restart one with `make restart "
              "SERVICE=<name>`; Ctrl-C stops all", file=sys.stderr, flush=True)
    return ready


def _report_stopped(running: list[ServiceProcess]) -> list[ServiceProcess]:
    """Say which services stopped since the last look; the others keep running."""
    for service in [s for s in running if not s.alive()]:
        print(f"error: {service.entry.name} stopped (exit code "
              f"{service.process.returncode}); the others keep running. Its log:\n"
              f"{service.log_tail(20)}", file=sys.stderr, flush=True)
    return [s for s in running if s.alive()]


if __name__ == "__main__":
    sys.exit(main())
