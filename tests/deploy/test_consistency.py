"""One list of services: services/, the registry, `make run`, compose and Kubernetes agree.

A service folder without a registry entry, compose service, Deployment, Service or HPA
fails here, as do ports, commands (app strings), health paths, references and labels
that disagree. The fix is nearly always: register the service, then run
``python -m deploy.generate``. Everything is checked by parsing the files (Docker and
kubectl are not available where the tests run).
"""
from __future__ import annotations

import re

import pytest
import yaml

from tools import launcher
from common.pipeline import load_spec
from common.core.registry import ROOT, load_registry
from deploy import generate, healthcheck, serve
from tests.deploy.conftest import K8S, SERVICE_DIRS, dns, yaml_files

REGISTERED = list(yaml.safe_load((ROOT / "deploy" / "registry.yaml").read_text())["services"])
NAMES = sorted(set(SERVICE_DIRS) | set(REGISTERED))
HINT = "register it in deploy/registry.yaml, then run `python -m deploy.generate`"


@pytest.fixture(scope="module")
def launched() -> list[str]:
    """The services `make run` (``python -m tools.launcher``) would start, in order."""
    captured = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(launcher, "_serve", lambda entries, *_: captured.extend(entries))
        patch.setattr(launcher, "ports_taken", lambda entries: [])
        patch.delenv("MODELCHAIN_REGISTRY", raising=False)
        launcher.main([])
    return [entry.name for entry in captured]


def unit(name: str):
    """The process that serves ``name``: itself, or its process group."""
    return generate.unit_of(name, load_registry(ROOT / "deploy" / "registry.yaml", {}))


def process_name(name: str) -> str:
    """The compose service, Deployment and HPA name of the process serving ``name``."""
    return dns(unit(name).name)


def compose_service(compose, name: str) -> dict:
    assert process_name(name) in compose["services"], \
        f"{name} is not in docker-compose.yml; {HINT}"
    return compose["services"][process_name(name)]


def compose_names(compose) -> set[str]:
    """Every name a compose service answers to: its own and its network aliases."""
    names = set(compose["services"])
    for service in compose["services"].values():
        names |= set(service.get("networks", {}).get("default", {}).get("aliases", []))
    return names


def compose_host(compose, host: str) -> dict:
    """The compose service that answers to ``host`` (its name or an alias)."""
    return next(s for n, s in compose["services"].items() if n == host or host in
                s.get("networks", {}).get("default", {}).get("aliases", []))


def k8s_object(k8s, kind: str, name: str) -> dict:
    """``name``'s Service, or the Deployment/HPA of the process that serves it."""
    key = (kind, dns(name) if kind == "Service" else process_name(name))
    assert key in k8s, f"{name} has no {kind} in deploy/k8s; {HINT}"
    return k8s[key]


def container(k8s, name: str) -> dict:
    containers = k8s_object(k8s, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# ------------------------------------------------------------------ presence
@pytest.mark.parametrize("name", NAMES)
def test_every_service_is_everywhere(name, source, launched, compose, k8s):
    places = {"services/": name in SERVICE_DIRS, "deploy/registry.yaml": name in source,
              "make run": name in launched,
              "docker-compose.yml": name in source and dns(name) in compose_names(compose),
              **{f"deploy/k8s {kind}": name in source and (
                  kind, dns(name) if kind == "Service" else process_name(name)) in k8s
                 for kind in ("Deployment", "Service", "HorizontalPodAutoscaler")}}
    missing = [place for place, present in places.items() if not present]
    assert not missing, f"{name} is missing from {', '.join(missing)}; {HINT}"


def test_nothing_is_deployed_that_is_not_registered(source, compose, k8s):
    """Besides the registry's processes, only the HTTPS front (and its Ingress)."""
    names = {dns(n) for n in source}
    processes = {process_name(n) for n in source}
    front = generate.HTTPS_FRONT
    assert set(compose["services"]) == processes | {front}
    assert compose_names(compose) - processes - {front} <= names
    assert {name for kind, name in k8s if kind == "Service"} == names | {front}
    assert {name for kind, name in k8s if kind not in ("ConfigMap", "Service", "Ingress")} \
        == processes | {front}
    assert {name for kind, name in k8s if kind == "Ingress"} == {"modelchain"}


def test_make_run_starts_the_registry_in_order_home_page_first(source, launched):
    assert launched == list(source)
    assert launched[0] == generate.HOME   # the first URL `make run` prints


def test_ports_are_unique(source):
    ports = [e.port for e in source.values()]
    assert len(ports) == len(set(ports))


# ------------------------------------------------------------------ compose
@pytest.mark.parametrize("name", REGISTERED)
def test_compose_runs_the_registry_app_on_the_registry_port(name, source, compose):
    entry, service = source[name], compose_service(compose, name)
    assert service["command"] == serve.command(unit(name)) and unit(name).app in service["command"]
    assert f"0.0.0.0:{entry.port}" in service["environment"]["MODELCHAIN_BIND"].split(",")
    assert str(entry.port) in service["expose"]
    assert service["build"]["args"]["SERVICE"] == unit(name).name
    if entry.group:   # the group's process finds its members and their ports
        assert f"{name}={entry.port}" in \
            service["environment"]["MODELCHAIN_GROUP_MEMBERS"].split(",")
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).exists()


