"""A service for the batch tests, built with the project's factory like any model.

It echoes its input's text, logs every batch it scores (one JSON line per ``predict``
call: the texts) to ``FLAKY_LOG``, rejects (400, per batch index) the texts listed in
the file ``FLAKY_REJECT`` while they are listed there, and breaks (500) on ``boom``.
Limits come from the environment like any service's (``FLAKY_MAX_BATCH_SIZE``...).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from marshmallow import Schema, fields

from common import InvalidInput, Model, create_service_app
from common.serving.validation import Text


class FlakyInput(Schema):
    text = Text()


class FlakyOutput(Schema):
    echo = fields.String(required=True)
    length = fields.Integer(required=True)


class FlakyModel(Model):
    name = "flaky"
    version = "1.0.0"
    description = "Echoes text; rejects listed texts; breaks on 'boom'."
    input_schema = FlakyInput
    output_schema = FlakyOutput
    sample_input = {"text": "warm up"}

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [i["text"] for i in inputs]
        if self.config.get("LOG"):
            with open(self.config["LOG"], "a", encoding="utf-8") as log:
                log.write(json.dumps(texts) + "\n")
        if "boom" in texts:
            raise RuntimeError("the model broke")
        rejected = self._rejected()
        bad = {str(i): {"text": ["Rejected for now."]} for i, t in enumerate(texts)
               if t in rejected}
        if bad:
            raise InvalidInput("Some texts are rejected for now.", bad)
        return [{"echo": t, "length": len(t)} for t in texts]

    def _rejected(self) -> set[str]:
        path = Path(self.config["REJECT"]) if self.config.get("REJECT") else None
        return set(path.read_text().splitlines()) if path and path.exists() else set()


def create_app(config: Mapping[str, Any] | None = None):
    """The flaky service (environment prefix ``FLAKY_``)."""
    return create_service_app(FlakyModel, prefix="FLAKY_",
                              defaults={"LOG": "", "REJECT": ""}, config=config)
