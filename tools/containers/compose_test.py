"""``make compose-test``: the chain brought up with the generated compose file, for real.

``python -m tools.containers.compose_test`` (as root on a machine like ours):

1. installs Debian's docker.io, docker-compose and mmdebstrap when missing, and uses the
   Docker daemon that runs, or starts one of its own (:mod:`.daemon`);
2. builds the images (:mod:`.images`: the local Debian base, the shared ``deps`` layer,
   then ``docker-compose build`` of every service of the file);
3. writes a compose file for the chain (catalog, text_cleaner, sentiment,
   tweet_sentiment, and the HTTPS front) with
   :func:`deploy.generate.compose`, the code that writes ``docker-compose.yml``, from
   the registry's entries each in a process of its own (the default registry groups
   them in one process, which cannot be scaled), and checks it with ``docker-compose
   config`` (1.29.2) and the compose-spec schema Compose v2 validates with;
4. brings it up with an override that publishes each service's port on 127.0.0.1 (an
   ephemeral host port) and mounts the chain's registry, waits for the healthchecks,
   and sends requests to the published ports only: each service, the pipeline (which
   calls text_cleaner and sentiment over the compose network: their counters show it),
   the catalog (which reads every service's metadata), and through the front (HTTPS,
   verified against the run's own self-signed certificate);
5. scales sentiment to 2 and shows calls reaching both replicas, from the pipeline and
   through the front (each replica's own ``/metrics``, on its own published port);
6. tears everything down and checks that no container, network or volume of the
   project is left, and, when it started the daemon, that the daemon is gone too.

Any failure prints ``compose-test: FAILED: <why>`` and exits 1, after the teardown; a
daemon that cannot run here is such a failure. ``--keep`` leaves the stack up for a
look (the daemon too); ``--purge`` also removes the daemon's images afterwards.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import requests
import yaml

from common.core.registry import ROOT, ServiceEntry, load_registry

from . import images
from .cli import Failure, cleanup, compose_cli, docker_cli, log, run
from .daemon import Daemon, check_containers_run, docker_daemon, ensure_tools

#: The chain, by registry name; the front (deploy/front) is one more service of the
#: generated file.
CHAIN = ("catalog", "text_cleaner", "sentiment", "tweet_sentiment")
FRONT = "front"
SCALED = "sentiment"
PIPELINE = "tweet_sentiment"
SAMPLE = {"text": "Sooo happy with @acme's support!! #BestDayEver https://t.co/x"}
HEALTHY_TIMEOUT_S = 420
HTTP_TIMEOUT_S = 60
#: Calls through the pipeline once sentiment has two replicas, and how many at once:
#: each new connection of the pipeline's pool resolves ``sentiment`` again, and
#: compose's DNS answers with both replicas.
SCALE_CALLS = 48
SCALE_CONCURRENCY = 8
#: The pipeline keeps its connections: the replicas it reaches are those its pool
#: connected to, and a round may find one of them only (measured: 45 and 3, 34 and 14).
#: Another round comes once gunicorn has closed idle connections (keepalive, 5 s).
SCALE_ROUNDS = 3
KEEPALIVE_S = 6
LABEL = "com.docker.compose.project"
#: Health checked every 2 s instead of 10 s, so the run does not wait for nothing, with
#: the generated file's patience kept: 15 failures in a row (30 s) before "unhealthy",
#: as its 3 every 10 s (a model loading on busy cores answers late for a while).
QUICK_HEALTHCHECK = {"interval": "2s", "retries": 15}


@dataclasses.dataclass
class Stack:
    """The compose project of this run and how to drive it."""

    project: str
    files: list[Path]
    daemon: Daemon
    env: dict[str, str]
    services: dict[str, ServiceEntry]
    front: bool
    #: The front's self-signed certificate (when there is a front), which its answers
    #: are verified against.
    front_cert: Path | None = None

    def compose(self, *args: str, timeout: float = 600, check: bool = True,
                capture: bool = True):
        """``docker-compose -p <project> -f ... <args>``, from the repository."""
        files = [a for f in self.files for a in ("-f", str(f))]
        return run([compose_cli(), "-p", self.project, "--project-directory", str(ROOT),
                    *files, *args], env=self.env, timeout=timeout, check=check,
                   capture=capture)

    def containers(self, service: str = "") -> list[str]:
        """The ids of the project's containers (of ``service``), running or not."""
        labels = [f"label={LABEL}={self.project}"]
        if service:
            labels.append(f"label=com.docker.compose.service={service}")
        filters = [a for label in labels for a in ("--filter", label)]
        done = run([docker_cli(), "ps", "-aq", *filters], env=self.env)
        return done.stdout.split()

    def url(self, service: str, index: int = 1) -> str:
        """``http://127.0.0.1:<host port>`` of replica ``index`` of ``service``."""
        entry = self.services[service]
        address = self.compose("port", f"--index={index}", dns(service),
                               str(entry.port)).stdout.strip()
        return loopback_url("http", address, f"{service} #{index}")

    def front_url(self) -> str:
        """``https://127.0.0.1:<host port>`` of the front."""
        from deploy.generate import FRONT_PORT
        address = self.compose("port", FRONT, str(FRONT_PORT)).stdout.strip()
        return loopback_url("https", address, FRONT)