@pytest.mark.parametrize("name", REGISTERED)
def test_compose_checks_health_on_healthz(name, source, compose):
    check = compose_service(compose, name)["healthcheck"]["test"]
    assert check[:4] == ["CMD", "python", "-m", "deploy.healthcheck"]
    assert f"http://127.0.0.1:{source[name].port}{healthcheck.HEALTH_PATH}" in check[4:]
    assert healthcheck.HEALTH_PATH == "/healthz"


@pytest.mark.parametrize("name", REGISTERED)
def test_compose_services_are_limited_and_scalable(name, compose):
    service = compose_service(compose, name)
    limits = service["deploy"]["resources"]["limits"]
    assert limits.get("cpus") and limits.get("memory")
    assert "container_name" not in service            # --scale needs generated names
    published = service.get("ports", [])
    members = [m.name for m in unit(name).members]
    # only the home page and the gateway's front URL are on the host, on its loopback
    # unless the deployer opens it
    loopback = "${MODELCHAIN_PUBLISH_ADDRESS:-127.0.0.1}"
    assert published == [f"{loopback}:{port}" for member, port in (
        (generate.HOME, "${CATALOG_PORT:-8100}:8100"),
        (generate.FRONT, "${GATEWAY_PORT:-8099}:8099")) if member in members]


@pytest.mark.parametrize("name", REGISTERED)
def test_compose_passes_keys_from_the_host_and_holds_none(name, compose):
    environment = compose_service(compose, name)["environment"]
    keys = {k: v for k, v in environment.items() if "API_KEY" in k}
    assert {"MODELCHAIN_API_KEYS", "MODELCHAIN_API_KEY"} <= set(keys)
    assert set(keys.values()) == {None}


@pytest.mark.parametrize("name", REGISTERED)
def test_compose_urls_point_at_services_and_their_ports(name, source, compose):
    environment = compose_service(compose, name)["environment"]
    urls = {k: v for k, v in environment.items() if k.startswith("MODELCHAIN_URL_")}
    assert set(urls) == {f"MODELCHAIN_URL_{n.upper()}" for n in source}
    for key, url in urls.items():
        target = key.removeprefix("MODELCHAIN_URL_").lower()
        host, port = url.removeprefix("http://").split(":")
        assert host in compose_names(compose), f"{key}={url}: no compose service {host}"
        assert port == str(source[target].port) and port in compose_host(compose, host)["expose"]


def expected_calls(name: str, source) -> set[str]:
    """Whom a service calls, read from its own files (not from the generator)."""
    folder = ROOT / "services" / name
    calls = set()
    if (folder / "pipeline.yaml").exists():
        calls |= set(generate._step_names(load_spec(folder / "pipeline.yaml").steps))
    if (folder / "intents.yaml").exists():
        intents = yaml.safe_load((folder / "intents.yaml").read_text())["intents"]
        calls |= {i["service"] for i in intents.values() if "service" in i}
    for path in folder.glob("*.py"):   # client.algo("name") in the code
        calls |= set(re.findall(r"\.algo\(\s*[\"']([a-z][a-z0-9_]*)", path.read_text()))
    return calls & set(source) - {name}


@pytest.mark.parametrize("name", REGISTERED)
def test_compose_waits_for_the_services_it_calls(name, source, compose):
    depends = compose_service(compose, name).get("depends_on", {})
    for target, spec in depends.items():
        assert target in compose["services"], f"{name} depends on unknown {target}"
        assert spec["condition"] in ("service_healthy", "service_started")
    own = process_name(name)
    if name == generate.HOME:   # shows the others' health itself, so it never waits
        assert set(depends) == {process_name(n) for n in source} - {own}
        return
    for called in expected_calls(name, source):   # within a process group: no wait
        if process_name(called) != own:
            assert depends.get(process_name(called)) == {"condition": "service_healthy"}, called


