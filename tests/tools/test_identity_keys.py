"""Identity keys for the calls policy (tools/identity.py): made once and kept, private
ones readable by their owner only, each process handed its own; and `make run` with
``MODELCHAIN_POLICY=1`` serving with the policy on."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import pytest
import requests
import yaml

from common.core import identity
from common.core.registry import ROOT, ProcessUnit, load_registry
from deploy import generate
from tests.conftest import free_port
from tests.tools.test_launcher import launcher_env, wait_for_lines
from tools import identity as tool


def test_keys_are_made_once_private_and_listed_publicly(tmp_path):
    folder = tmp_path / "keys"
    made = tool.ensure_keys(folder, ["alpha", "beta", "alpha"])
    assert sorted(p.name for p in folder.iterdir()) == ["alpha.key", "beta.key", "public-keys"]
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(made.key_file("alpha")).st_mode) == 0o600
    public = identity.parse_public_keys(made.public_file.read_text())
    signer = identity.Signer("alpha", made.key_file("alpha").read_text())
    assert identity.Verifier(public, ["beta"]).verify(
        signer.header("beta", "GET", "/metadata", "r"), "GET", "/metadata", "r") == "alpha"
    before = made.key_file("alpha").read_text()
    again = tool.ensure_keys(folder, ["alpha", "gamma"])      # kept, and one added
    assert again.key_file("alpha").read_text() == before
    assert set(identity.parse_public_keys(again.public_file.read_text())) == \
        {"alpha", "beta", "gamma"}


def test_each_process_gets_only_its_members_keys(tmp_path):
    registry = load_registry(ROOT / "deploy" / "registry.yaml", environ={})
    made = tool.Identities(tmp_path)
    alone = made.environment(ProcessUnit("sentiment_v1_0_0", (registry["sentiment_v1_0_0"],)))
    assert alone == {"SENTIMENT_IDENTITY_KEY_FILE": str(tmp_path / "sentiment.key"),
                     "MODELCHAIN_IDENTITY_PUBLIC_KEYS_FILE": str(tmp_path / "public-keys")}
    group = generate.unit_of("meme", registry)
    keys = {k for k in made.environment(group) if k.endswith("_IDENTITY_KEY_FILE")}
    assert keys == {f"{m.service_name.upper()}_IDENTITY_KEY_FILE" for m in group.members}


def test_the_command_writes_keys_and_prints_the_cluster_commands(tmp_path, capsys):
    assert tool.main([str(tmp_path), "sentiment", "meme"]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "sentiment.key").exists() and (tmp_path / "meme.key").exists()
    assert "kubectl create secret generic sentiment-identity --from-file=identity-key=" \
        f"{tmp_path / 'sentiment.key'}" in printed
    assert "kubectl create configmap modelchain-identity --from-file=public-keys=" in printed
    # the names the generated Kubernetes files read
    assert generate.PUBLIC_KEYS_CONFIG == ("modelchain-identity", "public-keys")
    assert generate.IDENTITY_SECRET_KEY == "identity-key"
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path), "sentimnet"])
    assert "not registered: sentimnet" in capsys.readouterr().err


@pytest.mark.integration
def test_make_run_with_the_policy_on_enforces_the_registrys_calls(tmp_path):
    ports = {"noop_a": free_port(), "noop_b": free_port()}
    services = {name: {"app": f"bench.apps:create_noop_app({name!r})", "port": port}
                for name, port in ports.items()}
    services["noop_a"]["calls"] = []
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"services": services}))
    # outside callers need a key, and the services are given none to send: a call from
    # one to the other gets in by its signature alone
    env = launcher_env(registry, MODELCHAIN_POLICY="1", MODELCHAIN_API_KEYS="k-out",
                       MODELCHAIN_IDENTITY_DIR=str(tmp_path / "identity"))
    key = {"Authorization": "Bearer k-out"}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tools.launcher", "--log-dir", str(tmp_path / "logs")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(tmp_path / "err", "w"),
        text=True, start_new_session=True)
    try:
        assert len(wait_for_lines(launcher, 2, timeout=120)) == 2, \
            (tmp_path / "err").read_text()
        a, b = (f"http://127.0.0.1:{ports[n]}" for n in ("noop_a", "noop_b"))
        assert requests.get(f"{a}/metadata", timeout=10, headers=key).json()["permissions"] == {
            "enforced": True, "identity": "noop_a", "may_call": []}
        refused = requests.post(f"{a}/predict", json={"text": "hi"}, timeout=10,
                                headers={"X-Pipe-Next": "noop_b", **key})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["details"]["caller"] == "noop_a"
        # noop_b calls noop_a signed, with the key make run handed it
        chained = requests.post(f"{b}/predict", json={"text": "hi"}, timeout=10,
                                headers={"X-Pipe-Next": "noop_a", **key})
        assert chained.status_code == 200, chained.text
        assert [h["service"] for h in chained.json()["metadata"]["hops"]] == \
            ["noop_b", "noop_a"]
        assert "calls policy on" in (tmp_path / "err").read_text()
    finally:
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0
    assert sorted(p.name for p in (tmp_path / "identity").iterdir()) == \
        ["noop_a.key", "noop_b.key", "public-keys"]