def loopback_url(scheme: str, address: str, what: str) -> str:
    """The URL of a published ``address`` (``127.0.0.1:49153``), which must be on the
    loopback."""
    host, _, port = address.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        raise Failure(f"{what} is published on {address!r}, not on 127.0.0.1")
    return f"{scheme}://127.0.0.1:{port}"


def dns(name: str) -> str:
    """The compose name of a registered service (``text_cleaner`` -> ``text-cleaner``)."""
    from deploy.generate import dns_name
    return dns_name(name)


# ------------------------------------------------------------------ the files
def chain_registry() -> dict[str, ServiceEntry]:
    """The chain's registry entries, each in a process of its own."""
    source = load_registry(ROOT / "deploy" / "registry.yaml", environ={})
    return {name: dataclasses.replace(source[name], group="") for name in CHAIN}


def write_files(folder: Path, registry: Mapping[str, ServiceEntry]) -> tuple[Path, Path]:
    """The generated compose file for ``registry``, and this run's override beside it."""
    from deploy import generate
    document = generate.compose(registry)
    compose_file = folder / "docker-compose.yml"
    compose_file.write_text(generate.dump(document, how="docker-compose.override.yml"))
    registry_file = folder / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(generate.cluster_registry(registry),
                                            sort_keys=False))
    registry_file.chmod(0o644)
    folder.chmod(0o755)
    override = folder / "docker-compose.override.yml"
    override.write_text(yaml.safe_dump(test_override(document, registry, registry_file),
                                       sort_keys=False))
    return compose_file, override


def test_override(document: Mapping[str, Any], registry: Mapping[str, ServiceEntry],
                  registry_file: Path) -> dict[str, Any]:
    """What this run adds to the generated file: each chain service's port on an
    ephemeral port of 127.0.0.1 (the catalog's own publish gets a free port from the
    environment), the chain's registry mounted where the Kubernetes base mounts it,
    and quicker health checks."""
    from deploy.generate import HOME, REGISTRY_MOUNT
    services: dict[str, Any] = {}
    for name, entry in registry.items():
        service: dict[str, Any] = {
            "environment": {"MODELCHAIN_REGISTRY": f"{REGISTRY_MOUNT}/registry.yaml"},
            "volumes": [f"{registry_file}:{REGISTRY_MOUNT}/registry.yaml:ro"],
            "healthcheck": QUICK_HEALTHCHECK}
        if name != HOME:
            service["ports"] = [f"127.0.0.1::{entry.port}"]
        services[dns(name)] = service
    if FRONT in document["services"]:
        services[FRONT] = front_override(document["services"][FRONT])
    return {"services": services}


def front_override(front: Mapping[str, Any]) -> dict[str, Any]:
    """The front's part of the override: quicker health checks (its published ports
    are checked for 127.0.0.1 like every other)."""
    return {"healthcheck": QUICK_HEALTHCHECK}


