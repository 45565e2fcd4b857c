"""The front's clocks and its per-client limit, with short settings so they show in
seconds: a service that answers too late is the front's JSON 504; a client with too
many requests in progress gets a JSON 503 with Retry-After; a client that stalls in its
headers (however it trickles them) or its body is cut off, with no answer at all (nginx
sends none) and without the service ever seeing it. The service is the deliberately
slow app of tests/helpers/faults.py under real gunicorn."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from common.core.registry import ServiceEntry
from deploy.front.config import Settings
from tests.conftest import free_port
from tests.deploy.front.conftest import read_all, start, tls_socket
from tools.launcher import start_services, stop_services, wait_ready

pytestmark = pytest.mark.integration

SETTINGS = Settings(client_header_timeout_s=2, client_body_timeout_s=2,
                    timeout_margin_s=3, max_requests_per_client=1)
SLOW = ServiceEntry("fault_slow", "tests.helpers.faults:create_app('slow')", 0, "")


def contract(name: str) -> dict:
    """The slow service's limits: no time of its own, so the front waits the margin."""
    return {"limits": {"max_body_bytes": 1024, "default_timeout_s": 0}}


@pytest.fixture(scope="module")
def strict(nginx, tmp_path_factory, tls_pair):
    """A front with :data:`SETTINGS` before the slow service."""
    folder = tmp_path_factory.mktemp("front-strict")
    services = start_services([SLOW], ports={SLOW.name: free_port()}, log_dir=folder)
    try:
        wait_ready(services, 120)
        process = start({SLOW.name: SLOW}, folder, tls_pair,
                        {SLOW.name: services[0].url}, settings=SETTINGS,
                        contracts=contract)
        yield process
        process.stop()
    finally:
        stop_services(services)


def call(process, cert) -> requests.Response:
    return requests.post(f"{process.url}/fault_slow/predict", json={"x": 1},
                         verify=str(cert), timeout=30)


def test_a_service_too_slow_is_the_fronts_504(strict, tls_pair):
    process = strict
    started = time.monotonic()
    response = call(process, tls_pair[0])
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "deadline_exceeded" and error["details"]["source"] == "front"
    assert "fault_slow" in error["message"]
    assert 2.5 < time.monotonic() - started < 4.9   # the margin, before the 5 s sleep


def test_one_request_too_many_in_progress_is_a_503_with_retry_after(strict, tls_pair):
    process = strict
    first: list[requests.Response] = []
    holder = threading.Thread(target=lambda: first.append(call(process, tls_pair[0])))
    holder.start()
    time.sleep(1.0)   # the first is with the service for 3 s
    second = call(process, tls_pair[0])
    holder.join()
    assert second.status_code == 503 and second.headers["Retry-After"] == "1"
    assert second.json()["error"]["code"] == "busy"
    assert first[0].status_code == 504


def front_logged(process, token: str) -> dict:
    """The front's access-log entry of the request whose URI holds ``token``."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in process.log_path.read_text(errors="replace").splitlines():
            if token in line and line.startswith("{"):
                return json.loads(line)
        time.sleep(0.1)
    raise AssertionError(f"the front logged no request with {token}")


def stalled(process, cert, sent: bytes, trickle: bytes = b"") -> tuple[bytes, float]:
    """Send ``sent``, then ``trickle`` a byte every 0.5 s; what came back, and when
    the front closed the connection (seconds after ``sent``)."""
    with tls_socket(process.port, cert, timeout=15) as tls:
        tls.sendall(sent)
        started = time.monotonic()
        tls.settimeout(0.5)
        got = b""
        for byte in trickle:
            try:
                got += tls.recv(65536)
                break   # the front answered or closed
            except TimeoutError:
                tls.sendall(bytes([byte]))
        tls.settimeout(15)
        got += read_all(tls)
        return got, time.monotonic() - started


def head(token: str) -> bytes:
    return f"POST /fault_slow/predict?t={token} HTTP/1.1\r\nHost: x\r\n".encode()


@pytest.mark.parametrize("trickle", [b"", b"X-Slow: " + b"a" * 40],
                         ids=["silent", "one byte every 0.5 s"])
def test_a_client_stalling_in_its_headers_is_cut_off_silently(strict, tls_pair, trickle):
    process = strict
    token = f"headers{len(trickle)}"
    got, after = stalled(process, tls_pair[0], head(token), trickle)
    assert got == b""               # nginx answers a stalled client nothing
    assert 1.5 < after < 6          # its whole header had 2 s, trickling or not
    logged = front_logged(process, token)
    assert (logged["status"], logged["upstream"]) == ("408", "")   # never passed on


def test_a_client_stalling_in_its_body_is_cut_off_before_the_service_sees_it(
        strict, tls_pair):
    process = strict
    got, after = stalled(process, tls_pair[0],
                         head("body") + b"Content-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"x\": ")
    assert got == b"" and 1.5 < after < 6
    logged = front_logged(process, "t=body")
    assert (logged["status"], logged["upstream"]) == ("408", "")
