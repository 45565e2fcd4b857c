"""The container entry points: deploy.serve (gunicorn for $SERVICE) and
deploy.healthcheck (the HEALTHCHECK command)."""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from common.core.registry import ROOT
from deploy import healthcheck, serve
from tests.conftest import free_port


def test_serve_execs_gunicorn_with_the_registry_app_on_all_interfaces(monkeypatch, source):
    calls = []
    monkeypatch.setattr(serve.os, "execve", lambda *args: calls.append(args))
    monkeypatch.setenv("MODELCHAIN_SERVICE", "text_cleaner")
    monkeypatch.delenv("MODELCHAIN_BIND", raising=False)
    monkeypatch.delenv("MODELCHAIN_REGISTRY", raising=False)
    serve.main([])
    executable, argv, env = calls[0]
    assert executable == sys.executable and argv[0] == sys.executable
    assert argv[1:] == serve.command(source["text_cleaner"])[1:]
    assert argv[-1] == "services.text_cleaner:create_app()"
    assert (ROOT / argv[argv.index("--config") + 1]).exists()
    assert env["MODELCHAIN_BIND"] == "0.0.0.0:8101"


def test_the_deployments_own_settings_win(monkeypatch):
    calls = []
    monkeypatch.setattr(serve.os, "execve", lambda *args: calls.append(args))
    monkeypatch.setenv("MODELCHAIN_BIND", "0.0.0.0:9999")
    monkeypatch.setenv("MODELCHAIN_WORKERS", "4")
    serve.main(["sentiment"])
    assert calls[0][2]["MODELCHAIN_BIND"] == "0.0.0.0:9999"
    assert calls[0][2]["MODELCHAIN_WORKERS"] == "4"
    assert calls[0][1][-1] == "services.sentiment:create_app()"


@pytest.mark.parametrize("name", [None, "nope"])
def test_serve_refuses_a_missing_or_unknown_service(monkeypatch, name):
    monkeypatch.delenv("MODELCHAIN_SERVICE", raising=False)
    with pytest.raises(SystemExit) as caught:
        serve.resolve(name, {})
    assert "not a registered service" in str(caught.value)


@pytest.mark.parametrize("environ,url", [
    ({"MODELCHAIN_BIND": "0.0.0.0:8102"}, "http://127.0.0.1:8102/healthz"),
    ({"MODELCHAIN_SERVICE": "tweet_sentiment"}, "http://127.0.0.1:8103/healthz"),
    ({}, "http://127.0.0.1:8000/healthz"),
])
def test_the_healthcheck_finds_this_containers_port(environ, url):
    assert healthcheck.default_url(environ) == url


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802  (http.server's naming)
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_healthcheck_exit_status():
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert healthcheck.main([base + "/healthz"]) == 0
        assert healthcheck.main([base + "/readyz"]) == 1
        assert healthcheck.main([f"http://127.0.0.1:{free_port()}/healthz"]) == 1
    finally:
        server.shutdown()


def test_serve_runs_a_process_group_with_every_member(monkeypatch, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text("services:\n"
                        "  a: {app: 'x:create_app()', port: 9101, group: g}\n"
                        "  b: {app: 'y:create_app()', port: 9102, group: g, threads: 4}\n")
    unit = serve.resolve("g", {"MODELCHAIN_REGISTRY": str(registry)})
    env = serve.environment(unit)
    assert serve.command(unit)[-1] == "common.serving.group:create_group_app('g')"
    assert env["MODELCHAIN_BIND"] == "0.0.0.0:9101,0.0.0.0:9102"
    assert env["MODELCHAIN_GROUP_MEMBERS"] == "a=9101,b=9102"
    assert env["MODELCHAIN_THREADS"] == "24"   # twice the members' threads
    alone = serve.resolve("b", {"MODELCHAIN_REGISTRY": str(registry)})
    assert serve.command(alone)[-1] == "y:create_app()"   # a member can still run alone


def test_the_healthcheck_of_a_group_checks_every_port():
    assert healthcheck.default_urls({"MODELCHAIN_BIND": "0.0.0.0:1,0.0.0.0:2"}) == [
        "http://127.0.0.1:1/healthz", "http://127.0.0.1:2/healthz"]