def check_files(stack: Stack, compose_file: Path) -> None:
    """The generated file, and with the override, pass ``docker-compose config``
    (1.29.2); the generated one passes the compose-spec schema too (Compose v2's)."""
    for files in ([compose_file], stack.files):
        args = [a for f in files for a in ("-f", str(f))]
        run([compose_cli(), "--project-directory", str(ROOT), *args, "config", "-q"],
            env=stack.env)
    run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(compose_file)])
    rendered = yaml.safe_load(stack.compose("config").stdout)
    for name, service in rendered["services"].items():
        for port in service.get("ports", []):
            address = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            if address != "127.0.0.1":
                raise Failure(f"{name} publishes {port} on {address!r}, not only on 127.0.0.1")
    log(f"compose files pass docker-compose config and the compose-spec schema: "
        f"{', '.join(rendered['services'])}")


# ------------------------------------------------------------------ up and healthy
def wait_healthy(stack: Stack, expected: int) -> None:
    """Every container of the project healthy (``expected`` of them)."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = health(stack)
        if len(states) == expected and set(states.values()) == {"healthy"}:
            log(f"{expected} containers healthy")
            return
        if any(s in ("exited", "dead") for s in states.values()):
            break
        time.sleep(1)
    raise Failure(f"not all healthy within {HEALTHY_TIMEOUT_S} s: {states}\n"
                  + stack.compose("logs", "--tail", "40", check=False).stdout[-6000:])


def health(stack: Stack) -> dict[str, str]:
    """Each container's name and health (its state when it has no health)."""
    ids = stack.containers()
    if not ids:
        return {}
    template = ("{{.Name}} {{if .State.Health}}{{.State.Health.Status}}"
                "{{else}}{{.State.Status}}{{end}}")
    done = run([docker_cli(), "inspect", "--format", template, *ids], env=stack.env)
    return dict(line.lstrip("/").split(" ", 1) for line in done.stdout.splitlines())


def published_only_on_loopback(stack: Stack) -> None:
    """Every port Docker publishes for the project is on 127.0.0.1."""
    ids = stack.containers()
    done = run([docker_cli(), "inspect", "--format", "{{.Name}} {{json .NetworkSettings.Ports}}",
                *ids], env=stack.env)
    for line in done.stdout.splitlines():
        name, ports = line.split(" ", 1)
        for bindings in (json.loads(ports) or {}).values():
            for binding in bindings or []:
                if binding["HostIp"] != "127.0.0.1":
                    raise Failure(f"{name} is published on {binding}")
    log("every published port is on 127.0.0.1")


def limits_applied(stack: Stack) -> None:
    """Each container runs under its compose service's CPU and memory limits (the
    generated ``deploy.resources.limits``; Compose v1 applies them outside swarm too)."""
    rendered = yaml.safe_load(stack.compose("config").stdout)["services"]
    template = ('{{index .Config.Labels "com.docker.compose.service"}} '
                "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}")
    done = run([docker_cli(), "inspect", "--format", template, *stack.containers()],
               env=stack.env)
    for line in done.stdout.splitlines():
        service, cpus, memory = line.split()
        wanted = rendered[service]["deploy"]["resources"]["limits"]
        expected = (int(float(wanted["cpus"]) * 1e9), _bytes(wanted["memory"]))
        if (int(cpus), int(memory)) != expected:
            raise Failure(f"{service} runs with {cpus} nano-CPUs and {memory} bytes, "
                          f"not its limits {wanted}")
    log("every container runs under its CPU and memory limits")


def _bytes(size: str) -> int:
    """``2G``, ``512M`` as bytes (compose's units: powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    size = str(size).strip().lower().rstrip("b")
    return int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size)


# ------------------------------------------------------------------ talking to it
def call(method: str, url: str, **kwargs) -> requests.Response:
    """One HTTP call to a published port (never anything else)."""
    if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        raise Failure(f"refusing to send traffic to {url}: only 127.0.0.1 is a target")
    try:
        return requests.request(method, url, timeout=HTTP_TIMEOUT_S, **kwargs)
    except requests.RequestException as e:
        raise Failure(f"{method} {url}: {e}") from e


def expect(response: requests.Response, status: int, what: str) -> Any:
    """The JSON answer of ``response``, which must have ``status``."""
    if response.status_code != status:
        raise Failure(f"{what}: HTTP {response.status_code}, not {status}: "
                      f"{response.text[:500]}")
    try:
        return response.json()
    except ValueError as e:
        raise Failure(f"{what}: not JSON: {response.text[:300]}") from e


def predict_count(metrics_text: str, service: str) -> int:
    """Answered ``POST /predict`` calls in a service's ``/metrics``."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("modelchain_requests_total{") and 'route="/predict"' in line \
                and 'method="POST"' in line and f'service="{service}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def counts(stack: Stack, service: str, replicas: int = 1) -> list[int]:
    """Each replica's answered ``/predict`` calls, read on its own published port."""
    return [predict_count(call("GET", f"{stack.url(service, i)}/metrics").text, service)
            for i in range(1, replicas + 1)]


