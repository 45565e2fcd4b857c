"""``make bench-peers`` without its environment: the peers' files define what the script
loads, their pins hold, the sentiment work is ours, and the figures are the medians of
per-round ratios against our baseline of the same round.

The peers' own environment (BentoML, Ray) is not installed by ``make test``; these
tests read their files and run the script's logic in the project's environment."""
from __future__ import annotations

import ast
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from bench import peers
from bench.load import LoadResult

PEERS_DIR = Path(peers.__file__).parent


def _tree(name: str) -> ast.Module:
    return ast.parse((PEERS_DIR / name).read_text(), name)


def _classes(module: ast.Module) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in module.body if isinstance(n, ast.ClassDef)}


def _depends(cls: ast.ClassDef) -> list[str]:
    """The services a BentoML class names in ``bentoml.depends(...)``."""
    return [call.args[0].id for call in ast.walk(cls) if isinstance(call, ast.Call)
            and getattr(call.func, "attr", "") == "depends"]


def test_the_bentoml_services_the_script_serves_exist_and_chain():
    classes = _classes(_tree("bento_services.py"))
    assert {"Noop", "NoopA", "Sentiment"} <= set(classes)
    assert _depends(classes["NoopA"]) == ["NoopB"]
    assert _depends(classes["NoopB"]) == ["NoopC"]
    assert _depends(classes["NoopC"]) == [] and _depends(classes["Noop"]) == []


def test_the_ray_app_serves_the_three_routes_on_loopback():
    source = (PEERS_DIR / "ray_app.py").read_text()
    ast.parse(source)
    for route in ('"/noop"', '"/chain"', '"/sentiment"'):
        assert route in source
    assert '_node_ip_address="127.0.0.1"' in source and "include_dashboard=False" in source
    assert '"host": "127.0.0.1"' in source


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: not pinned: {line}"
            pins[name.split("[")[0].lower().replace("_", "-")] = version
    return pins


def test_the_peers_environment_is_pinned_with_our_tensorflow():
    frozen = _pins(PEERS_DIR / "requirements.txt")
    ours = _pins(Path(peers.ROOT) / "requirements.txt")
    assert frozen["bentoml"] == "1.4.40" and frozen["ray"] == "2.60.0"
    assert frozen["tensorflow-cpu"] == ours["tensorflow-cpu"]
    assert frozen["vadersentiment"] == ours["vadersentiment"]


def test_the_peers_compute_what_our_sentiment_model_computes():
    from bench.peers.peer_model import Sentiment
    from services.sentiment.classifier import SentimentClassifier

    texts = ["What a lovely day!", "@bob this is the worst service ever, I hate waiting"]
    peer, ours = Sentiment(), SentimentClassifier.load()
    for text, expected in zip(texts, ours.predict(texts)):
        got = peer.predict(text)
        assert got["label"] == expected["label"]
        assert np.allclose(list(got["scores"].values()), list(expected["scores"].values()),
                           atol=1e-5)


def _run(rps: float, p50: float, cpu: float) -> LoadResult:
    return LoadResult(name="x", concurrency=1, requests=int(rps * 10), duration_s=10.0,
                      p50_ms=p50, p99_ms=p50 * 3, cpu_ms=cpu)


def _measured(system: str, runs: list[LoadResult], baseline=False) -> peers.Measured:
    case = peers.Case(system, peers.NOOP, f"{system} case", "http://127.0.0.1:1",
                      lambda: [], ["{}"], baseline=baseline)
    return peers.Measured(case, 1, runs)


def test_ratios_are_medians_of_each_rounds_ratio_to_our_baseline():
    # The machine slows down in round 2 for both: the per-round ratio stays 3, where the
    # ratio of the medians (12 / 4 ... 3 / 2) would say 1.5.
    ours = _measured("ours", [_run(1000, 1.0, 1.0), _run(250, 4.0, 4.0), _run(500, 2.0, 2.0)],
                     baseline=True)
    peer = _measured("ray", [_run(250, 3.0, 3.0), _run(62.5, 12.0, 12.0), _run(500, 2.0, 8.0)])
    rows = peers.summaries([ours, peer], peers.NOOP)
    assert rows[0]["p50_ratio"] == rows[0]["cpu_ratio"] == rows[0]["rps_ratio"] == 1.0
    assert rows[1]["p50_ms"] == 3.0 and rows[1]["cpu_ms"] == 8.0
    assert rows[1]["p50_ratio"] == 3.0 and rows[1]["cpu_ratio"] == 3.0
    assert rows[1]["rps_ratio"] == 0.25
    text = peers.table(rows, peers.NOOP, rounds=3).render()
    assert "ray case" in text and "req/s ÷ ours" in text


@pytest.mark.parametrize("values, expected", [([3.0, None, 1.0, 2.0], 2.0), ([None], None),
                                              ([], None)])
def test_median_skips_missing_figures(values, expected):
    assert peers.median(values) == expected


def test_descendants_finds_the_whole_tree_of_a_process():
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"],
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(peers.descendants(shell.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peers.descendants(shell.pid)[0] == shell.pid
        assert len(peers.descendants(shell.pid)) == 3
        assert peers.started(shell.pid) == peers.started(shell.pid) is not None
    finally:
        for pid in reversed(peers.descendants(shell.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shell.wait(5)
    assert peers.started(shell.pid) is None
