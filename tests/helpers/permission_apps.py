"""Services for the permission tests, run under gunicorn like any other.

``create_relay_app(name)`` serves a model that calls, from its own code, the services
its input names (``{"text": ..., "to": ["beta"], "next": ["gamma"]}``): so a test
decides which calls a service tries, and the callees' policy decides which succeed. It
declares ``ANY_SERVICE`` on purpose: the caller-side check of ``Model.calls`` is not
what these tests are about; the callee's check of the registry's ``calls:`` is.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, fields

from common import ANY_SERVICE, Function, create_service_app
from common.serving.validation import Text


class RelayInput(Schema):
    """A text, the services to send it to, and their next stages."""

    text = Text()
    to = fields.List(fields.String(), load_default=list)
    next = fields.List(fields.String(), load_default=list)


class RelayOutput(Schema):
    """The text and which services answered."""

    text = fields.String(required=True)
    reached = fields.List(fields.String(), required=True)


class Relay(Function):
    """Pipes its text to each service its input names, from its own code."""

    name = "relay"
    version = "1.0.0"
    description = "Calls the services its input names (a permission test service)."
    input_schema = RelayInput
    output_schema = RelayOutput
    sample_input = {"text": "hi"}
    calls = (ANY_SERVICE,)

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each input sent to each of its services in turn."""
        return [self._relay(item) for item in inputs]

    def _relay(self, item: dict[str, Any]) -> dict[str, Any]:
        reached = []
        for target in item["to"]:
            answer = self.algo(target).pipe({"text": item["text"]}, next=item["next"])
            reached.append(str(answer.metadata.get("service")))
        return {"text": item["text"], "reached": reached}


def create_relay_app(name: str, config: Mapping[str, Any] | None = None) -> Flask:
    """A relay service named ``name`` (environment prefix ``<NAME>_``)."""
    model = type(f"Relay_{name}", (Relay,), {"name": name})
    return create_service_app(model, prefix=f"{name.upper()}_", config=config)
