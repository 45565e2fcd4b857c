"""The Algorithmia wire API, as the unmodified ``algorithmia`` Python client (2.0.5)
speaks it: no Flask here, only what a request means and what an answer looks like.

What the client does, read in its source (``Algorithmia/client.py``, ``algorithm.py``,
``algo_response.py``, ``errors.py``) and its fake server (``Test/api/app.py``):

- ``algo("owner/name[/version]").pipe(x)`` posts to ``/v1/algo/owner/name[/version]``;
  a ``str`` goes as ``text/plain``, ``bytes`` as ``application/octet-stream``, anything
  else as JSON; ``set_options`` adds ``timeout`` (seconds, default 300), ``stdout``
  (``True``/``False``, as Python writes them) and ``output`` (``raw`` or ``void``);
- the key goes bare in ``Authorization`` (a bearer token as ``Bearer <token>``);
- a 2xx answer is read: ``{"error": {...}}`` raises ``AlgorithmException`` with
  ``error.message`` (and ``error_type``, ``stack_trace``); otherwise ``result`` and
  ``metadata.content_type`` (``json``, ``text``, ``binary`` decoded from base64,
  ``void``) and ``metadata.duration`` are required;
- any other status raises ``Exception("Non-Algorithm related Failure: <Response
  [4xx]>")``: the body, and so our message, is dropped. Errors therefore travel with
  HTTP 200 here (the true status is in ``error.status`` and ``X-Modelchain-Status``).
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from common.core.errors import InvalidInput, NotFound, ServiceError

#: Where the status of an error answer, sent as HTTP 200 (see above), can be read.
STATUS_HEADER = "X-Modelchain-Status"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}$")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
OUTPUTS = ("default", "raw", "void")


@dataclass(frozen=True)
class AlgoRef:
    """``owner/name[/version]`` from the path; ``version`` None means the newest."""

    owner: str
    name: str
    version: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.owner, self.name, self.version) if p)


@dataclass(frozen=True)
class Options:
    """The query options of one call (names and values in any capitalisation)."""

    timeout: float | None = None
    stdout: bool = False
    output: str = "default"


def parse_ref(owner: str, name: str, version: str | None, namespace: str) -> AlgoRef:
    """The algorithm a path names; another owner than ``namespace`` is a 404."""
    if owner.lower() != namespace.lower():
        raise NotFound(f"No algorithm {owner}/{name}: this gateway serves the owner "
                       f"{namespace!r} (try {namespace}/{name}).",
                       {"owner": owner, "namespace": namespace})
    if not _NAME.match(name):
        raise NotFound(f"No algorithm {owner}/{name}: a name is lower-case letters, digits "
                       "and underscores.", {"name": name})
    if version is not None and not _VERSION.match(version):
        raise InvalidInput(f"Version {version!r} of {owner}/{name} is not a version: give "
                           "1, 1.2 or 1.2.3 (or none for the newest).", {"version": version})
    return AlgoRef(namespace, name, version or None)


def parse_options(args: Mapping[str, str], max_timeout_s: float) -> Options:
    """``timeout``, ``stdout`` and ``output`` from the query string."""
    lowered = {str(k).lower(): str(v) for k, v in args.items()}
    output = lowered.get("output", "default").strip().lower() or "default"
    if output not in OUTPUTS:
        raise InvalidInput(f"output={lowered['output']!r} is not one of raw, void.",
                           {"output": lowered["output"]})
    return Options(_timeout(lowered.get("timeout"), max_timeout_s),
                   _flag("stdout", lowered.get("stdout", "false")), output)


def _timeout(raw: str | None, max_timeout_s: float) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise InvalidInput(f"timeout={raw!r} is not a positive number of seconds.",
                           {"timeout": raw})
    return min(value, max_timeout_s)


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise InvalidInput(f"{name}={raw!r} is not true or false.", {name: raw})


def text_field(input_schema: Mapping[str, Any]) -> str | None:
    """The service's single text field: its one required plain string (else its one
    plain string); None when there is none or more than one."""
    strings = [k for k, v in (input_schema.get("properties") or {}).items()
               if v.get("type") == "string" and not v.get("format") and not v.get("enum")]
    required = [k for k in strings if k in (input_schema.get("required") or [])]
    for candidates in (required, strings):
        if len(candidates) == 1:
            return candidates[0]
    return None


def image_field(input_schema: Mapping[str, Any]) -> str | None:
    """The service's single image field (a base64 string, ``format: byte``)."""
    found = [k for k, v in (input_schema.get("properties") or {}).items()
             if v.get("type") == "string" and v.get("format") == "byte"]
    return found[0] if len(found) == 1 else None


