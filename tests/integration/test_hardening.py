"""Malformed requests to real gunicorn services: each gets our JSON envelope with the
right status, whoever answers it (gunicorn itself or the service), and no body is ever
cut and then parsed."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.integration

LIMIT = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def urls(live_services):
    return live_services("text_cleaner", "sentiment", "tweet_sentiment")


def raw(url: str, request: bytes, timeout: float = 30) -> tuple[int, dict, dict]:
    """Send bytes as they are; the status, headers and JSON body of the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it read everything
        data = b""
        while chunk := _recv(sock):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, json.loads(body)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: t", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def assert_envelope(status: int, headers: dict, body: dict, expected: int) -> dict:
    assert status == expected, body
    assert headers["Content-Type"].startswith("application/json")
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


GUNICORN_CASES = {
    "header over 8 KB": (post("/predict", b"{}", "Content-Type: application/json",
                              "X-Pipe-Next: " + ",".join(["sentiment"] * 1000)), 431),
    "150 headers": (post("/predict", b"{}", *[f"X-H{i}: v" for i in range(150)]), 431),
    "5 KB request line": (f"GET /{'a' * 5000} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), 414),
    "Content-Length abc": (post("/predict", b"{}", "Content-Length: abc"), 400),
    "Content-Length and chunked": (post("/predict", chunked(b"{}"), "Content-Length: 4",
                                        "Transfer-Encoding: chunked"), 400),
    "garbage request line": (b"\x16\x03\x01garbage\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(GUNICORN_CASES))
def test_what_gunicorn_refuses_is_answered_in_our_envelope(urls, case):
    request, expected = GUNICORN_CASES[case]
    assert_envelope(*raw(urls["text_cleaner"], request), expected)


def test_a_bad_chunk_size_is_a_400_not_a_500(urls):
    request = post("/predict", b"zz\r\n{}\r\n0\r\n\r\n", "Content-Type: application/json",
                   "Transfer-Encoding: chunked")
    assert_envelope(*raw(urls["text_cleaner"], request), 400)


def test_a_chunked_body_over_the_limit_is_a_413_and_never_parsed(urls):
    body = chunked(b'{"text":"I hate this"}', *[b" " * (1024 * 1024)] * 10, b"GARBAGE")
    request = post("/predict", body, "Content-Type: application/json",
                   "Transfer-Encoding: chunked")
    error = assert_envelope(*raw(urls["sentiment"], request), 413)
    assert error["code"] == "payload_too_large"


def test_a_20_mb_chunked_string_is_a_413(urls):
    pieces = [b'{"text": "'] + [b"a" * (1024 * 1024)] * 20 + [b'"}']
    request = post("/predict", chunked(*pieces), "Content-Type: application/json",
                   "Transfer-Encoding: chunked")
    assert_envelope(*raw(urls["sentiment"], request), 413)


def test_a_chunked_body_within_the_limit_is_read_whole(urls):
    request = post("/predict", chunked(b'{"text": "I love', b' this"}'),
                   "Content-Type: application/json", "Transfer-Encoding: chunked")
    status, _, body = raw(urls["sentiment"], request)
    assert status == 200 and body["result"]["label"] == "positive"


@pytest.mark.parametrize("service", ["sentiment", "tweet_sentiment", "text_cleaner"])
def test_text_starting_with_whitespace_is_valid(urls, service):
    answer = requests.post(f"{urls[service]}/predict", json={"text": " enjoy !"}, timeout=10)
    assert answer.status_code == 200, answer.text


BAD_TEXT = {
    "lone surrogate escape": b'{"text": "ok \\ud800 ok"}',
    "bytes that are not UTF-8": b'{"text": "ok \xed\xa0\x80 ok"}',
    "600-deep nesting in a field": b'{"text": "ok", "zz": ' + b"[" * 600 + b"]" * 600 + b"}",
}


@pytest.mark.parametrize("service", ["sentiment", "tweet_sentiment"])
@pytest.mark.parametrize("case", sorted(BAD_TEXT))
def test_malformed_text_is_a_400_naming_the_field(urls, service, case):
    answer = requests.post(f"{urls[service]}/predict", data=BAD_TEXT[case], timeout=10,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    details = answer.json()["error"]["details"]
    assert any(key.split(".")[0] in ("text", "zz") for key in details), details


def series_count(url: str) -> int:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def test_invented_methods_do_not_grow_the_metrics(urls):
    import random
    url = urls["text_cleaner"]
    for method in ("BREW", "QWXZ"):  # the "other" series exists from here on
        raw(url, f"{method} /predict HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    series_count(url)  # reading /metrics adds its own series once
    before = series_count(url)
    rng = random.Random(5)
    with requests.Session() as session:
        for _ in range(300):
            method = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
            session.request(method, f"{url}/predict", timeout=10)
    assert series_count(url) == before


# ------------------------------------------------------------------ bounded work

@contextlib.contextmanager
def threads_held(url: str, seconds: float, count: int = 2):
    """``count`` requests that sleep ``seconds`` in the service: while inside, every
    thread of the two-thread test service is busy."""
    holders = [threading.Thread(target=requests.post, args=(f"{url}/predict",),
                                kwargs={"json": {"seconds": seconds}, "timeout": 20})
               for _ in range(count)]
    for holder in holders:
        holder.start()
    time.sleep(0.5)  # both requests are asleep in the service by now
    try:
        yield
    finally:
        for holder in holders:
            holder.join()

@pytest.fixture(scope="module")
def slowpoke(service_pool):
    """A two-thread service whose requests take as long as they ask (bench.apps')."""
    from common.core.registry import ServiceEntry
    entry = ServiceEntry(name="slow", app="bench.apps:create_slow_app()", port=0, url="")
    return service_pool.start([entry], {"MODELCHAIN_THREADS": "2"})["slow"]


def test_requests_waiting_for_a_busy_service_are_answered_not_left_waiting(slowpoke):
    with threads_held(slowpoke, 4):
        started = time.monotonic()
        late = requests.post(f"{slowpoke}/predict", json={}, timeout=20,
                             headers={"X-Deadline-Ms": "500"})
        late_after = time.monotonic() - started
        busy = requests.post(f"{slowpoke}/predict", json={}, timeout=20)
        busy_after = time.monotonic() - started
    assert late.status_code == 504 and late.json()["error"]["code"] == "deadline_exceeded"
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert late_after < 3 and busy_after < 3.5  # both long before the sleepers woke
    assert requests.post(f"{slowpoke}/predict", json={}, timeout=10).status_code == 200


def test_a_chain_through_a_service_again_is_refused_at_once(urls):
    answer = requests.post(f"{urls['text_cleaner']}/predict", json={"text": "hi"}, timeout=10,
                           headers={"X-Pipe-Next": ", ".join(["text_cleaner[text]"] * 12)})
    assert answer.status_code == 400 and "at most 8" in answer.json()["error"]["message"]
    loop = requests.post(f"{urls['text_cleaner']}/predict", json={"text": "hi"}, timeout=10,
                         headers={"X-Pipe-Next": "sentiment[text], text_cleaner[text]"})
    assert loop.status_code == 400 and "once" in loop.json()["error"]["message"]
    again = requests.post(f"{urls['text_cleaner']}/predict", json={"text": "hi"}, timeout=10,
                          headers={"X-Pipe-Next": "sentiment[text], sentiment[text]"})
    assert again.status_code == 400


def test_clients_that_never_finish_their_headers_do_not_silence_the_service(slowpoke):
    sockets = []
    host, port = urlsplit(slowpoke).hostname, urlsplit(slowpoke).port
    try:
        for _ in range(12):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            sockets.append(sock)
        started = time.monotonic()
        answer = requests.post(f"{slowpoke}/predict", json={}, timeout=30)
        assert time.monotonic() - started < 3  # answered (200, or 503 busy), not stalled
        assert answer.status_code in (200, 503) and answer.headers["Content-Type"].startswith(
            "application/json")
    finally:
        for sock in sockets:
            sock.close()


def test_idle_connections_hold_no_thread(slowpoke):
    host, port = urlsplit(slowpoke).hostname, urlsplit(slowpoke).port
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(6)]
    try:
        answer = requests.post(f"{slowpoke}/predict", json={}, timeout=10)
        assert answer.status_code == 200  # not 503: the 6 silent sockets took no thread
    finally:
        for sock in idle:
            sock.close()


def test_the_deadline_counts_from_the_request_not_from_the_connection(slowpoke):
    body = b"{}"
    request = post("/predict", body, "Content-Type: application/json",
                   f"Content-Length: {len(body)}", "X-Deadline-Ms: 1000")
    parts = urlsplit(slowpoke)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        time.sleep(1.3)  # an early-opened (pooled) connection, used later
        sock.sendall(request)
        status = int(sock.recv(65536).split(b" ", 2)[1])
    assert status == 200


def test_a_deadline_written_in_the_body_is_not_read_as_a_header(slowpoke):
    with threads_held(slowpoke, 3):
        body = b"x\r\nX-Deadline-Ms: 1\r\n"
        status, _, answer = raw(slowpoke, post("/predict", body, "Content-Type: text/plain",
                                               f"Content-Length: {len(body)}"))
        assert status == 503 and answer["error"]["code"] == "busy"  # queue wait, not 504


def test_a_queued_oip_request_is_refused_in_the_protocols_form(slowpoke):
    with threads_held(slowpoke, 3):
        answer = requests.post(f"{slowpoke}/v2/models/slow/infer", timeout=20, json={
            "inputs": [{"name": "seconds", "shape": [1], "datatype": "FP64", "data": [0]}]})
        assert answer.status_code == 503 and isinstance(answer.json()["error"], str)
