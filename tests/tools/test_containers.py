"""``tools/containers`` (``make images``, ``make compose-test``), the parts that run
without images: the chain's compose file and its checks, the traffic guard, the
counters read from a service's ``/metrics``, and the Docker daemon's life: a real
``dockerd`` started with state of its own and gone after, and one that cannot start,
reported plainly. The images and the stack themselves are ``make compose-test``'s.

The daemon tests need root and Debian's docker.io (``make test`` installs it:
scripts/install-system-deps.sh); without them they skip saying so, and fail in CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.core.registry import ROOT
from tools.containers import compose_test, daemon
from tools.containers.cli import Failure

COMPOSE_V1 = shutil.which("docker-compose")


def need(condition: bool, why: str) -> None:
    """Skip (fail in CI) unless ``condition``."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def files(tmp_path):
    """The chain's compose file and this run's override, written as the test writes them."""
    return compose_test.write_files(tmp_path, compose_test.chain_registry())


def offline_stack(files) -> compose_test.Stack:
    """A Stack for ``docker-compose config``, which reads files and no daemon."""
    record = daemon.Daemon(host="unix:///nonexistent.sock", owned=False, version="")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env.update(CATALOG_PORT="18100", MODELCHAIN_PUBLISH_ADDRESS="127.0.0.1")
    return compose_test.Stack(project="mctestunit", files=list(files), daemon=record, env=env,
                              services=compose_test.chain_registry(), front=False)


# ------------------------------------------------------------------ the chain's file
def test_the_chain_is_each_service_alone_in_the_generated_file(files):
    document = yaml.safe_load(files[0].read_text())
    names = {"catalog", "text-cleaner", "sentiment", "tweet-sentiment"}
    assert names <= set(document["services"])
    assert set(document["services"]) - names <= {compose_test.FRONT}
    for service in document["services"].values():
        assert "networks" not in service           # no group: nothing answers for another
    tweet = document["services"]["tweet-sentiment"]
    assert tweet["depends_on"] == {"text-cleaner": {"condition": "service_healthy"},
                                   "sentiment": {"condition": "service_healthy"}}
    assert tweet["environment"]["MODELCHAIN_URL_SENTIMENT"] == "http://sentiment:8102"


def test_the_override_publishes_on_the_loopback_and_mounts_the_chains_registry(files):
    override = yaml.safe_load(files[1].read_text())["services"]
    for name, entry in compose_test.chain_registry().items():
        service = override[compose_test.dns(name)]
        if name != "catalog":     # the catalog's own publish takes CATALOG_PORT
            assert service["ports"] == [f"127.0.0.1::{entry.port}"]
        mount = service["volumes"][0].split(":")
        assert mount[1:] == ["/etc/modelchain/registry.yaml", "ro"]
        assert set(yaml.safe_load(Path(mount[0]).read_text())["services"]) == set(
            compose_test.CHAIN)


def test_the_chains_files_pass_docker_compose_config_and_the_schema(files):
    need(COMPOSE_V1 is not None, "docker-compose is not installed (apt-get install "
                                 "docker-compose; make test does it as root)")
    compose_test.check_files(offline_stack(files), files[0])


def test_a_port_published_on_every_interface_fails_the_check(files):
    need(COMPOSE_V1 is not None, "docker-compose is not installed")
    override = yaml.safe_load(files[1].read_text())
    override["services"]["sentiment"]["ports"].append("8102:8102")
    files[1].write_text(yaml.safe_dump(override))
    with pytest.raises(Failure, match="not only on 127.0.0.1"):
        compose_test.check_files(offline_stack(files), files[0])


# ------------------------------------------------------------------ traffic
@pytest.mark.parametrize("url", ["http://10.0.0.1:8102/healthz", "http://localhost:8102/",
                                 "https://example.com/", "http://127.0.0.10:80/"])
def test_traffic_goes_to_the_loopback_only(url):
    with pytest.raises(Failure, match="only 127.0.0.1"):
        compose_test.call("GET", url)


def test_predict_calls_are_counted_from_a_services_own_metrics():
    from services.text_cleaner import create_app
    client = create_app({"TESTING": True}).test_client()
    for body in ({"text": "one"}, [{"text": "two"}, {"text": "three"}], {"txt": "bad"}):
        client.post("/predict", json=body)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert compose_test.predict_count(metrics, "text_cleaner") == 3   # the 400 too
    assert compose_test.predict_count(metrics, "sentiment") == 0


