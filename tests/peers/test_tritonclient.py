"""The real tritonclient (HTTP) against services on real gunicorn: health, readiness,
model metadata and infer, single and batch, binary data on and off; the same inputs
give the same results as our JSON /predict.

tritonclient pins an ml-dtypes our TensorFlow does not allow, so it lives in its own
environment, ``.venv-peers`` (``make peers``, which ``make test`` runs first).
"""
from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
import requests

from common.core.registry import ROOT
from tests.helpers.image_server import scene_bytes

pytestmark = pytest.mark.integration

PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
SCRIPT = Path(__file__).with_name("triton_calls.py")
TEXTS = ["What a lovely day!", "This is the worst service ever.", "The meeting is at 3pm."]


@pytest.fixture(scope="module")
def urls(live_services):
    if not PEERS_PYTHON.exists():
        pytest.fail("the peers environment is missing: run `make peers` (make test does)")
    return live_services("text_cleaner", "sentiment", "tweet_sentiment", "object_detection")


def triton(url: str, model: str, columns: dict, binary: bool, tmp_path) -> dict:
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(columns))
    result = subprocess.run([str(PEERS_PYTHON), str(SCRIPT), url.removeprefix("http://"),
                             model, str(path), "1" if binary else "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def predicted(url: str, items: list[dict]) -> list[dict]:
    answer = requests.post(f"{url}/predict", json=items, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model", ["sentiment", "tweet_sentiment"])
@pytest.mark.parametrize("count", [1, 3])
def test_text_models_answer_tritonclient_as_they_answer_json(urls, tmp_path, model, binary,
                                                             count):
    texts = TEXTS[:count]
    answer = triton(urls[model], model, {"text": texts}, binary, tmp_path)
    assert answer["live"] and answer["ready"] and answer["model_ready"]
    assert {"name": "text", "datatype": "BYTES", "shape": [-1]} in answer["inputs"]
    expected = predicted(urls[model], [{"text": t} for t in texts])
    assert answer["outputs"]["label"] == [r["label"] for r in expected]
    assert [json.loads(s) for s in answer["outputs"]["scores"]] == \
        [r["scores"] for r in expected]


@pytest.mark.parametrize("binary", [True, False])
def test_object_detection_takes_an_image_tensor(urls, tmp_path, binary):
    image = scene_bytes(2)
    # binary: the file's raw bytes; JSON: its base64 text (tensors can't carry raw bytes)
    value = "b64:" + base64.b64encode(image).decode() if binary \
        else base64.b64encode(image).decode()
    answer = triton(urls["object_detection"], "object_detection",
                    {"image": [value, value], "min_score": [0.5, 0.5]}, binary, tmp_path)
    expected = predicted(urls["object_detection"],
                         [{"image": base64.b64encode(image).decode(), "min_score": 0.5}] * 2)
    assert answer["outputs"]["width"] == [r["width"] for r in expected]
    assert [json.loads(d) for d in answer["outputs"]["detections"]] == \
        [r["detections"] for r in expected]
