"""The deploy files, parsed: ``docker-compose.yml``, every document under ``deploy/k8s/``
and ``deploy/Dockerfile`` (test_real_tools.py also runs kubectl, kubernetes-validate,
docker-compose and the compose-spec schema on them)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from common.core.registry import DEFAULT_REGISTRY, ROOT, ServiceEntry, load_registry

K8S = ROOT / "deploy" / "k8s"
SERVICE_DIRS = sorted(p.name for p in (ROOT / "services").iterdir()
                      if (p / "__init__.py").exists())


def dns(name: str) -> str:
    """A service's compose and Kubernetes name (DNS labels have no underscores)."""
    return name.replace("_", "-")


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, arguments = (current + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        current = ""
    return instructions


@pytest.fixture(scope="session")
def source() -> dict[str, ServiceEntry]:
    """The registry file itself (no URL overrides from the environment)."""
    return load_registry(DEFAULT_REGISTRY, environ={})


@pytest.fixture(scope="session")
def compose() -> dict:
    """The root ``docker-compose.yml``."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def kustomization() -> dict:
    """``deploy/k8s/kustomization.yaml``."""
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="session")
def k8s(kustomization) -> dict[tuple[str, str], dict]:
    """Every object the kustomization lists, by (kind, name)."""
    objects = {}
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((K8S / resource).read_text()):
            key = (document["kind"], document["metadata"]["name"])
            assert key not in objects, f"{key} is defined twice"
            objects[key] = document
    return objects


@pytest.fixture(scope="session")
def dockerfile() -> list[tuple[str, str]]:
    """``deploy/Dockerfile``'s instructions."""
    return dockerfile_instructions((ROOT / "deploy" / "Dockerfile").read_text())


def yaml_files(folder: Path) -> set[str]:
    """Every YAML file under ``folder``, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*.yaml")}
