"""A tiny model for testing the factory without TensorFlow."""
from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate

from common import InvalidInput, Model, create_service_app
from common.serving.validation import Text


class WordsInput(Schema):
    text = Text()
    repeat = fields.Integer(load_default=1, validate=validate.Range(min=1, max=5))
    tags = fields.List(fields.String(), load_default=list)


class WordsOutput(Schema):
    words = fields.Integer(required=True)
    shout = fields.String(required=True)


class WordsModel(Model):
    """Counts words; 'boom' makes it fail unexpectedly, 'reject' fails as bad input."""

    name = "words"
    version = "2.1.0"
    description = "Counts words."
    input_schema = WordsInput
    output_schema = WordsOutput
    sample_input = {"text": "one two"}
    batch_sizes: list[int]

    def load(self):
        self.batch_sizes = []
        if self.config.get("FAIL_LOAD"):
            raise RuntimeError("weights missing")

    def predict(self, inputs):
        self.batch_sizes.append(len(inputs))
        if any(i["text"] == "boom" for i in inputs):
            raise RuntimeError("secret internal detail")
        if any(i["text"] == "reject" for i in inputs):
            raise InvalidInput("The model refuses 'reject'.", {"text": ["Refused."]})
        return [{"words": len(i["text"].split()), "shout": i["text"].upper() * i["repeat"]}
                for i in inputs]


def make_app(**config):
    """A WordsModel app, loaded synchronously unless the config says otherwise."""
    return create_service_app(WordsModel, prefix="WORDS_",
                              config={"LOAD_MODEL": "sync", **config})


@pytest.fixture
def app():
    return make_app(MAX_BATCH_SIZE=4, MAX_TEXT_LENGTH=50, MAX_CONTENT_LENGTH=4096)


@pytest.fixture
def client(app):
    return app.test_client()
