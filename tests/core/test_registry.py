"""The registry is the one list of services: it and services/ must agree."""
from __future__ import annotations

import importlib

import pytest

from tools.launcher import gunicorn_command, service_environment
from common.core.registry import ROOT, load_registry, versions_of
from deploy.generate import model_class

SERVICE_DIRS = sorted(p.name for p in (ROOT / "services").iterdir()
                      if (p / "__init__.py").exists())


def test_every_service_folder_is_registered_and_every_entry_exists(registry):
    assert sorted({entry.service_name for entry in registry.values()}) == SERVICE_DIRS
    assert set(SERVICE_DIRS) <= set(registry)   # each service's main deployment


def test_a_second_version_is_its_own_deployment_of_the_same_service(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("services:\n  a:\n    app: 'x:create_app()'\n    port: 9001\n"
                    "    group: g\n    version: '2.1.0'\n    env: {A_MODE: new}\n"
                    "    versions:\n      '1.0.0': {port: 9002, env: {A_ARTIFACT: old}}\n")
    entries = load_registry(path, {"MODELCHAIN_URL_A_V1_0_0": "http://a-v1:80"})
    old = entries["a_v1_0_0"]
    assert (old.service_name, old.version, old.port, old.url) == ("a", "1.0.0", 9002,
                                                                  "http://a-v1:80")
    assert old.group == "" and old.env == {"A_MODE": "new", "A_ARTIFACT": "old"}
    assert [e.name for e in versions_of(entries)["a"]] == ["a", "a_v1_0_0"]


def test_ports_are_unique(registry):
    ports = [entry.port for entry in registry.values()]
    assert len(ports) == len(set(ports))


@pytest.mark.parametrize("name", SERVICE_DIRS)
def test_each_entry_names_an_app_factory_and_a_model(registry, name):
    module_name, _, call = registry[name].app.partition(":")
    assert call == "create_app()"
    module = importlib.import_module(module_name)
    assert callable(module.create_app)
    assert model_class(registry[name]).name == name


def test_urls_come_from_the_environment_first(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("services:\n  a: {app: 'x:create_app()', port: 9001}\n"
                    "  b: {app: 'y:create_app()', port: 9002, url: 'http://b.svc:80/'}\n")
    entries = load_registry(path, {"MODELCHAIN_URL_A": "http://a.internal:8080"})
    assert entries["a"].url == "http://a.internal:8080"
    assert entries["b"].url == "http://b.svc:80"
    assert load_registry(path, {})["a"].url == "http://127.0.0.1:9001"


def test_the_launcher_runs_gunicorn_with_the_shared_config(registry):
    command = gunicorn_command(registry["sentiment"], "127.0.0.1:9999")
    assert command[1:3] == ["-m", "gunicorn"] and "127.0.0.1:9999" in command
    assert str(ROOT / "deploy" / "gunicorn.conf.py") in command
    env = service_environment({"sentiment": "http://127.0.0.1:9999"}, base={})
    assert env["MODELCHAIN_URL_SENTIMENT"] == "http://127.0.0.1:9999"
    assert str(ROOT) in env["PYTHONPATH"]
