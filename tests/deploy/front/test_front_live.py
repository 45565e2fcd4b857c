"""The front for real: Debian's nginx with the checked-in files, over TLS, before real
gunicorn services on 127.0.0.1. Calls reach the services; the request id and trace
context travel; the services' size limits hold at their exact boundaries; every error
the front answers itself is JSON with its status; a signed Alexa request arrives
intact and is answered with speech."""
from __future__ import annotations

import json
import re
import socket
import ssl
import time
from datetime import datetime, timezone

import pytest
import requests

from tests.deploy.front.conftest import SKILL_ID, exchange, tls_socket
from tests.helpers.alexa import intent_body

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def post(live, path: str, **kwargs) -> requests.Response:
    return requests.post(live.url + path, verify=str(live.cert), timeout=30, **kwargs)


def get(live, path: str, **kwargs) -> requests.Response:
    return requests.get(live.url + path, verify=str(live.cert), timeout=30, **kwargs)


def front_error(response: requests.Response, status: int, code: str) -> dict:
    """The front's own error envelope, checked: status, JSON, code, the request id."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json", response.text
    error = response.json()["error"]
    assert error["code"] == code and error["details"]["source"] == "front"
    assert error["details"]["status"] == status
    assert response.headers["X-Request-ID"] == error["details"]["request_id"]
    return error


def parsed(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP answer read off a socket."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def raw_error(raw: bytes, status: int, code: str) -> dict:
    """:func:`front_error` for an answer read off a socket."""
    got, headers, body = parsed(raw)
    assert got == status, raw[:300]
    assert headers["Content-Type"] == "application/json" and b"<html" not in raw
    error = json.loads(body)["error"]
    assert error["code"] == code and error["details"]["source"] == "front"
    return error


# ------------------------------------------------------------------ through
def test_a_service_answers_over_https_under_its_name(live):
    response = post(live, "/text_cleaner/predict", json={"text": "Sooo happy!! #BestDay"})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["text"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert post(live, "/text_cleaner/predict?x=1", json={"text": "hi"}).status_code == 200
    assert get(live, "/text_cleaner").json()["error"]["code"] == "not_found"  # its own /


def test_the_catalog_answers_at_the_root(live):
    home = get(live, "/")
    assert home.status_code == 200 and "text/html" in home.headers["Content-Type"]
    styles = re.search(r'href="(/static/[^"]+)"', home.text).group(1)
    assert get(live, styles).status_code == 200
    listed = get(live, "/api/services").json()
    assert "text_cleaner" in [s["name"] for s in listed["services"]]


def test_the_algorithmia_api_is_the_gateways(live):
    response = post(live, "/v1/algo/modelchain/text_cleaner", data="Sooo happy!!",
                    headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["service"] == "text_cleaner"


# ------------------------------------------------------------------ ids and traces
def test_the_callers_request_id_and_trace_reach_the_service(live):
    span = "00f067aa0ba902b7"
    response = post(live, "/text_cleaner/predict", json={"text": "hi"},
                    headers={"X-Request-ID": "caller-id-1",
                             "traceparent": f"00-{TRACE_ID}-{span}-01"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "caller-id-1"
    assert response.json()["metadata"]["request_id"] == "caller-id-1"
    trace, child = response.headers["traceparent"].split("-")[1:3]
    assert trace == TRACE_ID and child != span  # the service's own span, same trace
    assert live.logged('"request_id":"caller-id-1"')
    assert live.logged(f'"traceparent":"00-{TRACE_ID}-{span}-01"')


@pytest.mark.parametrize("sent", [None, "not a valid id!"])
def test_without_a_usable_id_the_front_makes_one_the_service_uses(live, sent):
    headers = {"X-Request-ID": sent} if sent else {}
    response = post(live, "/text_cleaner/predict", json={"text": "hi"}, headers=headers)
    made = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)   # nginx's $request_id
    assert response.json()["metadata"]["request_id"] == made
    assert live.logged(f'"request_id":"{made}"')


def test_the_fronts_own_errors_carry_the_callers_id(live):
    response = get(live, "/nosuch/predict", headers={"X-Request-ID": "caller-id-2"})
    assert front_error(response, 404, "not_found")["details"]["request_id"] == "caller-id-2"


# ------------------------------------------------------------------ errors
def test_an_unknown_service_is_the_fronts_404(live):
    error = front_error(get(live, "/nosuch/predict"), 404, "not_found")
    assert "/<name>/" in error["message"]


def test_a_service_that_is_down_is_a_502_naming_it(live):
    error = front_error(post(live, "/chatbot/predict", json={"question": "hi"}), 502,
                        "upstream_error")
    assert "chatbot" in error["message"]


def test_a_body_over_the_services_limit_is_refused_before_it(live):
    limit = 256 * 1024   # alexa_skill's MAX_CONTENT_LENGTH
    over = post(live, "/alexa_skill/predict", data=b"x" * (limit + 1),
                headers={"Content-Type": "application/json"})
    front_error(over, 413, "payload_too_large")
    at = post(live, "/alexa_skill/predict", data=b"x" * limit,
              headers={"Content-Type": "application/json"})
    assert at.status_code == 400 and "source" not in at.json()["error"]["details"]


def line_of(length: int, path: str = "/text_cleaner/healthz") -> str:
    """A request line of exactly ``length`` bytes (CRLF excluded)."""
    start, end = f"GET {path}?pad=", " HTTP/1.1"
    return start + "a" * (length - len(start) - len(end)) + end


@pytest.mark.parametrize("path,status", [("/text_cleaner/healthz", 200),
                                         ("/text_cleaner/a%20b%20c", 404)])
def test_the_request_line_limit_is_gunicorns_to_the_byte(live, path, status):
    fits = exchange(live.port, live.cert, f"{line_of(4094, path)}\r\nHost: x\r\n"
                    "Connection: close\r\n\r\n".encode())
    assert parsed(fits)[0] == status and b'"source": "front"' not in fits  # the service's
    over = exchange(live.port, live.cert,
                    f"{line_of(4095, path)}\r\nHost: x\r\n\r\n".encode())
    assert "4094" in raw_error(over, 414, "request_line_too_long")["message"]
    far = exchange(live.port, live.cert, f"{line_of(9000)}\r\nHost: x\r\n\r\n".encode())
    raw_error(far, 414, "request_line_too_long")


def header_of(length: int) -> str:
    """A header line of exactly ``length`` bytes, its CRLF included."""
    return "X-Pad: " + "a" * (length - len("X-Pad: ") - 2)


def test_the_header_line_limit_is_gunicorns_to_the_byte(live):
    fits = get(live, "/text_cleaner/healthz", headers={"X-Pad": header_of(8190)[7:]})
    assert fits.status_code == 200
    over = get(live, "/text_cleaner/healthz", headers={"X-Pad": header_of(8191)[7:]})
    assert "8190" in front_error(over, 431, "headers_too_large")["message"]


def test_more_header_fields_than_gunicorn_takes_get_its_own_json_answer(live):
    """The front passes 101 fields on (nginx counts bytes, not fields): gunicorn refuses
    them with its JSON 431, and the front relays it."""
    many = {f"X-H{i}": "v" for i in range(101)}
    response = get(live, "/text_cleaner/healthz", headers=many)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
    assert "source" not in response.json()["error"]["details"]   # the service's
    assert get(live, "/text_cleaner/healthz",
               headers=dict(list(many.items())[:90])).status_code == 200


@pytest.mark.parametrize("request_bytes,status,code", [
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"GET /text_cleaner/healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505,
     "http_version_not_supported"),
    (b"POST /text_cleaner/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     501, "not_implemented"),
    (b"TRACE /text_cleaner/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405,
     "method_not_allowed"),
    (b"GET /text_cleaner/healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
     "bad_request"),
], ids=["garbage", "http/2.0 line", "unknown coding", "trace", "bad length"])
def test_malformed_requests_get_the_fronts_json(live, request_bytes, status, code):
    raw_error(exchange(live.port, live.cert, request_bytes), status, code)


def test_plain_http_on_the_https_port_is_told_to_use_https(live):
    response = requests.get(f"http://127.0.0.1:{live.port}/", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "https_required"


# ------------------------------------------------------------------ TLS
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_served(live, version):
    with tls_socket(live.port, live.cert, minimum=version, maximum=version) as tls:
        assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                 ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_1_is_refused_by_the_front(live):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(live.cert))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")   # this client would offer it
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION|protocol version"):
            context.wrap_socket(raw, server_hostname="127.0.0.1")


# ------------------------------------------------------------------ Alexa
def now() -> datetime:
    return datetime.now(timezone.utc)


def test_a_signed_alexa_request_over_https_gets_the_spoken_answer(live, make_signed_request):
    headers, raw = make_signed_request(intent_body(
        "SentimentIntent", {"text": "I hate waiting"}, timestamp=now()))
    response = post(live, "/alexa_skill/alexa", data=raw, headers=headers)
    assert response.status_code == 200, response.text
    speech = response.json()["response"]["outputSpeech"]
    assert (speech.get("text") or speech.get("ssml")) == "That sounds negative to me."


def test_a_tampered_alexa_request_is_refused_by_the_skill_behind_the_front(
        live, make_signed_request):
    headers, raw = make_signed_request(intent_body(
        "SentimentIntent", {"text": "great"}, timestamp=now(), application_id=SKILL_ID))
    response = post(live, "/alexa_skill/alexa", data=raw.replace(b"great", b"awful"),
                    headers=headers)
    assert response.status_code == 400
    assert "source" not in (response.json()["error"].get("details") or {})
