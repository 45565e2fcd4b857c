"""``make run`` (``python -m tools.launcher``) as a user lives with it: names by spaces
or commas, typos answered with the valid names, ports in use found before any URL is
printed, workers and threads from the environment, a request log, one service stopping
while the others keep running, and one service restarted alone."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from common.core.registry import ROOT, ServiceEntry
from tests.conftest import free_port
from tools.launcher import gunicorn_command, parse_names, ports_taken, process_setting

KNOWN = ["text_cleaner", "sentiment", "tweet_sentiment", "catalog"]


@pytest.mark.parametrize("words,names", [
    (["text_cleaner sentiment"], ["text_cleaner", "sentiment"]),
    (["text_cleaner,sentiment"], ["text_cleaner", "sentiment"]),
    (["text_cleaner, sentiment", "catalog"], ["text_cleaner", "sentiment", "catalog"]),
    (["sentiment,sentiment"], ["sentiment"]),
    ([], []),
])
def test_services_are_named_by_spaces_or_commas(words, names):
    assert parse_names(words, KNOWN) == names


def test_a_typo_lists_the_valid_names_and_the_closest_one():
    with pytest.raises(ValueError) as info:
        parse_names(["text_cleaner,sentimnet"], KNOWN)
    message = str(info.value)
    assert "sentimnet (did you mean sentiment?)" in message
    assert all(name in message for name in KNOWN)


def test_workers_and_threads_come_from_the_environment_first():
    entry = ServiceEntry(name="sentiment", app="x:create_app()", port=1, url="", threads=32)
    assert process_setting(entry, "THREADS", {}) == 32
    assert process_setting(entry, "WORKERS", {"MODELCHAIN_WORKERS": "2"}) == 2
    assert process_setting(entry, "WORKERS", {"MODELCHAIN_WORKERS": "2",
                                              "SENTIMENT_WORKERS": "3"}) == 3
    command = gunicorn_command(entry, "127.0.0.1:1", {"MODELCHAIN_THREADS": "4"})
    assert command[command.index("--threads") + 1] == "4"
    with pytest.raises(ValueError):
        process_setting(entry, "WORKERS", {"MODELCHAIN_WORKERS": "0"})


def test_make_help_lists_the_targets():
    listed = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0
    for target in ("run", "restart", "test", "service", "batch", "bench", "install"):
        assert any(line.startswith(target + " ") for line in listed.stdout.splitlines())


def registry_file(tmp_path: Path, ports: dict[str, int]) -> Path:
    document = {"services": {name: {"app": f"services.{name}:create_app()", "port": port}
                             for name, port in ports.items()}}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def launcher_env(registry: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELCHAIN_")}
    return {**env, "PYTHONPATH": str(ROOT), "MODELCHAIN_REGISTRY": str(registry), **extra}


def test_a_port_in_use_is_found_before_any_url_is_printed(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        registry = registry_file(tmp_path, {"text_cleaner": taken, "catalog": free_port()})
        assert ports_taken([ServiceEntry("text_cleaner", "x", taken, "")]) == [
            f"text_cleaner (127.0.0.1:{taken})"]
        run = subprocess.run(["make", "--no-print-directory", "run",
                              f"LOG_DIR={tmp_path}/logs"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env=launcher_env(registry))
    assert run.returncode != 0
    assert run.stdout == ""  # no URL printed: none of them would be ours
    assert f"text_cleaner (127.0.0.1:{taken})" in run.stderr
    assert not (tmp_path / "logs").exists()  # nothing was started


def wait_for_lines(process: subprocess.Popen, count: int, timeout: float) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line.strip())
        elif process.poll() is not None:
            break
    return lines


def workers_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


@pytest.mark.integration
def test_one_service_stopping_leaves_the_others_serving(tmp_path):
    ports = {"text_cleaner": free_port(), "catalog": free_port()}
    logs = tmp_path / "logs"
    env = launcher_env(registry_file(tmp_path, ports), MODELCHAIN_WORKERS="2")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tools.launcher", "--log-dir", str(logs),
         "text_cleaner,catalog"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=open(tmp_path / "launcher.err", "w"), text=True, start_new_session=True)
    try:
        printed = wait_for_lines(launcher, 2, timeout=120)
        assert printed == [f"text_cleaner http://127.0.0.1:{ports['text_cleaner']}",
                           f"catalog http://127.0.0.1:{ports['catalog']}"]
        catalog = f"http://127.0.0.1:{ports['catalog']}"
        cleaner_pid = int((logs / "text_cleaner.pid").read_text())
        assert len(workers_of(cleaner_pid)) == 2  # MODELCHAIN_WORKERS honoured
        assert requests.get(f"{catalog}/healthz", timeout=5).status_code == 200

        before = workers_of(int((logs / "catalog.pid").read_text()))
        restart = subprocess.run(["make", "--no-print-directory", "restart",
                                  "SERVICE=catalog", f"LOG_DIR={logs}"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=30)
        assert restart.returncode == 0, restart.stderr
        deadline = time.monotonic() + 60
        while set(workers_of(int((logs / "catalog.pid").read_text()))) & set(before) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not set(workers_of(int((logs / "catalog.pid").read_text()))) & set(before)

        os.kill(cleaner_pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while "text_cleaner stopped" not in (tmp_path / "launcher.err").read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "the others keep running" in (tmp_path / "launcher.err").read_text()
        assert launcher.poll() is None
        ready = requests.get(f"{catalog}/readyz", timeout=5)
        assert ready.status_code == 200
        assert "GET /readyz" in (logs / "catalog.log").read_text()  # the request log
    finally:
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{ports['catalog']}/healthz", timeout=2)


@pytest.mark.integration
@pytest.mark.parametrize("when", ["serving", "starting"])
def test_two_sigterms_at_once_stop_everything(tmp_path, when):
    """timeout(1) and make both send SIGTERM: the launcher must still stop, at once."""
    port = free_port()
    env = launcher_env(registry_file(tmp_path, {"text_cleaner": port}))
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tools.launcher", "--log-dir", str(tmp_path / "logs"),
         "text_cleaner"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    if when == "serving":
        assert wait_for_lines(launcher, 1, timeout=120)
    else:
        time.sleep(0.3)
    launcher.send_signal(signal.SIGTERM)
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_restart_with_a_typo_lists_the_valid_names():
    made = subprocess.run(["make", "--no-print-directory", "restart", "SERVICE=sentimnet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode != 0 and "did you mean sentiment?" in made.stderr
