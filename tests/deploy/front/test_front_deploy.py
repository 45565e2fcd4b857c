"""The front's entries in the generated deploy files agree with its image and its nginx
files: compose builds deploy/front/Dockerfile (any Debian base) and publishes the port
nginx.conf listens on, with the certificate as secrets; Kubernetes runs the same image
with nginx.k8s.conf, as a non-root user, behind an Ingress that holds the TLS Secret.
(tests/deploy/test_real_tools.py runs docker-compose, kubectl and kubernetes-validate
on all of it.)"""
from __future__ import annotations

import re

from common.core.registry import ROOT
from deploy import generate
from deploy.front import config
from tests.deploy.conftest import dockerfile_instructions

FRONT = generate.HTTPS_FRONT
DOCKERFILE = dockerfile_instructions((config.FRONT_DIR / "Dockerfile").read_text())


def listen_port(name: str) -> int:
    return int(re.search(r"listen (\d+)", (config.FRONT_DIR / name).read_text()).group(1))


def test_the_image_takes_its_base_as_an_argument_and_carries_every_nginx_file():
    assert DOCKERFILE[:2] == [("ARG", "BASE=debian:bookworm-slim"), ("FROM", "${BASE}")]
    copied = next(args for kind, args in DOCKERFILE if kind == "COPY").split()
    generated = {p.name for p in config.FRONT_DIR.glob("*.conf")}
    assert set(copied[:-1]) == generated and copied[-1] == generate.FRONT_CONF_DIR + "/"
    assert dict(DOCKERFILE)["CMD"] == (f'["nginx", "-p", "/tmp/", "-c", '
                                       f'"{generate.FRONT_CONF_DIR}/nginx.conf"]')
    assert f"https://127.0.0.1:{listen_port('nginx.conf')}{config.HEALTH_PATH}" in \
        dict(DOCKERFILE)["HEALTHCHECK"]


def test_compose_builds_the_front_and_publishes_its_tls_port(compose):
    service = compose["services"][FRONT]
    assert service["build"] == {"context": "deploy/front",
                                "args": {"BASE": "${FRONT_BASE:-debian:bookworm-slim}"}}
    assert service["ports"] == ["${MODELCHAIN_PUBLISH_ADDRESS:-127.0.0.1}:${FRONT_PORT:-8443}:"
                                f"{listen_port('nginx.conf')}"]
    assert service["healthcheck"]["test"][-1].endswith(config.HEALTH_PATH)
    others = set(compose["services"]) - {FRONT}
    assert set(service["depends_on"]) == others


def test_compose_mounts_the_certificate_nginx_conf_reads(compose):
    main = (config.FRONT_DIR / "nginx.conf").read_text()
    for name in compose["services"][FRONT]["secrets"]:
        assert f"/run/secrets/{name};" in main
        assert compose["secrets"][name]["file"].startswith("${FRONT_TLS_")
    assert compose["secrets"]["front_tls_cert"]["file"].endswith("./.run/front/tls/cert.pem}")


def test_kubernetes_runs_the_image_with_its_file_behind_a_tls_ingress(k8s):
    deployment, service = k8s[("Deployment", FRONT)], k8s[("Service", FRONT)]
    ingress = k8s[("Ingress", "modelchain")]
    pod = deployment["spec"]["template"]["spec"]
    box = pod["containers"][0]
    assert box["args"][-1] == f"{generate.FRONT_CONF_DIR}/nginx.k8s.conf"
    assert box["ports"] == [{"name": "http", "containerPort": listen_port("nginx.k8s.conf")}]
    assert box["readinessProbe"]["httpGet"]["path"] == config.HEALTH_PATH
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in box["volumeMounts"]   # nginx's -p
    assert service["spec"]["selector"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert ingress["spec"]["tls"] == [{"secretName": generate.FRONT_TLS_SECRET}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FRONT, "port": {"name": "http"}}
    assert service["spec"]["ports"][0]["name"] == "http"


def test_the_kustomization_lists_the_front(kustomization):
    assert "front.yaml" in kustomization["resources"]
    assert (ROOT / "deploy" / "k8s" / "front.yaml").exists()
