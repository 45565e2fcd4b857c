"""Build the images: ``python -m tools.containers.images`` (``make images``).

Every image is ``deploy/Dockerfile``: the ``deps`` stage (a base and one layer with the
pinned dependencies) tagged ``modelchain/deps``, and per process unit ``modelchain/<unit>``,
which adds the one code layer all units share and its own settings.

``--base local`` (the default here) builds on ``modelchain/base:bookworm``, which
``scripts/docker-base.sh`` makes from Debian's packages, and installs the dependencies
from an offline wheel house: ``pip download`` of the pinned requirements for the base's
Python (CPython 3.11, manylinux x86_64) into a cache outside the repository, served on
127.0.0.1 for the one ``pip install`` of the build, which runs with the host's network
(``--network host``) and no index. Only that build step sees the wheels and the
address: the images get the installed environment (the ``venv`` stage is not kept), so
they carry nothing of this machine's. ``--base python:3.11-slim`` is the users' build
(the Dockerfile's default; pip reads PyPI).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import http.server
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from common.core.registry import ROOT

from .cli import Failure, docker_cli, log, run
from .daemon import docker_daemon, ensure_tools

LOCAL_BASE = "modelchain/base:bookworm"
DEPS_IMAGE = "modelchain/deps:latest"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "constraints.txt")
#: The wheels the image's Python takes: CPython 3.11 on glibc x86_64 (Debian bookworm
#: has glibc 2.36; python:3.11-slim is bookworm too). pip does not widen a --platform
#: to the older manylinux tags a platform also accepts, so each is named. The exact
#: Python version comes from the base (:func:`base_python`): markers tell 3.11.2 from
#: 3.11.3 (redis needs async-timeout below 3.11.3, and Debian's is 3.11.2).
WHEEL_TARGET = ["--only-binary=:all:", "--implementation", "cp", "--abi", "cp311",
                *[a for v in range(36, 16, -1) for a in ("--platform", f"manylinux_2_{v}_x86_64")],
                "--platform", "manylinux2014_x86_64", "--platform", "manylinux1_x86_64"]
#: The wheel house's port; the same every build, since the build step's options (and
#: so the layer cache) include it. Another is picked when it is taken.
WHEEL_PORT = 48631


def cache_dir() -> Path:
    """Where wheel houses are kept between runs (never inside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("MODELCHAIN_DOCKER_CACHE") or Path(base) / "modelchain-docker")


def base_python(image: str) -> str:
    """The full Python version of ``image`` (``3.11.2``)."""
    return run([docker_cli(), "run", "--rm", "--network", "none", image, "python3", "-c",
                "import platform; print(platform.python_version())"]).stdout.strip()


def requirements_key(python: str) -> str:
    """A digest of the pins and the Python: a wheel house belongs to one of each."""
    digest = hashlib.sha256(python.encode())
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def wheel_house(image: str) -> Path:
    """The wheel house of the current pins for ``image``'s Python, made on first use:
    downloaded on the host, then completed until the image's own pip resolves the
    requirements from it alone."""
    python = base_python(image)
    house = cache_dir() / f"wheels-{requirements_key(python)}"
    if (house / ".complete").exists():
        return house
    partial = house.with_name(house.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log(f"downloading the pinned wheels for CPython {python} into {house}")
    download(partial, python, ["-r", str(REQUIREMENTS[0])])
    for _ in range(MAX_ROUNDS):
        missing = unresolved(partial, image)
        if not missing:
            break
        log(f"the image's Python also needs {missing} (markers the host's does not meet)")
        download(partial, python, missing.split())
    else:
        raise Failure(f"the wheel house in {partial} still misses requirements "
                      f"after {MAX_ROUNDS} rounds")
    (partial / ".complete").touch()
    shutil.rmtree(house, ignore_errors=True)
    partial.rename(house)
    return house


#: Rounds of completing a wheel house (a requirement found may need others in turn).
MAX_ROUNDS = 5
#: Run by the image's Python over the wheel house: the names its wheels require under
#: that interpreter's markers that no wheel there provides (pip's vendored packaging).
MISSING_SCRIPT = """
import pathlib, re, sys, zipfile
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name
wheels = list(pathlib.Path("/wheels").glob("*.whl"))
have = {canonicalize_name(w.name.split("-")[0]) for w in wheels}
need = set()
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    need.add(canonicalize_name(req.name))
print(" ".join(sorted(need - have)))
"""


def download(folder: Path, python: str, requirements: list[str]) -> None:
    """``pip download`` of ``requirements`` (under the constraints) for ``python``.

    pip evaluates environment markers with the interpreter it runs on, not with
    ``--python-version``: a requirement only an older 3.11 needs is not fetched, which
    :func:`unresolved` finds out."""
    run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         *requirements, "-c", str(REQUIREMENTS[1]), "-d", str(folder),
         "--python-version", python, *WHEEL_TARGET], timeout=1800)


