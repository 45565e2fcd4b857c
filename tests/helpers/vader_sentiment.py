"""A stand-in for the sentiment service while its trained model is not in the tree: the
same name, schemas and answers' shape, scored with the VADER lexicon (a runtime
dependency already). Served by the service factory under gunicorn like any service."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common import Model, create_service_app
from services.sentiment import MODEL as Sentiment


class VaderSentiment(Model):
    """VADER's negative/neutral/positive proportions as the class scores."""

    name = "sentiment"
    version = "1.0.0"
    description = "Stand-in sentiment (VADER) for tests."
    input_schema = Sentiment.input_schema   # the real service's contract
    output_schema = Sentiment.output_schema
    sample_input = {"text": "What a lovely day!"}

    def load(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        self.analyzer = SentimentIntensityAnalyzer()

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [_answer(self.analyzer.polarity_scores(item["text"])) for item in inputs]


def _answer(polarity: dict[str, float]) -> dict[str, Any]:
    compound = polarity["compound"]
    label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
    return {"label": label, "scores": {"negative": polarity["neg"], "neutral": polarity["neu"],
                                       "positive": polarity["pos"]}}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return create_service_app(VaderSentiment, prefix="SENTIMENT_", config=config)
