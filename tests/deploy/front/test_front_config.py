"""The front's nginx files: what they hold agrees with the services (gunicorn's limits as
gunicorn itself reports them, each service's own MAX_CONTENT_LENGTH and timeout, its
routes), and nginx itself accepts every one of them (``nginx -t``)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.core.context import SAFE_REQUEST_ID
from common.core.registry import ROOT, load_registry
from deploy import generate
from deploy.front import config
from tools import front

SHARED = {name: (config.FRONT_DIR / name).read_text()
          for name in (config.HTTP_CONF, config.SERVER_CONF)}


def locations(text: str) -> dict[str, str]:
    """Each ``location`` block's body, by its spec (``/text_cleaner/``, ``= /docs``)."""
    return {spec: body for spec, body in
            re.findall(r"^location (.+?) \{\n(.*?)^\}", text, re.M | re.S)}


def directive(body: str, name: str) -> str:
    """The value of ``name`` in a block (the first one)."""
    found = re.search(rf"^\s*{name} (.+?);$", body, re.M)
    assert found, f"no {name} in:\n{body}"
    return found.group(1)


@pytest.fixture(scope="module")
def gunicorn_says() -> dict[str, int]:
    """gunicorn's own report of its resolved settings (``--print-config``)."""
    done = subprocess.run([sys.executable, "-m", "gunicorn", "--config",
                           str(ROOT / "deploy" / "gunicorn.conf.py"), "--print-config",
                           "services.text_cleaner:create_app()"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pairs = dict(re.findall(r"^(\w+)\s+= (.*)$", done.stdout, re.M))
    return {k: int(pairs[k]) for k in ("limit_request_line", "limit_request_fields",
                                       "limit_request_field_size", "keepalive")}


@pytest.fixture(scope="module")
def apps(source):
    """Every registered service's app, built without its model: its own config."""
    return {name: generate.build_app(entry, {"LOAD_MODEL": "off"})
            for name, entry in source.items()}


def test_header_and_request_line_limits_are_gunicorns(gunicorn_says):
    http = SHARED[config.HTTP_CONF]
    assert directive(http, "large_client_header_buffers") == \
        f"{gunicorn_says['limit_request_fields']} {gunicorn_says['limit_request_field_size']}"
    assert f'"~^.{{{gunicorn_says["limit_request_line"] + 1}}}" 1;' in http


def test_idle_upstream_connections_close_before_gunicorn_closes_them(gunicorn_says):
    k8s = (config.FRONT_DIR / "nginx.k8s.conf").read_text()
    kept = {int(v.rstrip("s")) for v in re.findall(r"keepalive_timeout (\d+s);", k8s)}
    assert kept and max(kept) < gunicorn_says["keepalive"]


def test_each_service_gets_its_own_body_limit_and_time(source, apps):
    routes = locations(SHARED[config.SERVER_CONF])
    for name, app in apps.items():
        for spec in (f"/{name}/", f"= /{name}"):
            body = routes[spec]
            assert directive(body, "set \\$front_service") == name
            assert int(directive(body, "client_max_body_size")) == \
                app.config["MAX_CONTENT_LENGTH"], name
            read = int(directive(body, "proxy_read_timeout").rstrip("s"))
            assert read > app.config["DEFAULT_TIMEOUT_S"], name


def test_the_catalog_answers_at_the_root_and_the_gateway_for_its_own_routes(apps):
    routes = locations(SHARED[config.SERVER_CONF])
    served = {spec: directive(body, "set \\$front_service") for spec, body in routes.items()
              if "set $front_service" in body}
    for rule in apps["catalog"].url_map.iter_rules():
        segment, deeper, _ = rule.rule.lstrip("/").partition("/")
        assert served[f"/{segment}/" if deeper else f"= /{segment}"] == "catalog", rule
    assert served["/v1/"] == "gateway"
    assert any(r.rule.startswith("/v1/") for r in apps["gateway"].url_map.iter_rules())
    assert "rewrite" not in routes["/v1/"] and "rewrite" not in routes["= /"]


def test_anything_else_is_the_fronts_404():
    routes = locations(SHARED[config.SERVER_CONF])
    assert routes["/"].strip() == "return 404;"


def test_a_service_named_like_a_root_route_is_refused(source):
    routes = [config.Route("static", 1, 1.0)]
    with pytest.raises(ValueError, match="static"):
        config.render_server(config.gunicorn_limits(), routes,
                             {"catalog": ["/static/", "= /"]})


def test_the_request_id_rule_is_the_services():
    http = SHARED[config.HTTP_CONF]
    assert f'"~{SAFE_REQUEST_ID.pattern}" $http_x_request_id;' in http
    assert "proxy_set_header X-Request-ID $front_request_id;" in http


def test_every_error_page_is_json_with_its_status():
    routes = locations(SHARED[config.SERVER_CONF])
    for code in config.ERRORS:
        body = routes[f"= {config.ERROR_PATH}{code}"]
        assert "internal;" in body and "default_type application/json;" in body
        status = config.SENT_AS.get(code, code)
        assert re.search(rf"return {status} '\{{\"error\": \{{\"code\": ", body), code
        assert re.search(rf"^error_page {code} ", SHARED[config.SERVER_CONF], re.M)


# ------------------------------------------------------------------ nginx -t
def nginx_t(nginx: str, main: Path, prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run([nginx, "-t", "-p", f"{prefix}/", "-c", str(main)],
                          capture_output=True, text=True, timeout=60)


def test_nginx_accepts_the_local_front_with_the_checked_in_files(nginx, tls_pair, tmp_path):
    targets = front.upstreams(load_registry(environ={}))
    main = front.write_config(tmp_path, targets, 28443, *tls_pair)
    assert f"include {config.FRONT_DIR}/server.conf;" in main.read_text()
    done = nginx_t(nginx, main, tmp_path)
    assert done.returncode == 0, done.stderr


def localised(text: str, tls_pair) -> str:
    """A checked-in main file pointed at this checkout and a test certificate, its
    upstream host names at 127.0.0.1 (nginx resolves those at start): nothing else of
    it changes."""
    text = text.replace(generate.FRONT_CONF_DIR, str(config.FRONT_DIR))
    text = text.replace("/run/secrets/front_tls_cert", str(tls_pair[0]))
    text = text.replace("/run/secrets/front_tls_key", str(tls_pair[1]))
    return re.sub(r"^(\s*server )[a-z0-9-]+(:\d+ )", r"\g<1>127.0.0.1\g<2>", text,
                  flags=re.M)


@pytest.mark.parametrize("name", ["nginx.conf", "nginx.k8s.conf"])
def test_nginx_accepts_the_compose_and_kubernetes_files(name, nginx, tls_pair, tmp_path):
    main = tmp_path / name
    main.write_text(localised((config.FRONT_DIR / name).read_text(), tls_pair))
    done = nginx_t(nginx, main, tmp_path)
    assert done.returncode == 0, done.stderr


def test_nginx_refuses_a_planted_bad_file(nginx, tls_pair, tmp_path):
    """The check can fail: a directive nginx does not know."""
    main = tmp_path / "nginx.conf"
    main.write_text(localised((config.FRONT_DIR / "nginx.conf").read_text(), tls_pair)
                    .replace("worker_processes auto;", "worker_processes auto;\nworkers 2;"))
    assert nginx_t(nginx, main, tmp_path).returncode != 0


def test_compose_looks_services_up_per_request_and_kubernetes_at_start():
    compose = (config.FRONT_DIR / "nginx.conf").read_text()
    k8s = (config.FRONT_DIR / "nginx.k8s.conf").read_text()
    assert "resolver 127.0.0.11 " in compose and "upstream svc_" not in compose
    assert "listen 8443 ssl;" in compose and "user www-data;" in compose
    assert "resolver" not in k8s and "listen 8080;" in k8s and "ssl_certificate" not in k8s
    for name, entry in load_registry(environ={}).items():
        assert f"{name} {generate.dns_name(name)}:{entry.port};" in compose
        assert f"server {generate.dns_name(name)}:{entry.port} " in k8s