# ------------------------------------------------------------------ the daemon
def need_root_and_dockerd() -> None:
    need(os.geteuid() == 0, "starting dockerd needs root")
    need(bool(shutil.which("dockerd")) and Path("/usr/bin/docker").exists(),
         "Debian's docker.io is not installed (apt-get install docker.io; make test "
         "does it as root)")
    need(not daemon.answering(daemon.SYSTEM_SOCKET),
         "a system Docker daemon runs here: the tests would use it instead of starting one")


@pytest.fixture
def own_roots(tmp_path, monkeypatch):
    """The daemon's run folder and data root under ``tmp_path`` (a short run path:
    containerd's socket paths have a length limit)."""
    run_dir = Path(f"/run/mc-test-{os.getpid()}")
    monkeypatch.setattr(daemon, "RUN_DIR", run_dir)
    monkeypatch.setattr(daemon, "DATA_ROOT", tmp_path / "data")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    yield run_dir
    shutil.rmtree(run_dir, ignore_errors=True)


def docker(started: daemon.Daemon, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["/usr/bin/docker", *args], capture_output=True, text=True,
                          env=started.env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def test_a_daemon_started_here_answers_and_nothing_of_it_is_left_after(own_roots):
    need_root_and_dockerd()
    before = set(daemon.interfaces())
    with daemon.docker_daemon() as started:
        assert started.owned and started.version.startswith("20.")
        assert os.environ["DOCKER_HOST"] == started.host == f"unix://{own_roots}/docker.sock"
        pid = int((own_roots / "dockerd.pid").read_text())
        docker(started, "network", "create", "mctest-unit")     # a bridge on the host
        docker(started, "network", "rm", "mctest-unit")
    assert "DOCKER_HOST" not in os.environ
    assert not daemon._alive(pid)
    assert daemon.leftovers(pid, 0, frozenset(before)) == []
    assert not (own_roots / "docker.sock").exists()


def test_a_network_left_in_the_daemon_fails_its_teardown(own_roots):
    """dockerd stops without deleting the bridges of the networks it keeps: a run that
    leaves one is told so, naming the interface left on the host."""
    need_root_and_dockerd()
    network = "?"
    try:
        with pytest.raises(Failure, match="left something behind:\n  network interface br-"):
            with daemon.docker_daemon() as started:
                network = docker(started, "network", "create", "mctest-unit").stdout.strip()
    finally:
        for name in set(daemon.interfaces()):
            if name.startswith("br-") and network.startswith(name[3:]):
                subprocess.run(["ip", "link", "delete", name])
    assert f"br-{network[:12]}" not in daemon.interfaces()


def test_the_leftover_check_sees_a_process_a_mount_and_an_interface(own_roots):
    need(os.geteuid() == 0, "mounting needs root")
    own_roots.mkdir(parents=True)
    (own_roots / "exec").mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(own_roots / "exec")])
    try:
        assert mounted.returncode == 0
        found = daemon.leftovers(sleeper.pid, 0, frozenset(daemon.interfaces()) - {"lo"})
        assert found == [f"process {sleeper.pid} (dockerd) still runs",
                         f"mount {own_roots / 'exec'}", "network interface lo"]
    finally:
        sleeper.kill()
        sleeper.wait()
        subprocess.run(["umount", str(own_roots / "exec")])


def test_a_daemon_that_cannot_run_here_fails_the_run_saying_so(tmp_path):
    """A real dockerd that cannot start (its data root is a file): the run says the
    daemon cannot run on this machine, shows dockerd's own error, and exits 1."""
    need_root_and_dockerd()
    (tmp_path / "data").write_text("not a folder")
    run_dir = f"/run/mc-test-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(MODELCHAIN_DOCKER_RUN=run_dir, MODELCHAIN_DOCKER_DATA=str(tmp_path / "data"),
               PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run([sys.executable, "-m", "tools.containers.compose_test"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert done.returncode == 1
    assert "compose-test: FAILED: the Docker daemon cannot run on this machine" in done.stderr
    assert "points to a file" in done.stderr      # dockerd's own words
