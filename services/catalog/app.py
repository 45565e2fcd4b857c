"""The catalog: the home page of a deployment, and a service like any other.

It serves the standard contract (``POST /predict`` searches the services) plus the
pages and JSON API of :mod:`services.catalog.pages`.

Access (see the README): the catalog's own routes are public unless
``CATALOG_API_KEYS`` is set; the shared ``MODELCHAIN_API_KEYS``, which locks the model
services, does not lock the catalog, because a browser cannot send a key with a page
view. The catalog calls services with its own key, ``CATALOG_API_KEY`` (else
``MODELCHAIN_API_KEY``), server-side only.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask
from marshmallow import Schema, fields, validate

from common import ANY_SERVICE, Function, create_service_app
from common.client import Client
from common.core.registry import load_registry
from common.serving.app import EXTENSION
from common.serving.callgraph import calls_document

from .calls import CallGraph
from .directory import Directory
from .pages import pages_blueprint

NAME = "catalog"
PREFIX = "CATALOG_"
DEFAULTS: dict[str, Any] = {
    "API_KEY": "",                 # the key the catalog sends to services (a secret)
    "FETCH_TIMEOUT_S": 2.0,        # per service, for /metadata
    "CACHE_TTL_S": 5.0,            # how long a fetched /metadata is reused
    "TRY_TIMEOUT_S": 30.0,         # for a "try it" call
    "TRY_IT": True,                # whether visitors may run services through the catalog
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "MAX_TEXT_LENGTH": 200,        # the catalog's own /predict takes a search query
}


class SearchInput(Schema):
    """A search over the services' names, descriptions, tags and pipeline steps."""

    query = fields.String(required=True, validate=validate.Length(max=200), metadata={
        "description": "Words that must all occur; empty lists every service.",
        "example": "text"})


class VersionSummary(Schema):
    """One deployment of a service that runs several versions side by side."""

    name = fields.String(required=True)
    version = fields.String(required=True, metadata={
        "description": "As the registry states it (empty when it states none)."})
    page = fields.String(required=True)


class ServiceSummary(Schema):
    """One service as the list shows it."""

    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["model", "function", "pipeline",
                                                            "unknown"]})
    version = fields.String(required=True)
    description = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    status = fields.String(required=True, metadata={"enum": ["ready", "starting", "down"]})
    healthy = fields.Boolean(required=True)
    error = fields.String(required=True)
    page = fields.String(required=True)
    service = fields.String(required=True, metadata={
        "description": "The service it deploys (several deployments may serve one "
                       "service, each another version)."})
    versions = fields.List(fields.Nested(VersionSummary), required=True, metadata={
        "description": "Every deployment of the service, newest version first."})


class SearchOutput(Schema):
    """The matching services, in registry order."""

    services = fields.List(fields.Nested(ServiceSummary), required=True)
    count = fields.Integer(required=True)


class Catalog(Function):
    """No model: the registry and the live ``/metadata`` of every service."""

    name = NAME
    version = "1.0.0"
    description = ("The home page of a deployment: find, try and call every service. "
                   "POST /predict searches the services.")
    tags = ("catalog", "discovery", "utility")
    input_schema = SearchInput
    output_schema = SearchOutput
    sample_input = {"query": "text"}
    deterministic = False   # services come and go: never cache an answer
    calls = (ANY_SERVICE,)  # reads every service's /metadata, with its own key
    directory: Directory

    def warmup(self) -> None:
        """Nothing to warm: readiness must not wait on other services."""

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each query against one snapshot of the services."""
        return [_search_result(self.directory, item["query"]) for item in inputs]


def _search_result(directory: Directory, query: str) -> dict[str, Any]:
    found = [info.summary() for info in directory.search(query)]
    return {"services": found, "count": len(found)}


def build_directory(config: Mapping[str, Any],
                    local: Mapping[str, Any] | None = None) -> Directory:
    """The directory of every registered service but the catalog itself."""
    entries = load_registry(config["REGISTRY"] or None)
    client = Client.from_registry(entries, api_key=config["API_KEY"],
                                  timeout=config["TRY_TIMEOUT_S"], retries=1, local=local)
    return Directory(entries, client, timeout=config["FETCH_TIMEOUT_S"],
                     ttl=config["CACHE_TTL_S"], exclude=[NAME])


def create_app(config: Mapping[str, Any] | None = None, *,
               local: Mapping[str, Any] | None = None) -> Flask:
    """The catalog app (environment prefix ``CATALOG_``).

    ``local`` maps service names to apps called in-process instead of over HTTP (tests).
    """
    # The catalog's own access keys are CATALOG_API_KEYS alone: MODELCHAIN_API_KEYS is
    # meant for the model services, and would lock every visitor out of the pages.
    own = {"API_KEYS": os.environ.get(PREFIX + "API_KEYS", ""), **(config or {})}
    app = create_service_app(Catalog, prefix=PREFIX, defaults=DEFAULTS, config=own,
                             blueprints=[pages_blueprint()])
    directory = build_directory(app.config, local)
    app.extensions["catalog"] = directory
    app.extensions["catalog_calls"] = CallGraph(
        directory, NAME, lambda: calls_document(app.extensions[EXTENSION]))
    app.extensions[EXTENSION].model.directory = directory
    return app