def in_base(image: str, folder: Path, script: str) -> subprocess.CompletedProcess:
    """``script`` (sh) in a throwaway container of ``image``, offline, with the wheel
    house and the pins mounted read-only and pip in a scratch virtual environment."""
    return run([docker_cli(), "run", "--rm", "--network", "none",
                "-v", f"{folder}:/wheels:ro",
                "-v", f"{REQUIREMENTS[0]}:/deps/requirements.txt:ro",
                "-v", f"{REQUIREMENTS[1]}:/deps/constraints.txt:ro",
                image, "sh", "-c", "python3 -m venv /tmp/venv && " + script],
               check=False, timeout=600)


def unresolved(folder: Path, image: str) -> str:
    """What ``image``'s Python needs that ``folder`` lacks (names, space-separated;
    "" once its pip installs the pins from the folder alone, in a dry run)."""
    done = in_base(image, folder, "/tmp/venv/bin/python -c " + shlex.quote(MISSING_SCRIPT))
    if done.returncode != 0:
        raise Failure(f"cannot read the wheel house in {image}:\n{done.stderr[-2000:]}")
    if done.stdout.strip():
        return done.stdout.strip()
    done = in_base(image, folder, "/tmp/venv/bin/pip install --dry-run --quiet "
                   "--disable-pip-version-check --no-index --find-links /wheels "
                   "-r /deps/requirements.txt -c /deps/constraints.txt")
    if done.returncode != 0:
        raise Failure(f"pip in {image} cannot install the pins from the wheel house:\n"
                      + (done.stdout + done.stderr)[-2000:])
    return ""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):   # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1 while the block runs; yields its URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", WHEEL_PORT), handler)
    except OSError:
        log(f"127.0.0.1:{WHEEL_PORT} is taken: the wheel house takes another port "
            "(the dependency layer is rebuilt)")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def pip_options(url: str) -> str:
    """pip's options for the offline install: the wheel house and nothing else."""
    return f"--no-index --find-links {url} --trusted-host 127.0.0.1"


def build_args(base: str, options: str) -> dict[str, str]:
    """The Dockerfile's arguments for ``base`` (empty options: PyPI)."""
    return {"BASE": base, "PIP_INSTALL_OPTIONS": options}


