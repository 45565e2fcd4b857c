"""kserve's own REST client (the v2 protocol) against services on real gunicorn: the
same labels as our JSON /predict. The SDK lives in ``.venv-kserve`` (``make peers``):
it pins a server stack of its own that need not agree with ours."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from common.core.registry import ROOT

pytestmark = pytest.mark.integration

KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"
SCRIPT = Path(__file__).with_name("kserve_calls.py")
TEXTS = ["What a lovely day!", "This is the worst service ever."]


@pytest.fixture(scope="module")
def urls(live_services):
    if not KSERVE_PYTHON.exists():
        pytest.fail("the kserve environment is missing: run `make peers` (make test does)")
    return live_services("text_cleaner", "sentiment", "tweet_sentiment", "object_detection")


def kserve(url: str, model: str, columns: dict, tmp_path) -> dict:
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(columns))
    result = subprocess.run([str(KSERVE_PYTHON), str(SCRIPT), url, model, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["live"] and answer["ready"] and answer["model_ready"]
    return answer


@pytest.mark.parametrize("model", ["sentiment", "tweet_sentiment"])
def test_kserves_client_gets_what_json_callers_get(urls, tmp_path, model):
    answer = kserve(urls[model], model, {"text": TEXTS}, tmp_path)
    expected = requests.post(f"{urls[model]}/predict", json=[{"text": t} for t in TEXTS],
                             timeout=60).json()["result"]
    assert answer["outputs"]["label"] == [r["label"] for r in expected]
    assert [json.loads(s) for s in answer["outputs"]["scores"]] == \
        [r["scores"] for r in expected]


def test_kserves_client_sends_an_image(urls, tmp_path):
    import base64

    from tests.helpers.image_server import scene_bytes
    image = base64.b64encode(scene_bytes(4)).decode()  # BYTES in JSON: its base64 text
    answer = kserve(urls["object_detection"], "object_detection",
                    {"image": [image], "min_score": [0.5]}, tmp_path)
    expected = requests.post(f"{urls['object_detection']}/predict", timeout=60,
                             json={"image": image, "min_score": 0.5}).json()["result"]
    assert [json.loads(d) for d in answer["outputs"]["detections"]] == [expected["detections"]]
