"""tweet_sentiment: the pipeline text_cleaner -> sentiment, declared in pipeline.yaml.

Its steps are known by their published contracts (``deploy/contracts``), not by their
code, so this package imports neither of them."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from common.pipeline import create_pipeline_app, pipeline_model

PIPELINE = Path(__file__).with_name("pipeline.yaml")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The pipeline's service app (environment prefix ``TWEET_SENTIMENT_``)."""
    return create_pipeline_app(PIPELINE, config)


@cache
def _model():
    return pipeline_model(PIPELINE)


def __getattr__(name: str):
    # MODEL is built on first use, not at import, since it reads the YAML and contracts;
    # then it is the same class on every access.
    if name == "MODEL":
        return _model()
    raise AttributeError(name)