def check_services(stack: Stack) -> None:
    """Each service answers on its published port: health, readiness, metadata."""
    for name in stack.services:
        url = stack.url(name)
        expect(call("GET", f"{url}/healthz"), 200, f"{name} /healthz")
        wait_ready(url, name)
        meta = expect(call("GET", f"{url}/metadata"), 200, f"{name} /metadata")
        if meta.get("name") != name:
            raise Failure(f"{url}/metadata names {meta.get('name')!r}, not {name}")
    log(f"{', '.join(stack.services)}: /healthz, /readyz and /metadata answer")


def wait_ready(url: str, name: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while call("GET", f"{url}/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise Failure(f"{name} is not ready after {timeout:.0f} s")
        time.sleep(1)


def check_chain(stack: Stack) -> None:
    """The pipeline answers, having called text_cleaner and sentiment over the
    compose network (their counters rise by one call each per pipeline call)."""
    before = {n: counts(stack, n)[0] for n in ("text_cleaner", "sentiment")}
    url = stack.url(PIPELINE)
    answer = expect(call("POST", f"{url}/predict", json=SAMPLE), 200, "the pipeline")
    if answer["result"].get("label") != "positive":
        raise Failure(f"the pipeline labels {SAMPLE['text']!r} {answer['result']}")
    steps = [s.get("service") for s in answer["metadata"].get("steps", [])]
    if steps != ["text_cleaner", "sentiment"]:
        raise Failure(f"the pipeline's answer lists the steps {steps}")
    batch = [SAMPLE, {"text": "https://t.co/only-a-link"}, {"text": "I hate waiting."}]
    answer = expect(call("POST", f"{url}/predict", json=batch), 200, "a batch")
    if answer["result"][1] is not None or answer["result"][2]["label"] != "negative":
        raise Failure(f"the batch's per-item answers are {answer['result']}")
    bad = expect(call("POST", f"{url}/predict", json={"txt": "x"}), 400, "a bad input")
    if "text" not in json.dumps(bad["error"]):
        raise Failure(f"the bad input's error does not name the field: {bad}")
    after = {n: counts(stack, n)[0] for n in before}
    for name in before:
        if after[name] - before[name] < 2:
            raise Failure(f"{name} answered {after[name] - before[name]} /predict calls "
                          "while the pipeline answered 2")
    log(f"the chain: {PIPELINE} -> text_cleaner -> sentiment over the compose network "
        f"(calls seen: {', '.join(f'{n} +{after[n] - before[n]}' for n in before)}); "
        "per-item errors and a 400 naming the field come back")


def check_catalog(stack: Stack) -> None:
    """The catalog lists the chain, each healthy (it read their metadata over the
    compose network)."""
    listing = expect(call("GET", f"{stack.url('catalog')}/api/services"), 200, "the catalog")
    services = listing.get("services", listing) if isinstance(listing, dict) else listing
    found = {s["name"]: s.get("healthy") for s in services}
    wanted = {n: True for n in stack.services if n != "catalog"}
    if {n: found.get(n) for n in wanted} != wanted:
        raise Failure(f"the catalog lists {found}; wanted {wanted} healthy")
    page = call("GET", f"{stack.url('catalog')}/")
    if page.status_code != 200 or "text/html" not in page.headers.get("Content-Type", ""):
        raise Failure(f"the catalog's page: HTTP {page.status_code}")
    log(f"the catalog lists {', '.join(wanted)} as healthy")


def check_front(stack: Stack) -> None:
    """Requests through the front (HTTPS, verified against its certificate): its own
    health, the pipeline under ``/tweet_sentiment/`` with the request id and trace
    context passed through, the catalog at ``/``, and its own 404 in our envelope."""
    if not stack.front:
        raise Failure("deploy.generate wrote no `front` service: the chain has no HTTPS front")
    url = stack.front_url()
    verify = str(stack.front_cert)
    expect(call("GET", f"{url}/_front/healthz", verify=verify), 200, "the front's health")
    request_id = f"compose-test-{os.getpid()}"
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = call("POST", f"{url}/{PIPELINE}/predict", json=SAMPLE, verify=verify,
                    headers={"X-Request-ID": request_id, "traceparent": trace})
    answer = expect(response, 200, "the pipeline through the front")
    if answer["result"].get("label") != "positive" or \
            answer["metadata"].get("request_id") != request_id:
        raise Failure(f"the pipeline through the front answered {answer}")
    if response.headers.get("X-Request-ID") != request_id:
        raise Failure(f"the front gave back X-Request-ID {response.headers.get('X-Request-ID')}")
    page = call("GET", f"{url}/", verify=verify)
    if page.status_code != 200 or "text/html" not in page.headers.get("Content-Type", ""):
        raise Failure(f"the catalog through the front: HTTP {page.status_code}")
    missing = expect(call("GET", f"{url}/no_such_service/predict", verify=verify), 404,
                     "an unknown route through the front")
    if not isinstance(missing.get("error"), dict) or "code" not in missing["error"]:
        raise Failure(f"the front's 404 is not in the JSON envelope: {missing}")
    log(f"the front: HTTPS on {url} (its certificate verified), the pipeline with the "
        "request id passed through, the catalog at /, its 404 in the JSON envelope")


def spread(url: str, options: Mapping[str, Any]) -> list[requests.Response]:
    """SCALE_CALLS answered calls to ``url``, SCALE_CONCURRENCY at a time."""
    texts = [{"text": f"call {i}: what a lovely day"} for i in range(SCALE_CALLS)]
    with concurrent.futures.ThreadPoolExecutor(SCALE_CONCURRENCY) as pool:
        answers = list(pool.map(lambda body: call("POST", url, json=body, **options), texts))
    bad = [a for a in answers if a.status_code != 200]
    if bad:
        raise Failure(f"{len(bad)} of {SCALE_CALLS} calls to {url} failed: "
                      f"HTTP {bad[0].status_code} {bad[0].text[:400]}")
    return answers


def front_calls_reach_both(stack: Stack, before: list[int]) -> list[int]:
    """Calls to sentiment through the front spread over both replicas (nginx looks
    the name up in compose's DNS); the replicas' counts after them."""
    spread(f"{stack.front_url()}/{SCALED}/predict", {"verify": str(stack.front_cert)})
    after = counts(stack, SCALED, replicas=2)
    rises = [a - b for a, b in zip(after, before)]
    if sum(rises) != SCALE_CALLS or min(rises) == 0:
        raise Failure(f"{SCALE_CALLS} calls through the front reached the replicas {rises}")
    log(f"{SCALE_CALLS} calls through the front reached both {SCALED} replicas: "
        f"{rises[0]} and {rises[1]}")
    return after


def check_scaled(stack: Stack) -> None:
    """sentiment scaled to 2: the pipeline's calls reach both replicas."""
    started = time.monotonic()
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", f"{dns(SCALED)}=2",
                  timeout=600)
    wait_healthy(stack, expected=len(stack.containers()))
    if len(stack.containers(dns(SCALED))) != 2:
        raise Failure(f"{SCALED} has {len(stack.containers(dns(SCALED)))} containers, not 2")
    for index in (1, 2):   # compose's DNS names a replica before its model is loaded
        wait_ready(stack.url(SCALED, index), f"{SCALED} #{index}")
    log(f"{SCALED} scaled to 2 and both replicas ready in {time.monotonic() - started:.0f} s")
    before = counts(stack, SCALED, replicas=2)
    url = f"{stack.url(PIPELINE)}/predict"
    for round_ in range(1, SCALE_ROUNDS + 1):
        answers = spread(url, {})
        after = counts(stack, SCALED, replicas=2)
        rises = [a - b for a, b in zip(after, before)]
        if sum(rises) != round_ * SCALE_CALLS:
            raise Failure(f"{round_ * SCALE_CALLS} pipeline calls reached the replicas "
                          f"{rises} times")
        if min(rises) > 0:
            break
        time.sleep(KEEPALIVE_S)    # the pipeline's pooled connections close, new ones resolve
    else:
        raise Failure(f"{SCALE_ROUNDS * SCALE_CALLS} pipeline calls all reached one "
                      f"{SCALED} replica: {rises}")
    log(f"{len(answers) * round_} pipeline calls reached both {SCALED} replicas: {rises[0]} "
        f"and {rises[1]} (each replica's /metrics on its own 127.0.0.1 port; "
        f"{round_} round{'s' if round_ > 1 else ''})")
    if stack.front:
        front_calls_reach_both(stack, after)


# ------------------------------------------------------------------ teardown
def teardown(stack: Stack) -> None:
    """Down, then nothing of the project may be left: containers, networks, volumes."""
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", timeout=300)
    found = project_leftovers(stack)
    if found:
        raise Failure(f"the project {stack.project} left {found} behind")
    prove_leftover_check(stack)
    log(f"the project {stack.project} is down: no container, network or volume is left")


def project_leftovers(stack: Stack) -> list[str]:
    """The project's containers, networks and volumes that exist."""
    found = [f"container {c}" for c in stack.containers()]
    for kind in ("network", "volume"):
        done = run([docker_cli(), kind, "ls", "--format", "{{.Name}}", "--filter",
                    f"label={LABEL}={stack.project}"], env=stack.env)
        found += [f"{kind} {name}" for name in done.stdout.split()]
    return found


def prove_leftover_check(stack: Stack) -> None:
    """The leftover check finds a network planted with the project's label (so its
    empty answer above means something), and the plant is removed."""
    name = f"{stack.project}_planted"
    run([docker_cli(), "network", "create", "--label", f"{LABEL}={stack.project}", name],
        env=stack.env)
    try:
        if project_leftovers(stack) != [f"network {name}"]:
            raise Failure(f"the leftover check does not see the planted network {name}")
    finally:
        run([docker_cli(), "network", "rm", name], env=stack.env)


def remove_stale_projects(daemon: Daemon) -> None:
    """Containers and networks of earlier runs (``mctest<pid>``) that did not end, in a
    daemon of our own: a run killed outright cannot tear down, and the next one would
    otherwise find them (and their bridges) forever."""
    for kind, listing in (("container", ["ps", "-a"]), ("network", ["network", "ls"])):
        done = run([docker_cli(), *listing, "--filter", f"label={LABEL}", "--format",
                    f'{{{{.ID}}}} {{{{.Label "{LABEL}"}}}}'], env=daemon.env)
        stale = [line.split()[0] for line in done.stdout.splitlines()
                 if line.split()[1:2] and line.split()[1].startswith("mctest")]
        if stale:
            log(f"removing {len(stale)} {kind}(s) of earlier runs that did not end")
            command = ["rm", "-f"] if kind == "container" else ["network", "rm"]
            run([docker_cli(), *command, *stale], env=daemon.env)


# ------------------------------------------------------------------ the run
@contextlib.contextmanager
def stack_files(registry: Mapping[str, ServiceEntry]) -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="compose-test-") as folder:
        yield write_files(Path(folder), registry)


