"""A Docker daemon for the run: the one already running, or one started by hand.

``with docker_daemon() as daemon:`` yields the ``DOCKER_HOST`` to use. A daemon that
answers (``DOCKER_HOST``, else ``/var/run/docker.sock``) is used and left running. Else,
as root, Debian's ``dockerd`` is started with state of its own, so that it can be torn
down and nothing of it stays: its socket, pid file and exec root under
``/run/modelchain-docker``, its images under ``/var/lib/modelchain-docker`` (kept: they
are the build cache of the next run; ``--purge`` removes them). It makes no
``docker0`` bridge and writes no iptables rule (``--bridge=none --iptables=false``):
containers reach each other on the networks compose creates, the host reaches their
ports published on 127.0.0.1 through docker-proxy, and they reach nothing outside.
When the block ends it is stopped, and :func:`leftovers` must find none of it:
no process, socket, mount or network interface.

Where the daemon cannot run (not root, no overlayfs, no namespaces...) it says so
plainly and the run fails: :class:`~.cli.Failure`, never a quiet pass.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .cli import Failure, cleanup, docker_cli, log, run

RUN_DIR = Path(os.environ.get("MODELCHAIN_DOCKER_RUN", "/run/modelchain-docker"))
DATA_ROOT = Path(os.environ.get("MODELCHAIN_DOCKER_DATA", "/var/lib/modelchain-docker"))
SYSTEM_SOCKET = "unix:///var/run/docker.sock"
#: The names Docker gives the interfaces of its networks and containers.
CONTAINER_INTERFACES = ("br-", "veth", "docker")
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
#: The Debian packages each command comes from (installed when missing, as root).
PACKAGES = {"dockerd": "docker.io", "docker": "docker.io", "docker-compose": "docker-compose",
            "mmdebstrap": "mmdebstrap"}


@dataclass
class Daemon:
    """The daemon of this run: where it listens, and whether this run started it."""

    host: str
    owned: bool
    version: str
    process: subprocess.Popen | None = None
    #: The host's network interfaces before it started (any new one left is its).
    interfaces_before: frozenset[str] = frozenset()

    @property
    def env(self) -> dict[str, str]:
        """The environment for docker and docker-compose to talk to it."""
        return {**os.environ, "DOCKER_HOST": self.host}


def own_socket() -> str:
    return f"unix://{RUN_DIR / 'docker.sock'}"


def answering(host: str) -> str:
    """The server version of the daemon at ``host`` ("" when none answers)."""
    done = run([docker_cli(), "-H", host, "version", "--format", "{{.Server.Version}}"],
               check=False, timeout=20)
    return done.stdout.strip() if done.returncode == 0 else ""


def ensure_tools(commands: tuple[str, ...] = tuple(PACKAGES)) -> None:
    """Install the Debian packages of ``commands`` that are missing (root only)."""
    missing = sorted({PACKAGES[c] for c in commands if not _installed(c)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise Failure(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)} "
                      "(as root), then run again")
    log(f"installing {' '.join(missing)} (Debian packages)")
    apt = ["apt-get", "install", "-y", "-qq", *missing]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _no_service_starts():
        if run(apt, env=env, check=False, timeout=900).returncode != 0:
            run(["apt-get", "update", "-qq"], env=env, timeout=600)
            run(apt, env=env, timeout=900)


@contextlib.contextmanager
def _no_service_starts() -> Iterator[None]:
    """docker.io's install would start the system's dockerd (init script), which is
    not this run's to stop: Debian's policy-rc.d answers 101 (no starts) meanwhile."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _installed(command: str) -> bool:
    if command == "docker":   # Debian's client, not some other docker on PATH
        return Path("/usr/bin/docker").exists() or bool(os.environ.get("DOCKER"))
    return bool(shutil.which(command) or Path("/usr/sbin", command).exists())


@contextlib.contextmanager
def docker_daemon(purge: bool = False, keep: bool = False) -> Iterator[Daemon]:
    """The daemon to use while the block runs; one started here is stopped after it
    (unless ``keep``), and checked gone (:func:`leftovers`); ``purge`` also removes
    its images."""
    with _lock():
        daemon = _find() or _start()
        log(f"Docker {daemon.version} at {daemon.host} " + (
            "(started for this run)" if daemon.process else
            "(ours, left running by an earlier run: stopped after this one)" if daemon.owned
            else "(already running; kept)"))
        saved = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = daemon.host     # every docker command of the run
        try:
            yield daemon
        finally:
            if saved is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = saved
            if daemon.owned and not keep:
                cleanup(lambda: _stop(daemon, purge))
            elif daemon.owned:
                log(f"dockerd left running (--keep): DOCKER_HOST={daemon.host}")


def _find() -> Daemon | None:
    """A daemon already running: DOCKER_HOST's (which must answer), the system's, or
    one a previous run of ours left (it is ours to stop)."""
    if os.environ.get("DOCKER_HOST"):
        host = os.environ["DOCKER_HOST"]
        version = answering(host)
        if not version:
            raise Failure(f"DOCKER_HOST={host} names a daemon that does not answer")
        return Daemon(host, owned=host == own_socket(), version=version,
                      interfaces_before=_bare_interfaces())
    for host, owned in ((SYSTEM_SOCKET, False), (own_socket(), True)):
        version = answering(host)
        if version:
            return Daemon(host, owned=owned, version=version,
                          interfaces_before=_bare_interfaces())
    return None


