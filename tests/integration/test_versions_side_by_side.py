"""Two versions of one service side by side (``versions:`` in the registry): sentiment
2.0.0 and 1.0.0 each in its own gunicorn, and every way of naming a version reaches
the right one, checked on the answer's ``metadata.version``."""
from __future__ import annotations

import pytest
import requests

from common.client import Client, reset_default_client
from common.core.errors import VersionMismatch
from common.core.versions import deployment_table
from common.pipeline import create_pipeline_app

pytestmark = pytest.mark.integration

KEY = "k-gateway-test"
#: The gateway tests' set, so one set of processes serves both files.
SERVED = ("gateway", "sentiment", "sentiment_v1_0_0", "text_cleaner")
TEXT = {"text": "The battery lasts all day!"}


@pytest.fixture(scope="module")
def urls(live_services):
    return live_services(*SERVED, env={"GATEWAY_API_KEYS": KEY})


@pytest.fixture
def client(urls, registry):
    """A pipe client on the started processes, with the registry's versions."""
    return Client(urls=urls, versions=deployment_table(registry))


def version_of(answer: dict) -> str:
    return answer["metadata"]["version"]


def test_both_versions_run_at_once_each_on_its_own_url(urls):
    versions = {name: requests.get(f"{urls[name]}/metadata", timeout=10).json()["version"]
                for name in ("sentiment", "sentiment_v1_0_0")}
    assert versions == {"sentiment": "2.0.0", "sentiment_v1_0_0": "1.0.0"}


@pytest.mark.parametrize("ref, version", [
    ("sentiment", "2.0.0"), ("sentiment@2", "2.0.0"), ("sentiment@1", "1.0.0"),
    ("sentiment@1.0", "1.0.0"), ("sentiment@1.0.0", "1.0.0"), ("sentiment@>=1,<2", "1.0.0"),
    ("sentiment@>=1", "2.0.0"), ("sentiment_v1_0_0", "1.0.0"),
])
def test_the_pipe_client_reaches_the_newest_matching_version(client, ref, version):
    answer = client.algo(ref).pipe(TEXT)
    assert answer.metadata["version"] == version
    assert answer.metadata["service"] == "sentiment"


def test_a_version_nobody_serves_is_refused_naming_the_versions_served(client):
    with pytest.raises(VersionMismatch) as raised:
        client.algo("sentiment@3")
    assert raised.value.details["versions"] == ["2.0.0", "1.0.0"]


@pytest.mark.parametrize("next_stage, version", [
    ("sentiment@1[text]", "1.0.0"), ("sentiment@2[text]", "2.0.0"), ("sentiment[text]", "2.0.0"),
])
def test_x_pipe_next_reaches_the_version_it_names(urls, next_stage, version):
    answer = requests.post(f"{urls['text_cleaner']}/predict", json=TEXT, timeout=30,
                           headers={"X-Pipe-Next": next_stage})
    assert answer.status_code == 200, answer.text
    assert version_of(answer.json()) == version
    assert answer.json()["metadata"]["hops"][0]["service"] == "text_cleaner"


def test_x_pipe_next_to_a_version_nobody_serves_is_a_409_naming_the_versions(urls):
    answer = requests.post(f"{urls['text_cleaner']}/predict", json=TEXT, timeout=30,
                           headers={"X-Pipe-Next": "sentiment@7[text]"})
    assert answer.status_code == 409, answer.text
    assert "2.0.0, 1.0.0" in answer.json()["error"]["message"]


@pytest.mark.parametrize("path, version", [
    ("sentiment", "2.0.0"), ("sentiment/2", "2.0.0"), ("sentiment/1", "1.0.0"),
    ("sentiment/1.0.0", "1.0.0"), ("sentiment/2.0.0", "2.0.0"),
])
def test_the_gateway_path_version_reaches_its_deployment(urls, path, version):
    answer = requests.post(f"{urls['gateway']}/v1/algo/modelchain/{path}", json=TEXT,
                           headers={"Authorization": f"Simple {KEY}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"]["version"] == version


def test_a_pipeline_step_names_a_version(urls, tmp_path, monkeypatch):
    for name, url in urls.items():
        monkeypatch.setenv(f"MODELCHAIN_URL_{name.upper()}", url)
    reset_default_client()   # the pipeline's pipe client reads those URLs
    spec = tmp_path / "pinned.yaml"
    spec.write_text("name: pinned\nsteps:\n  - service: text_cleaner\n"
                    "  - service: sentiment@1\n    take: [text]\n")
    app = create_pipeline_app(spec, config={"WARMUP": False})
    answer = app.test_client().post("/predict", json=TEXT)
    assert answer.status_code == 200, answer.get_json()
    metadata = answer.get_json()["metadata"]
    assert [(s["service"], s["reached"]) for s in metadata["steps"]] == [
        ("text_cleaner", "text_cleaner"), ("sentiment@1", "sentiment_v1_0_0")]
    meta = app.test_client().get("/metadata").get_json()
    assert meta["calls"] == ["text_cleaner", "sentiment"]
    reset_default_client()


def test_metrics_are_labelled_by_version(urls):
    requests.post(f"{urls['sentiment_v1_0_0']}/predict", json=TEXT, timeout=30)
    text = requests.get(f"{urls['sentiment_v1_0_0']}/metrics", timeout=10).text
    assert 'service="sentiment",status="200",version="1.0.0"' in text