def free_port() -> int:
    """A free port on 127.0.0.1 (for the catalog's own publish, ``CATALOG_PORT``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def compose_env(daemon: Daemon, folder: Path) -> dict[str, str]:
    """docker-compose's environment: this daemon, the docker client of the whole run
    (compose builds with the ``docker`` on PATH: another client would pack the build
    context its own way, and miss the layer cache of the deps image), and none of the
    caller's COMPOSE_* settings (they would change the project)."""
    shim = folder / "bin"
    shim.mkdir()
    (shim / "docker").symlink_to(docker_cli())
    env = {k: v for k, v in daemon.env.items() if not k.startswith("COMPOSE_")}
    env.update(CATALOG_PORT=str(free_port()), MODELCHAIN_PUBLISH_ADDRESS="127.0.0.1",
               PATH=f"{shim}:{env.get('PATH', '/usr/bin:/bin')}")
    return env


def front_env(folder: Path, base: str) -> tuple[dict[str, str], Path]:
    """The front's settings for this run: a free port on 127.0.0.1, a self-signed
    certificate made for it (deploy/front/tls.py), the base to build it on; and the
    certificate, to verify its answers with."""
    from deploy.front.tls import make_self_signed
    cert, key = make_self_signed(folder / "tls", days=1)
    env = {"FRONT_PORT": str(free_port()), "FRONT_TLS_CERT": str(cert),
           "FRONT_TLS_KEY": str(key)}
    if base == "local":
        env["FRONT_BASE"] = images.LOCAL_BASE
    return env, cert