def _bare_interfaces() -> frozenset[str]:
    """The interfaces no container network made (a daemon of ours found running may
    have made the others: they must go when it stops)."""
    return frozenset(n for n in interfaces() if not n.startswith(CONTAINER_INTERFACES))


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    """One run at a time: runs share the daemon, and the one that started it stops it."""
    if os.geteuid() != 0:
        yield            # it cannot start one; _start says so
        return
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    with open(RUN_DIR / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another run holds {RUN_DIR / 'lock'}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def dockerd_command() -> list[str]:
    """dockerd with state of its own, no docker0 bridge and no iptables rules."""
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    return [dockerd, "--data-root", str(DATA_ROOT), "--exec-root", str(RUN_DIR / "exec"),
            "--pidfile", str(RUN_DIR / "dockerd.pid"), "--host", own_socket(),
            "--bridge=none", "--iptables=false", "--ip-masq=false",
            "--log-level=warn"]


def _start() -> Daemon:
    """Start dockerd; a daemon that cannot run here is a :class:`Failure` saying why."""
    if os.geteuid() != 0:
        raise Failure("no Docker daemon is running and only root can start one here "
                      f"(nothing answers at {SYSTEM_SOCKET}): run as root, or start "
                      "dockerd and set DOCKER_HOST")
    ensure_tools(("dockerd", "docker"))
    before = frozenset(interfaces())
    log_path = RUN_DIR / "dockerd.log"
    log(f"starting dockerd (data {DATA_ROOT}, log {log_path})")
    with open(log_path, "ab") as out:
        process = subprocess.Popen(dockerd_command(), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure("the Docker daemon cannot run on this machine: dockerd exited "
                          f"{process.returncode}:\n{_errors(log_path)}")
        version = answering(own_socket())
        if version:
            return Daemon(own_socket(), owned=True, version=version, process=process,
                          interfaces_before=before)
        time.sleep(0.5)
    _terminate(process.pid)
    raise Failure(f"the Docker daemon did not answer within {START_TIMEOUT_S} s:\n"
                  f"{_errors(log_path)}")


def _errors(log_path: Path, lines: int = 15) -> str:
    """The daemon log's last error lines (or its last lines)."""
    text = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    errors = [line for line in text if "level=error" in line or "level=fatal" in line
              or "failed to start daemon" in line]
    return "\n".join((errors or text)[-lines:]) or "(the daemon wrote nothing)"


def check_containers_run(daemon: Daemon, image: str) -> None:
    """A container of ``image`` starts and exits 0 (dockerd may start on a machine
    whose kernel still refuses containers: namespaces, cgroups, overlayfs)."""
    done = run([docker_cli(), "run", "--rm", "--network", "none", image, "true"],
               env=daemon.env, check=False, timeout=120)
    if done.returncode != 0:
        raise Failure("the Docker daemon runs but cannot run a container on this machine:\n"
                      + (done.stderr or done.stdout).strip()[-2000:])


def _stop(daemon: Daemon, purge: bool) -> None:
    """Stop the daemon this run started and check that nothing of it is left."""
    pid = daemon.process.pid if daemon.process else _pid_from_file()
    containerd = _containerd_pid()
    if pid:
        _terminate(pid)
    if containerd:
        _terminate(containerd)
    if daemon.process:
        daemon.process.wait(timeout=10)
    _unmount_namespaces()
    found = leftovers(pid, containerd, daemon.interfaces_before)
    if found:
        raise Failure("the Docker daemon this run started left something behind:\n  "
                      + "\n  ".join(found))
    shutil.rmtree(RUN_DIR / "exec", ignore_errors=True)
    if purge:
        shutil.rmtree(DATA_ROOT, ignore_errors=True)
    log("dockerd stopped; no process, socket, mount or interface of it is left"
        + (f"; {DATA_ROOT} removed" if purge else f" (images kept in {DATA_ROOT})"))


def _unmount_namespaces() -> None:
    """dockerd stops without unmounting the network namespace it keeps under its exec
    root (``netns/default``): unmount what is left there, once no process of it runs."""
    for target in reversed(_mounts_under(RUN_DIR / "exec")):
        run(["umount", target], check=False, timeout=30)


def _mounts_under(folder: Path) -> list[str]:
    """The mount points under ``folder``, in mount order."""
    targets = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    return [t for t in targets if t == str(folder) or t.startswith(f"{folder}/")]


def _pid_from_file() -> int:
    try:
        return int((RUN_DIR / "dockerd.pid").read_text().strip())
    except (OSError, ValueError):
        return 0


def _containerd_pid() -> int:
    """dockerd's own containerd (it starts one under its exec root)."""
    try:
        return int((RUN_DIR / "exec" / "containerd" / "containerd.pid").read_text().strip())
    except (OSError, ValueError):
        return 0


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL once STOP_TIMEOUT_S has passed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        log(f"process {pid} ignored SIGTERM for {STOP_TIMEOUT_S} s: SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def leftovers(dockerd_pid: int, containerd_pid: int,
              interfaces_before: frozenset[str]) -> list[str]:
    """What a stopped daemon of ours left: processes, its socket, mounts under its
    roots, the network interfaces that appeared since it started."""
    found = [f"process {p} ({name}) still runs" for p, name in
             ((dockerd_pid, "dockerd"), (containerd_pid, "containerd")) if p and _alive(p)]
    if (RUN_DIR / "docker.sock").exists():
        found.append(f"socket {RUN_DIR / 'docker.sock'}")
    found += [f"mount {target}" for folder in (DATA_ROOT, RUN_DIR)
              for target in _mounts_under(folder)]
    found += [f"network interface {name}" for name in interfaces()
              if name not in interfaces_before]
    return found


def interfaces() -> list[str]:
    """The host's network interfaces."""
    return sorted(os.listdir("/sys/class/net"))
