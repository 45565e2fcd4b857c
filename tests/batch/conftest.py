"""Fixtures of the batch tests: real gunicorn services, a real redis-server, inputs."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

from common.core.registry import ServiceEntry
from tests.conftest import free_port

FLAKY_APP = "tests.helpers.flaky_app:create_app()"


@pytest.fixture(scope="session")
def cleaner_url(live_services) -> str:
    """text_cleaner under gunicorn (fast, no model file)."""
    return live_services("text_cleaner")["text_cleaner"]


@pytest.fixture(scope="session")
def flaky(service_pool, tmp_path_factory) -> dict:
    """The flaky service under gunicorn, with small limits so chunking must respect
    them: its URL, its batch log and its reject list (both files)."""
    folder = tmp_path_factory.mktemp("flaky")
    paths = {"log": folder / "batches.jsonl", "reject": folder / "reject.txt"}
    env = {"FLAKY_LOG": str(paths["log"]), "FLAKY_REJECT": str(paths["reject"]),
           "FLAKY_MAX_BATCH_SIZE": "16", "FLAKY_MAX_CONTENT_LENGTH": "4096"}
    entry = ServiceEntry(name="flaky", app=FLAKY_APP, port=0, url="")
    url = service_pool.start([entry], env)["flaky"]
    return {"url": url, **paths}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A real redis-server on a free loopback port, for the session."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is missing: run scripts/install-system-deps.sh as root")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    with open(folder / "redis.log", "wb") as log:
        process = subprocess.Popen(
            [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_redis(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _wait_for_redis(url: str, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url)
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
