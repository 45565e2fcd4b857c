"""A service whose requests take as long as they ask (``{"seconds": 2}``), to hold its
threads in starvation tests; served by the factory under gunicorn like any service."""
from __future__ import annotations

import time
from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, fields, validate

from common import Function, create_service_app


class SlowInput(Schema):
    seconds = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=10))


class SlowOutput(Schema):
    slept = fields.Float(required=True)


class Slowpoke(Function):
    """Sleeps, then says how long."""

    name = "slowpoke"
    input_schema = SlowInput
    output_schema = SlowOutput
    sample_input = {"seconds": 0}

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in inputs:
            time.sleep(item["seconds"])
        return [{"slept": item["seconds"]} for item in inputs]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return create_service_app(Slowpoke, config=config)