def known_fields(document: Any, input_schema: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """``document`` with the fields the service does not take left out, and their names.

    Algorithmia's chains pass one algorithm's whole output on
    (``algo2.pipe(algo1.pipe(x).result)``): text_cleaner's output carries ``text`` and
    also ``tokens``, ``lemmas``..., which sentiment's schema would refuse. The gateway
    sends only the fields the callee's schema names and reports the others in the
    answer's ``metadata.ignored_fields``; a schema that allows other fields, or names
    none, gets the document as it came. ``/predict`` itself stays strict."""
    names = set((input_schema.get("properties") or {}))
    if not names or input_schema.get("additionalProperties", False) is not False:
        return document, []
    items = document if isinstance(document, list) else [document]
    ignored = sorted({k for item in items if isinstance(item, dict) for k in item
                      if k not in names})
    if not ignored:
        return document, []
    kept = [{k: v for k, v in item.items() if k in names} if isinstance(item, dict)
            else item for item in items]
    return (kept if isinstance(document, list) else kept[0]), ignored


def mimetype(content_type: str | None) -> str:
    """``text/plain; charset=utf-8`` -> ``text/plain``."""
    return (content_type or "").split(";")[0].strip().lower()


def text_input(raw: bytes, service: str, input_schema: Mapping[str, Any]) -> dict[str, str]:
    """A ``text/plain`` body as the service's input: ``{<its text field>: text}``."""
    field = text_field(input_schema)
    if field is None:
        raise InvalidInput(f"{service} takes no single text field, so a text input cannot "
                           "be mapped to it: send JSON (its input schema is at "
                           f"/metadata of {service}).", {"content_type": "text/plain"})
    try:
        return {field: raw.decode("utf-8")}
    except UnicodeDecodeError as e:
        raise InvalidInput("The text input is not valid UTF-8.",
                           {"body": [f"byte {e.start} is not UTF-8"]}) from e


def binary_input(raw: bytes, service: str,
                 input_schema: Mapping[str, Any]) -> dict[str, str]:
    """An ``application/octet-stream`` body as ``{<its image field>: base64}``."""
    field = image_field(input_schema)
    if field is None:
        raise InvalidInput(f"{service} takes no image field, so a binary input cannot be "
                           "mapped to it: send JSON or text.",
                           {"content_type": "application/octet-stream"})
    if not raw:
        raise InvalidInput("The binary input is empty.", {"body": ["empty"]})
    return {field: base64.b64encode(raw).decode("ascii")}


def unsupported(content_type: str | None) -> InvalidInput:
    """The error for a body of another type than JSON, text or binary."""
    return InvalidInput(f"Content-Type {content_type or '(none)'!r} is not one the gateway "
                        "reads: send application/json, text/plain or "
                        "application/octet-stream.", {"content_type": content_type or ""})


def envelope(result: Any, callee_metadata: Mapping[str, Any], seconds: float,
             options: Options, ignored: Sequence[str] = ()) -> dict[str, Any]:
    """The answer the client reads: ``result`` and ``metadata`` with ``content_type``
    and ``duration`` (seconds), the callee's own metadata kept beside them."""
    metadata = {**callee_metadata, "content_type": "text" if isinstance(result, str)
                else "json", "duration": round(seconds, 6)}
    if ignored:
        metadata["ignored_fields"] = list(ignored)
    if options.stdout:
        metadata["stdout"] = ""   # our services write nothing a caller should see
    return {"result": result, "metadata": metadata}


#: Algorithmia's kinds of error, by our status (``error_type`` in the answer).
_ERROR_TYPES = {400: "InputError", 401: "AuthorizationError", 403: "AuthorizationError",
                404: "NotFoundError", 408: "TimeoutError", 409: "InputError",
                413: "InputError", 415: "InputError", 503: "UnavailableError",
                504: "TimeoutError"}


def error_type(status: int) -> str:
    """The ``error_type`` the client shows for an error of ``status``."""
    return _ERROR_TYPES.get(status, "AlgorithmError")


def error_envelope(error: Mapping[str, Any], status: int) -> dict[str, Any]:
    """Our error document (``{"error": {code, message, details}}``) in the client's
    form: ``message`` and ``error_type`` beside our ``code``, ``status``, ``details``."""
    return {"error": {**error, "message": str(error.get("message") or "Error."),
                      "error_type": error_type(status), "status": status}}


def service_error_envelope(error: ServiceError) -> dict[str, Any]:
    """A :class:`ServiceError` in the client's form."""
    return error_envelope(error.to_dict()["error"], error.status)
