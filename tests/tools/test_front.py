"""``make run FRONT=1`` and ``tools/front.py``: the certificate (the deployer's, else a
self-signed one made when missing or ending), the front started after the services and
printed last, its port checked before anything starts, and nginx gone when the run
stops."""
from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography import x509

from common.core.registry import ROOT
from deploy.front.tls import ensure_self_signed, make_self_signed
from tests.conftest import free_port
from tests.tools.test_launcher import launcher_env, registry_file, wait_for_lines
from tools import front

#: `make run` as the user types it, but without reinstalling the environment from this
#: checkout (`-o`: its stamp is taken as current), which may be shared with others.
MAKE_RUN = ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "run"]


def test_a_self_signed_pair_names_the_loopback_and_keeps_its_key_private(tmp_path):
    cert_path, key_path = ensure_self_signed(tmp_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert ensure_self_signed(tmp_path)[0].read_bytes() == cert_path.read_bytes()  # kept


def test_a_pair_about_to_end_is_made_anew(tmp_path):
    cert_path, _ = make_self_signed(tmp_path, days=0)
    before = cert_path.read_bytes()
    ensure_self_signed(tmp_path)
    renewed = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert_path.read_bytes() != before
    assert renewed.not_valid_after_utc > datetime.now(timezone.utc) + timedelta(days=20)


def test_the_deployers_certificate_comes_from_the_environment(tmp_path):
    pair = {front.CERT_ENV: str(tmp_path / "c.pem"), front.KEY_ENV: str(tmp_path / "k.pem")}
    assert front.certificate(pair, tmp_path / "made") == (tmp_path / "c.pem",
                                                          tmp_path / "k.pem")
    assert not (tmp_path / "made").exists()
    with pytest.raises(ValueError, match="both"):
        front.certificate({front.CERT_ENV: str(tmp_path / "c.pem")}, tmp_path / "made")


def test_a_taken_front_port_is_found_before_anything_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = launcher_env(registry_file(tmp_path, {"text_cleaner": free_port()}),
                           MODELCHAIN_FRONT_PORT=str(taken))
        run = subprocess.run([*MAKE_RUN, "FRONT=1",
                              f"LOG_DIR={tmp_path}/logs"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env=env)
    assert run.returncode != 0 and run.stdout == ""
    assert f"front (127.0.0.1:{taken})" in run.stderr
    assert not (tmp_path / "logs").exists()


def nginx_running(pid_file) -> bool:
    try:
        pid = int(pid_file.read_text())
        return b"nginx" in open(f"/proc/{pid}/cmdline", "rb").read()
    except (OSError, ValueError):
        return False


@pytest.mark.integration
def test_make_run_front_serves_https_and_stops_with_the_services(tmp_path):
    try:
        front.nginx_binary()
    except FileNotFoundError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
    service, port = free_port(), free_port()
    env = launcher_env(registry_file(tmp_path, {"text_cleaner": service}),
                       MODELCHAIN_FRONT_PORT=str(port))
    launcher = subprocess.Popen([*MAKE_RUN, "FRONT=1",
                                 f"LOG_DIR={tmp_path}/logs"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=open(tmp_path / "err", "w"),
                                text=True, start_new_session=True)
    try:
        printed = wait_for_lines(launcher, 2, timeout=120)
        assert printed == [f"text_cleaner http://127.0.0.1:{service}",
                           f"front https://127.0.0.1:{port}"], (tmp_path / "err").read_text()
        answer = requests.post(f"https://127.0.0.1:{port}/text_cleaner/predict",
                               json={"text": "hi"}, timeout=30,
                               verify=str(front.TLS_DIR / "cert.pem"))
        assert answer.status_code == 200 and answer.json()["result"]["text"] == "hi"
        assert nginx_running(tmp_path / "front" / "nginx.pid")
    finally:
        os.killpg(launcher.pid, signal.SIGINT)   # Ctrl-C: make and the launcher
        launcher.wait(60)
    deadline = time.monotonic() + 30
    while nginx_running(tmp_path / "front" / "nginx.pid") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not nginx_running(tmp_path / "front" / "nginx.pid")
    assert front.port_free(port) and front.port_free(service)
    assert "Traceback" not in (tmp_path / "err").read_text()