def build(stack: Stack, base: str) -> None:
    """The shared deps image, then every service of the file by docker-compose build."""
    started = time.monotonic()
    with images.dependencies(base) as args:
        check_containers_run(stack.daemon, images.LOCAL_BASE if base == "local" else base)
        if stack.front:
            build_front(stack)
        build_args = [a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")]
        stack.compose("build", "--force-rm", *build_args, timeout=1800)
    images.check_images([f"modelchain/{name}:latest" for name in stack.services])
    log(f"images built in {time.monotonic() - started:.0f} s:\n{images.image_sizes()}")


def build_front(stack: Stack) -> None:
    """The front's image, built first with the host's network: its Dockerfile installs
    nginx from Debian's mirror, and the daemon's build containers have no network of
    their own. ``docker-compose build`` then finds every step in the layer cache."""
    rendered = yaml.safe_load(stack.compose("config").stdout)["services"][FRONT]
    build = rendered["build"]
    context = ROOT / build["context"]
    seconds = images.docker_build(
        rendered["image"], {k: str(v) for k, v in (build.get("args") or {}).items()},
        network_host=True, context=context,
        dockerfile=context / build.get("dockerfile", "Dockerfile"))
    log(f"{rendered['image']} on {build.get('args', {}).get('BASE')} in {seconds:.0f} s")


def run_test(stack: Stack, base: str, compose_file: Path, keep: bool) -> dict[str, float]:
    """Every step; the seconds each took."""
    timings: dict[str, float] = {}
    with timed(timings, "files"):
        check_files(stack, compose_file)
    with timed(timings, "images"):
        build(stack, base)
    try:
        with timed(timings, "up until healthy"):
            stack.compose("up", "-d", "--no-build", timeout=900)
            wait_healthy(stack, expected=len(stack.compose("config", "--services")
                                              .stdout.split()))
        with timed(timings, "requests"):
            published_only_on_loopback(stack)
            limits_applied(stack)
            check_services(stack)
            check_chain(stack)
            check_catalog(stack)
            check_front(stack)
        with timed(timings, "scale to 2"):
            check_scaled(stack)
            published_only_on_loopback(stack)
    finally:
        if not keep:
            with timed(timings, "teardown"):
                cleanup(lambda: teardown(stack))
    return timings


@contextlib.contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - started


def main(argv: Sequence[str] | None = None) -> int:
    """Run the compose test; 0 when every step passed, 1 (saying why) otherwise."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--base", default=os.environ.get("MODELCHAIN_BASE_IMAGE", "local"),
                        help="'local' (Debian-built, offline; default) or an image")
    parser.add_argument("--keep", action="store_true", help="leave the stack up")
    parser.add_argument("--purge", action="store_true",
                        help="remove the images of a daemon this run started, after it")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # teardown still runs
    started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        ensure_tools()
        with docker_daemon(purge=options.purge, keep=options.keep) as daemon:
            timings = exercise(daemon, options)
    except Failure as e:
        print(f"compose-test: FAILED: {e}", file=sys.stderr)
        return 1
    total = time.monotonic() - started
    print("compose-test: passed in " + f"{total:.0f} s (" + ", ".join(
        f"{k} {v:.0f} s" for k, v in timings.items()) + ")")
    return 0


def exercise(daemon: Daemon, options: argparse.Namespace) -> dict[str, float]:
    """The test proper, against ``daemon``."""
    if daemon.owned:
        remove_stale_projects(daemon)
    registry = chain_registry()
    with stack_files(registry) as (compose_file, override):
        from deploy.generate import compose as generated
        stack = Stack(project=f"mctest{os.getpid()}", files=[compose_file, override],
                      daemon=daemon, env=compose_env(daemon, compose_file.parent),
                      services=dict(registry),
                      front=FRONT in generated(registry)["services"])
        if stack.front:
            settings, stack.front_cert = front_env(compose_file.parent, options.base)
            stack.env.update(settings)
        return run_test(stack, options.base, compose_file, options.keep)


if __name__ == "__main__":
    sys.exit(main())
