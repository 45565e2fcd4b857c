"""Process groups in one process: dispatch by port, in-process calls that keep the
contract (errors, per-item errors, auth, deadlines, metrics), and no HTTP on the way."""
from __future__ import annotations

import pytest
from urllib3.connectionpool import HTTPConnectionPool

from common.client import Client
from common.client import local as colocated
from common.core.errors import DeadlineExceeded, InvalidInput, Unauthorized, UpstreamError
from common.serving.group import GroupApp, create_group_app
from tests.helpers.words import make_app

NOOP = "bench.apps:create_noop_app({name!r}, {{'LOAD_MODEL': 'sync'}})"


@pytest.fixture
def group():
    built = GroupApp("g", {"words": (9001, make_app(MAX_BATCH_SIZE=4)),
                           "echo": (9002, _noop("echo"))})
    built.register()
    yield built
    built.unregister()


def _noop(name):
    from bench.apps import create_noop_app
    return create_noop_app(name, {"LOAD_MODEL": "sync"})


@pytest.fixture
def http_sends(monkeypatch):
    """Every request the pipe client sends over a socket (a counting transport)."""
    sent = []
    original = HTTPConnectionPool.urlopen
    monkeypatch.setattr(HTTPConnectionPool, "urlopen",
                        lambda self, method, url, *args, **kw: sent.append(url)
                        or original(self, method, url, *args, **kw))
    return sent


def test_requests_reach_the_member_that_owns_the_port(group):
    assert get(group, 9002, "/metadata").get_json()["name"] == "echo"
    assert get(group, 9001, "/metadata").get_json()["name"] == "words"


def get(group, port, path):
    from werkzeug.test import Client as WsgiClient
    return WsgiClient(group).get(path, base_url=f"http://127.0.0.1:{port}")


def test_a_port_no_member_owns_is_a_json_404(group):
    response = get(group, 9999, "/predict")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_co_located_call_opens_no_socket(group, http_sends):
    client = Client(urls={"words": "http://127.0.0.1:1", "echo": "http://127.0.0.1:1"})
    answer = client.algo("echo").pipe({"text": "one two"}, next=["words"])
    assert answer.result == {"words": 2, "shout": "ONE TWO"}
    assert [h["service"] for h in answer.metadata["hops"]] == ["echo", "words"]
    assert http_sends == []
    # the same transport does see a call to a service that is not in this process
    with pytest.raises(UpstreamError):
        Client(urls={"elsewhere": "http://127.0.0.1:1"}, retries=0).algo(
            "elsewhere").pipe({"text": "a"})
    assert http_sends == ["/predict"]


def test_co_located_errors_are_the_typed_errors_of_http(group):
    client = Client(urls={})
    with pytest.raises(InvalidInput) as error:
        client.algo("words").pipe([{"text": "a"}, {"text": 5}])
    assert error.value.service == "words" and list(error.value.details) == ["1"]
    with pytest.raises(InvalidInput, match="refuses"):
        client.algo("words").pipe({"text": "reject"})


def test_a_co_located_next_stage_that_refuses_is_named(group):
    # per-item errors through a co-located chain: tests/serving/test_colocated.py
    with pytest.raises(InvalidInput, match="Stage words failed") as error:
        Client(urls={}).algo("echo").pipe({"text": "reject"}, next=["words"])
    assert error.value.details["stage"] == "words"


def test_a_co_located_callee_checks_its_api_keys(monkeypatch):
    locked = GroupApp("g", {"words": (9001, make_app(API_KEYS="secret"))})
    locked.register()
    try:
        with pytest.raises(Unauthorized):
            Client(urls={}, api_key="wrong").algo("words").pipe({"text": "a"})
        assert Client(urls={}, api_key="secret").algo("words").pipe(
            {"text": "a"}).result["words"] == 1
    finally:
        locked.unregister()


def test_the_deadline_holds_in_process(group):
    from common.core import context as ctx
    token = ctx.activate(ctx.RequestContext(deadline=0.0))
    try:
        with pytest.raises(DeadlineExceeded):
            Client(urls={}).algo("words").pipe({"text": "a"})
    finally:
        ctx.deactivate(token)


def test_in_process_calls_are_counted_on_the_callee(group):
    Client(urls={}).algo("words").pipe({"text": "a b"})
    metrics = group.by_name["words"].test_client().get("/metrics").get_data(as_text=True)
    assert 'modelchain_colocated_requests_total{service="words",status="200",version="2.1.0"} 1.0' in metrics
    assert 'route="/predict",service="words",status="200",version="2.1.0"} 1.0' in metrics


def test_a_caller_cannot_change_what_the_cache_gives_the_next(monkeypatch):
    cached = GroupApp("g", {"words": (9001, make_app(CACHE_SIZE=8))})
    cached.register()
    try:
        client = Client(urls={})
        client.algo("words").pipe({"text": "a"}).result["shout"] = "changed"
        assert client.algo("words").pipe({"text": "a"}).result["shout"] == "A"
    finally:
        cached.unregister()


def test_colocate_off_keeps_members_on_http(monkeypatch):
    monkeypatch.setenv("MODELCHAIN_COLOCATE", "0")
    built = create_group_app("g", members={"noop_x": 9003},
                             apps={"noop_x": NOOP.format(name="noop_x")})
    assert "noop_x" not in colocated.names() and built.members


def test_a_group_takes_its_members_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELCHAIN_GROUP_MEMBERS", "noop_y=9004")
    built = create_group_app("g", apps={"noop_y": NOOP.format(name="noop_y")})
    try:
        assert list(built.by_port) == ["9004"] and colocated.find("noop_y") is not None
    finally:
        built.unregister()


def test_a_group_without_members_says_how_to_give_it_some(monkeypatch):
    monkeypatch.delenv("MODELCHAIN_GROUP_MEMBERS", raising=False)
    with pytest.raises(SystemExit, match="no members"):
        create_group_app("nobody")


def _slow_app(release):
    def app(environ, start_response):
        release.wait(5)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]
    return app


def _call(group, port):
    from werkzeug.test import Client as WsgiClient
    # buffered: read and closed as a server does, which gives the member its slot back
    return WsgiClient(group).get("/x", base_url=f"http://127.0.0.1:{port}", buffered=True)


def test_a_flooded_member_answers_busy_and_leaves_the_others_alone():
    import threading
    import time
    release = threading.Event()
    quick = _noop("quick")
    group = GroupApp("g", {"slow": (9101, _slow_app(release)), "quick": (9102, quick)},
                     threads={"slow": 1, "quick": 1}, max_wait=0.2)
    holder = threading.Thread(target=_call, args=(group, 9101))
    holder.start()
    time.sleep(0.05)                       # the slow member's one thread is taken
    answers = {}
    waiter = threading.Thread(target=lambda: answers.update(waited=_call(group, 9101)))
    waiter.start()
    time.sleep(0.05)                       # ... and its one waiting place
    started = time.monotonic()
    refused = _call(group, 9101)
    assert refused.status_code == 503 and time.monotonic() - started < 0.1
    assert refused.get_json()["error"]["code"] == "busy"
    assert refused.headers["Retry-After"] == "1"
    assert _call(group, 9102).status_code == 404   # the other member still answers
    waiter.join()
    assert answers["waited"].status_code == 503    # it waited its 0.2 s, then gave up
    release.set()
    holder.join()
    assert _call(group, 9101).status_code == 200   # slots come back once answered
