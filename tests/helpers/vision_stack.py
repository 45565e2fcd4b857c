"""The image services under real gunicorn, started once for every test module that uses
them: downloader, image_preprocessor, object_detection, meme and sentiment.

Every module asks for the same set with the same environment, so the session's service
pool starts it once. The downloader may fetch from the local image server only
(``DOWNLOADER_ALLOW_LIST=127.0.0.1:<its port>``). The sentiment service is the real one
when its trained model is there (``services/sentiment/artifacts/2.0.0``); until then a
VADER-based stand-in with the same contract (tests/helpers/vader_sentiment.py)
answers under the same name, from a test registry.

``classy`` is the Classy chain as a declared pipeline (server sequencing): downloader,
then object_detection on the downloaded ``image``. ``classy_classifier`` is the
project's own pipeline config (services/image_classifier/classy.yaml: downloader ->
image_preprocessor -> image_classifier), warmed up on an image of the local server.
"""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import yaml

from common.core.registry import DEFAULT_REGISTRY, ROOT, load_registry
from tests.helpers.image_server import image_server

NAMES = ("downloader", "image_preprocessor", "object_detection", "meme", "sentiment",
         "classy", "image_classifier", "classy_classifier")
STAND_IN = "tests.helpers.vader_sentiment:create_app()"

_registry_file: Path | None = None
_lock = threading.Lock()


def real_sentiment_available() -> bool:
    """Whether the sentiment service's trained model and code are in the tree."""
    folder = ROOT / "services" / "sentiment"
    return (folder / "artifacts" / "2.0.0").is_dir() and (folder / "classifier.py").exists()


def test_registry() -> Path:
    """The registry these tests use: the project's, with the stand-in sentiment if need be
    (written once per process, so every module shares one service set)."""
    global _registry_file
    with _lock:
        if _registry_file is None:
            document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
            if not real_sentiment_available():
                document["services"]["sentiment"]["app"] = STAND_IN
            folder = Path(tempfile.mkdtemp(prefix="vision-registry-"))
            pipeline = folder / "classy.yaml"
            pipeline.write_text(yaml.safe_dump(classy_pipeline()))
            document["services"]["classy"] = {
                "app": f"common.pipeline:create_pipeline_app({str(pipeline)!r})", "port": 1}
            classifier_chain = folder / "classy_classifier.yaml"
            classifier_chain.write_text(yaml.safe_dump(classifier_pipeline()))
            document["services"]["classy_classifier"] = {
                "app": f"common.pipeline:create_pipeline_app({str(classifier_chain)!r})",
                "port": 1}
            _registry_file = folder / "registry.yaml"
            _registry_file.write_text(yaml.safe_dump(document))
        return _registry_file


def classy_pipeline() -> dict:
    """downloader -> object_detection[image], warmed up on a scene of the image server."""
    return {"name": "classy", "version": "1.0.0",
            "description": "Downloads an image, then detects its objects.",
            "sample_input": {"url": image_server().url("/scene/0.png")},
            "steps": [{"service": "downloader"},
                      {"service": "object_detection", "take": ["image"]}]}


def classifier_pipeline() -> dict:
    """services/image_classifier/classy.yaml, warmed up on a one-shape image here."""
    document = yaml.safe_load((ROOT / "services" / "image_classifier" / "classy.yaml")
                              .read_text())
    return {**document, "sample_input": {"url": image_server().url("/single/0.png")}}


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the stack: the test registry and the downloader's allow-list."""
    return {"MODELCHAIN_REGISTRY": str(test_registry()),
            "DOWNLOADER_ALLOW_LIST": image_server().allow_rule,
            "OBJECT_DETECTION_ALLOW_LIST": image_server().allow_rule,
            **(extra or {})}


def vision_stack(service_pool, extra_entries: dict | None = None,
                 extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """URLs by name of the image services (plus ``extra_entries``: name -> entry)."""
    env = environment(extra_env)
    entries = load_registry(test_registry(), env)
    chosen = [entries[n] for n in NAMES] + list((extra_entries or {}).values())
    return service_pool.start(chosen, env)