def test_compose_dependencies_have_no_cycle(compose):
    graph = {n: set(s.get("depends_on", {})) for n, s in compose["services"].items()}
    while graph:
        leaves = {n for n, deps in graph.items() if not deps & set(graph)}
        assert leaves, f"depends_on cycle among {sorted(graph)}"
        graph = {n: d for n, d in graph.items() if n not in leaves}


# ------------------------------------------------------------------ kubernetes
def test_the_kustomization_lists_every_file_and_only_existing_ones(kustomization):
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == yaml_files(K8S) - {"kustomization.yaml"}


@pytest.mark.parametrize("name", REGISTERED)
def test_deployments_run_the_registry_app_on_the_registry_port(name, source, k8s):
    entry, box = source[name], container(k8s, name)
    assert box["args"] == serve.command(unit(name))
    port_name = f"p{entry.port}" if entry.group else "http"
    assert {"name": port_name, "containerPort": entry.port} in box["ports"]
    env = {e["name"]: e["value"] for e in box["env"] if "value" in e}
    assert f"0.0.0.0:{entry.port}" in env["MODELCHAIN_BIND"].split(",")


@pytest.mark.parametrize("name", REGISTERED)
def test_deployments_probe_healthz_and_readyz(name, source, k8s):
    box, port = container(k8s, name), source[name].port
    if source[name].group:   # every member's port, by the image's own check
        check = ["python", "-m", "deploy.healthcheck"]
        live, ready = (box[p]["exec"]["command"] for p in ("livenessProbe", "readinessProbe"))
        assert live[:3] == ready[:3] == check
        assert f"http://127.0.0.1:{port}/healthz" in live
        assert f"http://127.0.0.1:{port}/readyz" in ready
    else:
        assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert (healthcheck.HEALTH_PATH, healthcheck.READY_PATH) == ("/healthz", "/readyz")
    # liveness waits for the startup probe, which checks what readiness checks, for at
    # least the dependents' whole wait (600 s), so a loading model is never restarted
    startup = box["startupProbe"]
    assert {k: v for k, v in startup.items() if k in ("httpGet", "exec")} == \
        {k: v for k, v in box["readinessProbe"].items() if k in ("httpGet", "exec")}
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600


