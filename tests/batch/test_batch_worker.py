"""The queue worker on a real redis-server and real gunicorn: workers share a stream,
one is killed mid-batch, every message still ends with exactly one stored result."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from common.batch.store import Store
from common.core.registry import ROOT
from tests.helpers.batch import subprocess_env, wait_until

pytestmark = pytest.mark.integration

GROUP = "scorers"


def start_worker(name: str, stream: str, redis_url: str, service_url: str, log_dir,
                 *extra: str) -> subprocess.Popen:
    """A worker subprocess; the Redis URL comes from the environment, as in production.
    Claims after 3 s idle: long enough that a slow call on a loaded machine does not let
    the other worker claim a batch the test has just frozen mid-way."""
    command = [sys.executable, "-m", "common.batch.worker", "text_cleaner",
               "--stream", stream, "--results-stream", f"{stream}:out", "--group", GROUP,
               "--consumer", name, "--url", service_url, "--batch-size", "5",
               "--block-ms", "100", "--claim-idle-ms", "3000", "--drain", *extra]
    env = {**subprocess_env(), "MODELCHAIN_REDIS_URL": redis_url}
    log = open(log_dir / f"{name}.log", "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child has its own descriptor
    return process


def pending_of(client: redis.Redis, stream: str, consumer: str) -> int:
    """Messages delivered to ``consumer`` and not acknowledged yet."""
    summary = client.xpending(stream, GROUP)
    return sum(int(c["pending"]) for c in summary["consumers"] if c["name"] == consumer)


def produce(client: redis.Redis, stream: str, count: int) -> list[str]:
    """XADD ``count`` inputs with ids; returns the ids."""
    ids = [f"m{i}" for i in range(count)]
    with client.pipeline() as pipe:
        for i, item_id in enumerate(ids):
            pipe.xadd(stream, {"id": item_id, "data": json.dumps({"text": f"#Msg{i} @x"})})
        pipe.execute()
    return ids


def results_by(client: redis.Redis, stream: str) -> list[dict]:
    """Every entry of the results stream."""
    return [fields for _, fields in client.xrange(f"{stream}:out")]


def wait_stopped(pid: int, timeout: float = 10.0) -> None:
    """Until the kernel shows ``pid`` stopped (state T in /proc/<pid>/stat)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t"):
            return
        time.sleep(0.001)
    raise TimeoutError(f"process {pid} did not stop")


def freeze_mid_batch(process: subprocess.Popen, client: redis.Redis, stream: str,
                     name: str) -> int:
    """SIGSTOP the worker at a moment it holds unacknowledged messages; their count."""
    while True:
        process.send_signal(signal.SIGSTOP)
        wait_stopped(process.pid)  # the signal is delivered later: it could still ack
        held = pending_of(client, stream, name)
        if held:
            return held
        process.send_signal(signal.SIGCONT)  # between two batches: let it read the next


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(tmp_path, redis_url,
                                                             cleaner_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = "kill-test"
    ids = produce(client, stream, 3000)
    first = start_worker("A", stream, redis_url, cleaner_url, tmp_path)
    second = None
    try:
        wait_until(lambda: client.exists(f"{stream}:out") and
                   client.xlen(f"{stream}:out") >= 50, 60, "worker A's first results")
        second = start_worker("B", stream, redis_url, cleaner_url, tmp_path)
        wait_until(lambda: any(fields["consumer"] == "B" for _, fields in
                               client.xrevrange(f"{stream}:out", count=20)),
                   60, "worker B's first results")
        held = freeze_mid_batch(first, client, stream, "A")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert held > 0 and pending_of(client, stream, "A") == held
        assert second.wait(90) == 0, (tmp_path / "B.log").read_text()
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.kill()
                process.wait(10)
    results = results_by(client, stream)
    assert sorted(r["id"] for r in results) == sorted(ids)  # exactly one result each
    assert {r["consumer"] for r in results} == {"A", "B"}
    assert client.xpending(stream, GROUP)["pending"] == 0
    assert client.hlen(f"{stream}:out:ids") == len(ids)
    by_id = {r["id"]: r for r in results}
    assert json.loads(by_id["m12"]["result"])["hashtags"] == ["Msg12"]


def test_the_datastore_sink_stores_each_item_id_once(tmp_path, redis_url, cleaner_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = "db-test"
    for i in range(40):  # every id twice: a producer that retried its XADDs
        client.xadd(stream, {"id": f"d{i % 20}", "data": json.dumps({"text": f"hi #Tag{i % 20}"})})
    client.xadd(stream, {"id": "bad", "data": "{not json"})
    client.xadd(stream, {"id": "empty", "data": json.dumps({"text": ""})})
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    worker = start_worker("C", stream, redis_url, cleaner_url, tmp_path, "--sink", "db",
                          "--db", db, "--job", "queue-job")
    assert worker.wait(90) == 0, (tmp_path / "C.log").read_text()
    rows = {r.item_id: r for r in Store(db).iter_items("queue-job")}
    assert sorted(rows) == sorted([f"d{i}" for i in range(20)] + ["bad", "empty"])
    assert json.loads(rows["d3"].result)["hashtags"] == ["Tag3"]
    assert json.loads(rows["bad"].error)["code"] == "invalid_record"
    assert json.loads(rows["empty"].error)["code"] == "invalid_input"
    assert client.xpending(stream, GROUP)["pending"] == 0
