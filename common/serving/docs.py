"""``/docs``: the service's OpenAPI document rendered by Swagger UI.

Swagger UI's files come from the pinned ``swagger-ui-bundle`` package and are served by
the service itself, so the page works without reaching any CDN.
"""
from __future__ import annotations

from flask import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API docs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


def docs_blueprint() -> Blueprint:
    """Routes ``/docs`` and its static files."""
    bp = Blueprint("modelchain_docs", __name__)

    @bp.get("/docs")
    def docs_page() -> Response:
        return Response(_PAGE, content_type="text/html; charset=utf-8")

    @bp.get("/docs/static/<path:filename>")
    def docs_static(filename: str) -> Response:
        return send_from_directory(swagger_ui_path, filename, max_age=3600)

    return bp