def docker_build(tag: str, args: dict[str, str], *, target: str = "",
                 network_host: bool = False, context: Path = ROOT,
                 dockerfile: Path = DOCKERFILE) -> float:
    """``docker build`` (deploy/Dockerfile from the repository, unless told another);
    the seconds it took."""
    command = [docker_cli(), "build", "--quiet", "--force-rm", "-f", str(dockerfile), "-t", tag]
    command += [a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")]
    command += ["--target", target] if target else []
    command += ["--network", "host"] if network_host else []
    started = time.monotonic()
    run([*command, str(context)], timeout=3600)
    return time.monotonic() - started


def ensure_local_base() -> None:
    """``modelchain/base:bookworm``, built by scripts/docker-base.sh when missing."""
    run(["bash", str(ROOT / "scripts" / "docker-base.sh"), LOCAL_BASE], capture=False,
        timeout=1800)


@contextlib.contextmanager
def dependencies(base: str) -> Iterator[dict[str, str]]:
    """Build ``modelchain/deps`` on ``base``; yields the build arguments every service
    image is built with (the same, so their builds reuse that layer). For the local
    base the wheel house is served until the block ends."""
    if base != "local":
        seconds = docker_build(DEPS_IMAGE, build_args(base, ""), target="deps")
        log(f"{DEPS_IMAGE} on {base} in {seconds:.0f} s")
        yield build_args(base, "")
        return
    ensure_local_base()
    with served(wheel_house(LOCAL_BASE)) as url:
        args = build_args(LOCAL_BASE, pip_options(url))
        seconds = docker_build(DEPS_IMAGE, args, target="deps", network_host=True)
        log(f"{DEPS_IMAGE} on {LOCAL_BASE} in {seconds:.0f} s")
        yield args


def unit_names() -> list[str]:
    """The process units of the registry (what docker-compose.yml runs)."""
    from deploy.generate import units   # the generator's own idea of the units
    from common.core.registry import load_registry
    return [u.name for u in units(load_registry(environ={}))]


def layers(image: str) -> list[str]:
    """The layer digests of ``image``, bottom first."""
    done = run([docker_cli(), "image", "inspect", "--format", "{{json .RootFS.Layers}}", image])
    return json.loads(done.stdout)


def check_shared(tags: Sequence[str]) -> None:
    """Every image in ``tags`` is the deps image plus the same code layer: one copy of
    the dependencies (and of the code) on disk, whatever the number of services."""
    base = layers(DEPS_IMAGE)
    tops = {}
    for tag in tags:
        own = layers(tag)
        if own[:len(base)] != base:
            raise Failure(f"{tag} does not stand on {DEPS_IMAGE}'s layers: it holds a "
                          "copy of the dependencies of its own")
        tops[tag] = own[len(base):]
    if len({tuple(t) for t in tops.values()}) > 1:
        raise Failure(f"the images' code layers differ: {tops}")
    log(f"{', '.join(tags)}: {DEPS_IMAGE}'s {len(base)} layers and the same "
        f"{len(next(iter(tops.values()), []))} code layers each")


#: What an image must not hold: the build's wheel house address, the paths of this
#: checkout and of the wheel cache.
def _machine_traces() -> list[str]:
    return [f"127.0.0.1:{WHEEL_PORT}", str(ROOT), str(cache_dir())]


def check_clean(tag: str, folders: str = "/app /etc /home") -> None:
    """``tag`` carries nothing of this machine's: not in its history (the commands and
    arguments of its layers) or settings, not in its files (no wheel house, no pip
    options, no path of this machine under ``folders``)."""
    history = run([docker_cli(), "history", "--no-trunc", "--format", "{{.CreatedBy}}",
                   tag]).stdout
    config = run([docker_cli(), "image", "inspect", "--format", "{{json .Config}}", tag]).stdout
    found = [t for t in _machine_traces() if t in history or t in config]
    patterns = " ".join(f"-e {shlex.quote(t)}" for t in _machine_traces())
    script = (f"ls -d /tmp/deps /wheels 2>/dev/null; "
              f"grep -rlF {patterns} {folders} 2>/dev/null | head -5; true")
    found += run([docker_cli(), "run", "--rm", "--network", "none", "--user", "0",
                  tag, "sh", "-c", script], timeout=900).stdout.split()
    if found:
        raise Failure(f"{tag} carries this machine's {found}")


def image_sizes(prefix: str = "modelchain/") -> str:
    """``docker image ls`` of our images, and Docker's own accounting of shared layers
    (``docker system df -v``: SHARED SIZE is on disk once for all images)."""
    listing = run([docker_cli(), "image", "ls", "--format",
                   "{{.Repository}}:{{.Tag}}\t{{.Size}}"]).stdout
    ours = "\n".join(line for line in listing.splitlines() if line.startswith(prefix))
    usage = run([docker_cli(), "system", "df", "-v"]).stdout
    table = usage.split("Containers space usage:")[0].strip()
    return f"{ours}\n\n{table}"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the deps image and one image per process unit; print their sizes."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--base", default=os.environ.get("MODELCHAIN_BASE_IMAGE", "local"),
                        help="'local' (Debian-built, offline; default) or an image to "
                             "build on (python:3.11-slim)")
    parser.add_argument("--keep", action="store_true",
                        help="leave a Docker daemon started for this run running")
    parser.add_argument("units", nargs="*", help="process units (default: the registry's)")
    options = parser.parse_args(argv)
    tags = [f"modelchain/{unit}:latest" for unit in options.units or unit_names()]
    try:
        ensure_tools()
        with docker_daemon(keep=options.keep):
            build_all(options.base, tags)
            print(image_sizes())
    except Failure as e:
        print(f"images: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


def build_all(base: str, tags: Sequence[str]) -> None:
    """The deps image and ``tags``, checked shared and clean."""
    with dependencies(base) as args:
        for tag in tags:
            unit = tag.split("/", 1)[1].split(":")[0]
            seconds = docker_build(tag, {**args, "SERVICE": unit})
            log(f"{tag} in {seconds:.0f} s")
    check_images(tags)


def check_images(tags: Sequence[str]) -> None:
    """``tags`` share the deps image's layers, and none carries this machine's."""
    check_shared(tags)
    check_clean(DEPS_IMAGE, folders="/opt/venv /etc /home")
    for tag in tags:
        check_clean(tag)
    log("no image carries the wheel house, its address or a path of this machine")


if __name__ == "__main__":
    sys.exit(main())
