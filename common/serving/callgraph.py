"""The observed call graph, as each service sees its own side of it.

Every pipe call a service makes while it serves a request (a pipeline step, a model's
``self.algo(...)``, an ``X-Pipe-Next`` forward, the gateway's and the catalog's calls)
is counted in its ``/metrics``:
``modelchain_pipe_calls_total{caller,version,callee,outcome}`` and
``modelchain_pipe_call_seconds{caller,version,callee}``. Labels come from fixed sets:
the caller is the service itself (and the version it serves), the callee a registry
name (any other is ``other``).
``GET /calls`` gives the same figures as JSON (every worker's, under
``PROMETHEUS_MULTIPROC_DIR``), which the catalog gathers to draw the graph.
"""
from __future__ import annotations

import logging
from typing import Any, Collection, Iterable

from flask import Blueprint, Flask, Response, g, jsonify
from marshmallow import Schema, fields

from common.client import calls
from common.core.registry import load_registry

from .hooks import state
from .metrics import ServiceMetrics

log = logging.getLogger(__name__)

OTHER = "other"
CALLS_ROUTE = "/calls"
#: Without a readable registry, the first this many callees keep their names.
MAX_UNLISTED = 64


class CallRecorder:
    """Records one service's outgoing pipe calls in its metrics, and remembers whom it
    has called (the observed callees its readiness may wait for)."""

    def __init__(self, metrics: ServiceMetrics, known: Collection[str] | None):
        self.metrics = metrics
        self.known = frozenset(known) if known is not None else None
        self._callees: dict[str, None] = {}  # insertion-ordered set; one store per name

    def record(self, callee: str, outcome: str, seconds: float) -> None:
        """One finished call (:class:`common.client.calls.CallRecorder`)."""
        label = self._label(callee)
        self._callees.setdefault(label, None)
        self.metrics.observe_pipe_call(label, outcome, seconds)

    def callees(self) -> list[str]:
        """The services this process has called since it started (``other`` left out)."""
        return [name for name in list(self._callees) if name != OTHER]

    def _label(self, callee: str) -> str:
        if self.known is not None:
            return callee if callee in self.known else OTHER
        if callee in self._callees or len(self._callees) < MAX_UNLISTED:
            return callee
        return OTHER


def registry_names(registry_file: str | None) -> frozenset[str] | None:
    """The registered names (the callee labels), or None when the registry cannot be
    read (a service that calls nobody may run without one)."""
    try:
        return frozenset(load_registry(registry_file or None))
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.info("no registry to bound the callee labels with (%s)", type(e).__name__)
        return None


class CallEdgeSchema(Schema):
    """The calls from one service to another."""

    caller = fields.String(required=True, metadata={"example": "tweet_sentiment"})
    callee = fields.String(required=True, metadata={
        "description": "A registry name, or \"other\".", "example": "sentiment"})
    calls = fields.Integer(required=True, metadata={"description": "Calls made."})
    outcomes = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                           metadata={"description": "Calls by outcome: ok, error (the "
                                     "callee answered one), unreached (it never answered)."})
    mean_ms = fields.Float(required=True, allow_none=True, metadata={
        "description": "Mean duration of a call, as the caller saw it."})
    seconds_total = fields.Float(required=True)


class CallsSchema(Schema):
    """``GET /calls``: the pipe calls this service has made since it started."""

    service = fields.String(required=True)
    calls = fields.List(fields.Nested(CallEdgeSchema), required=True)


def calls_document(service_state: Any) -> dict[str, Any]:
    """This service's ``/calls`` answer, from the same figures as ``/metrics``."""
    name = service_state.model.name
    edges = collect_edges(service_state.metrics.collected().collect(), name)
    return {"service": name, "calls": edges}


def collect_edges(families: Iterable[Any], caller: str) -> list[dict[str, Any]]:
    """The edges from ``caller`` in metric families (as a registry's ``collect``)."""
    edges: dict[str, dict[str, Any]] = {}
    for family in families:
        if family.name not in ("modelchain_pipe_calls", "modelchain_pipe_call_seconds"):
            continue
        for sample in family.samples:
            if sample.labels.get("caller") == caller:
                _add_sample(edges, sample)
    return [_finished(edge) for _, edge in sorted(edges.items())]


def _add_sample(edges: dict[str, dict[str, Any]], sample: Any) -> None:
    callee = sample.labels["callee"]
    edge = edges.setdefault(callee, {"caller": sample.labels["caller"], "callee": callee,
                                     "outcomes": {}, "seconds_total": 0.0, "timed": 0})
    if sample.name == "modelchain_pipe_calls_total":
        outcome = sample.labels["outcome"]
        edge["outcomes"][outcome] = edge["outcomes"].get(outcome, 0) + int(sample.value)
    elif sample.name == "modelchain_pipe_call_seconds_sum":
        edge["seconds_total"] += sample.value
    elif sample.name == "modelchain_pipe_call_seconds_count":
        edge["timed"] += int(sample.value)


def _finished(edge: dict[str, Any]) -> dict[str, Any]:
    timed = edge.pop("timed")
    edge["calls"] = sum(edge["outcomes"].values())
    edge["mean_ms"] = round(edge["seconds_total"] / timed * 1000, 3) if timed else None
    edge["seconds_total"] = round(edge["seconds_total"], 6)
    return edge


def calls_blueprint() -> Blueprint:
    """``GET /calls``."""
    bp = Blueprint("modelchain_calls", __name__)
    bp.add_url_rule(CALLS_ROUTE, view_func=_calls, methods=["GET"])
    return bp


def _calls() -> Response:
    return jsonify(calls_document(state()))


def install_recording(app: Flask) -> None:
    """Make the app's recorder current while it serves each request, so the pipe calls
    made meanwhile (on this thread, or on threads given a copy of its context) are
    recorded as this service's."""
    app.before_request(_attribute)
    app.teardown_request(_release)


def _attribute() -> None:
    g.call_recorder_token = calls.attribute_to(state().recorder)


def _release(_exc: BaseException | None) -> None:
    token = g.pop("call_recorder_token", None)
    if token is not None:
        calls.release(token)
