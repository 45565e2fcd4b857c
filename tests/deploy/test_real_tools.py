"""The deploy files checked by the tools that run them, not only parsed.

- ``kubectl kustomize deploy/k8s`` renders the Kubernetes base (no cluster needed), and
  ``kubernetes-validate`` checks every rendered object against Kubernetes' own API
  schemas, strictly: an unknown field is an error, as ``kubectl apply`` would make it.
- ``docker-compose.yml`` passes ``docker-compose config`` (Debian's 1.29.2, the Compose
  we can run) and the compose-spec JSON schema (the one Compose v2 validates with,
  vendored by ``check-jsonschema``).

Each check has a planted bad file beside it, so a check that cannot fail would show.
A missing tool skips here with what to install, and fails in CI (``CI`` set): `make test`
installs them (scripts/install-system-deps.sh, requirements-dev.txt).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from common.core.registry import ROOT, load_registry

from tests.deploy.conftest import K8S, SERVICE_DIRS

#: The newest Kubernetes whose schemas the pinned kubernetes-validate ships.
K8S_VERSION = "1.37.0"
COMPOSE_FILE = ROOT / "docker-compose.yml"
TIMEOUT_S = 60


def tool(name: str, package: str) -> str:
    """The path of ``name``; skips (fails in CI) when it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    message = (f"{name} is not installed (apt-get install {package}; `make test` does it "
               f"via scripts/install-system-deps.sh when run as root)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(command: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``command``'s result, its output as text (the tools never need the network)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


# ------------------------------------------------------------------ kubernetes
@pytest.fixture(scope="module")
def kubectl() -> str:
    """kubectl (its built-in kustomize renders without a cluster)."""
    return tool("kubectl", "kubernetes-client")


def render(kubectl: str, folder: Path) -> list[dict]:
    """Every object ``kubectl kustomize folder`` renders."""
    done = run([kubectl, "kustomize", str(folder)])
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def problems(objects: list[dict]) -> list[str]:
    """Why each object that fails strict validation fails (empty when all pass)."""
    found = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except (kubernetes_validate.ValidationError,
                kubernetes_validate.SchemaNotFoundError) as error:
            name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            found.append(f"{name}: {getattr(error, 'message', error)}")
    return found


@pytest.fixture(scope="module")
def rendered(kubectl) -> list[dict]:
    """The kustomize base, as kubectl renders it."""
    return render(kubectl, K8S)


def test_kubectl_renders_every_object_the_kustomization_lists(rendered, k8s):
    assert {(o["kind"], o["metadata"]["name"]) for o in rendered} == set(k8s)


def test_every_rendered_object_is_valid_kubernetes(rendered):
    assert rendered, "kubectl rendered nothing"
    assert problems(rendered) == []


def test_every_object_in_the_files_is_valid_kubernetes(k8s):
    """The same check without kubectl: the files kustomize reads, as written."""
    assert problems(list(k8s.values())) == []


def planted(k8s: dict, mutate) -> dict:
    """A copy of the generated Deployment, changed by ``mutate``."""
    deployment = next(o for (kind, _), o in k8s.items() if kind == "Deployment")
    copy = yaml.safe_load(yaml.safe_dump(deployment))
    mutate(copy)
    return copy


BAD_DEPLOYMENTS = {
    "unknown field": lambda d: d["spec"].update(replica=2),
    "unknown container field": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    .update(imagePullPolice="Always"),
    "wrong type": lambda d: d["spec"].update(replicas="two"),
    "missing required": lambda d: d["spec"]["template"]["spec"]["containers"][0]
    .pop("name"),
    "unknown apiVersion": lambda d: d.update(apiVersion="apps/v1beta9"),
}


@pytest.mark.parametrize("why", sorted(BAD_DEPLOYMENTS))
def test_a_planted_bad_deployment_is_rejected(why, k8s):
    assert len(problems([planted(k8s, BAD_DEPLOYMENTS[why])])) == 1


def test_a_planted_bad_object_is_rejected_after_kubectl_renders_it(kubectl, k8s, tmp_path):
    """The whole path (render, then validate) fails on a bad base, not only on a dict."""
    bad = planted(k8s, BAD_DEPLOYMENTS["unknown field"])
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": ["bad.yaml"]}))
    found = problems(render(kubectl, tmp_path))
    assert any("'replica'" in problem for problem in found), found


# ------------------------------------------------------------------ compose
@pytest.fixture(scope="module")
def compose_v1() -> str:
    """Debian's docker-compose 1.29.2 (Compose v1: stricter than v2 on top-level keys)."""
    path = tool("docker-compose", "docker-compose")
    version = run([path, "version", "--short"]).stdout.strip()
    assert version.startswith("1."), f"{path} is Compose {version}, not Debian's 1.29.2"
    return path


def compose_config(tool_path: str, file: Path) -> subprocess.CompletedProcess:
    """``docker-compose -f file config -q`` (no daemon needed), from the repository."""
    return run([tool_path, "-f", str(file), "--project-directory", str(ROOT),
                "config", "-q"])


def compose_schema(file: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with its vendored compose-spec schema."""
    return run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                "vendor.compose-spec", str(file)])


def test_the_compose_file_passes_docker_compose_config(compose_v1):
    done = compose_config(compose_v1, COMPOSE_FILE)
    assert done.returncode == 0, done.stderr


def test_the_compose_file_passes_the_compose_spec_schema():
    done = compose_schema(COMPOSE_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def planted_compose(compose: dict, tmp_path: Path, mutate) -> Path:
    """The generated compose file changed by ``mutate``, written under ``tmp_path``."""
    copy = yaml.safe_load(yaml.safe_dump(compose))
    mutate(copy)
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(copy))
    return path


def first_service(document: dict) -> dict:
    return next(iter(document["services"].values()))


BAD_COMPOSE = {
    "unknown service key": lambda d: first_service(d).update(imagee="x"),
    "wrong type": lambda d: first_service(d).update(expose="8100"),
    "unknown top-level key": lambda d: d.update(servics={}),
}


@pytest.mark.parametrize("why", sorted(BAD_COMPOSE))
def test_a_planted_bad_compose_file_fails_docker_compose_config(why, compose, compose_v1,
                                                                tmp_path):
    path = planted_compose(compose, tmp_path, BAD_COMPOSE[why])
    assert compose_config(compose_v1, path).returncode != 0


@pytest.mark.parametrize("why", sorted(BAD_COMPOSE))
def test_a_planted_bad_compose_file_fails_the_compose_spec_schema(why, compose, tmp_path):
    path = planted_compose(compose, tmp_path, BAD_COMPOSE[why])
    assert compose_schema(path).returncode != 0


def test_compose_v1_rejects_a_top_level_name_so_the_file_has_none(compose, compose_v1,
                                                                   tmp_path):
    """Why the generator writes no ``name:`` (the project name is ``-p modelchain``)."""
    path = planted_compose(compose, tmp_path, lambda d: d.update(name="modelchain"))
    done = compose_config(compose_v1, path)
    assert done.returncode != 0 and "name" in done.stderr
    assert compose_schema(path).returncode == 0   # Compose v2 accepts it
    assert "name" not in compose


# ------------------------------------------------------------------ another registry
@pytest.fixture(scope="module")
def ungrouped_files(tmp_path_factory) -> Path:
    """The deploy files generated with every service in a process of its own (the other
    shape the generator writes: a Deployment, HPA and compose service each, and
    ``depends_on`` between them), under a scratch folder."""
    import dataclasses

    from deploy import generate
    source = load_registry(ROOT / "deploy" / "registry.yaml", environ={})
    alone = {n: dataclasses.replace(e, group="") for n, e in source.items()}
    folder = tmp_path_factory.mktemp("ungrouped")
    for path, text in generate._deploy_files(alone, ROOT).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


def test_every_object_rendered_for_services_alone_is_valid_kubernetes(kubectl,
                                                                       ungrouped_files):
    objects = render(kubectl, ungrouped_files / "deploy" / "k8s")
    deployments = load_registry(ROOT / "deploy" / "registry.yaml", environ={})
    assert len([o for o in objects if o["kind"] == "Deployment"]) == len(deployments) + 1  # front
    assert problems(objects) == []


def test_the_compose_file_for_services_alone_passes_both_checks(compose_v1, ungrouped_files):
    path = ungrouped_files / "docker-compose.yml"
    assert "depends_on" in path.read_text()
    done = compose_config(compose_v1, path)
    assert done.returncode == 0, done.stderr
    done = compose_schema(path)
    assert done.returncode == 0, done.stdout + done.stderr