@pytest.mark.parametrize("name", REGISTERED)
def test_deployments_have_resources_and_run_as_non_root(name, k8s, dockerfile):
    deployment = k8s_object(k8s, "Deployment", name)
    pod, box = deployment["spec"]["template"]["spec"], container(k8s, name)
    for kind in ("requests", "limits"):
        assert set(box["resources"][kind]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    user = dict(dockerfile)["USER"].split(":")[0]
    assert pod["securityContext"]["runAsUser"] == int(user) != 0
    assert box["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("name", REGISTERED)
def test_deployments_take_config_that_exists(name, k8s):
    deployment = k8s_object(k8s, "Deployment", name)
    pod, box = deployment["spec"]["template"]["spec"], container(k8s, name)
    maps = [s["configMapRef"]["name"] for s in box["envFrom"] if "configMapRef" in s]
    maps += [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    assert maps and all(("ConfigMap", m) in k8s for m in maps)
    secrets = [s["secretRef"] for s in box["envFrom"] if "secretRef" in s]
    assert all(s["optional"] is True for s in secrets)   # none is committed
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in box["volumeMounts"]} <= volumes


@pytest.mark.parametrize("name", REGISTERED)
def test_services_select_their_deployments_pods_on_the_registry_port(name, source, k8s):
    deployment = k8s_object(k8s, "Deployment", name)
    service = k8s_object(k8s, "Service", name)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    port = service["spec"]["ports"][0]
    named = {p["name"]: p["containerPort"] for p in container(k8s, name)["ports"]}
    assert port["port"] == source[name].port == named[port["targetPort"]]


@pytest.mark.parametrize("name", REGISTERED)
def test_autoscalers_target_existing_deployments_on_cpu(name, k8s):
    hpa = k8s_object(k8s, "HorizontalPodAutoscaler", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment" and ("Deployment", target["name"]) in k8s
    assert target["name"] == process_name(name)
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_the_cluster_registry_matches_the_registry_with_cluster_urls(source, k8s):
    data = k8s[("ConfigMap", "modelchain-registry")]["data"]
    cluster = yaml.safe_load(data["registry.yaml"])["services"]
    assert list(cluster) == list(source)
    for name, spec in cluster.items():
        assert (spec["app"], spec["port"]) == (source[name].app, source[name].port)
        service = k8s[("Service", dns(name))]
        assert spec["url"] == f"http://{service['metadata']['name']}:" \
                              f"{service['spec']['ports'][0]['port']}"


def test_pods_read_the_mounted_cluster_registry(k8s):
    path = k8s[("ConfigMap", "modelchain-env")]["data"]["MODELCHAIN_REGISTRY"]
    for (kind, name), deployment in k8s.items():
        if kind == "Deployment" and name != generate.HTTPS_FRONT:   # nginx reads none
            mounts = {m["name"]: m["mountPath"] for m in
                      deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
            assert path == f"{mounts['registry']}/registry.yaml", name


# ------------------------------------------------------------------ image
def stages(dockerfile: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions by stage (``FROM x AS name``; the last is "")."""
    found: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, args in dockerfile:
        if keyword == "FROM":
            words = args.split()
            current = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            found[current] = []
        if current is not None:
            found[current].append((keyword, args))
    return found


def test_the_dockerfile_builds_on_python_slim_unless_told_another_base(dockerfile):
    assert dockerfile[0] == ("ARG", "BASE=python:3.11-slim")
    by_stage = stages(dockerfile)
    assert list(by_stage) == ["venv", "deps", ""]
    assert by_stage["venv"][0] == ("FROM", "${BASE} AS venv")
    assert by_stage["deps"][0] == ("FROM", "${BASE} AS deps")
    assert by_stage[""][0] == ("FROM", "deps")      # every service: the shared deps


def test_only_the_discarded_stage_installs_and_sees_the_pip_options(dockerfile):
    """The wheel house's options are the venv stage's alone, which no image keeps: the
    images get the installed environment, not the options in their history."""
    by_stage = stages(dockerfile)
    venv = by_stage["venv"]
    assert ("ARG", 'PIP_INSTALL_OPTIONS=""') in venv
    assert ("COPY", "requirements.txt constraints.txt /tmp/deps/") in venv
    assert any(k == "RUN" and "pip install ${PIP_INSTALL_OPTIONS}" in a and
               "-r /tmp/deps/requirements.txt -c /tmp/deps/constraints.txt" in a
               for k, a in venv)
    kept = by_stage["deps"] + by_stage[""]
    assert not any("PIP_INSTALL_OPTIONS" in a or "pip install" in a for _, a in kept)
    assert ("COPY", "--from=venv /opt/venv /opt/venv") in by_stage["deps"]


def test_the_dockerfile_builds_any_service_as_non_root_with_a_healthcheck(dockerfile):
    instructions = dict(dockerfile)   # the last of each kind
    assert ("ARG", "SERVICE") in dockerfile
    assert ("ENV", "MODELCHAIN_SERVICE=${SERVICE}") in dockerfile
    assert instructions["USER"].split(":")[0] not in ("root", "0")
    assert instructions["HEALTHCHECK"].endswith('CMD ["python", "-m", "deploy.healthcheck"]')
    assert instructions["CMD"] == '["python", "-m", "deploy.serve"]'
    # the service's settings come last, so every image shares the code layer too
    keywords = [k for k, _ in stages(dockerfile)[""]]
    assert keywords.index("ARG") > max(i for i, k in enumerate(keywords) if k == "COPY")


def test_the_dockerfile_copies_what_services_need(dockerfile):
    copied = [args.split()[0] for keyword, args in dockerfile
              if keyword == "COPY" and not args.startswith("--from=")]
    for path in copied:
        assert (ROOT / path).exists(), path
    assert {"common/", "services/", "deploy/", "requirements.txt"} <= set(copied)
    keywords = [k for k, _ in dockerfile]
    last_run = len(keywords) - 1 - keywords[::-1].index("RUN")
    assert last_run < keywords.index("USER") < keywords.index("CMD")   # installs as root


def test_the_build_context_lets_in_only_what_the_dockerfile_copies():
    """One .dockerignore at the context's root, which every builder reads (the classic
    builder and docker-compose 1.29.2 never read deploy/Dockerfile.dockerignore)."""
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {line[1:] for line in lines if line.startswith("!")} == {
        "requirements.txt", "constraints.txt", "common/", "services/", "deploy/"}
    assert not (ROOT / "deploy" / "Dockerfile.dockerignore").exists()


# ------------------------------------------------------------------ generated
def test_the_generated_files_are_current():
    files = generate.render_all()
    stale = [str(p) for p, text in files.items()
             if not (ROOT / p).exists() or (ROOT / p).read_text() != text]
    stale += [str(p) for p in generate.stale(ROOT, files)]
    assert not stale, f"out of date: {', '.join(stale)}; run `python -m deploy.generate`"
